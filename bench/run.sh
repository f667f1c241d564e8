#!/usr/bin/env bash
# End-to-end benchmark of nusky (issue 7): runs `nusky run` under mpirun at 1 and 2 ranks for
# each case of the performance table, takes medians over BENCH_RUNS runs (default 3), prints one
# table and writes docs/benchmarks.md (machine, load, flags, table, profiles, what limits each
# case). Not part of ctest: speed targets are checked here, never by timed unit tests.
#
#   bench/run.sh                       # everything, under 10 minutes on a 2-core machine
#   BENCH_RUNS=1 bench/run.sh          # quicker, single runs
#   BENCH_DOC=/tmp/b.md bench/run.sh   # write the report elsewhere
#   NUSKY_BUILD_DIR=build-native bench/run.sh   # a build made with -DNUSKY_NATIVE=ON
#                                      # (-march=native; docs/benchmarks.md states the flags used)
#
# Rates are measured over the trial (or scan) phase as the rank-0 progress line reports it
# ("<label>: done in X s"): the whole campaign on all ranks, checkpoint writes included,
# setup (simulation, PDFs, template smoothing) excluded; the wall column is the whole mpirun.
# Peak memory is GNU time's maximum resident set size of each rank (bench/rank-time.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${NUSKY_BUILD_DIR:-$root/build}
nusky=$build/bin/nusky
bench_bin=$build/bin/nusky_bench
runs=${BENCH_RUNS:-3}
doc=${BENCH_DOC:-$root/docs/benchmarks.md}
work=${BENCH_WORK:-$(mktemp -d /tmp/nusky-bench.XXXXXX)}
mkdir -p "$work"
start_s=$(date +%s)

[ -x "$nusky" ] || { echo "bench/run.sh: build nusky first ($nusky missing)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/run.sh: needs GNU time (/usr/bin/time; Debian package 'time')" >&2; exit 1; }
# shellcheck disable=SC1091
source "$root/scripts/mpi-env"
MPIRUN=${MPIEXEC:-mpirun}
PY=${PYTHON:-/usr/bin/python3}

# Trials per run, sized so that the trial phase lasts a few seconds at the target rates.
tpl_trials=${BENCH_TEMPLATE_TRIALS:-4000}
ps_trials=${BENCH_PS_TRIALS:-1500}
ic40_trials=${BENCH_IC40_TRIALS:-8000}

results=$work/results.tsv
: > "$results"

write_configs() {
    cat > "$work/template.ini" <<EOF
[job]
task = trials
trials = $tpl_trials
checkpoint_every = 100000
seed = 1
[reader]
type = simulation
seed = 2023
[selection]
type = cuts
[reco]
type = dnn_cascade
[likelihood]
type = template
gamma = 2.7
profile_points = 0
EOF
    cat > "$work/ps_cascades.ini" <<EOF
[job]
task = trials
trials = $ps_trials
checkpoint_every = 100000
seed = 1
[reader]
type = simulation
seed = 2023
[selection]
type = cuts
[reco]
type = dnn_cascade
[likelihood]
type = point_source
ra_deg = 266.4
dec_deg = -28.9
EOF
    cat > "$work/ps_ic40.ini" <<EOF
[job]
task = trials
trials = $ic40_trials
checkpoint_every = 100000
seed = 1
[reader]
type = icecube_public
path = $root/data/ic40/events/IC40_exp.csv
[selection]
type = none
[reco]
type = track
[likelihood]
type = point_source
ra_deg = 77.36
dec_deg = 5.69
EOF
    cat > "$work/scan_cascades.ini" <<EOF
[job]
task = scan
nside = 128
[reader]
type = simulation
seed = 2023
[selection]
type = cuts
[reco]
type = dnn_cascade
[likelihood]
type = point_source
pvalue_trials = 0
EOF
    cat > "$work/scan_ic40.ini" <<EOF
[job]
task = scan
nside = 256
[reader]
type = icecube_public
path = $root/data/ic40/events/IC40_exp.csv
[selection]
type = none
[reco]
type = track
[likelihood]
type = point_source
pvalue_trials = 0
EOF
    cat > "$work/read_hdf5.ini" <<EOF
[job]
task = fit
[reader]
type = hdf5_events
path = $work/sky_1.1M.h5
[selection]
type = none
[reco]
type = passthrough
[likelihood]
type = point_source
use_energy = false
ra_deg = 266.4
dec_deg = -28.9
EOF
}

