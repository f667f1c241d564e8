#!/usr/bin/env bash
# Killed processes (issue 8):
#  1. SIGKILL of one rank (rank 2, then rank 0) of a 4-rank trials run: mpirun must end within 30 s,
#     with a non-zero exit code, no rank left running and no results file.
#  2. SIGKILL of the whole job (mpirun and every rank) twice during a trials campaign, resumed
#     with --resume on other rank counts (4 -> 3 -> 2): the final /trials equals an uninterrupted
#     2-rank run's, bit for bit, and the trials done before each kill were kept.
#  3. --resume refuses a checkpoint made with a different config or code version, saying which.
#  4. A scan killed during its background trials (the local p-value scrambles) and resumed on
#     another rank count: /scan_background and /scan equal an uninterrupted run's, bit for bit.
source "$(dirname "$0")/lib/common.bash"
sky=$WORK/sky.h5
"$NUSKY" simulate --seed 5 --events 5000 --mc-events 10000 --out "$sky" > /dev/null
trials=${KILL_TEST_TRIALS:-4000}
cat > "$WORK/trials.ini" <<INI
[job]
task = trials
trials = $trials
checkpoint_every = 10
seed = 7
[reader]
type = hdf5_events
path = $sky
[likelihood]
type = point_source
ra_deg = 266.4
dec_deg = -28.9
INI
export HDF5_USE_FILE_LOCKING=FALSE  # poll checkpoints that a running job has open

# start_job NP OUTPUT LOG [ARGS...]: starts mpirun in the background; sets $job to its pid.
start_job() {
  local np=$1 output=$2 log=$3; shift 3
  "$MPIEXEC" -np "$np" --oversubscribe "$NUSKY" run "${JOB_CONFIG:-$WORK/trials.ini}" --output "$output" "$@" > "$log" 2>&1 &
  job=$!
}
ranks_of() { pgrep -P "$1" -x nusky || true; }
# rank_pid MPIRUN_PID RANK
rank_pid() {
  local p
  for p in $(ranks_of "$1"); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then echo "$p"; return; fi
  done
}
kill_all() { kill -9 "$1" $(ranks_of "$1") 2> /dev/null || true; }
cleanup_job() { [ -z "${job:-}" ] || kill_all "$job"; }
trap 'cleanup_job; rm -rf "$WORK"' EXIT

# ---- 1. one rank killed ----------------------------------------------------------------------
for victim in 2 0; do
  out=$WORK/one_rank$victim.h5
  start_job 4 "$out" "$WORK/one_rank$victim.log"
  wait_until 120 at_least "$out.tmp" 10 || { cat "$WORK/one_rank$victim.log"; fail "the trials run did not start"; }
  pid=$(rank_pid "$job" "$victim")
  [ -n "$pid" ] || fail "no rank $victim under mpirun $job"
  others=$(ranks_of "$job")
  kill -9 "$pid"
  start=$SECONDS
  wait_until 30 gone "$job" || { kill_all "$job"; fail "mpirun still running 30 s after rank $victim was killed"; }
  code=0; wait "$job" || code=$?
  took=$((SECONDS - start))
  [ "$code" -ne 0 ] || fail "mpirun exited 0 after rank $victim was killed"
  for p in $others; do wait_until 10 gone "$p" || fail "rank pid $p still running 10 s after mpirun ended"; done
  [ ! -e "$out" ] || fail "a results file $out after a killed rank"
  echo "ok: SIGKILL of rank $victim of 4: mpirun ended after ${took} s with exit code $code, all ranks gone"
  job=
done

# ---- 2. the whole job killed, twice, and resumed -----------------------------------------------
run_np 2 run "$WORK/trials.ini" --output "$WORK/reference.h5" > "$WORK/reference.log" 2>&1 \
  || { cat "$WORK/reference.log"; fail "uninterrupted run"; }
out=$WORK/crash.h5
start_job 4 "$out" "$WORK/crash1.log"
wait_until 120 at_least "$out.tmp" $((trials / 4)) || { cat "$WORK/crash1.log"; fail "first run did not get going"; }
kill_all "$job"
wait_until 30 gone "$job" || fail "mpirun survived SIGKILL"
wait "$job" || true; job=
[ ! -e "$out" ] || fail "a results file after SIGKILL of the job"
[ -e "$out.tmp" ] || fail "no checkpoint after SIGKILL of the job"
done1=$(done_count "$out.tmp")
[ "$done1" -gt 0 ] && [ "$done1" -lt "$trials" ] || fail "checkpoint holds $done1 of $trials trials"
echo "ok: SIGKILL of the whole 4-rank job with $done1 of $trials trials in the checkpoint"

# 3. A resume with another config or code version is refused, and the checkpoint kept.
# (expect_failure checks that OUTPUT and OUTPUT.tmp do not exist: here the checkpoint must stay.)
expect_failure resume_other_config "checkpoint made with a different config ([job] seed = 7 in the checkpoint, 8 now)" \
  "$WORK/none.h5" run_np 2 run "$WORK/trials.ini" --output "$out" --resume --set job.seed=8
