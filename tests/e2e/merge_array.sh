#!/usr/bin/env bash
# `nusky merge` of a 4-job trials array (first_trial 0, 25, 50, 75; 25 trials each) equals one
# 100-trial job; overlapping, gapped, different-seed and different-config arrays are refused.
source "$(dirname "$0")/lib/common.bash"
sky=$(small_sky)
cat > "$WORK/trials.ini" <<INI
[job]
task = trials
seed = 7
checkpoint_every = 10
[reader]
type = hdf5_events
path = $sky
[selection]
type = cuts
sigma_max_deg = 90
[likelihood]
type = point_source
ra_deg = 83.6
dec_deg = 22.0
use_energy = false
INI
run_np 2 run "$WORK/trials.ini" --set job.trials=100 --output "$WORK/single.h5" > "$WORK/single.log" 2>&1 \
  || { cat "$WORK/single.log"; fail "single job"; }
for first in 0 25 50 75; do
  run_np 2 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=$first --output "$WORK/part$first.h5" \
    > "$WORK/part$first.log" 2>&1 || { cat "$WORK/part$first.log"; fail "job first_trial=$first"; }
done
# Inputs in any order.
"$NUSKY" merge "$WORK/merged.h5" "$WORK/part50.h5" "$WORK/part0.h5" "$WORK/part75.h5" "$WORK/part25.h5" \
  > "$WORK/merge.log" 2>&1 || { cat "$WORK/merge.log"; fail "merge"; }
[ ! -e "$WORK/merged.h5.tmp" ] || fail "merge left merged.h5.tmp"
"$PY" - "$WORK/single.h5" "$WORK/merged.h5" <<'PY'
import h5py, sys, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
for name in ("ts", "ns", "gamma"):
    x, y = a["trials"][name][:], b["trials"][name][:]
    assert x.shape == (100,) and y.shape == (100,), (x.shape, y.shape)
    assert np.array_equal(x, y, equal_nan=True), name
for attr in ("seed", "first_trial", "n_trials"):
    assert a["trials"].attrs[attr] == b["trials"].attrs[attr], attr
assert b["fit"].attrs["ts"] == a["fit"].attrs["ts"]
print("merged /trials equal the single job's:", int(b["trials"].attrs["n_trials"]), "trials")
PY
# Refusals: one error line naming the files, no output left behind.
run_np 1 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=20 --output "$WORK/part20.h5" > /dev/null 2>&1 || fail "job first_trial=20"
expect_failure overlap "overlap" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/part20.h5"
expect_failure gap "gap between" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/part50.h5"
run_np 1 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=25 --set job.seed=8 --output "$WORK/seed8.h5" > /dev/null 2>&1 || fail "seed 8 job"
expect_failure seed "seed" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/seed8.h5"
run_np 1 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=25 --set likelihood.dec_deg=10 --output "$WORK/dec10.h5" > /dev/null 2>&1 || fail "dec 10 job"
expect_failure config "different configs" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/dec10.h5"
echo "merge_array: ok"
