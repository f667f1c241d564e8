#!/usr/bin/env bash
# Two jobs on one output path: while a trial campaign writes PATH (its checkpoint PATH.tmp), a
# second job on PATH is refused up front (exit 1, one line), and the first completes untouched;
# no PATH.lock is left behind. A killed job's unlocked PATH.lock does not stop the next one.
source "$(dirname "$0")/lib/common.bash"
sky=$(small_sky)
cat > "$WORK/trials.ini" <<INI
[job]
task = trials
trials = 20000
checkpoint_every = 500
[reader]
type = hdf5_events
path = $sky
[likelihood]
type = point_source
ra_deg = 266.4
dec_deg = -28.9
INI
out=$WORK/campaign.h5
run_np 1 run "$WORK/trials.ini" --output "$out" > "$WORK/first.log" 2>&1 &
first=$!
for _ in $(seq 300); do [ -e "$out.tmp" ] && break; sleep 0.1; done
[ -e "$out.tmp" ] || { cat "$WORK/first.log"; fail "the first job wrote no checkpoint"; }
code=0
run_np 2 run "$WORK/trials.ini" --output "$out" > "$WORK/second.out" 2> "$WORK/second.err" || code=$?
[ "$code" -eq 1 ] || { cat "$WORK/second.err"; fail "second job: exit code $code, expected 1"; }
[ "$(grep -c '^nusky: error' "$WORK/second.err")" -eq 1 ] || { cat "$WORK/second.err"; fail "second job: not one error line"; }
grep '^nusky: error' "$WORK/second.err" | grep -qF "$out: the output is being written by another job" \
  || { cat "$WORK/second.err"; fail "second job: the error does not say the output is in use"; }
echo "ok: second job -> $(grep '^nusky: error' "$WORK/second.err")"
wait "$first" || { cat "$WORK/first.log"; fail "the first job failed"; }
"$PY" -c "import h5py,sys; n=len(h5py.File(sys.argv[1])['trials/ts']); assert n == 20000, n" "$out" \
  || fail "the first job's results are incomplete"
[ ! -e "$out.lock" ] || fail "PATH.lock left behind"
# A lock file left by a killed job is not locked: the next job runs.
echo "pid 1" > "$WORK/again.h5.lock"
run_np 1 run "$WORK/trials.ini" --output "$WORK/again.h5" --set job.trials=50 > "$WORK/again.log" 2>&1 \
  || { cat "$WORK/again.log"; fail "a stale lock file stopped a job"; }
[ ! -e "$WORK/again.h5.lock" ] || fail "the stale lock file was not removed"
echo "output_lock: ok"
