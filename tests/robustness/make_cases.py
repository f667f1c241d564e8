#!/usr/bin/python3
"""Writes the catalogue of bad inputs for tests/e2e/robustness_inputs.sh.

usage: make_cases.py WORKDIR

Creates WORKDIR/in/ (the broken files, generated here, nothing binary is committed),
WORKDIR/ini/<case>.ini (one job config per case) and WORKDIR/cases.tsv, one case a line:

    name <TAB> expected text of the one error line <TAB> config <TAB> flags

flags: "-" or a comma list of: perm (a permission case: needs a non-root user),
lastrank (the bad value lies only in the last rank's block), set=section.key=value (passed
as --set). Every case must end with exit code 1, exactly one 'nusky: error' line containing the
expected text (which names the file and line, or the config key), and no results file.
"""
import os
import sys

import h5py
import numpy as np

work = sys.argv[1]
IN = os.path.join(work, "in")
INI = os.path.join(work, "ini")
OUT = os.path.join(work, "out", "result.h5")  # must never appear
os.makedirs(IN, exist_ok=True)
os.makedirs(INI, exist_ok=True)
os.makedirs(os.path.dirname(OUT), exist_ok=True)
rng = np.random.default_rng(20261128)
cases = []
N = 400  # rows per event file: 100 per rank at 4 ranks


def path(name):
    return os.path.join(IN, name)


def case(name, expected, reader=None, likelihood=None, job="", flags="-", text=None, selection=None):
    """A case's config: [job] (output + job lines), [reader], [selection] (when given),
    [likelihood] (point-source fit by default); `text` replaces the whole config."""
    ini = os.path.join(INI, name + ".ini")
    if text is None:
        text = "[job]\noutput = %s\n%s\n[reader]\n%s\n%s[likelihood]\n%s\n" % (
            OUT, job, reader or good_reader(), "[selection]\n%s\n" % selection if selection else "",
            likelihood or "type = point_source\nra_deg = 10\ndec_deg = 5\nuse_energy = false")
    with open(ini, "w") as f:
        f.write(text)
    assert "\t" not in expected and "\n" not in expected
    cases.append((name, expected, ini, flags))


# ---- the IceCube public text format ------------------------------------------------------
HEADER = "MJD[days]  log10(E/GeV)   AngErr[deg]       RA[deg]      Dec[deg]  Azimuth[deg]   Zenith[deg]\n"


def text_rows(n=N):
    mjd = 54562.0 + np.sort(rng.uniform(0, 365, n))
    cols = [mjd, rng.uniform(2, 7, n), rng.uniform(0.2, 5, n), rng.uniform(0, 360, n),
            rng.uniform(-89, 89, n), rng.uniform(0, 360, n), rng.uniform(1, 179, n)]
    return ["%16.8f %8.3f %8.3f %10.4f %10.4f %10.4f %10.4f\n" % tuple(c[i] for c in cols) for i in range(n)]


def write_text(name, rows, header=HEADER):
    with open(path(name), "w") as f:
        f.write(header + "".join(rows))
    return path(name)


def ic_reader(p):
    return "type = icecube_public\npath = %s" % p


def ic_case(name, expected, mutate, flags="-"):
    """A text event file of N rows with `mutate(rows)` applied; line = index + 2."""
    rows = text_rows()
    mutate(rows)
    p = write_text(name + ".csv", rows)
    case(name, expected.replace("@", p), ic_reader(p), flags=flags)


def set_field(row_index, column, value):
    def mutate(rows):
        fields = rows[row_index].split()
        fields[column] = value
        rows[row_index] = " ".join(fields) + "\n"
    return mutate


def good_reader():
    return ic_reader(good_text)


good_text = write_text("good.csv", text_rows())
ic_case("text_truncated", "@:401: expected 7 columns, found 3",
        lambda r: r.__setitem__(-1, " ".join(r[-1].split()[:3])))  # cut mid-row, no newline
ic_case("text_missing_column", "@:12: expected 7 columns, found 6",
        lambda r: r.__setitem__(10, " ".join(r[10].split()[:6]) + "\n"))
ic_case("text_extra_column", "@:3: expected 7 columns, found 8",
        lambda r: r.__setitem__(1, r[1].rstrip("\n") + " 1.0\n"))
