#!/usr/bin/env bash
# The catalogue of bad inputs (tests/robustness/make_cases.py): broken event files of every
# reader, broken templates, bad configs and bad output paths. Each case, at 1 and 4 ranks:
# exit code 1 within 30 s, exactly one 'nusky: error' line naming the file/line/key, and no
# results file. A bad value in the last rank's block only must be reported by that rank.
# Permission cases need a non-root user: as root they run as 'nobody' (setpriv), or are skipped.
source "$(dirname "$0")/lib/common.bash"
root=$(cd "$(dirname "$0")/../.." && pwd)
cat=$WORK/cat
"$PY" "$root/tests/robustness/make_cases.py" "$cat" > /dev/null
out=$cat/out/result.h5
jobs=${ROBUSTNESS_JOBS:-2}
# When a rank exits non-zero, mpirun by default waits ~2 s (SIGTERM, then SIGKILL) before it
# returns, even though every rank is gone; not waiting makes the 222 runs take half the time.
# (Every run still ends within seconds with the default: the slowest was 4 s.)
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-0}

# How to run the permission cases (root reads and writes everything).
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  if command -v setpriv > /dev/null && id nobody > /dev/null 2>&1; then
    chmod 755 "$WORK" "$cat" "$cat/in" "$cat/ini"
    chmod 777 "$cat/out"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$cat/out")
  else
    as_user=(skip)
  fi
fi

# one_case NAME EXPECTED INI FLAGS NP: runs one case; prints its 'ok:' line or fails.
one_case() {
  local name=$1 expected=$2 ini=$3 flags=$4 np=$5 prefix=() args=(run "$ini") run_out=$out
  case ",$flags," in *,perm,*) prefix=("${as_user[@]}") ;; esac
  case ",$flags," in *,set=*) local s=${flags#*set=}; args+=(--set "${s%%,*}") ;; esac
  # Runs go two at a time: each gets its own output path, since nusky refuses a second job on an
  # output another job holds (PATH.lock). The output_* cases are about their own output paths.
  if [[ "$name" != output_* ]]; then run_out=$cat/out/result.$name.np$np.h5; args+=(--output "$run_out"); fi
  local start=$SECONDS
  expect_failure "$name.np$np" "$expected" "$run_out" \
    "${prefix[@]}" timeout -k 5 30 "$MPIEXEC" -np "$np" --oversubscribe "$NUSKY" "${args[@]}"
  local took=$((SECONDS - start))
  case ",$flags," in *,lastrank,*)
    if [ "$np" -eq 4 ]; then
      grep '^nusky: error' "$WORK/$name.np$np.err" | grep -qF '[rank 3]' \
        || fail "$name.np4: the error is not reported by rank 3, whose block holds the bad value"
    fi ;;
  esac
  echo "$took" > "$WORK/$name.np$np.seconds"
}

pids=() names=() failed=() n=0 skipped=0
while IFS=$'\t' read -r name expected ini flags; do
  [[ "$name" =~ ${ROBUSTNESS_CASES:-.} ]] || continue  # a regex, to run some cases only
  if [[ ",$flags," == *,perm,* && "${as_user[0]:-}" == skip ]]; then
    echo "skip: $name (running as root without setpriv: root can read and write everything)"
    skipped=$((skipped + 1)); continue
  fi
  for np in 1 4; do
    one_case "$name" "$expected" "$ini" "$flags" "$np" < /dev/null > "$WORK/$name.np$np.log" 2>&1 &
    pids+=($!); names+=("$name.np$np"); n=$((n + 1))
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || failed+=("${names[0]}")
      cat "$WORK/${names[0]}.log"; pids=("${pids[@]:1}"); names=("${names[@]:1}")
    fi
  done
done < "$cat/cases.tsv"
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
  cat "$WORK/${names[$i]}.log"
done
[ ${#failed[@]} -eq 0 ] || fail "${#failed[@]} of $n runs failed: ${failed[*]}"

# Nothing that looks like a result anywhere (the output directory must hold only the
# directory of the output_is_directory case).
left=$(find "$cat" "$WORK" -maxdepth 3 \( -name 'result*.h5' -o -name '*.h5.tmp' -o -name '*.h5.ckpt' \) ! -type d)
[ -z "$left" ] || fail "results files left behind: $left"
slowest=$(cat "$WORK"/*.seconds | sort -n | tail -1)
echo "robustness: $n runs of $(wc -l < "$cat/cases.tsv") cases at 1 and 4 ranks passed, $skipped skipped, slowest ${slowest} s"
