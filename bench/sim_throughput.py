"""Simulator throughput: ranvier against lava-nc on the SHD-size network, side by side.

``--network shd`` (default): 140-128-128-20 CUBA with per-synapse delays 0..25 and SLAYER-style
8-bit weights (testing/random_netx.py::shd_like_spec, thresholds calibrated to ~5% activity),
T=125. ``--network shd_recurrent``: 140-512-20 CUBA whose hidden layer is recurrent
(``dense_rec``, per-synapse feed-forward and recurrent delays 0..62; shd_recurrent_spec, ~5%
activity), T=100, the configuration Mészáros et al. (2025) ran on Loihi 2; lava runs it
through ranvier's lava reference (netx's blocks, with the recurrent synapse wired as the chip
runs it: deploy/lava/recurrent_block.py).
N samples run through ranvier's simulator, a few through lava-nc (lava-dl netx +
Loihi2SimCfg fixed_pt, in .venv-lava, via bench/lava_worker.py) in the same invocation; the
lava samples are also run by ranvier and every layer's spikes must be identical.

    .venv/bin/python bench/sim_throughput.py [--network shd|shd_recurrent] [--samples 1000]
                                             [--lava-samples 3] [--density 0.05] [--json]

Prints samples/s for both and ``speedup_vs_lava``; ``--json`` prints the same as JSON.
Exit status 1 if the outputs differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from machine_info import machine  # bench/ is on sys.path when run as a script
from ranvier.convert import read_netx
from ranvier.hw_models import simulate
from ranvier.testing.random_netx import (
    random_spikes,
    shd_like_spec,
    shd_recurrent_spec,
    write_spec,
)

ROOT = Path(__file__).resolve().parents[1]
LAVA_PY = ROOT / ".venv-lava" / "bin" / "python"


NETWORKS = {
    # name: (spec maker, default T, default input density, description)
    "shd": (shd_like_spec, 125, 0.05, "140-128-128-20 CUBA, per-synapse delays 0..25"),
    "shd_recurrent": (
        shd_recurrent_spec,
        100,
        0.03,
        "140-512(recurrent)-20 CUBA, per-synapse feed-forward and recurrent delays 0..62",
    ),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", choices=NETWORKS, default="shd", help="benchmark network")
    ap.add_argument("--samples", type=int, default=1000, help="samples through ranvier")
    ap.add_argument("--lava-samples", type=int, default=3, help="samples through lava-nc")
    ap.add_argument(
        "--density", type=float, default=None, help="input spike probability/bin (0.05, 0.03)"
    )
    ap.add_argument("--timesteps", type=int, default=None, help="default 125 (shd), 100")
    ap.add_argument("--repeats", type=int, default=3, help="ranvier repeats (best is kept)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    make, t_default, density, description = NETWORKS[args.network]
    args.timesteps = args.timesteps or t_default
    args.density = density if args.density is None else args.density
    spec, _ = make(rng, timesteps=args.timesteps)
    work = Path(tempfile.mkdtemp(prefix="ranvier_bench_"))
    net_path = work / f"{args.network}.net"
    write_spec(spec, net_path)
    network = read_netx(net_path)
    x = random_spikes(rng, 140, args.timesteps, args.density, samples=args.samples)

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = simulate(network, x)
        times.append(time.perf_counter() - t0)
    ranvier_s = min(times)
    ranvier_sps = args.samples / ranvier_s

    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "network": description,
        "timesteps": args.timesteps,
        "input_density": args.density,
        "ranvier": {
            "samples": args.samples,
            "best_wall_s": ranvier_s,
            "all_wall_s": times,
            "samples_per_s": ranvier_sps,
            "spike_rate_per_layer": [float(layer.spikes.mean()) for layer in result.layers],
        },
    }
    status = 0
    if args.lava_samples > 0:
        if not LAVA_PY.exists():
            report["lava"] = {"skipped": "no .venv-lava (make reference)"}
        else:
            xl = x[: args.lava_samples]
            np.save(work / "lava_in.npy", xl)
            proc = subprocess.run(
                [
                    str(LAVA_PY),
                    str(ROOT / "bench" / "lava_worker.py"),
                    str(net_path),
                    str(work / "lava_in.npy"),
                    str(work / "lava_out.npz"),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            lava = json.loads(proc.stdout.strip().splitlines()[-1])
            ref = np.load(work / "lava_out.npz")
            ours = simulate(network, xl)
            mismatches = sum(
                int(np.count_nonzero(layer.spikes != ref[f"layer_{i}"]))
                for i, layer in enumerate(ours.layers)
            )
            lava_sps = lava["samples"] / lava["wall_s"]
            report["lava"] = {
                "samples": lava["samples"],
                "wall_s": lava["wall_s"],
                "import_s": lava["import_s"],
                "samples_per_s": lava_sps,
            }
            report["mismatching_spike_bins"] = mismatches
            report["bit_identical"] = mismatches == 0
            report["speedup_vs_lava"] = ranvier_sps / lava_sps
            status = 0 if mismatches == 0 else 1

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"sim_throughput  {report['date']}  {report['machine']}")
        print(f"network {report['network']}, T={args.timesteps}, input density {args.density}")
        print(f"{'backend':<10}{'samples':>9}{'wall s':>10}{'samples/s':>12}")
        r = report["ranvier"]
        print(
            f"{'ranvier':<10}{r['samples']:>9}{r['best_wall_s']:>10.3f}{r['samples_per_s']:>12.1f}"
        )
        lv = report.get("lava", {})
        if "wall_s" in lv:
            print(
                f"{'lava-nc':<10}{lv['samples']:>9}{lv['wall_s']:>10.3f}{lv['samples_per_s']:>12.3f}"
            )
            print(
                f"speedup_vs_lava {report['speedup_vs_lava']:.0f}x   "
                f"bit-identical: {report['bit_identical']} "
                f"({report['mismatching_spike_bins']} mismatching spike bins)"
            )
        elif lv:
            print(f"lava-nc   {lv['skipped']}")
    return status


if __name__ == "__main__":
    sys.exit(main())
