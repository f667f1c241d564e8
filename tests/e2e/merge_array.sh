#!/usr/bin/env bash
# `nusky merge` of a 4-job trials array (first_trial 0, 25, 50, 75; 25 trials each) equals one
# 100-trial job; overlapping, gapped, different-seed and different-config arrays are refused.
# Then a scan with post-trial scrambles split in 2 jobs merges into the single job's file.
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
# /fit's p-value is the merged campaign's (all 100 trials), as the single 100-trial job's.
for attr in ("p_value", "sigma", "n_trials", "p_value_is_upper_limit"):
    assert b["fit"].attrs[attr] == a["fit"].attrs[attr], (attr, b["fit"].attrs[attr], a["fit"].attrs[attr])
assert b["fit"].attrs["n_trials"] == 100
print("merged /trials equal the single job's:", int(b["trials"].attrs["n_trials"]), "trials; p-value",
      b["fit"].attrs["p_value"])
PY
# Refusals: one error line naming the files, no output left behind.
run_np 1 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=20 --output "$WORK/part20.h5" > /dev/null 2>&1 || fail "job first_trial=20"
expect_failure overlap "overlap" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/part20.h5"
expect_failure gap "gap between" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/part50.h5"
run_np 1 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=25 --set job.seed=8 --output "$WORK/seed8.h5" > /dev/null 2>&1 || fail "seed 8 job"
expect_failure seed "seed" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/seed8.h5"
run_np 1 run "$WORK/trials.ini" --set job.trials=25 --set job.first_trial=25 --set likelihood.dec_deg=10 --output "$WORK/dec10.h5" > /dev/null 2>&1 || fail "dec 10 job"
expect_failure config "different configs" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/dec10.h5"

# A scan's post-trial scrambles as a 2-job array (nside 64, 3 + 3 scrambled skies of 2000
# events, ranked by TS) equals one 6-trial job: /scan_trials, /scan and the recomputed post-trial
# p-values.
tiny=$WORK/tiny_sky.h5
"$NUSKY" simulate --seed 12 --events 2000 --signal-events 0 --mc-events 10000 --out "$tiny" > /dev/null
cat > "$WORK/scan.ini" <<INI
[job]
task = scan
nside = 64
seed = 4
[reader]
type = hdf5_events
path = $tiny
[selection]
type = cuts
sigma_max_deg = 20
[likelihood]
type = point_source
use_energy = false
scan_sob_threshold = 0.01
pvalue_trials = 0
INI
run_np 2 run "$WORK/scan.ini" --set job.trials=6 --output "$WORK/scan_single.h5" > "$WORK/scan_single.log" 2>&1 \
  || { cat "$WORK/scan_single.log"; fail "single scan job"; }
for first in 0 3; do
  run_np 2 run "$WORK/scan.ini" --set job.trials=3 --set job.first_trial=$first --output "$WORK/scan$first.h5" \
    > "$WORK/scan$first.log" 2>&1 || { cat "$WORK/scan$first.log"; fail "scan job first_trial=$first"; }
done
"$NUSKY" merge "$WORK/scan_merged.h5" "$WORK/scan3.h5" "$WORK/scan0.h5" > "$WORK/scan_merge.log" 2>&1 \
  || { cat "$WORK/scan_merge.log"; fail "merge of scans"; }
"$PY" - "$WORK/scan_single.h5" "$WORK/scan_merged.h5" "$WORK/scan3.h5" <<'PY'
import h5py, sys, numpy as np
a, b, part = (h5py.File(p) for p in sys.argv[1:4])
for name in ("north", "south"):
    assert np.array_equal(a["scan_trials"][name][:], b["scan_trials"][name][:]), name
for attr in ("seed", "first_trial", "n_trials", "quantity"):
    assert a["scan_trials"].attrs[attr] == b["scan_trials"].attrs[attr], attr
assert np.array_equal(a["scan/ts"][:], b["scan/ts"][:])
assert np.array_equal(a["scan/hotspots/post_trial_p"][:], b["scan/hotspots/post_trial_p"][:])
assert a["scan"].attrs["NSIDE"] == b["scan"].attrs["NSIDE"] == 64
# The merged p-values come from all 6 trials, not from one file's 3.
p6, p3 = b["scan/hotspots/post_trial_p"][:], part["scan/hotspots/post_trial_p"][:]
assert all(abs(x * 6 - round(x * 6)) < 1e-9 for x in p6), p6
print("merged scan trials equal the single job's:", int(b["scan_trials"].attrs["n_trials"]),
      "trials; post-trial p", p6, "(one job of 3:", p3, ")")
PY
expect_failure mixed "/scan_trials" "$WORK/bad.h5" "$NUSKY" merge "$WORK/bad.h5" "$WORK/part0.h5" "$WORK/scan3.h5"
echo "merge_array: ok"