"$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); g=f['checkpoint']; g.attrs['real_version']=g.attrs['nusky_version']; import numpy; g.attrs['nusky_version']=numpy.bytes_(b'0.0.0-old')" "$out.tmp"
expect_failure resume_other_version "checkpoint made by nusky 0.0.0-old, this is nusky" \
  "$WORK/none.h5" run_np 4 run "$WORK/trials.ini" --output "$out" --resume
"$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); g=f['checkpoint']; g.attrs['nusky_version']=g.attrs['real_version']; del g.attrs['real_version']" "$out.tmp"
[ "$(done_count "$out.tmp")" -eq "$done1" ] || fail "a refused resume changed the checkpoint"
[ ! -e "$out" ] || fail "a refused resume wrote a results file"

# Resume on 3 ranks, killed again; then on 2 ranks to the end.
start_job 3 "$out" "$WORK/crash2.log" --resume
wait_until 120 at_least "$out.tmp" $((done1 + trials / 4)) || { cat "$WORK/crash2.log"; fail "resumed run did not get going"; }
kill_all "$job"
wait_until 30 gone "$job" || fail "mpirun survived SIGKILL"
wait "$job" || true; job=
grep -q "resuming from $out.tmp: $done1 of $trials trials already done" "$WORK/crash2.log" \
  || { cat "$WORK/crash2.log"; fail "first resume did not start from the $done1 checkpointed trials"; }
done2=$(done_count "$out.tmp")
[ "$done2" -gt "$done1" ] && [ "$done2" -lt "$trials" ] \
  || fail "second kill: checkpoint holds $done2 of $trials trials (not between $done1 and $trials; KILL_TEST_TRIALS larger?)"
[ ! -e "$out" ] || fail "a results file after the second SIGKILL"
echo "ok: second SIGKILL (resumed on 3 ranks) with $done2 of $trials trials in the checkpoint"
run_np 2 run "$WORK/trials.ini" --output "$out" --resume > "$WORK/crash3.log" 2>&1 \
  || { cat "$WORK/crash3.log"; fail "final resume"; }
grep -q "resuming from $out.tmp: $done2 of $trials trials already done" "$WORK/crash3.log" \
  || { cat "$WORK/crash3.log"; fail "final resume did not start from the $done2 checkpointed trials"; }
[ ! -e "$out.tmp" ] && [ ! -e "$out.ckpt" ] || fail "checkpoint left after the campaign finished"
"$PY" - "$WORK/reference.h5" "$out" <<'PY'
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ("ts", "ns", "gamma"):
    x, y = a["trials"][name][:], b["trials"][name][:]
    assert x.shape == y.shape, (name, x.shape, y.shape)
    assert np.array_equal(x, y), (name, np.flatnonzero(x != y)[:10])
for attr in ("seed", "first_trial", "n_trials"):
    assert a["trials"].attrs[attr] == b["trials"].attrs[attr], attr
print("ok: /trials after two kills and resumes (4 -> 3 -> 2 ranks) equals the uninterrupted run:",
      len(a["trials/ts"]), "trials")
PY

# ---- 4. a scan's background trials killed and resumed --------------------------------------------
cat > "$WORK/scan.ini" <<INI
[job]
task = scan
nside = 64
seed = 7
checkpoint_every = 200
[reader]
type = hdf5_events
path = $sky
[likelihood]
type = point_source
pvalue_trials = ${KILL_TEST_SCAN_TRIALS:-20000}
pvalue_declinations = 6
INI
rows=$(( ${KILL_TEST_SCAN_TRIALS:-20000} * 6 ))
run_np 2 run "$WORK/scan.ini" --output "$WORK/scan_reference.h5" > "$WORK/scan_reference.log" 2>&1 \
  || { cat "$WORK/scan_reference.log"; fail "uninterrupted scan"; }
out=$WORK/scan_crash.h5
JOB_CONFIG=$WORK/scan.ini start_job 4 "$out" "$WORK/scan_crash1.log"
wait_until 120 at_least "$out.tmp" $((rows / 8)) || { cat "$WORK/scan_crash1.log"; fail "the scan's background trials did not get going"; }
kill_all "$job"
wait_until 30 gone "$job" || fail "mpirun survived SIGKILL"
wait "$job" || true; job=
done_scan=$(done_count "$out.tmp")
[ "$done_scan" -gt 0 ] && [ "$done_scan" -lt "$rows" ] || fail "scan checkpoint holds $done_scan of $rows rows"
run_np 2 run "$WORK/scan.ini" --output "$out" --resume > "$WORK/scan_crash2.log" 2>&1 \
  || { cat "$WORK/scan_crash2.log"; fail "scan resume"; }
grep -q "resuming from $out.tmp: $done_scan of $rows trials already done" "$WORK/scan_crash2.log" \
  || { cat "$WORK/scan_crash2.log"; fail "the scan did not resume from its $done_scan checkpointed rows"; }
"$PY" - "$WORK/scan_reference.h5" "$out" <<'PY'
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for name in ("scan_background/ts", "scan_background/sin_dec", "scan/ts", "scan/ns", "scan/mlog10p"):
    assert np.array_equal(a[name][:], b[name][:], equal_nan=True), name
print("ok: a scan killed in its background trials (4 ranks) and resumed on 2 equals the uninterrupted run:",
      len(a["scan_background/ts"]), "background values")
PY
echo "PASS"