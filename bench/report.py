#!/usr/bin/env python3
"""Summarises bench/run.sh's runs: prints one table and writes docs/benchmarks.md.

Input: a TSV of runs (case, ranks, run, wall_s, phase_s, items, peak_kB), the perf profiles of
the trial kernels, and the build directory (for the compile flags)."""
import argparse
import datetime
import glob
import math
import os
import re
import statistics
import subprocess

CASES = [
    # key, title, unit of the rate, per-core target (rate), wall target (s) at 2 ranks
    ("template", "pi0 template background trials, 59.6k events", "trials/s", 1000.0, None),
    ("ps_cascades", "point-source background trials at one position, 59.6k cascades", "trials/s", 300.0, None),
    ("ps_ic40", "point-source background trials at one position, 36.9k IC40 tracks", "trials/s", 2000.0, None),
    ("scan_cascades", "all-sky scan, nside 128, (n_s, gamma) per pixel, 59.6k cascades", "pixels/s", None, 60.0),
    ("scan_ic40", "all-sky scan, nside 256, IC40 tracks", "pixels/s", None, 30.0),
    ("read_hdf5", "read 1.1 M events from HDF5 on 2 ranks", "events/s", None, 1.0),
    # Memory only: a time-limited run (bench/run.sh), no rate.
    ("scan_memory", "peak memory per rank, scan at nside 256 on 1.1 M events (+1 M MC), stopped after setup", "pixels/s", None, None),
]
SCALING_TARGET = 1.85
MEMORY_TARGET_KB = 1024 * 1024


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def machine():
    lscpu = sh("lscpu")
    get = lambda key: (re.search(rf"^{key}:\s*(.+)$", lscpu, re.M) or [None, "?"])[1]
    return {
        "model": get("Model name"),
        "cpus": get(r"CPU\(s\)"),
        "cores": get(r"Core\(s\) per socket"),
        "l2": get("L2 cache"),
        "l3": get("L3 cache"),
        "hypervisor": get("Hypervisor vendor"),
        "flags_avx2": "avx2" in lscpu,
    }


