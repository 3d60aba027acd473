"""Neuron-only forward + backward time of one SHD-size layer: the floor the neuron recurrence
puts under a training step, torch reference loop against the fused kernels (train/fused).

B = 128, n = 128, T = 125; AdLIF+, CUBA and ALIF, float (float32, threshold units) and
quantized (float64 integers, vth_mant = 256); random input giving a few to a few tens of
percent of spiking bins; the backward takes random upstream gradients g_s, g_v on both
outputs (``torch.autograd.backward``, no loss ops timed), so every path of it is taken.
``torch.set_num_threads(2)`` (the training setting). Each cell is the best of ``--repeats``
runs after one warm-up (the dev machine is shared: the best is the stablest statistic), the
two paths interleaved. Before timing, the fused spikes and voltages are checked equal to the
reference's.

    .venv/bin/python bench/neuron_floor.py [--repeats 5] [--json]

On the 2-core dev machine (AMD EPYC, AVX2, torch 2.13 CPU; fused build: 32 float / 16 double
lanes per tile), best of 5, ms per forward + backward:

    neuron  mode        rate  reference ms  fused ms  speed-up
    adlif   float      0.028         106.5       9.0       12x
    adlif   quantized  0.028         189.8      17.7       11x
    cuba    float      0.163          91.6       8.5       11x
    cuba    quantized  0.163         166.2      13.3       13x
    alif    float      0.336         114.8      10.0       12x
    alif    quantized  0.336         223.2      19.8       11x

The machine is shared: under load from other processes the reference (thousands of small
2-thread ops, each waiting for a descheduled thread) slows far more than the fused kernels
(seen: reference 0.5-5 s quantized, fused 30-60 ms).
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
from ranvier.train import fused
from ranvier.train.neurons import AdlifNeuron, AlifNeuron, CubaNeuron

B, N, T = 128, 128, 125
VTH_MANT = 256
#: Input (mean, spread) in threshold units per neuron type: moderate firing rates.
DRIVE = {"adlif": (0.6, 2.0), "cuba": (0.05, 0.3), "alif": (0.06, 0.3)}


def make(kind: str, quantized: bool, seed: int = 0):
    """A neuron group, its input (requiring grad) and the upstream gradients."""
    gen = torch.Generator().manual_seed(seed)
    neuron = {
        "adlif": lambda: AdlifNeuron(N, generator=gen),
        "cuba": lambda: CubaNeuron(N),
        "alif": lambda: AlifNeuron(N),
    }[kind]()
    mean, spread = DRIVE[kind]
    a = mean + spread * torch.randn(B, N, T, generator=gen, dtype=torch.float64)
    if quantized:  # integer synaptic input at scale vth_mant
        a = torch.round(a * VTH_MANT)
    else:
        a = a.float()
    dtype = a.dtype
    grads = [torch.randn(B, N, T, generator=gen, dtype=dtype) for _ in range(2)]
    return neuron, a.requires_grad_(True), grads


def step(neuron, a, grads, quantized: bool, reference: bool) -> torch.Tensor:
    """One forward + backward; returns the spikes."""
    forward = neuron._forward_reference if reference else neuron.forward
    s, v = forward(a, quantized, VTH_MANT)
    torch.autograd.backward((s, v), grads)
    return s.detach()


def measure(kind: str, quantized: bool, repeats: int) -> dict:
    neuron, a, grads = make(kind, quantized)
    paths = {"reference": True}
    if fused.available():
        paths["fused"] = False
        ref_s, ref_v = neuron._forward_reference(a.detach(), quantized, VTH_MANT)
        s, v = neuron(a.detach(), quantized, VTH_MANT)
        assert torch.equal(s, ref_s) and torch.equal(v, ref_v), f"{kind}: fused != reference"
    times: dict[str, list[float]] = {p: [] for p in paths}
    rate = 0.0
    for r in range(repeats + 1):
        for path, reference in paths.items():
            neuron.zero_grad()
            a.grad = None
            start = time.perf_counter()
            spikes = step(neuron, a, grads, quantized, reference)
            if r:  # the first round warms up
                times[path].append(time.perf_counter() - start)
            rate = float(spikes.mean())
    row = {"neuron": kind, "mode": "quantized" if quantized else "float", "rate": rate}
    for path, ts in times.items():
        row[f"{path}_ms"] = 1e3 * min(ts)
        row[f"{path}_median_ms"] = 1e3 * statistics.median(ts)
    if "fused_ms" in row:
        row["speedup"] = row["reference_ms"] / row["fused_ms"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = [
        measure(kind, quantized, args.repeats)
        for kind in ("adlif", "cuba", "alif")
        for quantized in (False, True)
    ]
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "shape": {"batch": B, "neurons": N, "steps": T},
        "fused": fused.available(),
        "fused_error": fused.load_error(),
        "lanes": int(torch.ops.ranvier_fused.lanes()) if fused.available() else None,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"neuron forward + backward, B={B} n={N} T={T}; {result['machine']}")
    if not result["fused"]:
        print(f"fused kernels not available: {result['fused_error']}")
    header = ("neuron", "mode", "rate", "reference ms", "fused ms", "speed-up")
    print("{:7} {:10} {:>6} {:>13} {:>9} {:>9}".format(*header))
    for row in rows:
        fused_ms = f"{row['fused_ms']:9.1f}" if "fused_ms" in row else f"{'-':>9}"
        speedup = f"{row['speedup']:8.0f}x" if "speedup" in row else f"{'-':>9}"
        print(
            f"{row['neuron']:7} {row['mode']:10} {row['rate']:6.3f} "
            f"{row['reference_ms']:13.1f} {fused_ms} {speedup}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
