"""Compare two netx HDF5 files dataset by dataset: name, dtype, shape and values.

Used to show that a change leaves exported files unchanged (``python bench/netx_diff.py A B``
prints one row per dataset and exits 1 on any difference; ``--json`` for scripts). Attributes
and the HDF5 container's own bytes (creation times, layout) are not compared: two files with
equal datasets load into the same network.
"""

from __future__ import annotations

import argparse
import json
import sys

import h5py
import numpy as np


def datasets(path: str) -> dict[str, np.ndarray]:
    """Every dataset of the file by its full name."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                out.__setitem__(name, np.asarray(obj[()]))
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    return out


def compare(a: str, b: str) -> list[dict]:
    """One row per dataset name present in either file."""
    da, db = datasets(a), datasets(b)
    rows = []
    for name in sorted(set(da) | set(db)):
        x, y = da.get(name), db.get(name)
        same = (
            x is not None
            and y is not None
            and x.dtype == y.dtype
            and x.shape == y.shape
            and x.tobytes() == y.tobytes()
        )
        rows.append(
            {
                "dataset": name,
                "dtype": None if x is None else str(x.dtype),
                "shape": None if x is None else list(x.shape),
                "identical": bool(same),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = compare(args.a, args.b)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            mark = "identical" if r["identical"] else "DIFFERENT"
            print(f"{r['dataset']:<28} {r['dtype']!s:<8} {r['shape']!s:<12} {mark}")
        same = sum(r["identical"] for r in rows)
        print(f"{same} of {len(rows)} datasets identical (bytes, dtype, shape)")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
