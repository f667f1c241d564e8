#!/usr/bin/env bash
# `nusky pvalue` on the released Galactic-plane background-trial histograms (data/gp2023):
# 4.71, 4.37 and 3.96 sigma for TS 22.19, 19.06 and 15.56 (pi0, kra5, kra50; Science 380, 1338),
# and on a nusky results file's /trials/ts and a plain TS list.
source "$(dirname "$0")/lib/common.bash"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
values="$SRC/data/gp2023/bkg_trials_values.csv"
[ -f "$values" ] || fail "missing $values"
check() {  # column ts expected_sigma
  local out sigma
  out=$(run_np 1 pvalue --ts "$2" --trials "$values" --column "$1") || fail "$1: exit code $?"
  echo "$out"
  sigma=$(echo "$out" | sed -n 's/.*significance = \([0-9.]*\) sigma.*/\1/p')
  [ "$sigma" = "$3" ] || fail "$1: TS $2 gave '$sigma' sigma, expected $3"
}
check pi0 22.19 4.71
check kra5 19.06 4.37
check kra50 15.56 3.96
# The same with --binning given explicitly, under 2 ranks (only rank 0 prints).
out=$(run_np 2 pvalue --ts 22.19 --trials "$values" --binning "$SRC/data/gp2023/bkg_trials_binning.csv" --column pi0)
[ "$(echo "$out" | grep -c 'significance = 4.71 sigma')" -eq 1 ] || fail "np 2: $out"
# A TS sample in a results file (/trials/ts) and as a text list: 2 of 10 trials >= 8.
"$PY" - "$WORK/trials.h5" "$WORK/trials.txt" <<'PY'
import h5py, sys
ts = [0, 0, 0.5, 1, 2, 3, 4, 7.9, 8, 12.5]
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("trials/ts", data=ts)
open(sys.argv[2], "w").write("\n".join(map(str, ts)) + "\n")
PY
for f in "$WORK/trials.h5" "$WORK/trials.txt"; do
  out=$(run_np 1 pvalue --ts 8 --trials "$f")
  echo "$out" | grep -q "TS 8: p = 0.2, significance = 0.84 sigma" || fail "sample $f: $out"
done
out=$(run_np 1 pvalue --ts 20 --trials "$WORK/trials.h5")
echo "$out" | grep -q "p < 0.1" || fail "bound: $out"
# Errors: a missing column, a missing file.
expect_failure no_column "choose one with --column" "$WORK/none" run_np 1 pvalue --ts 1 --trials "$values"
expect_failure no_file "no such trials file" "$WORK/none" run_np 1 pvalue --ts 1 --trials "$WORK/nope.csv"
echo "pvalue ok"
