"""NeuroBench's metrics on a trained model next to ranvier's, from the same samples.

NeuroBench 2.3.0 counts with its own hooks on the checkpoint's quantized torch forward
(``ranvier.train.neurobench_view``); ranvier counts from the bit-accurate simulator's
counters on the exported netx file (``hw_models.metrics``). Prints a table (or ``--json``)
and exits 1 when any compared metric differs.

    .venv/bin/python bench/neurobench_check.py runs/demo [--samples 256] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
from machine_info import machine


def compare(run_dir: Path, samples: int) -> dict:
    """Both sets of metrics on the first ``samples`` verified test samples of a run."""
    from ranvier.hw_models import simulate
    from ranvier.hw_models.metrics import compute_metrics
    from ranvier.hw_models.readout import predict
    from ranvier.train.checkpoint import load_checkpoint
    from ranvier.train.export import export_model
    from ranvier.train.neurobench_view import run_neurobench

    best = run_dir / "best.pt" if (run_dir / "best.pt").exists() else run_dir
    loaded = load_checkpoint(best)
    x = np.load(run_dir / "test_input.npy")[:samples]
    y = np.load(run_dir / "test_labels.npy")[:samples]
    with tempfile.TemporaryDirectory() as tmp:
        network = export_model(loaded.model, Path(tmp) / "model.net")
    result = simulate(network, x, record=[-1])
    ours = compute_metrics(network, result)
    theirs = run_neurobench(loaded.model, x, y)
    ops, nb_ops = ours["synaptic_operations"], theirs["SynapticOperations"]
    rows = [
        ("Effective_ACs per sample", nb_ops["Effective_ACs"], ops["Effective_ACs"], 0.0),
        ("Effective_MACs per sample", nb_ops["Effective_MACs"], ops["Effective_MACs"], 0.0),
        ("Dense per sample", nb_ops["Dense"], ops["Dense"], 0.0),
        ("activation sparsity", theirs["ActivationSparsity"], ours["activation_sparsity"], 1e-12),
        (
            "connection sparsity (4 decimals)",
            theirs["ConnectionSparsity"],
            round(ours["connection_sparsity"], 4),
            0.0,
        ),
        (
            "classification accuracy",
            theirs["ClassificationAccuracy"],
            float(np.mean(predict(network, result) == y)),
            1e-6,  # NeuroBench averages float32 batch accuracies
        ),
    ]
    table = [
        {
            "metric": name,
            "neurobench": float(a),
            "ranvier": float(b),
            "equal": math.isclose(a, b, rel_tol=tol, abs_tol=tol),
        }
        for name, a, b, tol in rows
    ]
    return {"run": str(run_dir), "samples": len(x), "machine": machine(), "metrics": table}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a training run directory (ranvier train --out)")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    out = compare(a.run_dir, a.samples)
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['run']}, {out['samples']} samples, {out['machine']}")
        print("| metric | NeuroBench 2.3.0 (torch model) | ranvier (simulator, file) | equal |")
        print("|---|---|---|---|")
        for r in out["metrics"]:
            print(f"| {r['metric']} | {r['neurobench']:.6g} | {r['ranvier']:.6g} | {r['equal']} |")
    return 0 if all(r["equal"] for r in out["metrics"]) else 1


if __name__ == "__main__":
    sys.exit(main())
