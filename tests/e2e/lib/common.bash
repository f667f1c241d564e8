# Shared by the end-to-end tests: `source "$(dirname "$0")/lib/common.bash"` with $1 = nusky.
set -euo pipefail
NUSKY=${1:?usage: test.sh PATH/TO/nusky}
MPIEXEC=${MPIEXEC:-mpirun}
PY=/usr/bin/python3  # Debian's python3 with h5py and numpy
WORK=$(mktemp -d /tmp/nusky_e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1

fail() { echo "FAIL: $*" >&2; exit 1; }
run_np() { local np=$1; shift; "$MPIEXEC" -np "$np" --oversubscribe "$NUSKY" "$@"; }
# h5attr FILE OBJECT NAME: prints an attribute with full precision.
h5attr() { "$PY" -c "import h5py,sys; v=h5py.File(sys.argv[1])[sys.argv[2]].attrs[sys.argv[3]]; print(v if isinstance(v,str) else repr(float(v)))" "$@"; }
# same_within A B REL: |A-B| <= REL*|A|
same_within() { "$PY" -c "import sys; a,b,r=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=r*abs(a) else 1)" "$@"; }
# A small simulated sky (background + Galactic-plane signal + MC), cached per test run.
small_sky() {
  local out=$WORK/sky.h5
  [ -f "$out" ] || "$NUSKY" simulate --seed 11 --events 20000 --signal-events 300 --mc-events 100000 --out "$out" > /dev/null
  echo "$out"
}
# expect_failure NAME EXPECTED_TEXT OUTPUT_PATH CMD...: exit code 1, exactly one error line
# on stderr naming the problem, and no results file.
expect_failure() {
  local name=$1 expected=$2 output=$3; shift 3
  local code=0
  "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || code=$?
  [ "$code" -eq 1 ] || { cat "$WORK/$name.err"; fail "$name: exit code $code, expected 1"; }
  local errors
  errors=$(grep -c '^nusky: error' "$WORK/$name.err" || true)
  [ "$errors" -eq 1 ] || { cat "$WORK/$name.err"; fail "$name: $errors error lines, expected 1"; }
  grep '^nusky: error' "$WORK/$name.err" | grep -qF -- "$expected" \
    || { cat "$WORK/$name.err"; fail "$name: error does not mention '$expected'"; }
  [ ! -e "$output" ] || fail "$name: left a results file $output"
  [ ! -e "$output.tmp" ] || fail "$name: left $output.tmp"
  echo "ok: $name -> $(grep '^nusky: error' "$WORK/$name.err")"
}
# done_count FILE: trials marked done in a checkpoint (0 while it cannot be read).
done_count() {
  "$PY" -c "import h5py,sys
try: print(int(h5py.File(sys.argv[1], 'r')['checkpoint/done'][:].sum()))
except Exception: print(0)" "$1"
}
# wait_until SECONDS CONDITION...: polls CONDITION every 0.2 s; 1 on timeout.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
gone() { ! kill -0 "$1" 2> /dev/null; }
at_least() { [ "$(done_count "$1")" -ge "$2" ]; }