ic_case("text_word_in_number", "@:7: column 3 (AngErr[deg]): 'abc' is not a finite number", set_field(5, 2, "abc"))
ic_case("text_comma_decimal", "@:7: column 4 (RA[deg]): '12;5' is not a finite number", set_field(5, 3, "12;5"))
ic_case("text_nan", "@:22: column 2 (log10(E/GeV)): 'nan' is not a finite number", set_field(20, 1, "nan"))
ic_case("text_inf", "@:23: column 1 (MJD): 'inf' is not a finite number", set_field(21, 0, "inf"))
ic_case("text_dec_range", "@:52: Dec 91.5 deg outside [-90, 90]", set_field(50, 4, "91.5"))
ic_case("text_ra_range", "@:53: RA 360.5 deg outside [0, 360]", set_field(51, 3, "360.5"))
ic_case("text_ra_negative", "@:54: RA -1 deg outside [0, 360]", set_field(52, 3, "-1"))
ic_case("text_zenith_range", "@:55: Zenith 181 deg outside [0, 180]", set_field(53, 6, "181"))
ic_case("text_sigma_negative", "@:56: AngErr -0.5 deg is negative", set_field(54, 2, "-0.5"))
ic_case("text_sigma_minus_zero", "@:56: AngErr -0 deg is negative", set_field(54, 2, "-0.00"))
# AngErr 0.00 (a release rounded to 0.1 deg) is raised to angerr_floor_deg; with no floor it is refused.
ic_case("text_sigma_zero_no_floor", "@:57: AngErr 0 deg and no floor to raise it to (set angerr_floor_deg > 0)",
        set_field(55, 2, "0.00"), flags="set=reader.angerr_floor_deg=0")