# run_case NAME NP CONFIG ITEMS PHASE
#   PHASE: the progress label whose "done in X s" line times the phase, or "read" for the
#   reader (time between the "reading events" and "read N events" log lines).
run_case() {
    local name=$1 np=$2 config=$3 items=$4 phase=$5 r
    for r in ${6:-$(seq 1 "$runs")}; do
        local dir=$work/$name.np$np.r$r
        mkdir -p "$dir"
        local t0 t1 rc=0
        t0=$(date +%s.%N)
        NUSKY_BENCH_TIME_DIR=$dir timeout "${case_timeout:-0}" "$MPIRUN" -np "$np" "$here/rank-time.sh" \
            "$nusky" run "$config" --output "$dir/out.h5" > "$dir/log" 2>&1 || rc=$?
        t1=$(date +%s.%N)
        if [ "$rc" -eq 124 ]; then
            # Stopped at the time limit: recorded as a negative phase time (the report prints "> T").
            echo "bench/run.sh: $name at $np ranks stopped after ${case_timeout} s" >&2
            printf '%s\t%s\t%s\t%s\t-%s\t%s\tnan\n' "$name" "$np" "$r" "$case_timeout" "$case_timeout" "$items" >> "$results"
            continue
        fi
        if [ "$rc" -ne 0 ]; then
            echo "bench/run.sh: $name at $np ranks failed (exit $rc); log: $dir/log" >&2
            tail -5 "$dir/log" >&2
            printf '%s\t%s\t%s\tnan\tnan\t%s\tnan\n' "$name" "$np" "$r" "$items" >> "$results"
            continue
        fi
        "$PY" - "$dir" "$name" "$np" "$r" "$items" "$phase" "$t0" "$t1" >> "$results" <<'PY'
import glob, re, sys
d, name, np_, r, items, phase, t0, t1 = sys.argv[1:]
log = open(d + "/log").read()
if phase == "read":
    t = {}
    for m in re.finditer(r"\[nusky 0/\d+\s+([0-9.]+)s\] (reading events|read \d+ events)", log):
        t[m.group(2).split()[0]] = float(m.group(1))
    secs = t["read"] - t["reading"]
else:
    m = re.findall(re.escape(phase) + r": done in ([0-9.eE+-]+) s", log)
    secs = float(m[-1]) if m else float("nan")
peak = max(int(open(f).read().split()[0]) for f in glob.glob(d + "/rank.*"))
print(f"{name}\t{np_}\t{r}\t{float(t1) - float(t0):.3f}\t{secs:.4f}\t{items}\t{peak}")
PY
        echo "  $name np=$np run $r: $(tail -1 "$results" | cut -f4,5 | tr '\t' ' ') s (wall, phase)" >&2
    done
}

scan_available() {
    "$nusky" validate "$work/scan_cascades.ini" > "$work/scan_validate.log" 2>&1
}

write_configs
echo "bench/run.sh: work directory $work" >&2

# 1- and 2-rank runs alternate, so that both see the same background load on a shared machine.
for r in $(seq 1 "$runs"); do
    for np in 1 2; do run_case template "$np" "$work/template.ini" "$tpl_trials" "template trials" "$r"; done
done
for r in $(seq 1 "$runs"); do
    for np in 1 2; do run_case ps_cascades "$np" "$work/ps_cascades.ini" "$ps_trials" "point-source trials" "$r"; done
done
for r in $(seq 1 "$runs"); do
    for np in 1 2; do run_case ps_ic40 "$np" "$work/ps_ic40.ini" "$ic40_trials" "point-source trials" "$r"; done
done

# HDF5 read of 1.1 M events (no MC) on 2 ranks.
if [ ! -f "$work/sky_1.1M.h5" ]; then
    "$nusky" simulate --seed 7 --out "$work/sky_1.1M.h5" --events 1100000 --mc-events 0 --no-signal \
        > "$work/simulate.log" 2>&1 || { cat "$work/simulate.log" >&2; exit 1; }
fi
run_case read_hdf5 2 "$work/read_hdf5.ini" 1100000 read

# Peak memory per rank of a scan at nside 256 on 1.1 M events (2 ranks), with a 1 M-event MC set
# for the energy PDFs. The whole scan takes hours at this size, so the run is stopped after
# BENCH_MEM_SECONDS (default 60): by then setup (which makes the largest allocations) is done and
# the scan is under way (its output grows by ~50 B per pixel, 19 MB per rank at the end). Each
# rank's peak RSS is its VmHWM, sampled every second.
if [ ! -f "$work/sky_1.1M_mc.h5" ]; then
    "$nusky" simulate --seed 7 --out "$work/sky_1.1M_mc.h5" --events 1100000 \
        > "$work/simulate_mc.log" 2>&1 || { cat "$work/simulate_mc.log" >&2; exit 1; }
