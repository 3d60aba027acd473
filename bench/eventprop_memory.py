"""EventProp vs BPTT: peak memory and step time of one training step against sequence length.

The SHD-size LIF model with delays, ``SpikingNet(140, 20, ModelConfig(hidden=[128, 128],
neuron='CUBA', delays='interp', max_delay=25, dropout=0, delay_init='uniform'), seed=0)``
(140-128-128-20, per-synapse delays on every synapse, read-out included), its hidden weights
scaled (``calibrate_``) so each hidden layer fires ``--rate`` spikes per neuron and step on
the batch, Bernoulli input of density ``--density``, ``torch.set_num_threads(2)``. One
training step = forward, cross-entropy of the logits, backward:

- ``bptt``: ``model(x)`` with autograd (surrogate gradients; the float forward ranvier trains
  by default),
- ``eventprop``: the same model's grid forward through ``train/eventprop.py`` (event-driven
  forward, adjoint backward).

Each (method, T) runs in its own subprocess. Memory, two ways: ``kept``, the bytes held for
the backward pass (every tensor autograd saves, each storage once, counted by
``torch.autograd.graph.saved_tensors_hooks``; for EventProp also the spike records and input
events its Function keeps on its context): deterministic, the quantity that grows with T
x neurons for BPTT and with spikes for EventProp; and ``peak``, the peak RSS increase of the
steps over the RSS after building model, input and labels (VmHWM reset there through
/proc/self/clear_refs, minus VmRSS): what the process really needed, but the allocator
reuses freed memory, so values of a few MiB are noise. Time: the median of ``--repeats``
steps after one warm-up.
Also reported: the spikes of the step (what EventProp's memory grows with) and
``T x neurons x batch`` (what BPTT's grows with).

    .venv/bin/python bench/eventprop_memory.py [--steps 100 250 500 1000] [--batch 32]
                                               [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from machine_info import machine  # bench/ is on sys.path when run as a script

METHODS = ("bptt", "eventprop")


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def worker(method: str, steps: int, args: argparse.Namespace) -> dict:
    """One (method, T) measurement, in this process."""
    import torch
    from ranvier.train.config import ModelConfig
    from ranvier.train.eventprop import eventprop, model_net
    from ranvier.train.model import SpikingNet

    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = ModelConfig(
        hidden=[128, 128],
        neuron="CUBA",
        delays="interp",
        max_delay=args.max_delay,
        dropout=0.0,
        delay_init="uniform",
    )
    model = SpikingNet(140, 20, cfg, seed=0)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(args.batch, 140, steps, generator=gen) < args.density).float()
    y = torch.randint(0, 20, (args.batch,), generator=gen)
    model.calibrate_(x, args.rate)
    model.train()

    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        kept[storage.data_ptr()] = storage.nbytes()
        return t

    def step() -> int:
        """One training step; returns the bytes kept for the backward pass: every tensor
        autograd saves (each storage once), plus, for EventProp, what its Function keeps on
        its context (the spikes' records and the input's events)."""
        model.zero_grad(set_to_none=True)
        kept.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            if method == "bptt":
                logits, _, _ = model(x)
            else:
                net, params = model_net(model, False)
                logits, _, _ = eventprop(x, net, params)
        own = 0
        if method == "eventprop":
            node = logits.grad_fn  # the Function's context
            records = [t for layer in node.events for step in layer for t in step]
            records += [t for step in node.inputs for t in step]
            storages = {t.untyped_storage().data_ptr(): t.untyped_storage() for t in records}
            own = sum(st.nbytes() for ptr, st in storages.items() if ptr not in kept)
        torch.nn.functional.cross_entropy(logits, y).backward()
        return sum(kept.values()) + own

    baseline = _status_bytes("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    times = []
    for _ in range(args.repeats + 1):
        started = time.perf_counter()
        kept_bytes = step()
        times.append(time.perf_counter() - started)
    peak = _status_bytes("VmHWM") - baseline
    with torch.no_grad():
        _, hidden, _ = model(x)
        spikes = int(sum(float(h.sum()) for h in hidden))
    return {
        "method": method,
        "steps": steps,
        "batch": args.batch,
        "peak_mib": peak / 2**20,
        "kept_mib": kept_bytes / 2**20,
        "step_s": statistics.median(times[1:]),
        "hidden_spikes": spikes,
        "neuron_steps": args.batch * 256 * steps,
    }


def run(args: argparse.Namespace) -> dict:
    rows = []
    for steps in args.steps:
        for method in METHODS:
            cmd = [sys.executable, __file__, "--worker", method, "--worker-steps", str(steps)]
            cmd += ["--batch", str(args.batch), "--repeats", str(args.repeats)]
            cmd += ["--rate", str(args.rate), "--density", str(args.density)]
            cmd += ["--max-delay", str(args.max_delay)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"{method} T={steps} failed:\n{out.stderr[-2000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for steps in args.steps:
        pair = {r["method"]: r for r in rows if r["steps"] == steps}
        pair["eventprop"]["memory_ratio"] = pair["bptt"]["kept_mib"] / pair["eventprop"]["kept_mib"]
        pair["eventprop"]["time_ratio"] = pair["eventprop"]["step_s"] / pair["bptt"]["step_s"]
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "model": "140-128-128-20 CUBA LIF, per-synapse delays (interp) <= "
        f"{args.max_delay}, batch {args.batch}, input density {args.density}, "
        f"hidden rate {args.rate}",
        "rows": rows,
    }


def print_report(report: dict) -> None:
    print(f"# EventProp vs BPTT, one training step ({report['date']}, {report['machine']})")
    print(f"# {report['model']}")
    print(
        f"{'T':>6} {'method':>10} {'kept MiB':>10} {'peak MiB':>10} {'step s':>9} "
        f"{'spikes':>10} {'neuron-steps':>13} {'BPTT/EP kept':>13} {'EP/BPTT time':>13}"
    )
    for r in report["rows"]:
        mem = f"{r['memory_ratio']:.1f}x" if "memory_ratio" in r else ""
        tim = f"{r['time_ratio']:.1f}x" if "time_ratio" in r else ""
        print(
            f"{r['steps']:>6} {r['method']:>10} {r['kept_mib']:>10.1f} {r['peak_mib']:>10.1f} "
            f"{r['step_s']:>9.2f} {r['hidden_spikes']:>10} {r['neuron_steps']:>13} {mem:>13} "
            f"{tim:>13}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 250, 500, 1000])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--max-delay", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.worker_steps, args)))
        return 0
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
