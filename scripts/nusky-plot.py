#!/usr/bin/python3
"""nusky-plot.py RESULTS.h5... --out DIR: PNG pictures of nusky results files.

Run by `nusky plot` (or directly with /usr/bin/python3). Uses Debian's python3-matplotlib,
python3-healpy and python3-h5py (scripts/install-deps --plots). Each picture is drawn from the
first file that has its data:

  scan_map.png     /scan (task = scan): Mollweide all-sky map of -log10 p (or TS when the scan
                   has no local p-values), equatorial, RA increasing to the left, the Galactic
                   plane and centre drawn, the hottest spot of each hemisphere (/scan/hotspots)
                   marked
  trials_ts.png    /trials/ts (task = trials): background TS distribution with its fitted
                   eta * chi2(ndof) tail (/fit chi2_eta, chi2_ndof) and the observed TS with its
                   p-value
  ns_profile.png   /fit/profile_ns, /fit/profile_ts (template likelihood): TS against n_s with
                   the best fit and the TS_max - 1 level (the 68 % interval of one parameter)
  sensitivity.png  /sensitivity (task = sensitivity): fraction of signal trials above the
                   background median, 3 and 5 sigma thresholds against the injected flux (or
                   mean number of events without a flux conversion), with the crossings at 90 %
                   (sensitivity) and 50 % (discovery potentials)
  ns_bias.png      /injection (tasks inject, sensitivity): fitted n_s against the injected
                   number of events, median and 16-84 % band per injected mean

Titles name the analysis (likelihood, samples and position from the results file's config).
"""
import configparser
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


def analysis_title(f):
    """What was analysed, from the config stored in the file: likelihood, samples, position."""
    config = configparser.ConfigParser(interpolation=None)
    try:
        config.read_string(attr(f, "config", "") or "")
    except configparser.Error:
        return ""

    def get(section, key, default=""):
        return config.get(section, key, fallback=default).strip()

    def sample(section):
        kind = get(section, "type")
        if kind == "simulation":
            return "simulated cascade sky"
        if kind == "icecube_public":
            seasons = get(section, "seasons")
            path = get(section, "path")
            return "IceCube " + (seasons or os.path.splitext(os.path.basename(path))[0].replace("_exp", ""))
        path = get(section, "path")
        return os.path.basename(path) if path else kind

    names = [s.strip() for s in get("job", "samples").split(",") if s.strip()]
    samples = " + ".join(sample("reader." + n) for n in names) if names else sample("reader")
    likelihood = get("likelihood", "type", "likelihood").replace("_", " ")
    where = ""
    fit = f["/fit"] if "/fit" in f else None
    if fit is not None and attr(fit, "ra_deg") is not None and attr(fit, "dec_deg") is not None:
        where = f" at RA {float(attr(fit, 'ra_deg')):.2f}°, Dec {float(attr(fit, 'dec_deg')):+.2f}°"
    elif likelihood == "template":
        template = get("likelihood", "template_path")
        where = ", " + (os.path.basename(template) if template else "Fermi-LAT pi0") + " template"
    return f"{likelihood}, {samples}{where}"


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
    # The colour bar ends on a round number: the next integer above the hottest pixel.
    top = float(np.nanmax(np.where(np.isfinite(values), values, np.nan)))
    top = max(1.0, float(np.ceil(top)))
    fig = plt.figure(figsize=(10, 6))
    hp.mollview(m, fig=fig.number, nest=(ordering == "NESTED"), cmap="magma", min=0.0, max=top,
                title=f"All-sky scan, {analysis_title(f)} (nside {nside})", unit=label, coord="C",
                cbar=True, format="%g")
    hp.graticule(dpar=30, dmer=60, color="0.6", alpha=0.6)
    for dec_label in (-60, -30, 30, 60):  # declinations, at the left edge of the map
        hp.projtext(179.9, dec_label, f"{dec_label:+d}°", lonlat=True, color="0.25", fontsize=8,
                    horizontalalignment="right", verticalalignment="center")
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
            text = f"{hemi}: TS {value:.1f}" if quantity == "ts" else f"{hemi}: {value:.2f}"
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
    # The tail fit of a trials run (/fit) or of a sensitivity run's background (/sensitivity).
    tail = next((f[g] for g in ("/fit", "/sensitivity") if g in f and attr(f[g], "chi2_eta") is not None), None)
    eta = attr(tail, "chi2_eta") if tail is not None else None
    ndof = attr(tail, "chi2_ndof") if tail is not None else None
    if eta is not None and ndof is not None and np.isfinite(ndof):
        from scipy.stats import chi2

        # Expected trials per bin of eta * chi2(ndof), above the bin at TS = 0.
        edges = bins[bins > 0] if bins[0] > 0 else bins[1:]
        lo = np.concatenate(([bins[0] if bins[0] > 0 else 0.0], edges[:-1]))
        expected = len(ts) * eta * (chi2.cdf(edges, ndof) - chi2.cdf(lo, ndof))
        centres = 0.5 * (lo + edges)
        keep = expected > 0.05
        ax.plot(centres[keep], expected[keep], color="navy", linewidth=1.5,
                label=f"fitted tail: {eta:.2f} × χ²(ndof = {ndof:.2f})")
        ax.set_ylim(bottom=0.5)
    if observed is not None:
        fit = f["/fit"]
        p = attr(fit, "p_value")
        upper = bool(attr(fit, "p_value_is_upper_limit", 0))
        text = f"observed TS = {observed:.2f}"
        if p is not None:
            text += f", p {'<' if upper else '='} {p:.3g}"
            sigma = attr(fit, "sigma")
            if sigma is not None and sigma > 0:  # p >= 0.5 has no positive significance
                text += f" ({'>' if upper else ''}{sigma:.2f} σ)"
        ax.axvline(observed, color="crimson", linewidth=2, label=text)
    zero = np.mean(ts <= 0.0)
    ax.set_title(f"Background trials, {analysis_title(f)}\n{100 * zero:.0f} % of trials at TS = 0", fontsize=10)
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
    ax.set_title(f"Profile of the fit, {analysis_title(f)}{'' if gamma is None else f' (γ = {gamma:g})'}",
                 fontsize=10)
    ax.set_ylim(bottom=min(0.0, float(np.min(ts))))
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def flux_axis(group):
    """(scale from mean events to the x axis, x label): the injected flux when the likelihood
    converts events to flux, else the mean number of injected events."""
    per_flux = attr(group, "events_per_flux_unit")
    unit = attr(group, "flux_unit", "")
    if per_flux is not None and np.isfinite(per_flux) and per_flux > 0:
        # Fluxes of order 1e-12: the power of ten goes into the label, not onto the axis.
        top = float(np.max(group["n_inj"][()])) / per_flux if "n_inj" in group else 1.0 / per_flux
        power = int(np.floor(np.log10(top))) if top > 0 else 0
        return 10.0 ** -power / per_flux, f"injected flux [$10^{{{power}}}$]\n{unit}"
    return 1.0, "mean number of injected signal events"


