#!/usr/bin/env bash
# Bad configs exit 1 with one line naming the problem, on 1 and 2 ranks, leaving no results file.
source "$(dirname "$0")/lib/common.bash"
sky=$(small_sky)
out=$WORK/out.h5
good() {
  cat <<INI
[job]
output = $out
[reader]
type = hdf5_events
path = $sky
[likelihood]
type = point_source
ra_deg = 10
dec_deg = 5
INI
}
good > "$WORK/good.ini"
good > "$WORK/unknown_module.ini"; sed -i 's/type = point_source/type = point_sorce/' "$WORK/unknown_module.ini"
good > "$WORK/unknown_key.ini"; echo "dec_degg = 3" >> "$WORK/unknown_key.ini"
good > "$WORK/wrong_type.ini"; sed -i 's/ra_deg = 10/ra_deg = ten/' "$WORK/wrong_type.ini"
good > "$WORK/missing_file.ini"; sed -i "s|path = .*|path = $WORK/no_such_file.h5|" "$WORK/missing_file.ini"
good > "$WORK/unknown_section.ini"; printf '[likelyhood]\ntype = x\n' >> "$WORK/unknown_section.ini"
good > "$WORK/negative_trials.ini"; sed -i 's/^\[job\]/[job]\ntrials = -5/' "$WORK/negative_trials.ini"
good > "$WORK/bad_nside.ini"; sed -i 's/^\[job\]/[job]\nnside = 100/' "$WORK/bad_nside.ini"
good | sed '/\[likelihood\]/,$d' > "$WORK/missing_section.ini"
good > "$WORK/missing_dir.ini"; sed -i "s|output = .*|output = $WORK/no/such/dir/out.h5|" "$WORK/missing_dir.ini"
for np in 1 2; do
  expect_failure unknown_module$np "unknown likelihood module 'point_sorce'" "$out" run_np $np run "$WORK/unknown_module.ini"
  expect_failure unknown_key$np "[likelihood] dec_degg: unused parameter" "$out" run_np $np run "$WORK/unknown_key.ini"
  expect_failure wrong_type$np "[likelihood] ra_deg = 'ten'" "$out" run_np $np run "$WORK/wrong_type.ini"
  expect_failure missing_file$np "[reader] path: $WORK/no_such_file.h5: cannot open for reading: No such file" "$out" run_np $np run "$WORK/missing_file.ini"
  expect_failure unknown_section$np "unknown section [likelyhood]" "$out" run_np $np run "$WORK/unknown_section.ini"
  expect_failure negative_trials$np "[job] trials: must be >= 0" "$out" run_np $np run "$WORK/negative_trials.ini"
  expect_failure bad_nside$np "[job] nside: must be a power of two" "$out" run_np $np run "$WORK/bad_nside.ini"
  expect_failure missing_section$np "missing section [likelihood]" "$out" run_np $np run "$WORK/missing_section.ini"
  expect_failure missing_dir$np "does not exist" "$WORK/no/such/dir/out.h5" run_np $np run "$WORK/missing_dir.ini"
  expect_failure missing_config$np "nope.ini: cannot open" "$out" run_np $np run "$WORK/nope.ini"
  expect_failure set_override$np "--set likelihood.dec_deg: must be in [-90, 90]" "$out" \
    run_np $np run "$WORK/unknown_key.ini" --set likelihood.dec_deg=100
done
# An output that is an input (the file, a symbolic link to it, a hard link to it) is refused up
# front and the input is left as it was.
before=$(md5sum < "$sky")
ln -s "$sky" "$WORK/symlink.h5"
ln "$sky" "$WORK/hardlink.h5"
for target in "$sky" "$WORK/symlink.h5" "$WORK/hardlink.h5"; do
  for np in 1 2; do
    name=output_is_input_$(basename "$target" .h5)$np
    code=0
    run_np $np run "$WORK/good.ini" --output "$target" > "$WORK/$name.out" 2> "$WORK/$name.err" || code=$?
    [ "$code" -eq 1 ] || { cat "$WORK/$name.err"; fail "$name: exit code $code"; }
    grep '^nusky: error' "$WORK/$name.err" | grep -qF "[reader] path: names $sky, which is the output file $target" \
      || { cat "$WORK/$name.err"; fail "$name: the error does not name the input and the output"; }
    [ "$(md5sum < "$sky")" = "$before" ] || fail "$name: the input was changed"
    [ ! -e "$target.tmp" ] || fail "$name: left $target.tmp"
    echo "ok: $name -> $(grep '^nusky: error' "$WORK/$name.err")"
  done
done
# validate: 0 for a good config, 1 naming the key otherwise.
good > "$WORK/good.ini"
"$NUSKY" validate "$WORK/good.ini" | grep -q "config OK" || fail "validate good config"
expect_failure validate_bad "[likelihood] dec_degg" "$out" "$NUSKY" validate "$WORK/unknown_key.ini"
