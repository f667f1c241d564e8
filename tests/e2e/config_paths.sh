#!/usr/bin/env bash
# Paths follow the config file, and `nusky validate` opens what a run will open: a config run
# from another directory finds its inputs and writes beside itself; --set paths stay relative to
# the working directory; validate fails (exit 1, one line naming the key and the resolved path) on
# each kind of missing or unusable input, as the run itself would, before reading any event.
source "$(dirname "$0")/lib/common.bash"
: "${NUSKY_SOURCE_DIR:?set by ctest}"
sky=$(small_sky)
analysis=$WORK/analysis
mkdir -p "$analysis/configs" "$analysis/data" "$WORK/elsewhere"
cp -r "$NUSKY_SOURCE_DIR/data/ic40" "$analysis/data/ic40"
cp "$sky" "$analysis/data/sky.h5"

# A config with relative paths, run from a directory where none of them exist.
cat > "$analysis/configs/ic40.ini" <<INI
[job]
output = ../results/ic40.h5
[reader]
type = icecube_public
path = ../data/ic40
seasons = IC40
[selection]
type = cuts
good_runs = ../data/ic40/uptime/IC40_exp.csv
[likelihood]
type = point_source
ra_deg = 77.36
dec_deg = 5.69
INI
mkdir -p "$analysis/results"
cd "$WORK/elsewhere"
"$NUSKY" validate "$analysis/configs/ic40.ini" | grep -q "config OK" || fail "validate from another directory"
run_np 2 run "$analysis/configs/ic40.ini" > run.log 2>&1 || { cat run.log; fail "run from another directory"; }
[ -f "$analysis/results/ic40.h5" ] || fail "the output did not follow the config file"
[ ! -e "$WORK/elsewhere/../results/ic40.h5" ] || fail "the output was written relative to the working directory"
echo "ok: a config run from another directory reads its inputs and writes $analysis/results/ic40.h5"
# The same job from the config's own directory: the same numbers.
(cd "$analysis/configs" && run_np 1 run ic40.ini --output "$WORK/from_config_dir.h5" > /dev/null 2>&1) \
  || fail "run from the config's directory"
for a in ts ns; do
  [ "$(h5attr "$analysis/results/ic40.h5" /fit $a)" = "$(h5attr "$WORK/from_config_dir.h5" /fit $a)" ] \
    || fail "/fit $a differs between working directories"
done
echo "ok: the same /fit from either directory"
# --output and --set values are relative to the working directory.
run_np 1 run "$analysis/configs/ic40.ini" --output cwd.h5 > /dev/null 2>&1 || fail "--output cwd.h5"
[ -f "$WORK/elsewhere/cwd.h5" ] || fail "--output was not taken relative to the working directory"
expect_failure set_relative "--set reader.path: data/ic40: cannot open for reading" "$WORK/elsewhere/x.h5" \
  "$NUSKY" validate "$analysis/configs/ic40.ini" --set reader.path=data/ic40
echo "ok: --output and --set paths are relative to the working directory"
# The shipped configs validate from any directory.
for c in "$NUSKY_SOURCE_DIR"/configs/*.ini; do
  "$NUSKY" validate "$c" > /dev/null || fail "validate $c from $PWD"
done
echo "ok: the shipped configs validate from $PWD"

# validate fails on each kind of input the run would fail on, naming the key and resolved path.
bad() {  # bad NAME EXPECTED SED-EXPRESSION [validate options]
  local name=$1 expected=$2 edit=$3; shift 3
  sed "$edit" "$analysis/configs/ic40.ini" > "$analysis/configs/$name.ini"
  expect_failure "validate_$name" "$expected" "$analysis/results/ic40_$name.h5" \
    "$NUSKY" validate "$analysis/configs/$name.ini" "$@"
}
bad reader_path "[reader] path (relative to $analysis/configs/): $analysis/data/ic41: cannot open for reading: No such file" \
  's|^path = .*|path = ../data/ic41|'
bad good_runs "[selection] good_runs (relative to $analysis/configs/): $analysis/data/ic40/uptime/IC41_exp.csv: cannot open" \
  's|^good_runs = .*|good_runs = ../data/ic40/uptime/IC41_exp.csv|'
bad season "[reader] seasons: $analysis/data/ic40/events/IC79_exp.csv: season IC79: events file not found" \
  's|^seasons = .*|seasons = IC40, IC79|'
bad sensitivity_without_mc "[job] task: task sensitivity injects signal events from MC, but the sample of reader 'icecube_public' has none" \
  's|^\[job\]|[job]\ntask = sensitivity\ntrials = 100\ninject_ns = 5|'
bad catalog "[likelihood] catalog (relative to $analysis/configs/): $analysis/configs/no_catalog.txt: cannot open" \
  's|^type = point_source|type = stacking\ncatalog = no_catalog.txt|; /^ra_deg/d; /^dec_deg/d'
printf '1 2\n3 4 5\n' > "$analysis/data/bad_uptime.csv"
bad uptime_malformed "bad_uptime.csv:2: expected 2 columns, found 3" 's|^good_runs = .*|good_runs = ../data/bad_uptime.csv|'
# A good-run list that is malformed, an event file without a column, a template that is not a map:
# validate reads their headers (or the small tables) and fails as the run would.
"$PY" - "$analysis/data/no_sigma.npy" <<'PY'
import numpy as np, sys
np.save(sys.argv[1], np.zeros(4, dtype=[("ra", "f8"), ("dec", "f8"), ("logE", "f8")]))
PY
bad npy_column "no_sigma.npy" 's|^type = icecube_public|type = npy_events|; s|^path = .*|path = ../data/no_sigma.npy|; /^seasons/d; /^\[selection\]/,/^good_runs/d'
grep -qiF "sigma" "$WORK/validate_npy_column.err" || fail "the missing npy column is not named"
"$PY" - "$analysis/data/not_a_map.npy" <<'PY'
import numpy as np, sys
np.save(sys.argv[1], np.ones(13))
PY
cat > "$analysis/configs/template.ini" <<INI
[job]
output = ../results/template.h5
[reader]
type = hdf5_events
path = ../data/sky.h5
[likelihood]
type = template
template_path = ../data/not_a_map.npy
INI
expect_failure validate_template "not_a_map.npy" "$analysis/results/template.h5" "$NUSKY" validate "$analysis/configs/template.ini"
# Each of these fails the same way in a run, before any event is read.
code=0
run_np 2 run "$analysis/configs/season.ini" > "$WORK/run_season.out" 2> "$WORK/run_season.err" || code=$?
[ "$code" -eq 1 ] || fail "run of a missing season: exit code $code"
grep -q "reading events" "$WORK/run_season.err" "$WORK/run_season.out" && fail "the run read events before failing"
grep -qF "season IC79: events file not found" "$WORK/run_season.err" || fail "the run does not name the season"
echo "ok: a run fails on the missing season before reading events"
