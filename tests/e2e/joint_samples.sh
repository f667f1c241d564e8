#!/usr/bin/env bash
# Joint fits of several samples ([job] samples = a, b; PHYSICS.md section 10) through `nusky run`:
# a sample fitted jointly with an exact copy of itself gives twice its TS and n_s, the same on
# 1, 2 and 4 ranks; joint trials are rank-independent; the shipped cascades + IC40 tracks config
# runs; what cannot run is refused.
source "$(dirname "$0")/lib/common.bash"
sky=$(small_sky)
# The selection and likelihood both configs share.
fit_sections() {
  printf '[selection]\ntype = cuts\nsigma_max_deg = 90\n[likelihood]\ntype = point_source\nra_deg = 266.4\ndec_deg = -28.9\n'
}
single() {
  printf '[job]\ntask = fit\n[reader]\ntype = hdf5_events\npath = %s\n' "$sky"
  fit_sections
}
joint() {
  printf '[job]\ntask = fit\nsamples = a, b\n'
  printf '[reader.%s]\ntype = hdf5_events\npath = %s\n' a "$sky" b "$sky"
  fit_sections
}
single > "$WORK/single.ini"
joint > "$WORK/joint.ini"
run_np 2 run "$WORK/single.ini" --output "$WORK/single.h5" > "$WORK/single.log" 2>&1 || { cat "$WORK/single.log"; fail "single fit"; }
for np in 1 2 4; do
  run_np $np run "$WORK/joint.ini" --output "$WORK/joint$np.h5" > "$WORK/joint$np.log" 2>&1 \
    || { cat "$WORK/joint$np.log"; fail "joint fit np $np"; }
done
ts1=$(h5attr "$WORK/joint1.h5" /fit ts)
for np in 2 4; do
  tsn=$(h5attr "$WORK/joint$np.h5" /fit ts)
  same_within "$ts1" "$tsn" 1e-10 || fail "joint TS differs: np1 $ts1, np$np $tsn"
done
"$PY" - "$WORK/single.h5" "$WORK/joint2.h5" <<'PY'
import h5py, sys
single = h5py.File(sys.argv[1])["fit"].attrs
f = h5py.File(sys.argv[2])
fit = f["fit"].attrs
print("single: TS %.8f n_s %.6f gamma %.5f" % (single["ts"], single["ns"], single["gamma"]))
print("joint of the sample and its copy: TS %.8f n_s %.6f gamma %.5f" % (fit["ts"], fit["ns"], fit["gamma"]))
assert single["ts"] > 1, single["ts"]
# The single-sample fit searches gamma piecewise (ps_fit.cpp), the joint fit with Brent: both
# reach the same maximum to the fits' tolerances.
assert abs(fit["ts"] - 2 * single["ts"]) <= 1e-5 * fit["ts"], (fit["ts"], single["ts"])
assert abs(fit["ns"] - 2 * single["ns"]) <= 1e-3 * fit["ns"], (fit["ns"], single["ns"])
assert abs(fit["gamma"] - single["gamma"]) <= 1e-3, (fit["gamma"], single["gamma"])
assert fit["n_samples"] == 2 and fit["n_events"] == 2 * single["n_events"]
for name in ("a", "b"):
    s = f["fit/samples/" + name].attrs
    assert abs(s["yield_fraction"] - 0.5) < 1e-12, s["yield_fraction"]
    assert abs(s["ns"] - single["ns"]) <= 1e-3 * single["ns"], (s["ns"], single["ns"])
    assert abs(s["ts"] - single["ts"]) <= 1e-5 * single["ts"], (s["ts"], single["ts"])
    source = s["yield_source"]  # a str: string attributes are variable-length UTF-8
    assert s["n_events"] == single["n_events"] and source == "mc", (s["n_events"], source)
sel = f["selection"].attrs
assert sel["n_read"] == 2 * f["selection/a"].attrs["n_read"]
print("joint of a sample with its copy: ok")
PY

