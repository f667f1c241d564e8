#!/usr/bin/env bash
# scripts/new-module: a skeleton of every stage, written out of tree, builds against a
# `cmake --install` of this build and passes its own test unchanged; the plugins then load into
# the installed nusky (`nusky describe`). (In-tree skeletons use the same code with the
# in-tree include path and no plugin loading.)
source "$(dirname "$0")/lib/common.bash"
: "${NUSKY_BINARY_DIR:?set by ctest}" "${NUSKY_SOURCE_DIR:?set by ctest}"
prefix=$WORK/prefix
cmake --install "$NUSKY_BINARY_DIR" --prefix "$prefix" > "$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
stages="reader selection reco likelihood aggregation"
for s in $stages; do
  "$NUSKY_SOURCE_DIR/scripts/new-module" "$s" "my_$s" --out-of-tree "$WORK/modules/$s" > /dev/null || fail "new-module $s"
done
"$NUSKY_SOURCE_DIR/scripts/new-module" selection "Bad-Name" --out-of-tree "$WORK/bad" 2> /dev/null && fail "bad name accepted"
"$NUSKY_SOURCE_DIR/scripts/new-module" selection my_selection --out-of-tree "$WORK/modules/selection" 2> /dev/null \
  && fail "overwrote an existing module"
# One project holding the five skeletons, as a user with several modules would have.
{ echo "cmake_minimum_required(VERSION 3.20)"; echo "project(all_skeletons LANGUAGES CXX)"; echo "enable_testing()";
  for s in $stages; do echo "add_subdirectory($s)"; done; } > "$WORK/modules/CMakeLists.txt"
cmake -S "$WORK/modules" -B "$WORK/build" -DCMAKE_PREFIX_PATH="$prefix" > "$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; fail configure; }
cmake --build "$WORK/build" -j2 > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail build; }
(cd "$WORK/build" && ctest --output-on-failure > ctest.log 2>&1) || { cat "$WORK/build/ctest.log"; fail "skeleton tests"; }
grep -q "100% tests passed, 0 tests failed out of 5" "$WORK/build/ctest.log" || { cat "$WORK/build/ctest.log"; fail "expected 5 tests"; }
echo "ok: 5 skeletons built against the installed nusky and passed their tests"
for s in $stages; do
  "$prefix/bin/nusky" describe "my_$s" --plugin "$WORK/build/$s/libmy_$s.so" | grep -q "^my_$s ($s)" || fail "describe my_$s"
done
echo "PASS"
