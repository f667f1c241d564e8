#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (not through the main CMake build, which uses gcc):
#   fuzz/build.sh [TARGET...]   -> build-fuzz/fuzz_{text_events,npy,catalog,config}
# Each target is compiled from the few sources it needs, with ASan and UBSan.
# Needs clang and libclang-rt-14-dev (scripts/install-deps --fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${NUSKY_FUZZ_BUILD_DIR:-$root/build-fuzz}
mkdir -p "$out"
CXX=${FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
[ -n "$CXX" ] || { echo "fuzz/build.sh: no clang++ (scripts/install-deps --fuzz)" >&2; exit 1; }
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/framework/include" -I"$root/modules" -I/usr/include/eigen3)
sources() {  # the sources each target needs besides fuzz/fuzz_NAME.cpp
  case $1 in
    text_events) echo modules/readers/icecube_public/icecube_text.cpp framework/src/text_table.cpp \
                      framework/src/input_file.cpp ;;
    npy) echo framework/src/npy.cpp framework/src/input_file.cpp ;;
    catalog) echo modules/likelihood/common/catalog.cpp modules/likelihood/common/spatial_pdf.cpp framework/src/log.cpp \
                  framework/src/text_table.cpp framework/src/input_file.cpp ;;
    config) echo framework/src/config.cpp framework/src/input_file.cpp -lboost_program_options ;;
    *) echo "fuzz/build.sh: unknown target $1" >&2; return 1 ;;
  esac
}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(text_events npy catalog config)
jobs=${FUZZ_BUILD_JOBS:-$(nproc)}
pids=()
for t in "${targets[@]}"; do
  extra=$(sources "$t")
  (cd "$root" && "$CXX" "${flags[@]}" -o "$out/fuzz_$t" "fuzz/fuzz_$t.cpp" $extra) &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
echo "fuzz/build.sh: built ${targets[*]} in $out"