# Joint background trials: each sample scrambled with its own stream; the same rows on 1, 2 and 4
# ranks, and a p-value for the observed fit.
for np in 1 2 4; do
  run_np $np run "$WORK/joint.ini" --output "$WORK/joint_trials$np.h5" --set job.task=trials --set job.trials=40 \
    > "$WORK/joint_trials$np.log" 2>&1 || { cat "$WORK/joint_trials$np.log"; fail "joint trials np $np"; }
done
for np in 2 4; do
  h5diff "$WORK/joint_trials1.h5" "$WORK/joint_trials$np.h5" /trials /trials > /dev/null \
    || fail "joint trials differ between 1 and $np ranks"
done
"$PY" - "$WORK/joint_trials2.h5" "$WORK/joint2.h5" <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1])
ts = f["trials/ts"][:]
assert len(ts) == 40 and (ts >= 0).all() and ts.max() > 0, ts
assert abs(f["fit"].attrs["ts"] - h5py.File(sys.argv[2])["fit"].attrs["ts"]) == 0
p = f["fit"].attrs["p_value"]
assert 0 < p <= 1, p
print("joint trials: %d rows, median TS %.3f, p-value of the observed fit %.3f" % (len(ts), sorted(ts)[20], p))
PY

# Joint signal trials: a point flux seen by both samples, each sample's count drawn with its
# yield fraction from its own streams. The same rows on 1 and 2 ranks; with nothing injected a
# signal trial is the joint background trial of the same number; signal recovered.
for np in 1 2; do
  run_np $np run "$WORK/joint.ini" --output "$WORK/joint_sens$np.h5" --set job.task=sensitivity --set job.trials=40 \
    --set job.inject_ns=0,40 --set job.signal_trials=8 > "$WORK/joint_sens$np.log" 2>&1 \
    || { cat "$WORK/joint_sens$np.log"; fail "joint sensitivity np $np"; }
done
h5diff "$WORK/joint_sens1.h5" "$WORK/joint_sens2.h5" /injection /injection > /dev/null \
  || fail "joint signal trials differ between 1 and 2 ranks"
"$PY" - "$WORK/joint_sens2.h5" "$WORK/joint_trials2.h5" <<'PY'
import h5py, numpy as np, sys
s, t = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert np.array_equal(s["trials/ts"][:], t["trials/ts"][:]), "background rows of sensitivity != joint trials"
inj = s["injection"]
assert abs(inj.attrs["yield_fraction_a"] - 0.5) < 1e-12 and abs(inj.attrs["yield_fraction_b"] - 0.5) < 1e-12
n = inj["n_injected"][:]
assert np.all(n[:8] == 0) and n[8:].mean() > 25, n
ns = inj["bias_median_ns"][:]
assert ns[1] > 20 and ns[1] > ns[0] + 15, ns
assert inj.attrs["events_per_flux_unit"] > 0
print("joint signal trials: bias curve", list(zip(inj["bias_n_inj"][:], ns)))
PY

# The shipped joint config (cascades + IC40 tracks), from the repository root, with a smaller
# simulated cascade sky to keep the test short.
(cd "$NUSKY_SOURCE_DIR" && run_np 2 run configs/point_source_joint.ini --output "$WORK/ps_joint.h5" \
   --set reader.cascades.n_background=20000 --set reader.cascades.mc_events=100000) > "$WORK/ps_joint.log" 2>&1 \
  || { cat "$WORK/ps_joint.log"; fail "configs/point_source_joint.ini"; }
grep -q "joint fit of 2 samples" "$WORK/ps_joint.log" || { cat "$WORK/ps_joint.log"; fail "no joint fit line"; }
"$PY" - "$WORK/ps_joint.h5" <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1])
fit = f["fit"].attrs
c, t = f["fit/samples/cascades"].attrs, f["fit/samples/ic40"].attrs
print("cascades + IC40: TS %.4f n_s %.3f gamma %.3f; cascades n_s %.3f (%.3f of the yield), IC40 n_s %.3f"
      % (fit["ts"], fit["ns"], fit["gamma"], c["ns"], c["yield_fraction"], t["ns"]))
