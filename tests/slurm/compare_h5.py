"""Compares two nusky results files bit for bit: every dataset and every attribute under the
given groups (default: the whole file except the root attributes, which hold the config text
and the creation time).

    compare_h5.py A.h5 B.h5 [--ignore-attr=NAME]... [GROUP...]

--ignore-attr skips an attribute that legitimately differs (e.g. /fit's template path when one
file was made by an installed nusky).

Exit code 0 and one summary line when identical; 1 and the differences otherwise.
"""
import sys

import h5py
import numpy as np


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def collect(f, root):
    """{path: h5py object} for root and everything under it."""
    items = {root: f[root]}
    if isinstance(f[root], h5py.Group):
        f[root].visititems(lambda name, obj: items.__setitem__(f"{root.rstrip('/')}/{name}", obj))
    return items


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path_a, path_b = sys.argv[1], sys.argv[2]
    ignored = {a.split("=", 1)[1] for a in sys.argv[3:] if a.startswith("--ignore-attr=")}
    groups = [a for a in sys.argv[3:] if not a.startswith("--ignore-attr=")]
    fa, fb = h5py.File(path_a, "r"), h5py.File(path_b, "r")
    if not groups:
        groups = sorted(set(fa.keys()) | set(fb.keys()))
    problems, n_datasets, n_values, n_attrs = [], 0, 0, 0
    for group in groups:
        group = "/" + group.strip("/")
        for f, p in ((fa, path_a), (fb, path_b)):
            if group not in f:
                problems.append(f"{group} missing from {p}")
        if problems:
            continue
        a_items, b_items = collect(fa, group), collect(fb, group)
        for name in sorted(set(a_items) ^ set(b_items)):
            problems.append(f"{name} only in {path_a if name in a_items else path_b}")
        for name in sorted(set(a_items) & set(b_items)):
            oa, ob = a_items[name], b_items[name]
            if isinstance(oa, h5py.Dataset) != isinstance(ob, h5py.Dataset):
                problems.append(f"{name}: dataset in one file, group in the other")
                continue
            if isinstance(oa, h5py.Dataset):
                n_datasets += 1
                n_values += oa.size
                if not same(oa[()], ob[()]):
                    diff = ""
                    if oa.shape == ob.shape and oa.dtype.kind == "f":
                        bad = np.flatnonzero(oa[()] != ob[()])
                        diff = f" ({bad.size} of {oa.size} values differ, first at {bad[:3].tolist()})"
                    problems.append(f"{name}: data differ{diff}")
            for key in sorted((set(oa.attrs) ^ set(ob.attrs)) - ignored):
                problems.append(f"{name}: attribute {key} only in {path_a if key in oa.attrs else path_b}")
            for key in sorted((set(oa.attrs) & set(ob.attrs)) - ignored):
                n_attrs += 1
                if not same(oa.attrs[key], ob.attrs[key]):
                    problems.append(f"{name}: attribute {key}: {oa.attrs[key]!r} != {ob.attrs[key]!r}")
    if problems:
        print(f"{path_a} and {path_b} differ:")
        for p in problems[:40]:
            print("  " + p)
        sys.exit(1)
    skipped = f", ignoring attribute(s) {', '.join(sorted(ignored))}" if ignored else ""
    print(f"identical {' '.join(groups)}: {n_datasets} datasets ({n_values} values), {n_attrs} attributes{skipped}")


if __name__ == "__main__":
    main()
