#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (not through the main CMake build, which uses gcc):
#   fuzz/build.sh            -> build-fuzz/fuzz_{text_events,npy,catalog,config}
# Each target is compiled from the few sources it needs, with ASan and UBSan.
# Needs clang and libclang-rt-14-dev (scripts/install-deps --fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${NUSKY_FUZZ_BUILD_DIR:-$root/build-fuzz}
mkdir -p "$out"
CXX=${FUZZ_CXX:-$(command -v clang++-14 || command -v clang++)}
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/framework/include" -I"$root/modules" -I/usr/include/eigen3)
build() {  # build NAME SOURCES... [-lLIB]
  local name=$1; shift
  echo "fuzz/build.sh: $name"
  "$CXX" "${flags[@]}" -o "$out/fuzz_$name" "$root/fuzz/fuzz_$name.cpp" "$@"
}
build text_events "$root/modules/readers/icecube_public/icecube_text.cpp" "$root/framework/src/text_table.cpp" &
build npy "$root/modules/readers/npy_events/npy.cpp" &
wait
build catalog "$root/modules/likelihood/common/catalog.cpp" "$root/modules/likelihood/common/spatial_pdf.cpp" \
  "$root/framework/src/text_table.cpp" &
build config "$root/framework/src/config.cpp" -lboost_program_options &
wait
ls "$out"/fuzz_* >/dev/null
