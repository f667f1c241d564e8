#!/usr/bin/python3
"""nusky-plot.py RESULTS.h5... --out DIR: PNG pictures of nusky results files.

Run by `nusky plot` (or directly with /usr/bin/python3). Uses Debian's python3-matplotlib,
python3-healpy and python3-h5py (scripts/install-deps --plots). Each picture is drawn from the
first file that has its data:

  scan_map.png     /scan (task = scan): Mollweide all-sky map of -log10 p (or TS when the scan
                   has no local p-values), equatorial, RA increasing to the left, the Galactic
                   plane and centre drawn, the hottest spot of each hemisphere (/scan/hotspots)
                   marked
  trials_ts.png    /trials/ts (task = trials): background TS distribution with the observed TS
                   (/fit attribute ts) and its p-value
  ns_profile.png   /fit/profile_ns, /fit/profile_ts (template likelihood): TS against n_s with
                   the best fit and the TS_max - 1 level (the 68 % interval of one parameter)
"""
import argparse
import os
import sys

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def attr(obj, name, default=None):
    v = obj.attrs.get(name, default)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    return v


def strings(dataset):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in dataset[()]]


def galactic_plane_equatorial(n=721):
    """RA, Dec [deg] of the Galactic plane (b = 0) and of the Galactic centre."""
    import healpy as hp

    rot = hp.Rotator(coord=["G", "C"])
    lon = np.linspace(0.0, 360.0, n)
    theta, phi = rot(np.full(n, np.pi / 2), np.radians(lon))
    ra = np.degrees(phi) % 360.0
    dec = 90.0 - np.degrees(theta)
    t0, p0 = rot(np.pi / 2, 0.0)
    return ra, dec, (np.degrees(p0) % 360.0, 90.0 - np.degrees(t0))


def plot_line_lonlat(ra, dec, **style):
    """A line on the current healpy projection, broken where it wraps around RA = 0/360."""
    import healpy as hp

    cut = np.where(np.abs(np.diff(ra)) > 180.0)[0] + 1
    for seg_ra, seg_dec in zip(np.split(ra, cut), np.split(dec, cut)):
        if len(seg_ra) > 1:
            hp.projplot(seg_ra, seg_dec, lonlat=True, **style)


