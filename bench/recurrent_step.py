"""Training step time of a recurrent block with delays against the same block feed-forward.

One training step (forward, cross-entropy of the logits, backward, Adam step), BPTT, CUBA
neurons, per-synapse delays (interp) on every synapse, Bernoulli input of density 0.05,
``torch.set_num_threads(2)``, in the float phase and in the quantized phase
(``start_qat``). Two sizes: the built-in task's (32 inputs, one hidden layer of 64, 8
classes, max_delay 25, batch 64, T = 80 + 25) and the SHD recurrent configuration
(140 inputs, one hidden layer of 512, 20 classes, max_delay 62, batch 32, T = 100 + 62).
The recurrent block adds ``weight_rec``/``delay_rec`` (n, n) computed step by step
(train/recurrent.py); the feed-forward synapses stay whole-sequence (train/delays.py). The
variants of one size run interleaved, round-robin, so load from other processes hits all
alike; the median of ``--repeats`` rounds after one warm-up round.

    .venv/bin/python bench/recurrent_step.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone

import torch
from machine_info import machine  # bench/ is on sys.path when run as a script
from ranvier.train.config import ModelConfig
from ranvier.train.model import SpikingNet

SIZES = {
    "tempo (32-64-8, D=25, B=64, T=105)": (32, 64, 8, 25, 64, 105),
    "SHD-rec (140-512-20, D=62, B=32, T=162)": (140, 512, 20, 62, 32, 162),
}


def make_step(n_in, hidden, classes, max_delay, batch, steps, recurrent, quantized):
    torch.manual_seed(0)
    cfg = ModelConfig(
        hidden=[hidden],
        neuron="CUBA",
        delays="interp",
        max_delay=max_delay,
        delay_init="uniform",
        dropout=0.0,
        recurrent=recurrent,
    )
    model = SpikingNet(n_in, classes, cfg, seed=0)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(batch, n_in, steps, generator=gen) < 0.05).float()
    y = torch.randint(0, classes, (batch,), generator=gen)
    model.calibrate_(x, 0.05)
    if quantized:
        model.start_qat()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> float:
        started = time.perf_counter()
        logits, _, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - started

    return step


def run(repeats: int) -> dict:
    torch.set_num_threads(2)
    rows = []
    for size, dims in SIZES.items():
        variants = {
            (rec, q): make_step(*dims, recurrent=rec, quantized=q)
            for q in (False, True)
            for rec in (False, True)
        }
        times: dict = {key: [] for key in variants}
        for round_ in range(repeats + 1):
            for key, step in variants.items():
                t = step()
                if round_:
                    times[key].append(t)
        for q in (False, True):
            ff, rec = statistics.median(times[(False, q)]), statistics.median(times[(True, q)])
            rows.append(
                {
                    "size": size,
                    "phase": "quantized" if q else "float",
                    "feed_forward_s": ff,
                    "recurrent_s": rec,
                    "ratio": rec / ff,
                }
            )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "repeats": repeats,
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.repeats)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"# recurrent vs feed-forward training step ({report['date']}, {report['machine']})")
    print(f"{'size':<42} {'phase':<10} {'feed-forward s':>15} {'recurrent s':>12} {'ratio':>6}")
    for r in report["rows"]:
        print(
            f"{r['size']:<42} {r['phase']:<10} {r['feed_forward_s']:>15.3f} "
            f"{r['recurrent_s']:>12.3f} {r['ratio']:>5.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
