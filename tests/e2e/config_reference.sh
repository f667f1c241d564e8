#!/usr/bin/env bash
# docs/config-reference.md is `nusky describe --all --markdown`, exactly. After changing a module's
# parameters, regenerate it: build/bin/nusky describe --all --markdown > docs/config-reference.md
source "$(dirname "$0")/lib/common.bash"
: "${NUSKY_SOURCE_DIR:?set by ctest}"
"$NUSKY" describe --all --markdown > "$WORK/reference.md"
if ! diff -u "$NUSKY_SOURCE_DIR/docs/config-reference.md" "$WORK/reference.md" > "$WORK/diff.txt"; then
  head -40 "$WORK/diff.txt"
  fail "docs/config-reference.md is out of date; regenerate it with: nusky describe --all --markdown > docs/config-reference.md"
fi
echo "PASS: docs/config-reference.md matches nusky describe --all --markdown ($(wc -l < "$WORK/reference.md") lines)"