def build_flags(build):
    cache = {}
    try:
        for line in open(os.path.join(build, "CMakeCache.txt")):
            m = re.match(r"^([A-Za-z0-9_]+):[A-Z]+=(.*)$", line.strip())
            if m:
                cache[m.group(1)] = m.group(2)
    except OSError:
        pass
    compiler = cache.get("CMAKE_CXX_COMPILER", "c++")
    version = sh(f"{compiler} --version").splitlines()
    build_type = cache.get("CMAKE_BUILD_TYPE", "?")
    flags = cache.get(f"CMAKE_CXX_FLAGS_{build_type.upper()}", "") + " " + cache.get("CMAKE_CXX_FLAGS", "")
    native = cache.get("NUSKY_NATIVE", "OFF")
    if native.upper() in ("ON", "1", "TRUE"):
        flags += " -march=native"
    return {
        "compiler": version[0] if version else compiler,
        "build_type": build_type,
        "flags": " ".join(flags.split()) + " -std=c++20",
        "native": native,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--profiles", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--elapsed", type=float, default=float("nan"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scan-state", default="measured")
    ap.add_argument("--load", default=None, help="uptime line to report (default: now)")
    args = ap.parse_args()

    runs = {}
    for line in open(args.results):
        f = line.rstrip("\n").split("\t")
        if len(f) < 7:
            continue
        key = (f[0], int(f[1]))
        runs.setdefault(key, []).append(
            {"wall": float(f[3]), "phase": float(f[4]), "items": float(f[5]), "peak": float(f[6])})

    # CPU share of each rank: (user + sys) / elapsed from GNU time (bench/rank-time.sh), the
    # median over runs of the mean over ranks. Below 1 the rank waited for a core (other load).
    work = os.path.dirname(os.path.abspath(args.results))

    def cpu_share(key, np_):
        shares = []
        for d in glob.glob(os.path.join(work, f"{key}.np{np_}.r*")):
            per_rank = []
            for f in glob.glob(os.path.join(d, "rank.*")):
                try:
                    mem, elapsed, user, system = (float(x) for x in open(f).read().split()[:4])
                    if elapsed > 0:
                        per_rank.append((user + system) / elapsed)
                except (OSError, ValueError):
                    pass
            if per_rank:
                shares.append(sum(per_rank) / len(per_rank))
        return median(shares) if shares else float("nan")

    rows = []
    for key, title, unit, per_core_target, wall_target in CASES:
        entry = {"key": key, "title": title, "unit": unit}
        for np_ in (1, 2):
            r = runs.get((key, np_))
            if not r:
                continue
            timed_out = any(x["phase"] < 0 for x in r)
            phase = median([abs(x["phase"]) for x in r])
            entry[np_] = {
                "n": len(r),
                "wall": median([x["wall"] for x in r]),
                "phase": phase,
                "rate": r[0]["items"] / phase if phase and not math.isnan(phase) else float("nan"),
                "peak_mb": max((x["peak"] for x in r if not math.isnan(x["peak"])), default=float("nan")) / 1024.0,
                "timed_out": timed_out,
                "cpu": cpu_share(key, np_),
            }
            entry[np_]["per_core"] = entry[np_]["rate"] / np_
        if 1 in entry and 2 in entry:
            entry["speedup"] = entry[1]["phase"] / entry[2]["phase"]
        entry["per_core_target"] = per_core_target
        entry["wall_target"] = wall_target
        rows.append(entry)

    # ---- the one table (stdout and the doc) ----
    header = ("| case | ranks | wall [s] | phase [s] | rate | per core | target | peak RSS/rank [MB] "
              "| CPU share/rank | speed-up 1->2 (target >= 1.85) |")
    lines = [header, "|" + "---|" * 10]
    verdicts = []
    for e in rows:
        for np_ in (1, 2):
            if np_ not in e:
                continue
            m = e[np_]
            if e["key"] == "scan_memory":
                target = f"<= {fmt(MEMORY_TARGET_KB / 1024.0)} MB per rank"
                ok = m["peak_mb"] <= MEMORY_TARGET_KB / 1024.0
            elif e["per_core_target"] is not None:
                target = f">= {fmt(e['per_core_target'])} {e['unit']} per core"
                ok = m["per_core"] >= e["per_core_target"]
            else:
                target = f"<= {fmt(e['wall_target'])} s" + (" (2 ranks)" if np_ == 2 else "")
                ok = m["phase"] <= e["wall_target"] if np_ == 2 else None
            if ok is not None:
                verdicts.append((e["key"], np_, ok))
            mark = "" if ok is None else (" **met**" if ok else " **not met**")
            speed = ""
            if np_ == 2 and "speedup" in e:
                speed = f"{e['speedup']:.2f}x" + (" met" if e["speedup"] >= SCALING_TARGET else " not met")
            bound = "> " if m["timed_out"] else ""
            rate_bound = "< " if m["timed_out"] else ""
            if m["timed_out"] and ok is not None:
                mark = " **not met** (stopped at the time limit)"
            lines.append(
                f"| {e['title']} | {np_} | {bound}{fmt(m['wall'])} | {bound}{fmt(m['phase'])} | "
                f"{rate_bound}{fmt(m['rate'])} {e['unit']} | {rate_bound}{fmt(m['per_core'])} | {target}{mark} | "
                f"{fmt(m['peak_mb'])} | {fmt(m['cpu'], 2)} | {speed} |")
    table = "\n".join(lines)
    print(table)

    mach = machine()
    flags = build_flags(args.build)
    load = args.load or sh("uptime")
    profiles = open(args.profiles).read().strip() if os.path.exists(args.profiles) else ""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    here = os.path.dirname(os.path.abspath(__file__))
    analysis_path = os.path.join(here, "limits.md")
    analysis = open(analysis_path).read().strip() if os.path.exists(analysis_path) else ""

    doc = f"""# Benchmarks

Written by `bench/run.sh` ({now}); do not edit by hand: the analysis text comes from
`bench/limits.md`. Kernels: `build/bin/nusky_bench` (Google Benchmark, `bench/`).

## Machine and build

- CPU: {mach['model']}, {mach['cpus']} CPUs ({mach['cores']} cores per socket), L2 {mach['l2']},
  L3 {mach['l3']}, hypervisor {mach['hypervisor']} (no hardware performance counters in the guest:
  profiles use perf's software clock; cache effects were measured by changing layouts).
- Load while measuring: `{load}` (the machine is shared; figures are medians over {args.runs} runs).
- Compiler: {flags['compiler']}; build type {flags['build_type']}; flags `{flags['flags']}`
  (NUSKY_NATIVE={flags['native']}; no -ffast-math anywhere).
- Scans: {args.scan_state}.
- bench/run.sh took {fmt(args.elapsed)} s.

## Results

Rates are over the trial (scan, read) phase as rank 0 reports it (all ranks' trials divided by the
phase's wall time, checkpoint writes included, setup excluded); "per core" divides by the ranks
(one core each). Wall is the whole `mpirun` (setup included: simulating the 1 M-event MC set,
smoothing the template). Speed-up is phase(1 rank) / phase(2 ranks). Peak RSS is GNU time's
maximum resident set size, the largest over ranks. CPU share is a rank's (user + sys) time over
its elapsed time (whole run, median over runs): below 1 the rank was waiting for a core that other
jobs on this shared machine held, which caps the speed-up (1 rank gets the least loaded core,
2 ranks must share both).

{table}

## Profiles of the trial kernels (perf, 1 process, setup skipped)

```
{profiles or 'perf not available'}
```

{analysis}
"""
    os.makedirs(os.path.dirname(os.path.abspath(args.doc)), exist_ok=True)
    with open(args.doc, "w") as f:
        f.write(doc)
    print(f"\nwrote {args.doc}")


if __name__ == "__main__":
    main()
