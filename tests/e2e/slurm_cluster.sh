#!/usr/bin/env bash
# The Slurm scripts of slurm/ on a real (private, single-node) Slurm:
#  1. a Galactic-plane background campaign as one job with a 1-minute limit
#     (galactic_plane_fit.sbatch --time=1 --signal=B:USR1@55): the time-limit signal makes it
#     requeue itself, and the next run resumes from the checkpoint;
#  2. the same campaign as a 4-task job array plus its dependent `nusky merge` job
#     (submit_trials.sh);
#  3. a 2-rank mpirun fit with the romio321 MPI-IO component, submitted from an installed copy
#     (cmake --install), which finds its nusky next to itself.
# Every result must equal a direct `nusky run` bit for bit.
#
# Needs root and the Debian packages slurmctld slurmd slurm-client munge
# (scripts/install-deps --slurm). Otherwise it prints "SKIP: ..." and exits 77.
# Helpers: tests/slurm/cluster.bash (the cluster), tests/slurm/compare_h5.py (the comparison).
source "$(dirname "$0")/lib/common.bash"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/slurm/cluster.bash"
skip() {
    echo "SKIP: $*"
    exit 77
}
why=$(slurm_can_start) || skip "Slurm integration test: $why"

# A clean Slurm environment even if this test itself runs inside a Slurm job.
while read -r var; do unset "$var"; done < <(env | sed -n 's/^\(\(SLURM\|SBATCH\|SRUN\|SALLOC\)_[A-Za-z0-9_]*\)=.*/\1/p')
NUSKY=$(cd "$(dirname "$NUSKY")" && pwd)/$(basename "$NUSKY")
BUILD_DIR=${NUSKY_BINARY_DIR:-$(cd "$(dirname "$NUSKY")/.." && pwd)}
COMPARE=("$PY" "$SRC/tests/slurm/compare_h5.py")
BACKGROUND=()  # direct runs and the install, ended on exit if still running
cleanup() {
    local pid
    for pid in "${BACKGROUND[@]}"; do
        kill -0 "$pid" 2> /dev/null || continue
        pkill -TERM -P "$pid" 2> /dev/null || true  # its mpirun / cmake, by parent pid
        kill "$pid" 2> /dev/null || true
        wait "$pid" 2> /dev/null || true
    done
    slurm_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "[$(printf '%3d' "$SECONDS") s] $*"; }

say "starting a private Slurm (munged, slurmctld, slurmd; $(nproc) CPUs) in $WORK/slurm"
if ! slurm_start "$WORK/slurm"; then
    [ "${CI:-}" = true ] && fail "Slurm did not start (in CI it must)"
    skip "Slurm integration test: the Slurm daemons did not start here (see the log above)"
fi
sinfo -h -o "  partition %P: %D node(s), %c CPUs, %T"

# ---- the analysis: the pi0 template fit on a small simulated sky ----
sky=$(small_sky)
cat > "$WORK/gp.ini" << INI
[job]
seed = 7
[reader]
type = hdf5_events
path = $sky
[selection]
type = cuts
[reco]
type = dnn_cascade
[likelihood]
type = template
gamma = 2.7
INI
mkdir -p "$WORK/direct" "$WORK/jobs"

# Campaign size: about 30 s of trials on one rank here, so that the time-limit signal (12 s
# into the job, below) always interrupts it; a multiple of 4 x 500.
"$NUSKY" run "$WORK/gp.ini" --set job.task=trials --set job.trials=2000 --output "$WORK/direct/calibrate.h5" \
    > "$WORK/direct/calibrate.log" 2>&1 || { cat "$WORK/direct/calibrate.log"; fail "calibration run"; }
secs=$(sed -n 's/.*trials: done in \([0-9.]*\) s.*/\1/p' "$WORK/direct/calibrate.log")
N=$("$PY" -c "import sys; r=2000/max(float(sys.argv[1]),1e-3); print(min(100000, max(8000, int(r*30)//2000*2000)))" "$secs")
PER_TASK=$((N / 4))
say "campaign: $N trials (2000 trials took $secs s here), array of 4 x $PER_TASK"

