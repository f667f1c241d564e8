#!/usr/bin/env bash
# The out-of-tree module example against an installed nusky: `cmake --install` of this build
# into a temporary prefix, examples/out_of_tree_module built with find_package(nusky) and its
# own unit test run, then the installed nusky running a chain that loads the plugin
# ([job] plugins by bare name through NUSKY_PLUGIN_PATH, --plugin by path, <prefix>/lib/nusky)
# and the selection's effect checked. Refusals: a missing plugin names every path searched, a
# plugin built against another nusky version names both versions, a module registered twice
# names both files.
source "$(dirname "$0")/lib/common.bash"
: "${NUSKY_BINARY_DIR:?set by ctest}" "${NUSKY_SOURCE_DIR:?set by ctest}"
prefix=$WORK/prefix
example=$NUSKY_SOURCE_DIR/examples/out_of_tree_module
cmake --install "$NUSKY_BINARY_DIR" --prefix "$prefix" > "$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
NUSKY=$prefix/bin/nusky  # from here on, the installed nusky
[ -f "$prefix/lib/cmake/nusky/nuskyConfig.cmake" ] || fail "no nuskyConfig.cmake installed"
[ -f "$prefix/lib/cmake/nusky/nuskyConfigVersion.cmake" ] || fail "no nuskyConfigVersion.cmake installed"
[ -f "$prefix/share/nusky/data/gp2023/effa_values.csv" ] || fail "gp2023 data not installed"
version=$("$NUSKY" --version | awk '{print $2}')
# The installed configs find the installed data (paths relative to the config file), from anywhere.
for c in "$prefix"/share/nusky/configs/*.ini; do
  (cd "$WORK" && NUSKY_DATA_DIR= "$NUSKY" validate "$c" > /dev/null) || fail "installed $c does not validate"
done
echo "ok: the installed configs validate against the installed data"

build_example() {  # build_example PREFIX BUILD_DIR
  cmake -S "$example" -B "$2" -DCMAKE_PREFIX_PATH="$1" -DCMAKE_BUILD_TYPE=Release > "$2.configure.log" 2>&1 \
    || { cat "$2.configure.log"; fail "configure example against $1"; }
  cmake --build "$2" -j2 > "$2.build.log" 2>&1 || { cat "$2.build.log"; fail "build example against $1"; }
}
build_example "$prefix" "$WORK/example"
plugin=$WORK/example/libtime_window.so
[ -f "$plugin" ] || fail "no $plugin"
(cd "$WORK/example" && ctest --output-on-failure > ctest.log 2>&1) || { cat "$WORK/example/ctest.log"; fail "example unit test"; }
echo "ok: example built against $prefix and its unit test passed"

# The chain of the example: IC40 events, two time windows, a point-source fit.
events=$prefix/share/nusky/data/ic40/events/IC40_exp.csv
expected=$("$PY" -c "
import numpy as np, sys
m = np.loadtxt(sys.argv[1], skiprows=1, usecols=0)
print(int((((m >= 54600) & (m <= 54660)) | ((m >= 54800) & (m <= 54860))).sum()))" "$events")
sed -e "s|^path = .*|path = $events|" -e "s|^output = .*|output = $WORK/tw.h5|" \
    -e 's|^\[job\]|[job]\nplugins = time_window|' "$example/time_window_ic40.ini" > "$WORK/tw.ini"
check_selected() {  # check_selected FILE
  local n; n=$(h5attr "$1" /selection n_selected)
  [ "$n" = "$expected.0" ] || fail "$1: n_selected $n, expected $expected (events in the windows)"
  "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1]); assert f['/selection/names'][0]==b'time_window'; assert 'ts' in f['/fit'].attrs" "$1" \
    || fail "$1: layout"
}
for np in 1 2; do
  NUSKY_PLUGIN_PATH=$WORK/nothing_here:$WORK/example run_np $np run "$WORK/tw.ini" --output "$WORK/tw$np.h5" > "$WORK/tw$np.log" 2>&1 \
    || { cat "$WORK/tw$np.log"; fail "chain with [job] plugins at $np ranks"; }
  check_selected "$WORK/tw$np.h5"
  grep -q "plugin $plugin: selection time_window" "$WORK/tw$np.log" || { cat "$WORK/tw$np.log"; fail "no plugin log line"; }
done
echo "ok: [job] plugins = time_window via NUSKY_PLUGIN_PATH, $expected of 36900 events selected at 1 and 2 ranks"
sed '/^plugins = /d' "$WORK/tw.ini" > "$WORK/tw_noplugin.ini"
run_np 2 run "$WORK/tw_noplugin.ini" --plugin "$plugin" --output "$WORK/tw_opt.h5" > "$WORK/tw_opt.log" 2>&1 \
  || { cat "$WORK/tw_opt.log"; fail "chain with --plugin"; }
check_selected "$WORK/tw_opt.h5"
echo "ok: --plugin PATH"
# Installed next to nusky (cmake --install of the example into the same prefix): found by bare name.
cmake --install "$WORK/example" --prefix "$prefix" > /dev/null || fail "install the plugin"
[ -f "$prefix/lib/nusky/libtime_window.so" ] || fail "plugin not installed to <prefix>/lib/nusky"
env -u NUSKY_PLUGIN_PATH "$NUSKY" run "$WORK/tw.ini" --output "$WORK/tw_installed.h5" > "$WORK/tw_installed.log" 2>&1 \
  || { cat "$WORK/tw_installed.log"; fail "chain with the plugin installed in <prefix>/lib/nusky"; }
check_selected "$WORK/tw_installed.h5"
echo "ok: plugin installed in <prefix>/lib/nusky found by bare name"
"$NUSKY" modules --plugin "$plugin" | grep -E "^  time_window .*\[plugin $plugin\]" > /dev/null || fail "nusky modules --plugin"
"$NUSKY" describe time_window --plugin "$plugin" | grep -q "windows_mjd" || fail "nusky describe --plugin"
"$NUSKY" validate "$WORK/tw_noplugin.ini" --plugin "$plugin" | grep -q "config OK" || fail "validate --plugin"
echo "ok: modules / describe / validate --plugin"

# The plugin likelihood disk_source: trials and sensitivity come from nusky's task engines, and
# its rows do not depend on the number of ranks.
disk=$WORK/example/libdisk_source.so
[ -f "$disk" ] || fail "no $disk"
sed -e "s|^path = .*|path = $events|" -e "s|^output = .*|output = $WORK/disk.h5|" "$example/disk_ic40.ini" > "$WORK/disk.ini"
for np in 1 2; do
  run_np $np run "$WORK/disk.ini" --plugin "$disk" --set job.task=trials --set job.trials=40 \
    --output "$WORK/disk_trials$np.h5" > "$WORK/disk$np.log" 2>&1 || { cat "$WORK/disk$np.log"; fail "disk trials at $np ranks"; }
done
run_np 2 run "$WORK/disk.ini" --plugin "$disk" --set job.trials=40 --set job.inject_ns=5,15,40 --set job.signal_trials=12 \
  --output "$WORK/disk_sens.h5" > "$WORK/disk_sens.log" 2>&1 || { cat "$WORK/disk_sens.log"; fail "disk sensitivity"; }
"$PY" - "$WORK" <<'PY' || fail "disk_source results"
import h5py, numpy as np, sys
w = sys.argv[1]
one, two = h5py.File(f"{w}/disk_trials1.h5"), h5py.File(f"{w}/disk_trials2.h5")
assert len(one["trials/ts"]) == 40 and np.array_equal(one["trials/ts"][:], two["trials/ts"][:])
assert one["fit"].attrs["radius_deg"] == 1.5 and "p_value" in one["fit"].attrs
s = h5py.File(f"{w}/disk_sens.h5")
# The sensitivity's background rows are the trials task's rows (same seed, same trials).
assert np.array_equal(s["trials/ts"][:], one["trials/ts"][:])
ns = s["injection/bias_median_ns"][:]
assert list(s["injection/bias_n_inj"][:]) == [5.0, 15.0, 40.0] and ns[2] > 20 and ns[2] > ns[0], ns
assert np.isfinite(s["sensitivity"].attrs["sensitivity_ns"]), dict(s["sensitivity"].attrs)
print("disk_source: bias curve", list(zip(s["injection/bias_n_inj"][:], ns)),
      "sensitivity n =", s["sensitivity"].attrs["sensitivity_ns"])
PY
echo "ok: plugin likelihood disk_source: trials equal at 1 and 2 ranks, sensitivity from the engines"

# A missing plugin: one error line naming the name and every path searched.
sed 's|^plugins = .*|plugins = no_such_plugin|' "$WORK/tw.ini" > "$WORK/missing.ini"
for np in 1 2; do
  NUSKY_PLUGIN_PATH=$WORK/dir_a:$WORK/dir_b expect_failure missing$np "plugin 'no_such_plugin' not found" \
    "$WORK/tw.h5.none" run_np $np run "$WORK/missing.ini" --output "$WORK/tw.h5.none"
  for searched in "$WORK/dir_a/no_such_plugin" "$WORK/dir_a/libno_such_plugin.so" "$WORK/dir_b/no_such_plugin" \
                  "$WORK/dir_b/libno_such_plugin.so" "$prefix/lib/nusky/libno_such_plugin.so"; do
    grep -qF -- "$searched" "$WORK/missing$np.err" || { cat "$WORK/missing$np.err"; fail "missing plugin: $searched not listed"; }
  done
  grep -qF "missing.ini: [job] plugins" "$WORK/missing$np.err" || fail "missing plugin: config key not named"
done
expect_failure missing_path "plugin '$WORK/nope/libx.so' not found (searched: $WORK/nope/libx.so)" "$WORK/none.h5" \
  "$NUSKY" run "$WORK/tw_noplugin.ini" --plugin "$WORK/nope/libx.so" --output "$WORK/none.h5"

# A plugin built against another nusky version (an installed copy whose headers say 0.0.1-other).
cp -a "$prefix" "$WORK/other"
sed -i 's|^#define NUSKY_VERSION ".*"|#define NUSKY_VERSION "0.0.1-other"|' "$WORK/other/include/nusky/version.hpp"
rm -f "$WORK/other/lib/nusky/libtime_window.so"
build_example "$WORK/other" "$WORK/example_other"
for np in 1 2; do
  expect_failure wrong_version$np \
    "plugin $WORK/example_other/libtime_window.so was built against nusky 0.0.1-other but this is nusky $version" \
    "$WORK/none.h5" run_np $np run "$WORK/tw_noplugin.ini" --plugin "$WORK/example_other/libtime_window.so" --output "$WORK/none.h5"
done
# Refused before it ran: the module is not registered (describe does not know it).
"$NUSKY" describe time_window --plugin "$WORK/example_other/libtime_window.so" > /dev/null 2>&1 && fail "wrong-version plugin accepted"
# The same module from two files: the second is refused, naming the first.
cp "$plugin" "$WORK/copy_of_time_window.so"
expect_failure twice "selection module 'time_window' is already registered by $plugin" "$WORK/none.h5" \
  "$NUSKY" run "$WORK/tw_noplugin.ini" --plugin "$plugin" --plugin "$WORK/copy_of_time_window.so" --output "$WORK/none.h5"
# Not a plugin at all (a shared library without the stamp).
expect_failure not_a_plugin "is not a nusky plugin" "$WORK/none.h5" \
  "$NUSKY" run "$WORK/tw_noplugin.ini" --plugin "$prefix/lib/libnusky.so" --output "$WORK/none.h5"
echo "PASS"
