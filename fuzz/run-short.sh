#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a few seconds on its committed seed corpus
# (fuzz/corpus/<target>/; new inputs go to a scratch directory, the corpus is not modified).
#   fuzz/run-short.sh [SECONDS]         default 5 s per target (CI)
#   FUZZ_TARGETS="npy config" fuzz/run-short.sh 600   a long run of some targets
# Exits 1 when a target crashes; the reproducer is left in build-fuzz/crashes/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
out=${NUSKY_FUZZ_BUILD_DIR:-$root/build-fuzz}
read -r -a targets <<< "${FUZZ_TARGETS:-text_events npy catalog config}"
"$root/fuzz/build.sh" "${targets[@]}"
status=0
for t in "${targets[@]}"; do
  scratch=$(mktemp -d "/tmp/nusky_fuzz_$t.XXXXXX")
  mkdir -p "$out/crashes/$t"
  log=$out/fuzz_$t.log
  if "$out/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/crashes/$t/" "$scratch" "$root/fuzz/corpus/$t" > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t ok, ${runs:-?} executions in ${seconds} s"
  else
    status=1
    echo "fuzz: $t FAILED (log $log, reproducer in $out/crashes/$t/)" >&2
    grep -E "ERROR|SUMMARY|runtime error" "$log" | head -5 >&2 || true
  fi
  rm -rf "$scratch"
done
exit $status
