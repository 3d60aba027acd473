"""Long single-sample runs of the SHD-size network: time per step and peak memory against T.

The shipped example ``examples/shd_like.net`` (140-128-128-20 CUBA, per-synapse delays 0..25)
runs one sample of T = 1,000 / 10,000 / 100,000 / 1,000,000 steps of random input (density
0.05) in the default chunks (``hw_models.simulator.chunk_steps``). Each T runs in a fresh
process so its peak resident memory (``ru_maxrss``) is its own; the run keeps only counters
(``keep_spikes=False``), so what grows with T is the input itself (1 byte per channel and step,
reported separately). Every run is checked against a second run in chunks of a different,
odd length (``--check-chunk``, default 777 steps): spike counts and synaptic events of every
layer must be identical.

    .venv/bin/python bench/long_run.py [--steps 1000 10000 100000 1000000] [--json]

Before streaming (issue 12), one sample of T = 10,000 took 2.9 GB and 20 s, T = 20,000 11.1 GB
and 97 s, and T = 100,000 failed asking for 37 GiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NET = ROOT / "examples" / "shd_like.net"


def one_run(steps: int, check_chunk: int, seed: int) -> dict:
    """Run T = ``steps`` in this process; time, peak RSS, counters, and the check."""
    from ranvier.convert import read_netx
    from ranvier.hw_models import simulate
    from ranvier.hw_models.simulator import chunk_steps

    network = read_netx(NET)
    rng = np.random.default_rng(seed)
    x = np.empty((1, network.n_in, steps), np.uint8)
    for t0 in range(0, steps, 65_536):  # drawn in blocks: no float64 array of the whole input
        t1 = min(t0 + 65_536, steps)
        x[:, :, t0:t1] = rng.random((1, network.n_in, t1 - t0)) < 0.05
    t0 = time.perf_counter()
    result = simulate(network, x, keep_spikes=False)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    check = simulate(network, x, keep_spikes=False, chunk=check_chunk)
    identical = all(
        np.array_equal(a.spike_counts, b.spike_counts)
        and np.array_equal(a.synaptic_events, b.synaptic_events)
        for a, b in zip(result.layers, check.layers, strict=True)
    )
    return {
        "steps": steps,
        "chunk": chunk_steps(network, 1, steps),
        "wall_s": wall,
        "us_per_step": wall / steps * 1e6,
        "peak_rss_mib": peak_kib / 1024,
        "input_mib": x.nbytes / 2**20,
        "spikes_per_layer": [int(layer.spike_counts.sum()) for layer in result.layers],
        "check_chunk": check_chunk,
        "identical_to_check": identical,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--check-chunk", type=int, default=777)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one T
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one_run(args.one, args.check_chunk, args.seed)))
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from machine_info import machine

    rows = []
    for steps in args.steps:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(steps), "--check-chunk", str(args.check_chunk)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "network": "examples/shd_like.net (140-128-128-20 CUBA, delays 0..25), 1 sample",
        "runs": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"long_run  {report['date']}  {report['machine']}")
        print(report["network"])
        head = ("steps", "chunk", "wall s", "us/step", "peak RSS MiB", "input MiB", "identical")
        print("".join(f"{h:>14}" for h in head))
        for r in rows:
            print(
                f"{r['steps']:>14,}{r['chunk']:>14}{r['wall_s']:>14.2f}{r['us_per_step']:>14.1f}"
                f"{r['peak_rss_mib']:>14.0f}{r['input_mib']:>14.1f}{r['identical_to_check']!s:>14}"
            )
    return 0 if all(r["identical_to_check"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