def scan_map(f, name, out):
    import healpy as hp

    scan = f["/scan"]
    nside = int(attr(scan, "NSIDE"))
    ordering = attr(scan, "ORDERING", "RING")
    coordsys = attr(scan, "COORDSYS", "C")
    if coordsys != "C":
        raise SystemExit(f"{name}: /scan COORDSYS is {coordsys}, expected C (equatorial)")
    quantity, label = "mlog10p", r"$-\log_{10} p_\mathrm{local}$"
    values = scan[quantity][()] if quantity in scan else None
    if values is None or not np.isfinite(values).any():
        quantity, label = "ts", "TS"
        values = scan["ts"][()]
    if values.size != 12 * nside * nside:
        raise SystemExit(f"{name}: /scan/{quantity} has {values.size} pixels, nside {nside} needs {12 * nside * nside}")
    m = np.where(np.isfinite(values), values, hp.UNSEEN)
    fig = plt.figure(figsize=(10, 6))
    hp.mollview(m, fig=fig.number, nest=(ordering == "NESTED"), cmap="magma", min=0.0,
                title=f"all-sky scan, nside {nside}: {os.path.basename(name)}", unit=label, coord="C",
                cbar=True)
    hp.graticule(dpar=30, dmer=60, color="0.6", alpha=0.6)
    ra, dec, (gc_ra, gc_dec) = galactic_plane_equatorial()
    plot_line_lonlat(ra, dec, color="deepskyblue", linestyle="--", linewidth=1.2)
    hp.projscatter([gc_ra], [gc_dec], lonlat=True, marker="x", color="deepskyblue", s=50)
    hp.projtext(gc_ra, gc_dec - 8, "GC", lonlat=True, color="deepskyblue", fontsize=9)
    for ra_label in (0, 90, 270):  # 180 is the edge
        hp.projtext(ra_label, 2, f"{ra_label}°", lonlat=True, color="0.8", fontsize=8)
    if "/scan/hotspots" in f:
        h = f["/scan/hotspots"]
        names = strings(h["hemisphere"]) if "hemisphere" in h else [str(i) for i in range(len(h["ra_deg"]))]
        for i, hemi in enumerate(names):
            hra, hdec = float(h["ra_deg"][i]), float(h["dec_deg"][i])
            hp.projscatter([hra], [hdec], lonlat=True, marker="o", s=160, facecolors="none",
                           edgecolors="lime", linewidths=1.8)
            value = float(h["mlog10p"][i]) if quantity == "mlog10p" else float(h["ts"][i])
            text = f"{hemi}: {label.split('$')[0] or ''}{value:.2f}" if quantity == "ts" else f"{hemi}: {value:.2f}"
            hp.projtext(hra, hdec + 6, text, lonlat=True, color="lime", fontsize=9)
    fig.text(0.02, 0.02, "equatorial (J2000), RA increases to the left; dashed: Galactic plane; "
             "circles: hottest spot per hemisphere", fontsize=8)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def trials_ts(f, name, out):
    ts = f["/trials/ts"][()]
    observed = attr(f["/fit"], "ts") if "/fit" in f else None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    hi = max(float(np.max(ts)), float(observed) if observed is not None else 0.0) * 1.05 + 1e-9
    bins = np.linspace(0.0, hi, 60)
    ax.hist(np.clip(ts, 0.0, None), bins=bins, histtype="stepfilled", color="0.75", edgecolor="0.3",
            label=f"{len(ts)} background trials")
    ax.set_yscale("log")
    ax.set_xlabel("TS")
    ax.set_ylabel("trials per bin")
    if observed is not None:
        fit = f["/fit"]
        p = attr(fit, "p_value")
        upper = bool(attr(fit, "p_value_is_upper_limit", 0))
        text = f"observed TS = {observed:.2f}"
        if p is not None:
            text += f", p {'<' if upper else '='} {p:.3g}"
            sigma = attr(fit, "sigma")
            if sigma is not None:
                text += f" ({'>' if upper else ''}{sigma:.2f} σ)"
        ax.axvline(observed, color="crimson", linewidth=2, label=text)
    zero = np.mean(ts <= 0.0)
    ax.set_title(f"TS of background trials ({100 * zero:.0f} % at TS = 0): {os.path.basename(name)}", fontsize=10)
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def ns_profile(f, name, out):
    fit = f["/fit"]
    ns = fit["profile_ns"][()]
    ts = fit["profile_ts"][()]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(ns, ts, color="navy", linewidth=2, label="profile TS($n_s$)")
    best_ns, best_ts = attr(fit, "ns"), attr(fit, "ts")
    if best_ns is not None and best_ts is not None:
        ax.plot([best_ns], [best_ts], "o", color="crimson", label=f"best fit: $n_s$ = {best_ns:.1f}, TS = {best_ts:.2f}")
        level = best_ts - 1.0
        ax.axhline(level, color="0.5", linestyle=":", label="TS$_{max}$ − 1 (68 % interval)")
        inside = ns[ts >= level]
        if inside.size:
            ax.axvspan(inside.min(), inside.max(), color="crimson", alpha=0.08)
    ax.set_xlabel("number of signal events $n_s$")
    ax.set_ylabel("TS")
    gamma = attr(fit, "gamma")
    ax.set_title(f"template fit profile{'' if gamma is None else f' (γ = {gamma:g})'}: {os.path.basename(name)}",
                 fontsize=10)
    ax.set_ylim(bottom=min(0.0, float(np.min(ts))))
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


PICTURES = [
    ("scan_map.png", lambda f: "/scan/ts" in f, scan_map),
    ("trials_ts.png", lambda f: "/trials/ts" in f and f["/trials/ts"].size > 0, trials_ts),
    ("ns_profile.png", lambda f: "/fit/profile_ns" in f and "/fit/profile_ts" in f and f["/fit/profile_ns"].size > 1,
     ns_profile),
]


def main():
    parser = argparse.ArgumentParser(prog="nusky plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="nusky results files (HDF5)")
    parser.add_argument("--out", required=True, help="output directory for the PNG files")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    files = []
    for path in args.results:
        try:
            files.append((path, h5py.File(path, "r")))
        except OSError as e:
            print(f"nusky plot: error: {path}: cannot open as HDF5 ({e})", file=sys.stderr)
            return 1
    wrote = 0
    for filename, has, draw in PICTURES:
        source = next(((p, f) for p, f in files if has(f)), None)
        if source is None:
            print(f"nusky plot: skipped {filename}: no input has the data")
            continue
        out = os.path.join(args.out, filename)
        draw(source[1], source[0], out)
        print(f"wrote {out} (from {source[0]})")
        wrote += 1
    if wrote == 0:
        print("nusky plot: error: nothing to plot (no /scan, /trials/ts or /fit/profile_ns)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