fi
sed -e "s|$work/sky_1.1M.h5|$work/sky_1.1M_mc.h5|" -e 's/task = fit/task = scan\nnside = 256/' \
    -e '/use_energy\|ra_deg\|dec_deg/d' "$work/read_hdf5.ini" > "$work/scan_memory.ini"
echo "pvalue_trials = 0" >> "$work/scan_memory.ini"
mem_dir=$work/scan_memory.np2.r1
mkdir -p "$mem_dir"
mem_t0=$(date +%s.%N)
"$MPIRUN" -np 2 "$nusky" run "$work/scan_memory.ini" --output "$mem_dir/out.h5" > "$mem_dir/log" 2>&1 &
mem_pid=$!
peak_kb=0
for _ in $(seq 1 "${BENCH_MEM_SECONDS:-60}"); do
    sleep 1
    kill -0 "$mem_pid" 2> /dev/null || break
    for p in $(pgrep -x nusky); do
        grep -q "scan_memory.ini" "/proc/$p/cmdline" 2> /dev/null || continue
        kb=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2> /dev/null || echo 0)
        [ "${kb:-0}" -gt "$peak_kb" ] && peak_kb=$kb
    done
done
kill "$mem_pid" 2> /dev/null || true
wait "$mem_pid" 2> /dev/null || true
mem_t1=$(date +%s.%N)
grep -q "scan: " "$mem_dir/log" || echo "bench/run.sh: the memory run had not started scanning when stopped" >&2
printf 'scan_memory\t2\t1\t%s\tnan\t786432\t%s\n' "$("$PY" -c "print(f'{$mem_t1 - $mem_t0:.3f}')")" "$peak_kb" >> "$results"
echo "  scan_memory np=2: peak RSS $peak_kb kB per rank (stopped after ${BENCH_MEM_SECONDS:-60} s)" >&2

# All-sky scans (task scan), when this build has it. Scans take longest: BENCH_SCAN_RUNS runs
# (default 1) at 2 ranks, each stopped after BENCH_SCAN_TIMEOUT s (default 150); one at 1 rank
# too with BENCH_SCAN_1RANK=1.
if scan_available; then
    scan_runs=${BENCH_SCAN_RUNS:-1}
    saved_runs=$runs
    runs=$scan_runs
    case_timeout=${BENCH_SCAN_TIMEOUT:-150}
    run_case scan_cascades 2 "$work/scan_cascades.ini" 196608 scan
    run_case scan_ic40 2 "$work/scan_ic40.ini" 786432 scan
    if [ "${BENCH_SCAN_1RANK:-0}" = 1 ]; then
        run_case scan_cascades 1 "$work/scan_cascades.ini" 196608 scan
        run_case scan_ic40 1 "$work/scan_ic40.ini" 786432 scan
    fi
    runs=$saved_runs
    case_timeout=0
    scan_state="measured with pvalue_trials = 0, ${scan_runs} run(s), stopped after ${BENCH_SCAN_TIMEOUT:-150} s"
else
    scan_state="not available in this build (nusky validate: $(grep -m1 -i 'error\|task' "$work/scan_validate.log" || true))"
fi

# Profiles of the trial kernels (perf, software clock: this VM exposes no hardware counters).
profiles=$work/profiles.txt
: > "$profiles"
if command -v perf > /dev/null && [ -x "$bench_bin" ]; then
    for k in BM_TemplateTrial BM_PointSourceTrial_Cascades BM_PointSourceTrial_IC40; do
        NUSKY_BENCH_MC=200000 perf record -q -e cpu-clock -F 1999 -D 3500 -o "$work/$k.perf" \
            "$bench_bin" --benchmark_filter="^$k\$" --benchmark_min_time=3 > "$work/$k.bench" 2>&1 || true
        {
            echo "### $k"
            grep -E "^$k" "$work/$k.bench" || true
            perf report -q -i "$work/$k.perf" --no-children --stdio --percent-limit 2.5 2> /dev/null |
                grep -E '^ +[0-9]' | sed -E 's/ +/ /g' | head -8 || true
        } >> "$profiles"
    done
fi

elapsed=$(( $(date +%s) - start_s ))
"$PY" "$here/report.py" --results "$results" --profiles "$profiles" --doc "$doc" \
    --build "$build" --elapsed "$elapsed" --runs "$runs" --scan-state "$scan_state"