assert c["yield_source"] == "mc" and t["yield_source"] == "effective_area"
assert c["energy_term"] == "mc" and t["energy_term"] == "none"
assert t["n_events"] == 36900 and f["selection/ic40"].attrs["n_selected"] == 36900
assert 0 < c["yield_fraction"] < 1 and abs(c["yield_fraction"] + t["yield_fraction"] - 1) < 1e-12
assert abs(c["ns"] + t["ns"] - fit["ns"]) <= 1e-9 * max(1, fit["ns"])
assert abs(c["ts"] + t["ts"] - fit["ts"]) <= 1e-6 * max(1, fit["ts"])
PY

# Joint stacking: a catalog of 4 sources on the inner Galactic plane (where the simulated signal
# is) fitted on the sample and its copy gives twice the single
# stacking TS and n_s (each sample's yield the weighted sum of its point-source yields), the same
# on 1 and 3 ranks; joint stacking trials are rank-independent.
printf 'GC 266.4 -28.9 2\nplane_1 271.0 -20.0 1\nplane_2 280.0 -5.0 1\nplane_3 290.0 10.0 1\n' > "$WORK/plane.txt"
stack_sections() {
  printf '[selection]\ntype = cuts\nsigma_max_deg = 90\n[likelihood]\ntype = stacking\ncatalog = %s\n' "$WORK/plane.txt"
}
{ printf '[job]\ntask = fit\n[reader]\ntype = hdf5_events\npath = %s\n' "$sky"; stack_sections; } > "$WORK/stack1.ini"
{ printf '[job]\ntask = fit\nsamples = a, b\n'; printf '[reader.%s]\ntype = hdf5_events\npath = %s\n' a "$sky" b "$sky"
  stack_sections; } > "$WORK/stack2.ini"
run_np 2 run "$WORK/stack1.ini" --output "$WORK/stack_single.h5" > "$WORK/stack_single.log" 2>&1 \
  || { cat "$WORK/stack_single.log"; fail "single stacking fit"; }
for np in 1 3; do
  run_np $np run "$WORK/stack2.ini" --output "$WORK/stack_joint$np.h5" > "$WORK/stack_joint$np.log" 2>&1 \
    || { cat "$WORK/stack_joint$np.log"; fail "joint stacking fit np $np"; }
  run_np $np run "$WORK/stack2.ini" --output "$WORK/stack_trials$np.h5" --set job.task=trials --set job.trials=30 \
    > "$WORK/stack_trials$np.log" 2>&1 || { cat "$WORK/stack_trials$np.log"; fail "joint stacking trials np $np"; }
done
same_within "$(h5attr "$WORK/stack_joint1.h5" /fit ts)" "$(h5attr "$WORK/stack_joint3.h5" /fit ts)" 1e-10 \
  || fail "joint stacking TS differs between 1 and 3 ranks"
h5diff "$WORK/stack_trials1.h5" "$WORK/stack_trials3.h5" /trials /trials > /dev/null \
  || fail "joint stacking trials differ between 1 and 3 ranks"
"$PY" - "$WORK/stack_single.h5" "$WORK/stack_joint1.h5" "$WORK/stack_trials1.h5" <<'PY'
import h5py, numpy as np, sys
single = h5py.File(sys.argv[1])["fit"].attrs
f = h5py.File(sys.argv[2])
fit = f["fit"].attrs
print("stacking single: TS %.8f n_s %.6f gamma %.5f" % (single["ts"], single["ns"], single["gamma"]))
print("stacking joint of the sample and its copy: TS %.8f n_s %.6f gamma %.5f" % (fit["ts"], fit["ns"], fit["gamma"]))
assert single["ts"] > 0.1, single["ts"]
assert abs(fit["ts"] - 2 * single["ts"]) <= 1e-5 * fit["ts"], (fit["ts"], single["ts"])
assert abs(fit["ns"] - 2 * single["ns"]) <= 1e-3 * fit["ns"], (fit["ns"], single["ns"])
assert abs(fit["gamma"] - single["gamma"]) <= 1e-3, (fit["gamma"], single["gamma"])
assert fit["n_sources"] == 4 and fit["n_samples"] == 2
for name in ("a", "b"):
    s = f["fit/samples/" + name].attrs
    assert abs(s["yield_fraction"] - 0.5) < 1e-12 and s["acceptance"] == "mc" and s["yield_source"] == "mc"