def sensitivity_curves(f, name, out):
    s = f["/sensitivity"]
    scale, xlabel = flux_axis(s)
    x = s["n_inj"][()] * scale
    fig, ax = plt.subplots(figsize=(8, 5))
    curves = [("fraction_above_median", 0.9, "sensitivity", "sensitivity: TS > background median", "navy"),
              ("fraction_above_3sigma", 0.5, "dp3sigma", "3σ discovery potential", "darkorange"),
              ("fraction_above_5sigma", 0.5, "dp5sigma", "5σ discovery potential", "crimson")]
    for dataset, target, key, label, colour in curves:
        if dataset not in s:
            continue
        crossing = attr(s, key + "_ns")
        text = label
        if crossing is not None and np.isfinite(crossing):
            at = crossing * scale
            text += f" = {at:.3g}" + (f" ({crossing:.3g} events)" if scale != 1.0 else " events")
            ax.axvline(at, color=colour, linestyle=":", linewidth=1)
            ax.plot([at], [target], marker="x", color=colour, markersize=9, mew=2)
        else:
            text += ": not reached"
        ax.plot(x, s[dataset][()], marker="o", color=colour, label=text)
    ax.axhline(0.9, color="0.6", linewidth=0.8)
    ax.axhline(0.5, color="0.6", linewidth=0.8)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of signal trials above threshold")
    n_bkg = attr(s, "n_background_trials")
    per_mean = attr(s, "trials_per_mean")
    ax.set_title(f"Sensitivity and discovery potential\n{analysis_title(f)}\n"
                 f"{n_bkg} background trials, {per_mean} signal trials per point", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def ns_bias(f, name, out):
    g = f["/injection"]
    means = g["bias_n_inj"][()]
    injected, fitted, row_mean = g["n_injected"][()], g["ns"][()], g["n_inj_mean"][()]
    fig, ax = plt.subplots(figsize=(6, 5))
    lo, hi, median = [], [], []
    for mu in means:
        part = fitted[row_mean == mu]
        lo.append(np.percentile(part, 16))
        hi.append(np.percentile(part, 84))
        median.append(np.median(part))
    ax.scatter(injected, fitted, s=6, color="0.6", alpha=0.5, label="signal trials (events drawn)")
    ax.fill_between(means, lo, hi, color="navy", alpha=0.15, label="16-84 % of trials")
    ax.plot(means, median, marker="o", color="navy", label="median fitted $n_s$")
    top = max(float(np.max(means)), float(np.max(hi)) if len(hi) else 0.0) * 1.05 + 1e-9
    ax.plot([0, top], [0, top], color="crimson", linestyle="--", linewidth=1, label="unbiased: $n_s$ = injected")
    ax.set_xlim(0, top)
    ax.set_ylim(min(0.0, float(np.min(lo))) if len(lo) else 0.0, top)
    ax.set_xlabel("injected signal events (mean of the Poisson draw)")
    ax.set_ylabel("fitted $n_s$")
    ax.set_title(f"$n_s$ bias, {analysis_title(f)}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


PICTURES = [
    ("scan_map.png", lambda f: "/scan/ts" in f, scan_map),
    ("trials_ts.png", lambda f: "/trials/ts" in f and f["/trials/ts"].size > 0, trials_ts),
    ("ns_profile.png", lambda f: "/fit/profile_ns" in f and "/fit/profile_ts" in f and f["/fit/profile_ns"].size > 1,
     ns_profile),
    ("sensitivity.png", lambda f: "/sensitivity/n_inj" in f and f["/sensitivity/n_inj"].size > 0, sensitivity_curves),
    ("ns_bias.png", lambda f: "/injection/bias_n_inj" in f and "/injection/ns" in f and f["/injection/ns"].size > 0,
     ns_bias),
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
        print("nusky plot: error: nothing to plot (no /scan, /trials/ts, /fit/profile_ns, /sensitivity or "
              "/injection)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