ic_case("text_last_rank", "@:401: Dec -90.5 deg outside [-90, 90]", set_field(N - 1, 4, "-90.5"), flags="lastrank")
ic_case("text_separators_only", "@:31: expected 7 columns, found 0", lambda r: r.__setitem__(29, ",,,\n"))
p = path("text_empty.csv")
open(p, "w").close()
case("text_empty", p + ": empty file", ic_reader(p))
p = write_text("text_header_only.csv", [])
case("text_header_only", p + ": no data rows", ic_reader(p))
p = path("text_binary.csv")
with open(p, "wb") as f:
    f.write(b"\x00\x01garbage\xff\xfe" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
case("text_binary", p + ":", ic_reader(p))
p = path("text_utf16.csv")
with open(p, "wb") as f:
    f.write((HEADER + "".join(text_rows(5))).encode("utf-16"))
case("text_utf16", p + ":", ic_reader(p))
p = path("text_dir")
os.makedirs(p, exist_ok=True)
case("text_directory", "[reader] path: is a release directory", ic_reader(p))
os.makedirs(path("release/events/IC40_exp.csv"), exist_ok=True)  # a directory where the file should be
case("text_release_events_dir", "IC40_exp.csv: season IC40: events file not found",
     ic_reader(path("release")) + "\nseasons = IC40")
os.makedirs(path("release2/events"), exist_ok=True)
os.makedirs(path("release2/uptime"), exist_ok=True)
write_text("release2/events/IC40_exp.csv", text_rows())
with open(path("release2/uptime/IC40_exp.csv"), "w") as f:
    f.write("# MJD_start MJD_stop\n54562.1 54562.2\n54562.3 54562.25\n")
case("text_season_twice", "[reader] seasons: season IC40 is given twice",
     ic_reader(path("release2")) + "\nseasons = IC40, IC40")
case("text_uptime_reversed", path("release2/uptime/IC40_exp.csv") + ":3: MJD_stop 54562.2 before MJD_start 54562.3",
     ic_reader(path("release2")) + "\nseasons = IC40")
case("text_missing", "[reader] path: " + path("no_such.csv") + ": cannot open for reading: No such file", ic_reader(path("no_such.csv")))
p = write_text("text_unreadable.csv", text_rows())
os.chmod(p, 0)
case("text_unreadable", p + ": cannot open for reading: Permission denied", ic_reader(p), flags="perm")

# ---- .npy event files ----------------------------------------------------------------------
EVENT_DTYPE = [("run", "<i8"), ("ra", "<f8"), ("dec", "<f8"), ("sigma", "<f8"), ("logE", "<f8"), ("time", "<f8")]


def npy_events(n=N, dtype=EVENT_DTYPE):
    a = np.zeros(n, dtype=dtype)
    names = a.dtype.names
    for name, lo, hi in (("ra", 0, 2 * np.pi), ("dec", -1.5, 1.5), ("sigma", 0.005, 0.1), ("logE", 2, 7),
                         ("time", 54562, 55000), ("trueRa", 0, 6.28), ("trueDec", -1.5, 1.5),
                         ("trueE", 1e2, 1e7), ("ow", 1e-3, 1e3)):
        if name in names and a.dtype[name].kind == "f":
            a[name] = rng.uniform(lo, hi, n)
    return a


def npy_reader(p, extra=""):
    return "type = npy_events\npath = %s%s" % (p, extra)


def npy_case(name, expected, array=None, raw=None, flags="-", extra=""):
    p = path(name + ".npy")
    if raw is not None:
        with open(p, "wb") as f:
            f.write(raw)
    else:
        np.save(p, array)
    case(name, expected.replace("@", p), npy_reader(p, extra), flags=flags)


def with_value(field, index, value, a=None):
    a = npy_events() if a is None else a
    a[field][index] = value
    return a


good_npy = path("good.npy")
np.save(good_npy, npy_events())
npy_case("npy_not_npy", "@: not a NumPy .npy file (bad magic bytes)", raw=b"ra,dec,sigma\n1,2,3\n")
npy_case("npy_empty", "@: not a NumPy .npy file", raw=b"")
with open(good_npy, "rb") as f:
    good_bytes = f.read()
npy_case("npy_truncated_data", "@: truncated .npy data", raw=good_bytes[: len(good_bytes) - 100])
npy_case("npy_truncated_header", "@: truncated .npy file", raw=good_bytes[:40])
npy_case("npy_bad_header", "@: bad .npy header", raw=good_bytes[:10] + b"{'descr' 'oops'" + good_bytes[25:])
npy_case("npy_plain_array", "@: expected a structured array", np.zeros(12))
npy_case("npy_2d_structured", "@: structured arrays must be 1-D, shape is (3, 4)", npy_events(12).reshape(3, 4))
npy_case("npy_big_endian", "@: big-endian data", npy_events().astype([(n, ">f8" if t == "<f8" else t) for n, t in EVENT_DTYPE]))
npy_case("npy_float16", "@: unsupported dtype '<f2'", npy_events(dtype=EVENT_DTYPE[:1] + [("ra", "<f2")] + EVENT_DTYPE[2:]))
npy_case("npy_string_field", "@: field ra ('|S8') is not numeric",
         npy_events(dtype=EVENT_DTYPE[:1] + [("ra", "S8")] + EVENT_DTYPE[2:]))
npy_case("npy_object_dtype", "@: unsupported dtype", raw=good_bytes[:10] + good_bytes[10:].replace(b"'<f8'", b"'|O8'", 1))
npy_case("npy_missing_field", "@: no field 'dec'", npy_events(dtype=[t for t in EVENT_DTYPE if t[0] != "dec"]))
npy_case("npy_nan", "@: field ra index 7: value nan is not a right ascension in [0, 2 pi] (radians)", with_value("ra", 7, np.nan))
npy_case("npy_inf", "@: field logE index 8: value inf is not a log10(E/GeV) in [-2, 13]", with_value("logE", 8, np.inf))
npy_case("npy_dec_range", "@: field dec index 9: value 2.000000 is not a declination in [-pi/2, pi/2] (radians)",
         with_value("dec", 9, 2.0))
npy_case("npy_sigma_negative", "@: field sigma index 10: value -0.010000 is not an angular error in (0, pi] (radians)",
         with_value("sigma", 10, -0.01))
npy_case("npy_ra_degrees", "@: field ra index 12: value 215.300000 is not a right ascension in [0, 2 pi]",
         with_value("ra", 12, 215.3))
npy_case("npy_sigma_huge", "@: field sigma index 13: value 4.000000 is not an angular error in (0, pi]",
         with_value("sigma", 13, 4.0))
npy_case("npy_last_rank", "@: field sigma index 399: value 0.000000 is not an angular error in (0, pi] (radians)",
         with_value("sigma", N - 1, 0.0), flags="lastrank")
mc = npy_events(dtype=EVENT_DTYPE + [("trueRa", "<f8"), ("trueDec", "<f8"), ("trueE", "<f8"), ("ow", "<f8")])
mc["ow"][11] = -1.0
np.save(path("npy_mc_bad.npy"), mc)
case("npy_mc_negative_ow", path("npy_mc_bad.npy") + ": field ow index 11: value -1.000000 is not non-negative",
     npy_reader(good_npy, "\nmc_path = " + path("npy_mc_bad.npy")))
os.makedirs(path("npy_dir.npy"), exist_ok=True)
case("npy_directory", path("npy_dir.npy") + ": is a directory", npy_reader(path("npy_dir.npy")))
case("npy_missing", path("no_such.npy") + ": cannot open", npy_reader(path("no_such.npy")))
p = path("npy_unreadable.npy")
np.save(p, npy_events())
os.chmod(p, 0)
case("npy_unreadable", p + ": cannot open", npy_reader(p), flags="perm")

# ---- good-run lists ([selection] cuts, good_runs = uptime files) -------------------------------
UPTIME_HEADER = "MJD_start[days] MJD_stop[days]\n"


def good_runs_case(name, expected, text=None, reader=None):
    """A cuts selection with good_runs = IN/<name>.csv holding `text` (not written when None)."""
    p = path(name + ".csv")
    if text is not None:
        with open(p, "w") as f:
            f.write(text)
    case(name, expected.replace("@", p), reader, selection="type = cuts\ngood_runs = " + p)


good_runs_case("good_runs_missing", "@: cannot open for reading: No such file or directory")
good_runs_case("good_runs_truncated", "@:3: expected 2 columns, found 1", UPTIME_HEADER + "54562.1 54700.2\n54700.3")
good_runs_case("good_runs_word_in_number", "@:2: column 2 (MJD_stop): 'abc' is not a finite number",
               UPTIME_HEADER + "54562.1 abc\n")
good_runs_case("good_runs_reversed", "@:3: MJD_stop 54562.2 before MJD_start 54562.3",
               UPTIME_HEADER + "54562.0 54562.2\n54562.3 54562.2\n")
good_runs_case("good_runs_nan", "@:2: column 1 (MJD_start): 'nan' is not a finite number", UPTIME_HEADER + "nan 54700\n")
good_runs_case("good_runs_empty", "@: no data rows", "")
os.makedirs(path("good_runs_directory.csv"), exist_ok=True)
good_runs_case("good_runs_directory", "@: is a directory")
np.save(path("no_times.npy"), npy_events(dtype=[t for t in EVENT_DTYPE if t[0] != "time"]))
good_runs_case("good_runs_no_times", "%s: [selection] good_runs: the events have no times (MJD)"
               % os.path.join(INI, "good_runs_no_times.ini"), UPTIME_HEADER + "54562 55000\n",
               reader=npy_reader(path("no_times.npy")))

# ---- HDF5 event files (the nusky schema) ------------------------------------------------
def h5_events(name, mutate=None, n=N):
    p = path(name + ".h5")
    with h5py.File(p, "w") as f:
        for group, truth in (("events", False), ("mc", True)):
            cols = {"ra": rng.uniform(0, 2 * np.pi, n), "dec": rng.uniform(-1.5, 1.5, n),
                    "sigma": rng.uniform(0.005, 0.1, n), "log10_energy": rng.uniform(2, 7, n),
                    "mjd": rng.uniform(54562, 55000, n)}
            if truth:
                cols.update(true_ra=rng.uniform(0, 2 * np.pi, n), true_dec=rng.uniform(-1.5, 1.5, n),
                            true_energy=rng.uniform(1e2, 1e7, n), oneweight=rng.uniform(1e-3, 1e3, n))
            for k, v in cols.items():
                f[group + "/" + k] = v
        f.attrs["livetime_s"] = 3.0e7
        if mutate:
            mutate(f)
    return p


def h5_reader(p):
    return "type = hdf5_events\npath = %s" % p


def h5_case(name, expected, mutate=None, flags="-"):
    p = h5_events(name, mutate)
    case(name, expected.replace("@", p), h5_reader(p), flags=flags)


def replace(dataset, value):
    def mutate(f):
        del f[dataset]
        f[dataset] = value
    return mutate


def set_value(dataset, index, value):
    def mutate(f):
        f[dataset][index] = value
    return mutate


good_h5 = h5_events("good")
for name, data in (("h5_not_hdf5", b"ra dec sigma\n1 2 3\n"), ("h5_empty", b""),
                   ("h5_binary", rng.integers(0, 256, 8192, dtype=np.uint8).tobytes()),
                   ("h5_npy_inside", good_bytes)):
    with open(path(name + ".h5"), "wb") as f:
        f.write(data)
    case(name, path(name + ".h5") + ": not an HDF5 file", h5_reader(path(name + ".h5")))
with open(good_h5, "rb") as f:
    h5_bytes = f.read()
with open(path("h5_truncated.h5"), "wb") as f:
    f.write(h5_bytes[: len(h5_bytes) // 2])
case("h5_truncated", path("h5_truncated.h5") + ": cannot open as HDF5", h5_reader(path("h5_truncated.h5")))
h5_case("h5_missing_dataset", "@: missing dataset /events/dec", lambda f: f.__delitem__("events/dec"))
h5_case("h5_missing_group", "@: missing dataset /events/ra", lambda f: f.__delitem__("events"))
h5_case("h5_int_dtype", "@: dataset /events/dec has the wrong type (expected float64)",
        replace("events/dec", np.zeros(N, dtype=np.int32)))
h5_case("h5_float32", "@: dataset /events/sigma has the wrong type (expected float64)",
        replace("events/sigma", np.full(N, 0.01, dtype=np.float32)))
h5_case("h5_string_dtype", "@: dataset /events/log10_energy has the wrong type (expected float64)",
        replace("events/log10_energy", np.array([b"3.0"] * N)))
h5_case("h5_2d", "@: dataset /events/ra has 2 dimensions, expected 1", replace("events/ra", np.zeros((N // 2, 2))))
h5_case("h5_scalar", "@: dataset /events/mjd has 0 dimensions, expected 1", replace("events/mjd", 54562.0))
h5_case("h5_length_mismatch", "@: dataset /events/sigma has 399 rows but /events/ra has 400",
        replace("events/sigma", np.full(N - 1, 0.01)))
h5_case("h5_nan", "@: dataset /events/ra index 5: value nan is not a right ascension in [0, 2 pi] (radians)", set_value("events/ra", 5, np.nan))
h5_case("h5_dec_range", "@: dataset /events/dec index 6: value -1.600000 is not a declination in [-pi/2, pi/2] (radians)",
        set_value("events/dec", 6, -1.6))
h5_case("h5_sigma_negative", "@: dataset /events/sigma index 7: value -0.100000 is not an angular error in (0, pi] (radians)",
        set_value("events/sigma", 7, -0.1))
h5_case("h5_mc_inf_energy", "@: dataset /mc/true_energy index 8: value inf is not a positive energy",
        set_value("mc/true_energy", 8, np.inf))
h5_case("h5_mc_negative_oneweight", "@: dataset /mc/oneweight index 9: value -1.000000 is not non-negative",
        set_value("mc/oneweight", 9, -1.0))
h5_case("h5_livetime_nan", "@: attribute livetime_s = nan", lambda f: f.attrs.__setitem__("livetime_s", np.nan))
# Values in the wrong unit: right ascensions in degrees, an angular error of 200 deg in radians.
h5_case("h5_ra_degrees", "@: dataset /events/ra index 12: value 215.300000 is not a right ascension in [0, 2 pi]",
        set_value("events/ra", 12, 215.3))
h5_case("h5_sigma_huge", "@: dataset /events/sigma index 13: value 3.500000 is not an angular error in (0, pi]",
        set_value("events/sigma", 13, 3.5))
h5_case("h5_log10e_range", "@: dataset /events/log10_energy index 14: value 100.000000 is not a log10(E/GeV) in [-2, 13]",
        set_value("events/log10_energy", 14, 100.0))
h5_case("h5_last_rank", "@: dataset /events/sigma index 399: value 0.000000 is not an angular error in (0, pi] (radians)",
        set_value("events/sigma", N - 1, 0.0), flags="lastrank")
os.makedirs(path("h5_dir.h5"), exist_ok=True)
case("h5_directory", path("h5_dir.h5") + ": is a directory", h5_reader(path("h5_dir.h5")))
case("h5_missing", "[reader] path: " + path("no_such.h5") + ": cannot open for reading: No such file", h5_reader(path("no_such.h5")))
p = h5_events("h5_unreadable")
os.chmod(p, 0)
case("h5_unreadable", p + ": cannot open for reading: Permission denied", h5_reader(p), flags="perm")

# ---- HEALPix templates -----------------------------------------------------------------------
def template(p):
    return "type = template\ntemplate_path = %s\nuse_energy = false\nnside = 4\nn_sigma = 2" % p


def tpl_case(name, expected, array=None, raw=None, suffix=".npy"):
    p = path(name + suffix)
    if raw is not None:
        with open(p, "wb") as f:
            f.write(raw)
    elif suffix == ".npy":
        with open(p, "wb") as f:
            np.save(f, array)
    else:
        with h5py.File(p, "w") as f:
            f["map"] = array
    case(name, expected.replace("@", p), h5_reader(good_h5), template(p))


tpl_case("template_size", "@: not a HEALPix map: 1000 values is not 12 nside^2", np.ones(1000))
tpl_case("template_size_12n", "@: not a HEALPix map: 24 values is not 12 nside^2", np.ones(24))
tpl_case("template_2d", "@: a HEALPix map must be 1-D, shape is (12, 16)", np.ones((12, 16)))
tpl_case("template_structured", "@: a HEALPix map must be a plain array", npy_events(192))
tpl_case("template_negative", "@: pixel 5 is negative or not finite", np.r_[np.ones(5), -1.0, np.ones(186)])
tpl_case("template_nan", "@: pixel 0 is negative or not finite", np.r_[np.nan, np.ones(191)])
tpl_case("template_all_zero", "@: the template's integral over the sphere is 0.000000 (every pixel is 0)", np.zeros(192))
tpl_case("template_integral_inf", "@: the template's integral over the sphere is inf", np.full(192, 1e307))
tpl_case("template_not_npy", "@: not a NumPy .npy file", raw=b"1 2 3\n")
tpl_case("template_h5_size", "@: 100 pixels is not a HEALPix map", np.ones(100), suffix=".h5")
tpl_case("template_fits_garbage", "@: cannot read a HEALPix FITS map", raw=b"SIMPLE  = nonsense" * 10, suffix=".fits")
tpl_case("template_unknown_format", "@: unknown template format", raw=b"1 2 3\n", suffix=".txt")
case("template_missing", "[likelihood] template_path: " + path("no_such_map.npy") + ": cannot open for reading", h5_reader(good_h5),
     template(path("no_such_map.npy")))
case("template_directory", path("text_dir") + ": is a directory", h5_reader(good_h5), template(path("text_dir")))
case("simulation_template_size", path("template_size.npy") + ": not a HEALPix map: 1000 values",
     "type = simulation\nn_background = 1000\nmc_events = 1000\ntemplate_path = " + path("template_size.npy"))
case("simulation_data_dir", path("text_dir") + ": not a gp2023 release directory",
     "type = simulation\nn_background = 1000\nmc_events = 1000\ndata_dir = " + path("text_dir"))

# ---- configs ---------------------------------------------------------------------------------
base = "[job]\noutput = %s\n[reader]\n%s\n[likelihood]\ntype = point_source\nra_deg = 10\ndec_deg = 5\n" % (
    OUT, good_reader())


def cfg_case(name, expected, text, flags="-"):
    case(name, expected.replace("@", os.path.join(INI, name + ".ini")), text=text, flags=flags)


cfg_case("config_unknown_module", "@: [likelihood] type: unknown likelihood module 'point_sorce'",
         base.replace("point_source", "point_sorce"))
cfg_case("config_unknown_reader", "@: [reader] type: unknown reader module 'icecube'",
         base.replace("icecube_public", "icecube"))
cfg_case("config_unknown_key", "@: [likelihood] dec_degg: unused parameter", base + "dec_degg = 3\n")
cfg_case("config_wrong_type", "@: [likelihood] ra_deg = 'ten'", base.replace("ra_deg = 10", "ra_deg = ten"))
cfg_case("config_wrong_type_int", "@: [job] trials = '2.5'", base.replace("[job]\n", "[job]\ntrials = 2.5\n"))
cfg_case("config_wrong_type_bool", "@: [likelihood] use_energy = 'maybe'", base + "use_energy = maybe\n")
cfg_case("config_negative_trials", "@: [job] trials: must be >= 0", base.replace("[job]\n", "[job]\ntrials = -5\n"))
cfg_case("config_zero_checkpoint", "@: [job] checkpoint_every: must be >= 1",
         base.replace("[job]\n", "[job]\ncheckpoint_every = 0\n"))
cfg_case("config_nside", "@: [job] nside: must be a power of two", base.replace("[job]\n", "[job]\nnside = 100\n"))
cfg_case("config_unknown_task", "@: [job] task: unknown task 'fitt'", base.replace("[job]\n", "[job]\ntask = fitt\n"))
cfg_case("config_dec_range", "@: [likelihood] dec_deg: must be in [-90, 90]", base.replace("dec_deg = 5", "dec_deg = 95"))
cfg_case("config_missing_likelihood", "@: missing section [likelihood]", base[: base.index("[likelihood]")])
cfg_case("config_missing_reader", "@: missing section [reader]",
         base[: base.index("[reader]")] + base[base.index("[likelihood]"):])
cfg_case("config_unknown_section", "@: unknown section [likelyhood]", base + "[likelyhood]\ntype = x\n")
cfg_case("config_key_twice", "@: [likelihood] ra_deg is given twice", base + "ra_deg = 11\n")
cfg_case("config_key_outside_section", "@: key 'task' is outside any section", "task = fit\n" + base)
cfg_case("config_bad_syntax", "@:", base.replace("[likelihood]", "[likelihood"))
cfg_case("config_empty", "@: missing section [reader]", "")
n_base = base.count("\n")
cfg_case("config_huge_trials", "@: [job] trials: must be in [0, 1000000000]",
         base.replace("[reader]", "task = trials\ntrials = 1000000000000000\n[reader]"))
cfg_case("config_huge_sin_dec_bins", "@: [likelihood] sin_dec_bins: must be in [2, 100000]",
         base + "sin_dec_bins = 4000000000\n")
cfg_case("config_huge_energy_bins", "@: [likelihood] energy_bins: must be in [1, 10000]",
         base + "energy_bins = 99999999999\n")
cfg_case("config_value_without_key", "@: line %d: a value without a key" % (n_base + 1), base + "= 5\n")
cfg_case("config_double_brackets", "@: line %d: invalid section header '[[reco]]'" % (n_base + 1), base + "[[reco]]\n")
cfg_case("config_key_with_space", "@: line %d: invalid key 'dec deg'" % (n_base + 1), base + "dec deg = 5\n")
with open(os.path.join(INI, "config_binary.ini"), "wb") as f:
    f.write(b"\x7fELF\x02\x01\x01\x00" + rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
cases.append(("config_binary", os.path.join(INI, "config_binary.ini") + ":", os.path.join(INI, "config_binary.ini"), "-"))
cases.append(("config_missing_file", os.path.join(INI, "nope.ini") + ": cannot open the config file",
              os.path.join(INI, "nope.ini"), "-"))
os.makedirs(os.path.join(INI, "config_dir.ini"), exist_ok=True)
cases.append(("config_directory", os.path.join(INI, "config_dir.ini") + ": is a directory",
              os.path.join(INI, "config_dir.ini"), "-"))
cfg_case("config_set_unknown_section", "--set likelyhood.x=1: unknown section [likelyhood]", base,
         flags="set=likelyhood.x=1")
cfg_case("config_set_no_value", "--set likelihood.dec_deg: expected section.key=value", base,
         flags="set=likelihood.dec_deg")
cfg_case("config_set_range", "--set likelihood.dec_deg: must be in [-90, 90]", base, flags="set=likelihood.dec_deg=-91")
cfg_case("config_task_unsupported", "@: [job] task: likelihood 'template' cannot run task 'scan'",
         base.replace("[job]\n", "[job]\ntask = scan\n").replace(
             "type = point_source\nra_deg = 10\ndec_deg = 5\n", "type = template\n"))

# ---- the output path --------------------------------------------------------------------------
def out_case(name, expected, output, flags="-"):
    cfg_case(name, expected, base.replace("output = " + OUT, "output = " + output), flags=flags)


# ---- inputs that are not regular files: a named pipe would block the reader forever, a loop of
# symbolic links is no file at all. Each is refused up front, for every reader and input kind.
def fifo(name):
    p = path(name)
    os.mkfifo(p)
    return p


def link_loop(name):
    a, b = path(name), path(name + ".other")
    os.symlink(b, a)
    os.symlink(a, b)
    return a


# A first line with numbers is a row (never dropped as a "header"); a weight column with a word.
rows = text_rows()
rows[0] = "x" + rows[0].lstrip()
p = write_text("text_first_row_word.csv", rows, header="")
case("text_first_row_word", p + ":1: column 1 (MJD): 'x", ic_reader(p))
p = path("catalog_weight_word.txt")
with open(p, "w") as f:
    f.write("# name ra dec weight\nA 10 20 2.5\nB 30 -5 bright\n")
case("catalog_weight_word", p + ":3: weight 'bright' of B is not a number", h5_reader(good_h5),
     "type = stacking\ncatalog = " + p)

# Nothing left to fit: the error names the input and the cut that removed the last events.
case("selection_removes_all", "nothing to fit (%s: 400 events read, cut 'dec' of selection 'cuts' kept 0)" % good_h5,
     h5_reader(good_h5), selection="type = cuts\ndec_min_deg = 89.99")
case("selection_removes_all_text", "nothing to fit (%s: " % good_text, ic_reader(good_text),
     selection="type = cuts\nlog10e_min = 9")

PIPE, LOOP = ": is a named pipe, not a regular file", ": cannot open for reading: a loop of symbolic links"
p = fifo("text_fifo.csv")
case("text_fifo", p + PIPE, ic_reader(p))
p = fifo("npy_fifo.npy")
case("npy_fifo", p + PIPE, npy_reader(p))
p = fifo("h5_fifo.h5")
case("h5_fifo", p + PIPE, h5_reader(p))
p = fifo("template_fifo.npy")
case("template_fifo", p + PIPE, h5_reader(good_h5), template(p))
p = fifo("good_runs_fifo.csv")
case("good_runs_fifo", p + PIPE, ic_reader(good_text), selection="type = cuts\ngood_runs = " + p)
p = fifo("catalog_fifo.txt")
case("catalog_fifo", p + PIPE, h5_reader(good_h5), "type = stacking\ncatalog = " + p)
p = link_loop("text_loop.csv")
case("text_link_loop", p + LOOP, ic_reader(p))
p = link_loop("npy_loop.npy")
case("npy_link_loop", p + LOOP, npy_reader(p))
p = link_loop("h5_loop.h5")
case("h5_link_loop", p + LOOP, h5_reader(p))
p = link_loop("template_loop.npy")
case("template_link_loop", p + LOOP, h5_reader(good_h5), template(p))

out_case("output_missing_dir", "output directory %s/no/such does not exist" % work, work + "/no/such/result.h5")
open(path("a_file"), "w").close()
out_case("output_parent_is_file", "output directory %s does not exist" % path("a_file"), path("a_file") + "/result.h5")
os.makedirs(os.path.join(work, "out", "result_dir.h5"), exist_ok=True)
out_case("output_is_directory", "output path is a directory", os.path.join(work, "out", "result_dir.h5"))
os.makedirs(os.path.join(work, "readonly"), exist_ok=True)
os.chmod(os.path.join(work, "readonly"), 0o555)
out_case("output_readonly_dir", "output directory %s/readonly is not writable" % work,
         os.path.join(work, "readonly", "result.h5"), flags="perm")
# The output is an input: the events file itself, or a link to it (compared by device and inode).
out_case("output_is_input", "[reader] path: names %s, which is the output file %s" % (good_text, good_text), good_text)
os.symlink(good_text, os.path.join(work, "out", "link_to_events.csv"))
out_case("output_links_to_input", "which is the output file %s" % os.path.join(work, "out", "link_to_events.csv"),
         os.path.join(work, "out", "link_to_events.csv"))

with open(os.path.join(work, "cases.tsv"), "w") as f:
    for c in cases:
        f.write("\t".join(c) + "\n")
print(len(cases))
