"""PilotNet on ranvier and on lava-nc, side by side: samples/s, every layer compared.

Intel's PilotNet netx files (lava-dl's tutorials; tests/equivalence/data): ``lif`` (PilotNet
LIF: CUBA input neurons, 5 conv, flatten, 4 dense; 16 steps per sample with netx's
``reset_interval``, as Intel's tutorial and benchmark notebook stream it) and ``sdnn``
(PilotNet SDNN of the netx tutorial and benchmark notebook, sigma-delta, graded spikes).
Samples are streamed back to back, one frame per ``--steps`` steps, with netx's
``reset_interval`` (which resets the LIF layers and, as netx does, leaves the SDNN layers
running: a sigma-delta network streams frame differences); each frame is a
seeded stand-in image through the file's input transform (``2 w x - w + b``, int32; the
driving dataset cannot be fetched here), held on the input neurons' ``a_in``.

- ranvier: ``--streams`` independent streams of ``--samples`` frames batched in one
  ``simulate`` call (best of ``--repeats``): samples/s = streams x samples / wall.
- lava-nc: one stream of ``--lava-samples`` frames through lava-dl netx under
  ``Loihi2SimCfg(select_tag='fixed_pt')`` (bench/lava_worker.py in .venv-lava, network build
  and teardown included, lava's import not), the same input run by ranvier and compared on
  every layer (spikes, payloads).

    .venv/bin/python bench/pilotnet_throughput.py [--network lif|sdnn] [--streams 8]
        [--samples 8] [--lava-samples 2] [--steps 16] [--json]

Exit status 1 if any layer differs.
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

ROOT = Path(__file__).resolve().parents[1]
LAVA_PY = ROOT / ".venv-lava" / "bin" / "python"
DATA = ROOT / "tests" / "equivalence" / "data"
NETWORKS = {
    "lif": (DATA / "intel_pilotnet_lif.net", "PilotNet LIF (lava-dl pilotnet_snn/network.net)"),
    "sdnn": (
        DATA / "intel_pilotnet_sdnn_tutorial.net",
        "PilotNet SDNN (lava-dl tutorials/.../netx/pilotnet_sdnn/network.net, the benchmark "
        "notebook's)",
    ),
}


def frames(network, streams: int, samples: int, steps: int, seed: int) -> np.ndarray:
    """``(streams, C, samples * steps)``: each frame a stand-in image through netx's input
    transform, held for ``steps`` steps."""
    rng = np.random.default_rng(seed)
    transform = network.meta.get("input_transform", {"weight": 64, "bias": 0})
    w, b = transform["weight"], transform["bias"]
    pixels = rng.random((streams, network.n_in, samples))
    values = (2 * w * pixels - w + b).astype(np.int32).astype(np.int64)
    return np.repeat(values, steps, axis=2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", choices=NETWORKS, default="lif")
    ap.add_argument("--streams", type=int, default=8, help="ranvier: streams batched together")
    ap.add_argument("--samples", type=int, default=8, help="ranvier: frames per stream")
    ap.add_argument("--lava-samples", type=int, default=2, help="frames through lava-nc")
    ap.add_argument("--steps", type=int, default=16, help="steps per frame (reset interval)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    path, description = NETWORKS[args.network]
    network = read_netx(path)
    reset = (args.steps, 0)
    x = frames(network, args.streams, args.samples, args.steps, args.seed)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        simulate(network, x, reset=reset, keep_spikes=False)
        times.append(time.perf_counter() - t0)
    total = args.streams * args.samples
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "network": description,
        "steps_per_sample": args.steps,
        "ranvier": {
            "streams": args.streams,
            "samples": total,
            "best_wall_s": min(times),
            "all_wall_s": times,
            "samples_per_s": total / min(times),
        },
    }
    status = 0
    if args.lava_samples > 0:
        if not LAVA_PY.exists():
            report["lava"] = {"skipped": "no .venv-lava (make reference)"}
        else:
            work = Path(tempfile.mkdtemp(prefix="ranvier_pilotnet_"))
            xl = frames(network, 1, args.lava_samples, args.steps, args.seed + 1)
            np.save(work / "in.npy", xl)
            cmd = [str(LAVA_PY), str(ROOT / "bench" / "lava_worker.py"), str(path)]
            cmd += [str(work / "in.npy"), str(work / "out.npz"), str(reset[0]), str(reset[1])]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            lava = json.loads(proc.stdout.strip().splitlines()[-1])
            ref = np.load(work / "out.npz")
            ours = simulate(network, xl, reset=reset)
            differing = sum(
                int(np.count_nonzero(layer.spikes != ref[f"layer_{i}"]))
                for i, layer in enumerate(ours.layers)
            )
            entries = sum(int(ref[f"layer_{i}"].size) for i in range(len(ours.layers)))
            lava_sps = args.lava_samples / lava["wall_s"]
            report["lava"] = {
                "samples": args.lava_samples,
                "wall_s": lava["wall_s"],
                "import_s": lava["import_s"],
                "samples_per_s": lava_sps,
            }
            report["entries_compared"] = entries
            report["differing_entries"] = differing
            report["identical"] = differing == 0
            report["speedup_vs_lava"] = report["ranvier"]["samples_per_s"] / lava_sps
            status = 0 if differing == 0 else 1
    if args.json:
        print(json.dumps(report, indent=2))
        return status
    print(f"pilotnet_throughput  {report['date']}  {report['machine']}")
    print(f"{description}, {args.steps} steps per sample, reset between samples")
    print(f"{'backend':<10}{'samples':>9}{'wall s':>10}{'samples/s':>12}")
    r = report["ranvier"]
    print(f"{'ranvier':<10}{r['samples']:>9}{r['best_wall_s']:>10.3f}{r['samples_per_s']:>12.2f}")
    lv = report.get("lava", {})
    if "wall_s" in lv:
        print(f"{'lava-nc':<10}{lv['samples']:>9}{lv['wall_s']:>10.1f}{lv['samples_per_s']:>12.4f}")
        print(
            f"speedup_vs_lava {report['speedup_vs_lava']:.0f}x   identical: "
            f"{report['identical']} ({report['differing_entries']} of "
            f"{report['entries_compared']:,} entries differ)"
        )
    elif lv:
        print(f"lava-nc   {lv['skipped']}")
    return status


if __name__ == "__main__":
    sys.exit(main())