assert list(f["stacking/name"].asstr()[:]) == list(h5py.File(sys.argv[1])["stacking/name"].asstr()[:])
ts = h5py.File(sys.argv[3])["trials/ts"][:]
assert len(ts) == 30 and (ts >= 0).all() and ts.max() > 0, ts
print("joint stacking: ok (30 trials, median TS %.3f)" % np.median(ts))
PY
# Joint stacking signal trials: one flux at the 4 sources seen by both samples; the same rows on
# 1 and 2 ranks; with nothing injected a signal trial is the joint background trial of the same
# number (a trials run starting there), exactly; the injected signal is recovered.
for np in 1 2; do
  run_np $np run "$WORK/stack2.ini" --output "$WORK/stack_sens$np.h5" --set job.task=sensitivity --set job.trials=30 \
    --set job.inject_ns=0,60 --set job.signal_trials=8 > "$WORK/stack_sens$np.log" 2>&1 \
    || { cat "$WORK/stack_sens$np.log"; fail "joint stacking sensitivity np $np"; }
done
h5diff "$WORK/stack_sens1.h5" "$WORK/stack_sens2.h5" /injection /injection > /dev/null \
  || fail "joint stacking signal trials differ between 1 and 2 ranks"
run_np 2 run "$WORK/stack2.ini" --output "$WORK/stack_bkg30.h5" --set job.task=trials --set job.trials=8 \
  --set job.first_trial=30 > "$WORK/stack_bkg30.log" 2>&1 || { cat "$WORK/stack_bkg30.log"; fail "joint stacking trials 30-37"; }
"$PY" - "$WORK/stack_sens2.h5" "$WORK/stack_bkg30.h5" <<'PY'
import h5py, numpy as np, sys
s, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
inj = s["injection"]
assert list(inj["trial"][:8]) == list(range(30, 38)), inj["trial"][:8]
assert np.all(inj["n_injected"][:8] == 0)
assert np.array_equal(inj["ts"][:8], b["trials/ts"][:]), (inj["ts"][:8], b["trials/ts"][:])
assert abs(inj.attrs["yield_fraction_a"] - 0.5) < 1e-12 and abs(inj.attrs["yield_fraction_b"] - 0.5) < 1e-12
assert "seen by all 2 samples" in inj.attrs["flux_unit"] and inj.attrs["events_per_flux_unit"] > 0
ns = inj["bias_median_ns"][:]
assert ns[1] > 30 and ns[1] > ns[0] + 20, ns
print("joint stacking signal trials: bias curve", list(zip(inj["bias_n_inj"][:], ns)))
PY

# Joint template: the pi0 template (a coarse working map, to keep it short) on the sample and its
# copy gives twice the single template fit's TS and n_s, each sample's yield from its MC; the
# same on 1 and 3 ranks; joint template trials are rank-independent.
tpl() { sed 's/type = point_source/type = template\nnside = 32\nn_sigma = 6\nprofile_points = 0/; /ra_deg\|dec_deg/d'; }
single | tpl > "$WORK/tpl1.ini"
joint | tpl > "$WORK/tpl2.ini"
run_np 2 run "$WORK/tpl1.ini" --output "$WORK/tpl_single.h5" > "$WORK/tpl_single.log" 2>&1 \
  || { cat "$WORK/tpl_single.log"; fail "single template fit"; }
for np in 1 3; do
  run_np $np run "$WORK/tpl2.ini" --output "$WORK/tpl_joint$np.h5" > "$WORK/tpl_joint$np.log" 2>&1 \
    || { cat "$WORK/tpl_joint$np.log"; fail "joint template fit np $np"; }
  run_np $np run "$WORK/tpl2.ini" --output "$WORK/tpl_trials$np.h5" --set job.task=trials --set job.trials=20 \
    > "$WORK/tpl_trials$np.log" 2>&1 || { cat "$WORK/tpl_trials$np.log"; fail "joint template trials np $np"; }
done
same_within "$(h5attr "$WORK/tpl_joint1.h5" /fit ts)" "$(h5attr "$WORK/tpl_joint3.h5" /fit ts)" 1e-10 \
  || fail "joint template TS differs between 1 and 3 ranks"
