#!/usr/bin/env bash
# `[selection] type = cuts` with good-run lists on the IC40 season, under mpirun at 1 and 2 ranks:
# /selection gets its own `good_runs` entry. With IC40's own uptime file every event is kept;
# with a list of every other IC40 run (two files, to exercise the comma list) the count is the
# one NumPy finds, and the same at both rank counts.
source "$(dirname "$0")/lib/common.bash"
root=$(cd "$(dirname "$0")/../.." && pwd)
events=$root/data/ic40/events/IC40_exp.csv
uptime=$root/data/ic40/uptime/IC40_exp.csv
expected_half=$("$PY" - "$events" "$uptime" "$WORK" <<'PY'
import numpy as np, sys
events, uptime, work = sys.argv[1:]
mjd = np.loadtxt(events, skiprows=1, usecols=0)
runs = np.loadtxt(uptime, skiprows=1)
half = runs[::2]
for k, part in enumerate((half[: len(half) // 2], half[len(half) // 2:])):
    np.savetxt("%s/half%d.csv" % (work, k), part, fmt="%.8f", header="MJD_start[days] MJD_stop[days]", comments="")
part = np.loadtxt("%s/half0.csv" % work, skiprows=1), np.loadtxt("%s/half1.csv" % work, skiprows=1)
written = np.vstack(part)
inside = ((mjd[:, None] >= written[:, 0]) & (mjd[:, None] <= written[:, 1])).any(axis=1)
print(int(inside.sum()))
PY
)
write_ini() {  # write_ini NAME GOOD_RUNS
  cat > "$WORK/$1.ini" <<INI
[job]
task = fit
[reader]
type = icecube_public
path = $events
[selection]
type = cuts
good_runs = $2
[likelihood]
type = point_source
ra_deg = 77.36
dec_deg = 5.69
use_energy = false
INI
}
# check_selection FILE N_GOOD_RUNS
check_selection() {
  "$PY" - "$@" <<'PY' || fail "$1: /selection"
import h5py, sys
f = h5py.File(sys.argv[1])
names = list(f["selection/names"].asstr()[:])
passed = [int(p) for p in f["selection/passed"][:]]
assert names == ["dec", "log10_energy", "sigma", "mjd", "good_runs"], names
assert passed == [36900] * 4 + [int(sys.argv[2])], passed
assert f["selection"].attrs["n_selected"] == int(sys.argv[2])
assert f["fit"].attrs["n_events"] == int(sys.argv[2])
PY
}
write_ini all "$uptime"
write_ini half "$WORK/half0.csv, $WORK/half1.csv"
for np in 1 2; do
  for name in all half; do
    run_np $np run "$WORK/$name.ini" --output "$WORK/$name$np.h5" > "$WORK/$name$np.log" 2>&1 \
      || { cat "$WORK/$name$np.log"; fail "$name at $np ranks"; }
  done
  check_selection "$WORK/all$np.h5" 36900
  check_selection "$WORK/half$np.h5" "$expected_half"
done
same_within "$(h5attr "$WORK/half1.h5" /fit ts)" "$(h5attr "$WORK/half2.h5" /fit ts)" 1e-10 || fail "TS differs between 1 and 2 ranks"
echo "ok: IC40 good runs: 36900 of 36900 events kept; every other run: $expected_half, at 1 and 2 ranks"
