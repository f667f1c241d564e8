#!/usr/bin/env bash
# `nusky run` of a point-source fit under mpirun at 1, 2 and 4 ranks on a simulated sky:
# the same TS to 1e-10 relative, and a results file with the documented layout.
source "$(dirname "$0")/lib/common.bash"
sky=$(small_sky)
cat > "$WORK/fit.ini" <<INI
[job]
task = fit
[reader]
type = hdf5_events
path = $sky
[selection]
type = cuts
sigma_max_deg = 90
[likelihood]
type = point_source
ra_deg = 266.4
dec_deg = -28.9
INI
for np in 1 2 4; do
  run_np $np run "$WORK/fit.ini" --output "$WORK/fit$np.h5" > "$WORK/fit$np.log" 2>&1 || { cat "$WORK/fit$np.log"; fail "np $np"; }
done
ts1=$(h5attr "$WORK/fit1.h5" /fit ts)
for np in 2 4; do
  tsn=$(h5attr "$WORK/fit$np.h5" /fit ts)
  same_within "$ts1" "$tsn" 1e-10 || fail "TS differs: np1 $ts1, np$np $tsn"
  echo "np $np: TS $tsn (np 1: $ts1)"
done
[ "$(h5attr "$WORK/fit4.h5" / n_ranks)" = "4.0" ] || fail "n_ranks attribute"
"$PY" - "$WORK/fit2.h5" <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1])
for a in ("nusky_version", "config", "n_ranks", "created_utc"):
    assert a in f.attrs, a
for a in ("ts", "ns", "gamma", "n_events"):
    assert a in f["fit"].attrs, a
names = list(f["selection/names"].asstr()[:])
assert names == ["dec", "log10_energy", "sigma", "mjd"], names
passed = f["selection/passed"][:]
assert passed[-1] == f["fit"].attrs["n_events"] and passed[0] < 21000, passed
assert f["fit"].attrs["ts"] > 0
print("results layout ok:", dict(f["fit"].attrs))
PY
grep -q "summary" "$WORK/fit2.log" || fail "no summary printed"
