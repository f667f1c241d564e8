#!/usr/bin/env bash
# `nusky plot` writes the three PNGs from a scan + trials + profile results file, and
# `nusky export-fits` writes /scan maps as HEALPix FITS files that healpy reads back exactly
# (NaN as UNSEEN), with NSIDE, ORDERING and COORDSYS. The input is a synthetic results file
# with the layout of a scan and a template trials run (a real scan takes minutes).
source "$(dirname "$0")/lib/common.bash"
if ! "$PY" -c "import matplotlib, healpy" 2> /dev/null; then
  echo "SKIP: python3-matplotlib / python3-healpy not installed (scripts/install-deps --plots)"
  exit 0
fi
"$PY" - "$WORK/results.h5" <<'PY'
import sys, h5py, numpy as np, healpy as hp
nside = 64
rng = np.random.default_rng(3)
with h5py.File(sys.argv[1], "w") as f:
    s = f.create_group("scan")
    ts = np.clip(rng.normal(0, 1.5, 12 * nside**2), 0, None)
    s["ts"] = ts
    s["ns"] = ts * 3
    gamma = np.full(ts.size, 2.5)
    gamma[::7] = np.nan
    s["gamma"] = gamma
    s["mlog10p"] = ts / 2
    s.attrs.update(NSIDE=nside, ORDERING="RING", COORDSYS="C")  # variable-length UTF-8, as nusky writes
    h = s.create_group("hotspots")
    h["hemisphere"] = np.array([b"north", b"south"])
    h["ra_deg"] = [120.0, 300.0]; h["dec_deg"] = [30.0, -40.0]
    h["ts"] = [9.0, 8.0]; h["mlog10p"] = [4.5, 4.0]; h["ns"] = [20.0, 15.0]; h["gamma"] = [2.1, 2.9]
    f["trials/ts"] = np.clip(rng.chisquare(1, 2000) * (rng.random(2000) < 0.5), 0, None)
    fit = f.require_group("fit")
    fit.attrs.update(ts=12.5, ns=700.0, gamma=2.7, p_value=5e-4, p_value_is_upper_limit=1, sigma=3.29)
    fit["profile_ns"] = np.linspace(0, 1400, 41)
    fit["profile_ts"] = 12.5 - ((np.linspace(0, 1400, 41) - 700) / 200) ** 2
PY
"$NUSKY" plot "$WORK/results.h5" --out "$WORK/png" > "$WORK/plot.log" 2>&1 || { cat "$WORK/plot.log"; fail "nusky plot"; }
for png in scan_map trials_ts ns_profile; do
  [ "$(head -c 8 "$WORK/png/$png.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$png.png is not a PNG"
done
echo "ok: nusky plot wrote scan_map.png, trials_ts.png, ns_profile.png"
# The sensitivity curves and the n_s bias from a real sensitivity run; the trials' fitted tail.
sky=$(small_sky)
cat > "$WORK/sens.ini" <<INI
[job]
task = sensitivity
trials = 300
inject_ns = 0, 10, 20, 40
signal_trials = 20
output = sens.h5
[reader]
type = hdf5_events
path = $sky
[likelihood]
type = point_source
ra_deg = 266.4
dec_deg = -29
INI
run_np 2 run "$WORK/sens.ini" > "$WORK/sens.log" 2>&1 || { cat "$WORK/sens.log"; fail "sensitivity run"; }
"$NUSKY" plot "$WORK/sens.h5" --out "$WORK/png_sens" > "$WORK/plot_sens.log" 2>&1 || { cat "$WORK/plot_sens.log"; fail "nusky plot of a sensitivity run"; }
for png in sensitivity ns_bias trials_ts; do
  grep -q "wrote $WORK/png_sens/$png.png" "$WORK/plot_sens.log" || { cat "$WORK/plot_sens.log"; fail "no $png.png"; }
  [ "$(head -c 8 "$WORK/png_sens/$png.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$png.png is not a PNG"
done
"$PY" - "$WORK/sens.h5" <<'PY' || fail "the sensitivity run lacks what the plots draw"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
s = f["sensitivity"]
assert s["n_inj"].shape == s["fraction_above_median"].shape == (4,)
assert s.attrs["flux_unit"].startswith("E^2 dN/dE"), s.attrs["flux_unit"]
assert 0 < s.attrs["chi2_eta"] <= 1 and s.attrs["chi2_ndof"] > 0
i = f["injection"]
assert i["ns"].shape == i["n_injected"].shape == i["n_inj_mean"].shape == (80,)
PY
echo "ok: nusky plot wrote sensitivity.png, ns_bias.png, trials_ts.png from a sensitivity run"
"$NUSKY" plot "$WORK/no_scan_at_all.h5" --out "$WORK/png2" > /dev/null 2>&1 && fail "plot of a missing file succeeded"
"$NUSKY" export-fits "$WORK/results.h5" --out "$WORK/fits" > "$WORK/fits.log" 2>&1 || { cat "$WORK/fits.log"; fail "nusky export-fits"; }
"$PY" - "$WORK/results.h5" "$WORK/fits" <<'PY' || fail "FITS maps differ from /scan"
import sys, h5py, numpy as np, healpy as hp
f = h5py.File(sys.argv[1])
for name in ("mlog10p", "ts", "ns", "gamma"):
    path = f"{sys.argv[2]}/scan_{name}.fits"
    m, header = hp.read_map(path, h=True, nest=None)
    header = dict(header)
    assert header["NSIDE"] == 64 and header["ORDERING"] == "RING" and header["COORDSYS"] == "C", header
    column, unit = {"mlog10p": ("MLOG10P", "-log10(p)"), "ts": ("TS", ""), "ns": ("NS", "events"),
                    "gamma": ("GAMMA", "")}[name]
    assert header["TTYPE1"] == column and header.get("TUNIT1", "") == unit, (header["TTYPE1"], header.get("TUNIT1"))
    want = f["scan"][name][()]
    ok = np.isfinite(want)
    assert np.array_equal(m[ok], want[ok]), name
    assert np.all(m[~ok] == hp.UNSEEN), name
    print(f"ok: {path}: {m.size} pixels, NSIDE 64 RING C")
PY
"$PY" -c "import h5py,sys; h5py.File(sys.argv[1],'w')['fit/x']=[1.0]" "$WORK/no_scan.h5"
expect_failure fits_no_scan "no_scan.h5: no /scan group" "$WORK/none" "$NUSKY" export-fits "$WORK/no_scan.h5" --out "$WORK/fits2"
echo PASS
