"""Accuracy tables on the built-in ``tempo`` task, each variant over several seeds, with three
accuracies per run:

- float: the float network (continuous delays) on the test split, before quantization,
- QAT: the quantized torch forward after the quantization-aware epochs,
- file: the exported netx file run on ranvier's simulator (the deployed network).

QAT and file must be identical (verify's ``mismatches`` is printed too). Each run trains
with ``ranvier.train.loop.train`` (the code path of ``ranvier train``) in its own process,
from the ``demo`` preset with the variant's overrides; the processes and the accuracies are
``ranvier.train.sweep``'s (``run_parallel``, ``accuracies``, ``stats``), as ``ranvier sweep``
uses them.

Tables (``--table``):

- ``seed``: the seed's Table 1: LIF, AdLIF+, LIF + delays, AdLIF+ + delays (BPTT);
- ``recurrent``: LIF with delays trained by BPTT (interpolated and DCLS delays) and by
  EventProp, feed-forward and recurrent (issue 15); EventProp trains without dropout (it
  applies none), the BPTT variants keep the demo's 0.1.

    .venv/bin/python bench/ablation.py --table seed --seeds 3 --jobs 2 [--json]
    .venv/bin/python bench/ablation.py --table recurrent --seeds 3 --jobs 2 [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace

from ranvier.train.sweep import accuracies, run_parallel, stats

_LIF = {"neuron": "CUBA", "neuron_params": {"current_decay": 1.0}}
_EP = {"gradient": "eventprop"}
#: name: ([model] overrides, [train] overrides) of the demo preset
VARIANTS: dict[str, tuple[dict, dict]] = {
    "LIF": ({**_LIF, "delays": "none"}, {}),
    "AdLIF+": ({"neuron": "ADLIF", "delays": "none"}, {}),
    "LIF + delays": ({**_LIF, "delays": "interp"}, {}),
    "AdLIF+ + delays": ({"neuron": "ADLIF", "delays": "interp"}, {}),
    "LIF + DCLS delays": ({**_LIF, "delays": "dcls"}, {}),
    "LIF + delays (EventProp)": ({**_LIF, "delays": "interp", "dropout": 0.0}, _EP),
    "rec. LIF + delays": ({**_LIF, "delays": "interp", "recurrent": True}, {}),
    "rec. LIF + delays (EventProp)": (
        {**_LIF, "delays": "interp", "recurrent": True, "dropout": 0.0},
        _EP,
    ),
}
TABLES = {
    "seed": ["LIF", "AdLIF+", "LIF + delays", "AdLIF+ + delays"],
    "recurrent": [
        "LIF + delays",
        "LIF + DCLS delays",
        "LIF + delays (EventProp)",
        "rec. LIF + delays",
        "rec. LIF + delays (EventProp)",
    ],
}


def run_one(args: tuple[str, int, int, int]) -> dict:
    """Train one variant with one seed; returns its accuracies and counts."""
    import torch
    from ranvier.train.config import preset
    from ranvier.train.loop import train

    torch.set_num_threads(1)
    name, seed, epochs, qat_epochs = args
    model, train_overrides = VARIANTS[name]
    cfg = preset("demo")
    cfg.model = replace(cfg.model, **model)
    cfg.train = replace(
        cfg.train,
        seed=seed,
        epochs=epochs,
        qat_epochs=qat_epochs,
        verify_samples=0,
        **train_overrides,
    )
    cfg.check()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        summary = train(cfg, tmp)
    acc = accuracies(summary)
    return {
        "variant": name,
        "seed": seed,
        "float": acc["float"],
        "qat": acc["qat"],
        "file": acc["file"],
        "file_torch": acc["file_torch"],
        "mismatches": acc["mismatches"],
        "hidden_spikes_per_neuron": _spikes_per_neuron(summary["verify"], cfg),
        "seconds": time.perf_counter() - started,
    }


def _spikes_per_neuron(v: dict, cfg) -> float:
    hidden = v["layers"][:-1]
    neurons = sum(cfg.model.hidden)
    return sum(layer["spikes"] for layer in hidden) / max(1, neurons) / max(1, v["samples"])


def _stat(values: list[float]) -> str:
    s = stats([100 * v for v in values if v is not None])
    if not s["n"]:
        return "n/a"
    return f"{s['mean']:5.1f} ± {s['std']:4.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None, help="default: the demo preset's")
    ap.add_argument("--qat-epochs", type=int, default=None)
    ap.add_argument("--table", choices=tuple(TABLES), default="seed")
    ap.add_argument("--variants", default=None, help="comma-separated (default: the table's)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from ranvier.train.config import preset

    demo = preset("demo").train
    epochs = a.epochs or demo.epochs
    qat = demo.qat_epochs if a.qat_epochs is None else a.qat_epochs
    names = [n.strip() for n in a.variants.split(",")] if a.variants else TABLES[a.table]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    jobs = [(n, s, epochs, qat) for s in range(a.seeds) for n in names]
    outcomes = run_parallel(run_one, [(job,) for job in jobs], a.jobs)
    for job, outcome in zip(jobs, outcomes, strict=True):
        if not outcome.ok:
            raise RuntimeError(f"{job[0]}, seed {job[1]}: {outcome.error}")
    runs = [outcome.value for outcome in outcomes]
    table = []
    for n in names:
        rows = [r for r in runs if r["variant"] == n]
        table.append(
            {
                "variant": n,
                "seeds": len(rows),
                "float": _stat([r["float"] for r in rows]),
                "qat": _stat([r["qat"] for r in rows]),
                "file": _stat([r["file"] for r in rows]),
                "file_equals_qat": all(r["file"] == r["qat"] for r in rows),
                "mismatches": sum(r["mismatches"] for r in rows),
                "minutes": statistics.mean(r["seconds"] for r in rows) / 60,
                "spikes_per_neuron": statistics.mean(r["hidden_spikes_per_neuron"] for r in rows),
            }
        )
    result = {"epochs": epochs, "qat_epochs": qat, "runs": runs, "table": table}
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"tempo, demo preset, {epochs} epochs ({qat} QAT), accuracy % mean ± std over seeds")
    head = (
        "variant",
        "seeds",
        "float",
        "QAT",
        "file (sim)",
        "file==QAT",
        "mismatches",
        "sp/neuron",
        "min/run",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in table:
        print(
            f"| {r['variant']} | {r['seeds']} | {r['float']} | {r['qat']} | {r['file']} | "
            f"{'yes' if r['file_equals_qat'] else 'NO'} | {r['mismatches']} | "
            f"{r['spikes_per_neuron']:.2f} | {r['minutes']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
