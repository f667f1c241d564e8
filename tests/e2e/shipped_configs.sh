#!/usr/bin/env bash
# Every config shipped in configs/ validates, and the IC40 point-source one runs from the
# repository root as its comment says (good-run cut included: all 36,900 events pass).
source "$(dirname "$0")/lib/common.bash"
root=$NUSKY_SOURCE_DIR
for cfg in "$root"/configs/*.ini; do
  "$NUSKY" validate "$cfg" > "$WORK/validate.log" 2>&1 || { cat "$WORK/validate.log"; fail "validate $cfg"; }
done
(cd "$root" && run_np 2 run configs/point_source_ic40.ini --output "$WORK/ps_ic40.h5") > "$WORK/ps.log" 2>&1 \
  || { cat "$WORK/ps.log"; fail "configs/point_source_ic40.ini"; }
"$PY" - "$WORK/ps_ic40.h5" <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1])
names = list(f["selection/names"].asstr()[:])
passed = dict(zip(names, f["selection/passed"][:]))
print("selection:", passed)
assert passed["good_runs"] == 36900 and f["selection"].attrs["n_selected"] == 36900, passed
assert "ts" in f["fit"].attrs
PY
echo "shipped_configs: ok"
