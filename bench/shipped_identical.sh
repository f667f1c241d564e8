#!/usr/bin/env bash
# Shows that a change keeps the shipped configs' results: runs /fit, /trials and /scan of
# configs/*.ini with two nusky builds (2 ranks) and compares them with h5diff.
#   bench/shipped_identical.sh BEFORE/bin/nusky AFTER/bin/nusky
# Build BEFORE from the commit to compare with, for example:
#   git worktree add /tmp/before <commit> && (cd /tmp/before && scripts/build)
# It needs about a minute per build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/mpi-env"
before=$(realpath "$1") after=$(realpath "$2")
work=$(mktemp -d /tmp/nusky_identical.XXXXXX)
trap 'rm -rf "$work"' EXIT
export NUSKY_DATA_DIR=${NUSKY_DATA_DIR:-$root/data}
sky_config() {  # sky_config LIKELIHOOD KEYS: a config on the simulated sky $work/sky.h5
  printf '[job]\nseed = 5\n[reader]\ntype = hdf5_events\npath = %s\n[selection]\ntype = cuts\nsigma_max_deg = 90\n' \
    "$work/sky.h5"
  printf '[likelihood]\ntype = %s\n%s\n' "$1" "$2"
}
run() {  # run BIN TAG
  local bin=$1 tag=$2
  mpirun -np 2 --oversubscribe "$bin" run galactic_plane_pi0.ini --output "$work/pi0_fit_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run galactic_plane_pi0.ini --set job.task=trials --set job.trials=300 \
    --output "$work/pi0_trials_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run point_source_ic40.ini --output "$work/ic40_fit_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run point_source_ic40.ini --set job.task=trials --set job.trials=2000 \
    --output "$work/ic40_trials_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run allsky_scan_cascades.ini --output "$work/scan_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run point_source_joint.ini --output "$work/joint_fit_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run point_source_joint.ini --set job.task=trials --set job.trials=300 \
    --output "$work/joint_trials_$tag.h5"
  # The other tasks and likelihoods on a simulated sky with MC (inject, sensitivity, stacking).
  [ -f "$work/sky.h5" ] || "$bin" simulate --seed 11 --events 20000 --signal-events 300 --mc-events 100000 \
    --out "$work/sky.h5"
  sky_config point_source "ra_deg = 120
dec_deg = -20" > "$work/ps.ini"
  sky_config template "profile_points = 0
n_sigma = 8" > "$work/tpl.ini"
  sky_config stacking "max_sources = 12" > "$work/stack.ini"
  mpirun -np 2 --oversubscribe "$bin" run "$work/ps.ini" --set job.task=sensitivity --set job.trials=200 \
    --set job.inject_ns=5,20,60 --set job.signal_trials=20 --output "$work/ps_sens_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run "$work/ps.ini" --set job.task=inject --set job.inject_ns=0,30 \
    --set job.signal_trials=20 --output "$work/ps_inject_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run "$work/tpl.ini" --set job.task=sensitivity --set job.trials=100 \
    --set job.inject_ns=100,400 --set job.signal_trials=10 --output "$work/tpl_sens_$tag.h5"
  mpirun -np 2 --oversubscribe "$bin" run "$work/stack.ini" --set job.task=trials --set job.trials=50 \
    --output "$work/stack_trials_$tag.h5"
}
# From configs/, where a path relative to the working directory and one relative to the config
# file are the same path: builds from before and after configs followed their file compare alike.
cd "$root/configs"
run "$before" before > "$work/before.log" 2>&1 || { cat "$work/before.log"; exit 1; }
run "$after" after > "$work/after.log" 2>&1 || { cat "$work/after.log"; exit 1; }
status=0
# h5diff calls string attributes of different storage (fixed-length before session 15,
# variable-length UTF-8 since) "not comparable"; then every value is compared in Python: numbers
# bit for bit, strings as text. Attributes the new build adds are listed, not failed.
same_values() {  # same_values BEFORE AFTER OBJECT
  /usr/bin/python3 - "$@" << 'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1])[sys.argv[3]], h5py.File(sys.argv[2])[sys.argv[3]]
def text(v): return v.decode() if isinstance(v, bytes) else v
def same(x, y):
    x, y = text(x), text(y)
    if isinstance(x, str) or isinstance(y, str): return x == y
    return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
def walk(x, y, path):
    ok = True
    for k in x.attrs:
        if k not in y.attrs or not same(x.attrs[k], y.attrs[k]): print("  differs:", path, k); ok = False
    added = sorted(set(y.attrs) - set(x.attrs))
    if added: print("  added in the new build:", path, added)
    if isinstance(x, h5py.Dataset):
        data = lambda d: d.asstr()[()] if h5py.check_string_dtype(d.dtype) else d[()]
        if not same(data(x), data(y)): print("  differs:", path); ok = False
        return ok
    for k in x:
        ok = (k in y and walk(x[k], y[k], path + "/" + k)) and ok
    return ok
sys.exit(0 if walk(a, b, sys.argv[3]) else 1)
PY
}
compare() {  # compare FILE OBJECT
  if h5diff "$work/$1_before.h5" "$work/$1_after.h5" "$2" "$2" > /dev/null; then
    echo "identical: $1 $2"
  elif same_values "$work/$1_before.h5" "$work/$1_after.h5" "$2"; then
    echo "identical values: $1 $2 (string storage or added attributes differ)"
  else
    echo "DIFFERENT: $1 $2"; status=1
  fi
}
compare pi0_fit /fit; compare ic40_fit /fit
compare pi0_trials /trials; compare ic40_trials /trials
# /scan's own attributes hold timings; its datasets are the results.
for d in ts ns gamma mlog10p n_kept hotspots; do compare scan /scan/$d; done
compare scan /scan_background
compare joint_fit /fit; compare joint_trials /trials
for g in /fit /trials /injection /sensitivity; do compare ps_sens $g; compare tpl_sens $g; done
compare ps_inject /injection; compare stack_trials /fit; compare stack_trials /trials; compare stack_trials /stacking
exit $status