h5diff "$WORK/tpl_trials1.h5" "$WORK/tpl_trials3.h5" /trials /trials > /dev/null \
  || fail "joint template trials differ between 1 and 3 ranks"
"$PY" - "$WORK/tpl_single.h5" "$WORK/tpl_joint1.h5" "$WORK/tpl_trials1.h5" <<'PY'
import h5py, numpy as np, sys
single = h5py.File(sys.argv[1])["fit"].attrs
f = h5py.File(sys.argv[2])
fit = f["fit"].attrs
print("template single: TS %.8f n_s %.6f" % (single["ts"], single["ns"]))
print("template joint of the sample and its copy: TS %.8f n_s %.6f" % (fit["ts"], fit["ns"]))
assert single["ts"] > 1, single["ts"]
assert abs(fit["ts"] - 2 * single["ts"]) <= 1e-6 * fit["ts"], (fit["ts"], single["ts"])
assert abs(fit["ns"] - 2 * single["ns"]) <= 1e-4 * fit["ns"], (fit["ns"], single["ns"])
assert fit["gamma"] == single["gamma"] == 2.7 and fit["n_samples"] == 2
for name in ("a", "b"):
    s = f["fit/samples/" + name].attrs
    assert abs(s["yield_fraction"] - 0.5) < 1e-12 and s["yield_source"] == "mc" and s["acceptance"] == "mc"
    assert abs(s["ts"] - single["ts"]) <= 1e-6 * single["ts"], (s["ts"], single["ts"])
ts = h5py.File(sys.argv[3])["trials/ts"][:]
assert len(ts) == 20 and (ts >= 0).all(), ts
print("joint template: ok (20 trials, median TS %.3f)" % np.median(ts))
PY
# Joint template signal trials: the template's flux seen by both samples; the same rows on 1 and
# 2 ranks; the injected signal recovered.
for np in 1 2; do
  run_np $np run "$WORK/tpl2.ini" --output "$WORK/tpl_sens$np.h5" --set job.task=sensitivity --set job.trials=20 \
    --set job.inject_ns=0,600 --set job.signal_trials=6 > "$WORK/tpl_sens$np.log" 2>&1 \
    || { cat "$WORK/tpl_sens$np.log"; fail "joint template sensitivity np $np"; }
done
h5diff "$WORK/tpl_sens1.h5" "$WORK/tpl_sens2.h5" /injection /injection > /dev/null \
  || fail "joint template signal trials differ between 1 and 2 ranks"
"$PY" - "$WORK/tpl_sens2.h5" "$WORK/tpl_trials1.h5" <<'PY'
import h5py, numpy as np, sys
s, t = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
assert np.array_equal(s["trials/ts"][:], t["trials/ts"][:]), "background rows of sensitivity != joint trials"
inj = s["injection"]
assert abs(inj.attrs["yield_fraction_a"] - 0.5) < 1e-12 and abs(inj.attrs["yield_fraction_b"] - 0.5) < 1e-12
assert "seen by all 2 samples" in inj.attrs["flux_unit"] and inj.attrs["events_per_flux_unit"] > 0
n = inj["n_injected"][:]
assert np.all(n[:6] == 0) and n[6:].mean() > 450, n
ns = inj["bias_median_ns"][:]
assert ns[1] > 300 and ns[1] > ns[0] + 250, ns
print("joint template signal trials: bias curve", list(zip(inj["bias_n_inj"][:], ns)))
PY

# Refused up front: a task joint samples cannot run yet, an unknown sample.
out=$WORK/refused.h5
expect_failure joint_scan "cannot run task 'scan' on joint samples yet (it runs: fit, trials, inject, sensitivity)" "$out" \
  run_np 2 run "$WORK/joint.ini" --output "$out" --set job.task=scan --set job.nside=64
expect_failure joint_unknown_sample "[reader.c]: no sample 'c'" "$out" \
  run_np 1 run "$WORK/joint.ini" --output "$out" --set reader.c.type=hdf5_events
echo "joint_samples: ok"
