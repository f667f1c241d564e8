#!/usr/bin/env bash
# All-sky scan: a point source injected into the simulated sky (100 events, E^-2, at
# RA 30 deg, dec -30 deg) is the scan's southern hottest spot within 3 deg at nside 128; the
# /scan maps have 12 nside^2 pixels in RING order and healpy's pix2ang of the hotspot pixel
# gives the recorded ra/dec. A second, small run checks post-trial scans (/scan_trials) and
# local p-values loaded from the first run's background trials.
# Kept under a minute on 2 cores: 20k events with sigma <= 15 deg, no energy term, a coarse
# S R / B cut (docs/scan.md measures what the cut costs in TS).
source "$(dirname "$0")/lib/common.bash"
cat > "$WORK/scan.ini" <<INI
[job]
task = scan
nside = 128
seed = 3
[reader]
type = simulation
seed = 11
n_background = 20000
mc_events = 100000
ps_n_events = 100
ps_ra_deg = 30
ps_dec_deg = -30
ps_gamma = 2
[selection]
type = cuts
sigma_max_deg = 15
[likelihood]
type = point_source
use_energy = false
scan_sob_threshold = 0.01
pvalue_trials = 20
INI
start=$SECONDS
run_np 2 run "$WORK/scan.ini" --output "$WORK/scan.h5" > "$WORK/scan.log" 2>&1 || { cat "$WORK/scan.log"; fail "scan"; }
echo "nside 128 scan on 2 ranks: $((SECONDS - start)) s"
grep -E "load balance|hottest" "$WORK/scan.log"
"$PY" - "$WORK/scan.h5" <<'PY'
import h5py, sys, numpy as np
f = h5py.File(sys.argv[1])
s = f["scan"]
nside = int(s.attrs["NSIDE"])
assert nside == 128 and s.attrs["ORDERING"] == "RING" and s.attrs["COORDSYS"] == "C", dict(s.attrs)
for name in ("ts", "ns", "gamma", "mlog10p"):
    assert s[name].shape == (12 * nside**2,), (name, s[name].shape)
ts, mlp = s["ts"][:], s["mlog10p"][:]
assert np.all(np.isfinite(ts)) and np.all(ts >= 0) and np.all(np.isfinite(mlp)) and np.all(mlp >= 0)
h = s["hotspots"]
hemis = list(h["hemisphere"].asstr()[:])
assert hemis == ["north", "south"], hemis
south = hemis.index("south")
pix, ra, dec = int(h["pixel"][south]), float(h["ra_deg"][south]), float(h["dec_deg"][south])
assert h["mlog10p"][south] == mlp[pix] and h["ts"][south] == ts[pix]
# The hottest southern pixel is the most significant pixel of the southern sky.
import healpy
theta, phi = healpy.pix2ang(nside, np.arange(12 * nside**2))
south_sky = theta > np.pi / 2
assert mlp[pix] == mlp[south_sky].max()
hra, hdec = healpy.pix2ang(nside, pix, lonlat=True)
assert abs(hra - ra) < 1e-6 and abs(hdec - dec) < 1e-6, (hra, hdec, ra, dec)
distance = np.degrees(healpy.rotator.angdist([30.0, -30.0], [ra, dec], lonlat=True))[0]
print(f"southern hotspot: pixel {pix} at ({ra:.2f}, {dec:.2f}) deg, TS {ts[pix]:.1f}, "
      f"-log10 p {mlp[pix]:.2f}; {distance:.2f} deg from the injected source")
assert distance < 3.0, distance
# The map is a plain healpy map (RING): e.g. its smoothed value near the source.
assert healpy.get_interp_val(ts, 30.0, -30.0, lonlat=True) > 10
PY
# Post-trial scans at nside 64, local p-values from the first run's background trials.
start=$SECONDS
run_np 2 run "$WORK/scan.ini" --set job.nside=64 --set job.trials=2 --set likelihood.background_trials="$WORK/scan.h5" \
  --output "$WORK/trials.h5" > "$WORK/trials.log" 2>&1 || { cat "$WORK/trials.log"; fail "scan trials"; }
echo "nside 64 scan + 2 scrambled scans: $((SECONDS - start)) s"
"$PY" - "$WORK/trials.h5" "$WORK/scan.h5" <<'PY'
import h5py, sys, numpy as np
f, first = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
t = f["scan_trials"]
assert t["north"].shape == (2,) and t["south"].shape == (2,)
assert t.attrs["n_trials"] == 2 and t.attrs["first_trial"] == 0
assert "scan_background" not in f, "background should come from the file"
assert f["scan"].attrs["local_pvalues"].endswith("scan.h5")
# The injected source beats both scrambled skies in the south.
assert f["scan/hotspots/mlog10p"][1] > t["south"][:].max()
assert list(f["scan/hotspots/post_trial_p"][:]).count(0.0) >= 1
print("scan trials: north", t["north"][:], "south", t["south"][:])
PY
grep -q "ETA" "$WORK/scan.log" || fail "no progress line"
echo "scan_hotspot: ok"
