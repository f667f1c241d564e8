#!/usr/bin/env bash
# Tasks inject and sensitivity (point_source and template) and the stacking likelihood under
# mpirun at 1 and 2 ranks on a small simulated sky: the documented /injection and /sensitivity
# layout, the same rows on both rank counts (to 1e-9 relative: the MC-weighted PDF histograms
# are summed over ranks, which rounds differently at different rank counts), and signal
# recovered (median fitted n_s grows with the injected number).
source "$(dirname "$0")/lib/common.bash"
sky=$(small_sky)
common() {
cat <<INI
[reader]
type = hdf5_events
path = $sky
[selection]
type = cuts
sigma_max_deg = 90
INI
}
{ cat <<INI
[job]
task = inject
inject_ns = 0, 30
signal_trials = 6
seed = 5
INI
common; cat <<INI
[likelihood]
type = point_source
ra_deg = 120
dec_deg = -20
INI
} > "$WORK/ps_inject.ini"
{ cat <<INI
[job]
task = sensitivity
trials = 40
inject_ns = 50, 150, 400
signal_trials = 6
seed = 5
INI
common; cat <<INI
[likelihood]
type = template
profile_points = 0
n_sigma = 8
INI
} > "$WORK/tpl_sens.ini"
{ cat <<INI
[job]
task = trials
trials = 6
seed = 5
INI
common; cat <<INI
[likelihood]
type = stacking
max_sources = 12
INI
} > "$WORK/stack.ini"
# Stacking's signal trials: the same background (trials 0-5) through the signal-trial path.
{ cat <<INI
[job]
task = sensitivity
trials = 6
inject_ns = 0, 60
signal_trials = 6
seed = 5
INI
common; cat <<INI
[likelihood]
type = stacking
max_sources = 12
INI
} > "$WORK/stack_sens.ini"
for cfg in ps_inject tpl_sens stack stack_sens; do
  for np in 1 2; do
    run_np $np run "$WORK/$cfg.ini" --output "$WORK/$cfg$np.h5" > "$WORK/$cfg$np.log" 2>&1 || { cat "$WORK/$cfg$np.log"; fail "$cfg np $np"; }
  done
done
"$PY" - "$WORK" <<'PY'
import h5py, numpy as np, sys
w = sys.argv[1]
def same(a, b, what):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    ok = np.array_equal(a, b, equal_nan=True)  # bit for bit: results never depend on the rank count
    assert ok, (what, a, b)
for cfg, groups in (("ps_inject", ["injection"]), ("tpl_sens", ["injection", "trials", "sensitivity"]),
                    ("stack", ["trials"]), ("stack_sens", ["injection", "trials", "sensitivity"])):
    f1, f2 = h5py.File(f"{w}/{cfg}1.h5"), h5py.File(f"{w}/{cfg}2.h5")
    for g in groups:
        for name in f1[g]:
            if f1[g][name].dtype.kind == "f" or f1[g][name].dtype.kind == "i":
                same(f1[g][name][:], f2[g][name][:], f"{cfg} /{g}/{name}")
        for a, v in f1[g].attrs.items():
            if isinstance(v, (float, np.floating)):
                same(v, f2[g].attrs[a], f"{cfg} /{g} @{a}")
    print(cfg, "np1 == np2")
f = h5py.File(f"{w}/ps_inject2.h5")["injection"]
for name in ("n_inj_mean", "trial", "n_injected", "ts", "ns", "gamma", "bias_n_inj", "bias_median_ns"):
    assert name in f, name
assert len(f["ts"]) == 12 and list(f["bias_n_inj"][:]) == [0.0, 30.0]
assert np.all(f["n_injected"][:6] == 0) and f["n_injected"][6:].mean() > 15
assert f["bias_median_ns"][1] > 10 > f["bias_median_ns"][0], f["bias_median_ns"][:]
assert f.attrs["events_per_flux_unit"] > 0
print("point-source bias curve:", list(zip(f["bias_n_inj"][:], f["bias_median_ns"][:])))
s = h5py.File(f"{w}/tpl_sens2.h5")
assert len(s["trials/ts"]) == 40 and len(s["injection/ts"]) == 18
a = s["sensitivity"].attrs
for k in ("background_median_ts", "sensitivity_ns", "sensitivity_flux", "dp3sigma_ns", "dp5sigma_ns",
          "dp5sigma_threshold_method", "dp3sigma_ts_threshold", "dp5sigma_ts_threshold"):
    assert k in a, k
method = a["dp5sigma_threshold_method"]
assert method == "chi2 tail extrapolation", method  # 40 trials
assert a["dp5sigma_ts_threshold"] > a["dp3sigma_ts_threshold"] >= a["background_median_ts"]
print("template sensitivity:", {k: a[k] for k in ("background_median_ts", "sensitivity_ns", "sensitivity_flux", "dp3sigma_ns", "dp5sigma_ns")})
st = h5py.File(f"{w}/stack2.h5")
assert st["fit"].attrs["n_sources"] == 12 and len(st["stacking/coefficient"]) == 12
assert abs(st["stacking/coefficient"][:].sum() - 1) < 1e-12 and len(st["trials/ts"]) == 6
print("stacking fit:", dict(st["fit"].attrs))
ss = h5py.File(f"{w}/stack_sens2.h5")
# With nothing injected a signal trial is the background trial of the same number, exactly.
assert np.array_equal(ss["trials/ts"][:], st["trials/ts"][:]), (ss["trials/ts"][:], st["trials/ts"][:])
assert np.array_equal(ss["trials/ns"][:], st["trials/ns"][:])
inj = ss["injection"]
assert list(inj["bias_n_inj"][:]) == [0.0, 60.0] and inj.attrs["n_sources"] == 12
assert inj["bias_median_ns"][1] > 20 and inj["bias_median_ts"][1] > 5 > inj["bias_median_ts"][0], (inj["bias_median_ns"][:], inj["bias_median_ts"][:])
assert inj.attrs["events_per_flux_unit"] > 0 and "summed over 12 sources" in str(inj.attrs["flux_unit"])
sa = ss["sensitivity"].attrs
# The flux of the sensitivity is its mean number over the stacking injector's events per unit flux.
assert np.isfinite(sa["sensitivity_ns"]) and sa["sensitivity_ns"] <= 60, dict(sa)
assert abs(sa["sensitivity_flux"] * inj.attrs["events_per_flux_unit"] - sa["sensitivity_ns"]) <= 1e-9 * sa["sensitivity_ns"]
print("stacking bias curve:", list(zip(inj["bias_n_inj"][:], inj["bias_median_ns"][:])))
PY
echo "inject/sensitivity/stacking ok"