# ---- direct runs (no Slurm), the references; in the background while the jobs run ----
(run_np 1 run "$WORK/gp.ini" --set job.task=trials --set "job.trials=$N" --output "$WORK/direct/trials.h5" \
    > "$WORK/direct/trials.log" 2>&1 && echo ok > "$WORK/direct/trials.done") &
ref_trials_pid=$!
BACKGROUND+=($!)
FIT_NP=$(($(nproc) >= 2 ? 2 : 1))
(run_np $FIT_NP run "$WORK/gp.ini" --set job.task=fit --output "$WORK/direct/fit.h5" \
    > "$WORK/direct/fit.log" 2>&1 && echo ok > "$WORK/direct/fit.done") &
ref_fit_pid=$!
BACKGROUND+=($!)
# An installed copy (cmake --install), for the fit job.
(cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" > "$WORK/install.log" 2>&1 && echo ok > "$WORK/install.done") &
install_pid=$!
BACKGROUND+=($!)

# ---- 1. the requeue job: the whole campaign in one job with a 1-minute limit ----
# slurmctld checks limits every 30 s; submit so that its next check comes ~12 s after the job
# starts: --signal=B:USR1@55 is then due (55 s or less left) and the script's trap requeues.
gap=$(slurm_next_limit_check) || fail "no time-limit pass in the slurmctld log"
if [ "$gap" -gt 13 ]; then sleep $((gap - 13)); elif [ "$gap" -lt 11 ]; then sleep $((gap + SLURM_LIMIT_PERIOD - 13)); fi
say "submitting the time-limited job (next time-limit pass in $(slurm_next_limit_check) s)"
# It finds nusky in the build tree next to the scripts (NUSKY_BIN unset, nusky not on PATH).
if [ "$NUSKY" -ef "$BUILD_DIR/bin/nusky" ]; then
    rq_env=(env -u NUSKY_BIN PATH=/usr/sbin:/usr/bin:/sbin:/bin)
    [ "$BUILD_DIR" -ef "$SRC/build" ] || rq_env+=("NUSKY_BUILD_DIR=$BUILD_DIR")
else
    rq_env=(env "NUSKY_BIN=$NUSKY")  # a nusky outside the build tree was given
fi
rq_job=$(cd "$WORK/jobs" && "${rq_env[@]}" NUSKY_TRIALS=$N sbatch --parsable --ntasks=1 --time=1 \
    --signal=B:USR1@55 --output="$WORK/jobs/requeue-%j.out" "$SRC/slurm/galactic_plane_fit.sbatch" \
    "$WORK/gp.ini" "$WORK/jobs/requeued.h5" --set job.checkpoint_every=500) || fail "sbatch of the requeue job"

# ---- 2. the job array + merge, through submit_trials.sh ----
submitted=$(cd "$WORK/jobs" && NUSKY_BIN=$NUSKY "$SRC/slurm/submit_trials.sh" --trials "$N" --per-task "$PER_TASK" \
    --array-sbatch --ntasks=1 --array-sbatch "--output=$WORK/jobs/array-%A_%a.out" \
    --sbatch "--time=10" "$WORK/gp.ini" "$WORK/jobs/merged.h5" --set job.checkpoint_every=250) || fail "submit_trials.sh"
echo "$submitted" | sed 's/^/  /'
array_job=$(echo "$submitted" | sed -n 's/^array \([0-9]*\).*/\1/p')
merge_job=$(echo "$submitted" | sed -n 's/^merge \([0-9]*\).*/\1/p')
[ -n "$array_job" ] && [ -n "$merge_job" ] || fail "submit_trials.sh printed no job ids"
[ "$(slurm_field "$merge_job" Dependency)" = "afterok:${array_job}_*(unfulfilled)" ] ||
    fail "merge job dependency is '$(slurm_field "$merge_job" Dependency)', expected afterok on array $array_job"

# ---- 3. the fit, from the installed scripts: nusky found next to them, 2 ranks under mpirun,
# Open MPI's romio321 MPI-IO component (NUSKY_MPI_IO) for the collective HDF5 writes ----
wait "$install_pid" || true
[ -f "$WORK/install.done" ] || { tail "$WORK/install.log"; fail "cmake --install $BUILD_DIR"; }
fit_job=$(cd "$WORK/jobs" && env -u NUSKY_BIN PATH=/usr/sbin:/usr/bin:/sbin:/bin NUSKY_LAUNCHER=mpirun NUSKY_MPI_IO=romio321 NUSKY_TRIALS=0 \
    sbatch --parsable --ntasks=$FIT_NP --output="$WORK/jobs/fit-%j.out" \
    "$WORK/prefix/share/nusky/slurm/galactic_plane_fit.sbatch" "$WORK/gp.ini" "$WORK/jobs/fit.h5") ||
    fail "sbatch of the fit job"
say "jobs: requeue $rq_job, array $array_job, merge $merge_job, fit $fit_job"

# ---- wait; release the requeued job from Slurm's requeue delay ----
# A requeued batch job becomes eligible only ~2 minutes later (Reason=BeginTime); the test
# moves that start time to now instead of waiting.
released=0
requeued_at=
deadline=$((SECONDS + 400))
while :; do
    pending=0
    for job in "$rq_job" "$array_job" "$merge_job" "$fit_job"; do
        states=$(scontrol show job "$job" 2> /dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p' | tr '\n' ' ')
        case "$states" in *PENDING* | *RUNNING* | *CONFIGURING* | *COMPLETING* | *REQUEUE* | "") pending=1 ;; esac
    done
    if [ "$(slurm_field "$rq_job" JobState)" = PENDING ] && [ "$(slurm_field "$rq_job" Reason)" = BeginTime ] &&
        [ "$(slurm_field "$rq_job" Restarts)" != 0 ]; then
        # Not at once: the killed run's step may still be ending on the node (srun waits up to
        # 7 s), and a job released into that once ended FAILED without starting (CI, session 11).
        requeued_at=${requeued_at:-$SECONDS}
        if [ $((SECONDS - requeued_at)) -ge 10 ]; then
            say "job $rq_job requeued (restart $(slurm_field "$rq_job" Restarts)); releasing it now"
            scontrol update "JobId=$rq_job" StartTime=now
            released=$((released + 1))
            requeued_at=
        fi
    fi
    [ "$pending" -eq 1 ] || break
    [ "$SECONDS" -lt "$deadline" ] || { squeue; fail "jobs still queued or running after 400 s"; }
    sleep 1
done
say "all jobs left the queue"
wait "$ref_trials_pid" "$ref_fit_pid" || true
[ -f "$WORK/direct/trials.done" ] || { tail "$WORK/direct/trials.log"; fail "direct trials run"; }
[ -f "$WORK/direct/fit.done" ] || { tail "$WORK/direct/fit.log"; fail "direct fit run"; }

show_logs() {
    local f
    for f in "$@"; do
        echo "--- $f"
        grep -v '^  ' "$f" | tail -n 25
    done
}
job_ok() { # JOB NAME LOGS...: every element COMPLETED with exit code 0
    local job=$1 name=$2
    shift 2
    local states
    states=$(scontrol show job "$job" | tr ' ' '\n' | sed -n 's/^JobState=//p' | sort -u | tr '\n' ' ')
    [ "$states" = "COMPLETED " ] || { show_logs "$@"; fail "$name (job $job) ended $states"; }
}

# ---- checks: the array pieces and the merge ----
job_ok "$array_job" "trials array" "$WORK"/jobs/array-*.out
"$PY" - "$WORK/direct/trials.h5" "$PER_TASK" "$WORK"/jobs/merged.h5.pieces/trials_0000[0-3].h5 << 'PY' ||
import sys, h5py, numpy as np
direct, m = h5py.File(sys.argv[1])["trials"], int(sys.argv[2])
assert len(sys.argv[3:]) == 4, sys.argv[3:]
for i, path in enumerate(sys.argv[3:]):
    piece = h5py.File(path)["trials"]
    assert piece.attrs["first_trial"] == i * m and piece.attrs["n_trials"] == m, (path, dict(piece.attrs))
    # the nusky options given after OUTPUT reached every array task
    assert "checkpoint_every = 250" in h5py.File(path).attrs["config"], path
    for c in ("ts", "ns", "gamma"):
        assert np.array_equal(piece[c][:], direct[c][i * m:(i + 1) * m]), (path, c)
PY
    fail "the array pieces differ from the direct run"
say "ok: the 4 array pieces equal trials [i*$PER_TASK, (i+1)*$PER_TASK) of the direct run"
merge_probe=$("$NUSKY" merge 2>&1 || true)
if [[ "$merge_probe" != *"unknown command 'merge'"* ]]; then
    job_ok "$merge_job" "merge" "$WORK"/jobs/nusky-merge-*.out
    "${COMPARE[@]}" "$WORK/jobs/merged.h5" "$WORK/direct/trials.h5" /trials/ts /trials/ns /trials/gamma ||
        fail "merged /trials differ from the direct run"
    "$PY" -c 'import sys, h5py
a, b = (h5py.File(p)["trials"].attrs for p in sys.argv[1:])
for k in ("seed", "first_trial", "n_trials"):
    assert a[k] == b[k], (k, a[k], b[k])' "$WORK/jobs/merged.h5" "$WORK/direct/trials.h5" ||
        fail "merged /trials attributes (seed, first_trial, n_trials) differ from the direct run"
    say "ok: merge job (afterok on the array) -> /trials identical to the direct run"
else
    echo "SKIP-PART: this nusky has no 'merge' command yet; the merge job must have failed:"
    grep -h 'nusky' "$WORK"/jobs/nusky-merge-*.out | tail -n 2 | sed 's/^/  /'
fi

# ---- checks: the requeued job ----
job_ok "$rq_job" "requeue job" "$WORK/jobs/requeue-$rq_job.out"
restarts=$(slurm_field "$rq_job" Restarts)
rq_log=$WORK/jobs/requeue-$rq_job.out
rq_bin=$(sed -n 's/^nusky-slurm: nusky: \(.*\) (.*/\1/p' "$rq_log" | head -n1)
[ "$rq_bin" -ef "$NUSKY" ] || fail "requeue job ran $rq_bin, not $NUSKY"
[ "$restarts" -ge 1 ] || { show_logs "$rq_log"; fail "job $rq_job was never requeued (Restarts=0)"; }
grep -q 'time limit near (SIGUSR1): requeueing' "$rq_log" || { show_logs "$rq_log"; fail "no time-limit requeue in the log"; }
resumed=$(sed -n 's/.*resuming from .*: \([0-9]*\) of [0-9]* trials already done.*/\1/p' "$rq_log" | sort -n | tail -n1)
[ -n "$resumed" ] && [ "$resumed" -gt 0 ] && [ "$resumed" -lt "$N" ] ||
    { show_logs "$rq_log"; fail "the requeued run did not resume from a partial checkpoint (resumed '${resumed:-none}')"; }
[ ! -e "$WORK/jobs/requeued.h5.tmp" ] && [ ! -e "$WORK/jobs/requeued.h5.ckpt" ] || fail "checkpoint files left behind"
"${COMPARE[@]}" "$WORK/jobs/requeued.h5" "$WORK/direct/trials.h5" /fit /trials ||
    fail "requeued job's result differs from the uninterrupted direct run"
say "ok: time limit -> requeued $restarts time(s), resumed with $resumed of $N trials done -> /fit and /trials identical"

# ---- checks: the fit from the installed scripts ----
fit_log=$WORK/jobs/fit-$fit_job.out
job_ok "$fit_job" "fit job" "$fit_log"
grep -q "nusky: $WORK/prefix/bin/nusky" "$fit_log" || { show_logs "$fit_log"; fail "fit job did not use the installed nusky"; }
grep -q "^nusky-slurm: mpirun " "$fit_log" || fail "fit job did not launch with mpirun"
grep -q "MPI-IO component romio321" "$fit_log" || fail "fit job did not select the romio321 MPI-IO component"
[ "$(h5attr "$WORK/jobs/fit.h5" / n_ranks)" = "$FIT_NP.0" ] || fail "fit job: n_ranks is not $FIT_NP"
# /fit's template attribute is the template's path: the installed copy's, here.
"${COMPARE[@]}" "$WORK/jobs/fit.h5" "$WORK/direct/fit.h5" --ignore-attr=template /fit /selection ||
    fail "fit job result differs from the direct run"
echo "  template read by the installed nusky: $(h5attr "$WORK/jobs/fit.h5" /fit template)"
say "ok: installed galactic_plane_fit.sbatch, mpirun -np $FIT_NP -> /fit identical to the direct run (TS $(h5attr "$WORK/jobs/fit.h5" /fit ts))"

say "Slurm integration test passed"
