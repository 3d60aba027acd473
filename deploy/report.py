"""Per-neuron spike-rate and energy reports: report.json, neurons.csv and plots.

``ranvier run NET --input X --report DIR`` writes a report of the run; ``ranvier report DIR``
prints it again and re-draws the plots; ``--compare DIR2`` puts two side by side. Every file is
written atomically. The JSON schema is versioned (``schema_version``) and documented in
docs/report.md.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
from ranvier.convert.atomic import atomic_path
from ranvier.hw_models import Network, SimResult
from ranvier.hw_models.energy import CostProfile, energy_breakdown
from ranvier.hw_models.metrics import compute_metrics

SCHEMA_VERSION = 1
PLOTS = ("raster.png", "rate_histogram.png", "energy.png", "delay_histogram.png")


class ReportError(ValueError):
    """A report directory that cannot be written or read; one line naming the path."""


def build_report(
    network: Network,
    result: SimResult,
    profile: CostProfile,
    *,
    network_path: str = "",
    input_path: str = "",
) -> dict:
    """The report as a JSON-ready dict (schema in docs/report.md)."""
    energy = energy_breakdown(network, result, profile, result.timesteps)
    ts_ms = float(network.meta.get("Ts", 1.0)) or 1.0
    n, t = result.samples, result.timesteps
    seconds = n * t * ts_ms / 1000.0  # simulated time, all samples
    layers = []
    for i, (block, layer, en) in enumerate(
        zip(network.blocks, result.layers, energy.layers, strict=True)
    ):
        counts = layer.spike_counts.sum(axis=0)  # (N, C) per sample -> per neuron
        delay_hist = block.synapse.delay_histogram()
        layers.append(
            {
                "name": layer.name,
                "neurons": block.neurons.n,
                "spikes": int(counts.sum()),
                "synaptic_events": int(layer.synaptic_events.sum()),
                "neuron_updates": int(layer.neuron_updates.sum()),
                "energy_j": en.total_j,
                "energy_by_operation_j": dict(en.energy_j),
                "cores": en.cores,
                "spike_counts": counts.astype(int).tolist(),
                "spike_rate_hz": (counts / seconds).tolist() if seconds else [],
                "fan_out": network.fan_out(i).tolist(),
                "synaptic_events_caused": en.events_caused.astype(int).tolist(),
                "neuron_energy_j": en.neuron_energy_j.tolist(),
                "delay_histogram": delay_hist.astype(int).tolist(),
                "neuron": block.neurons.neuron_type,
                "neuron_parameters": neuron_parameters(block.neurons),
            }
        )
    step_s = profile.step_s
    return {
        "schema_version": SCHEMA_VERSION,
        "network": network_path,
        "input": input_path,
        "profile": {
            "name": profile.name,
            "costs": profile.costs(),
            "step_s": step_s,
            "estimated": list(profile.estimated),
            "source": profile.source,
        },
        "timesteps": t,
        "samples": n,
        "ts_ms": ts_ms,
        "layers": layers,
        "totals": {
            "spikes": sum(layer["spikes"] for layer in layers),
            "synaptic_events": sum(layer["synaptic_events"] for layer in layers),
            "neuron_updates": sum(layer["neuron_updates"] for layer in layers),
            "energy_j": energy.total_j,
            "energy_per_sample_j": energy.per_sample_j,
            "energy_by_operation_j": dict(energy.by_operation),
            "latency_s": t * step_s if step_s else None,
            "cores": energy.resources.cores,
        },
        "metrics": compute_metrics(network, result),
        "resources": energy.resources.as_dict(),
    }


def _csv_text(report: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "layer",
            "index",
            "spikes",
            "rate_hz",
            "fan_out",
            "synaptic_events_caused",
            "energy_j",
            "energy_share",
        ]
    )
    total = report["totals"]["energy_j"] or 1.0
    for layer in report["layers"]:
        for i, spikes in enumerate(layer["spike_counts"]):
            energy = layer["neuron_energy_j"][i]
            w.writerow(
                [
                    layer["name"],
                    i,
                    spikes,
                    f"{layer['spike_rate_hz'][i]:.6g}",
                    layer["fan_out"][i],
                    layer["synaptic_events_caused"][i],
                    f"{energy:.6g}",
                    f"{energy / total:.6g}",
                ]
            )
    return buf.getvalue()


def write_report(directory: str | os.PathLike, report: dict, raster: list[np.ndarray]) -> Path:
    """Write report.json, neurons.csv, raster.npz (sample 0) and the plots into ``directory``."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".ranvier_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReportError(f"{d}: report directory is not writable ({exc.strerror})") from None
    with atomic_path(d / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    with atomic_path(d / "neurons.csv") as tmp:
        tmp.write_text(_csv_text(report))
    buf = io.BytesIO()
    np.savez_compressed(buf, **{f"layer_{i}": a.astype(np.uint8) for i, a in enumerate(raster)})
    with atomic_path(d / "raster.npz") as tmp:
        tmp.write_bytes(buf.getvalue())
    draw_plots(d, report)
    return d


def load_report(directory: str | os.PathLike) -> dict:
    """Read and check a report directory written by :func:`write_report`."""
    path = Path(directory) / "report.json"
    if not path.exists():
        raise ReportError(f"{path}: no such file (not a ranvier report directory?)")
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable report ({exc})") from None
    version = report.get("schema_version") if isinstance(report, dict) else None
    if version != SCHEMA_VERSION:
        raise ReportError(f"{path}: schema_version {version!r} is not {SCHEMA_VERSION}")
    for key in ("layers", "totals", "profile", "timesteps", "samples"):
        if key not in report:
            raise ReportError(f"{path}: field '{key}' missing")
    return report


def neuron_parameters(neurons) -> dict[str, list[float]]:
    """Per-neuron parameters of a layer in their model units (the unit's
    ``model_parameters``: AdLIF+ alpha, beta, a, b; ALIF's decays as fractions per step and
    ``vth_step / vth_mant``; empty for CUBA). These are what the seed's appendix plots."""
    return {
        key: np.asarray(v, dtype=np.float64).tolist()
        for key, v in neurons.model_parameters().items()
    }


def draw_plots(directory: str | os.PathLike, report: dict) -> list[Path]:
    """Raster (sample 0), per-neuron rate histogram, energy by layer/operation, delay histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(directory)
    layers = report["layers"]
    written = []

    def save(fig, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        with atomic_path(d / name) as tmp:
            tmp.write_bytes(buf.getvalue())
        written.append(d / name)

    raster_path = d / "raster.npz"
    if raster_path.exists():
        with np.load(raster_path) as data:
            rasters = [data[f"layer_{i}"] for i in range(len(layers)) if f"layer_{i}" in data]
        fig, axes = plt.subplots(
            len(rasters), 1, figsize=(8, 1.6 * len(rasters) + 0.6), sharex=True, squeeze=False
        )
        for ax, layer, spikes in zip(axes[:, 0], layers, rasters, strict=False):
            idx, t = np.nonzero(spikes)
            ax.scatter(t, idx, s=1.5, marker="|", color="k")
            ax.set_ylabel(f"{layer['name']}\nneuron")
            ax.set_ylim(-0.5, layer["neurons"] - 0.5)
        axes[-1, 0].set_xlabel("time step")
        axes[0, 0].set_title("spike raster, sample 0")
        save(fig, "raster.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for layer in layers:
        ax.hist(layer["spike_rate_hz"], bins=30, histtype="step", label=layer["name"])
    ax.set_xlabel(f"spike rate (Hz, Ts = {report.get('ts_ms', 1.0)} ms)")
    ax.set_ylabel("neurons")
    ax.legend()
    ax.set_title("per-neuron spike rate")
    save(fig, "rate_histogram.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ops = list(layers[0]["energy_by_operation_j"]) if layers else []
    bottom = np.zeros(len(layers))
    names = [layer["name"] for layer in layers]
    for op in ops:
        vals = np.array([layer["energy_by_operation_j"][op] for layer in layers]) * 1e6
        ax.bar(names, vals, bottom=bottom, label=op)
        bottom += vals
    ax.set_ylabel("energy (µJ, all samples)")
    ax.set_title(f"energy by layer and operation · profile {report['profile']['name']}")
    ax.legend()
    save(fig, "energy.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for layer in layers:
        hist = layer["delay_histogram"]
        ax.step(np.arange(len(hist)), hist, where="mid", label=layer["name"])
    ax.set_xlabel("synaptic delay (steps)")
    ax.set_ylabel("non-zero synapses")
    ax.set_title("delay histogram per layer")
    ax.legend()
    save(fig, "delay_histogram.png")

    adaptive = [layer for layer in layers if layer.get("neuron_parameters")]
    if adaptive:
        cols = max(len(layer["neuron_parameters"]) for layer in adaptive)
        fig, axes = plt.subplots(
            len(adaptive), cols, figsize=(2.6 * cols, 2.2 * len(adaptive)), squeeze=False
        )
        for row, layer in zip(axes, adaptive, strict=True):
            for ax in row[len(layer["neuron_parameters"]) :]:
                ax.axis("off")
            for ax, (key, values) in zip(row, layer["neuron_parameters"].items(), strict=False):
                ax.hist(values, bins=20, color="tab:blue")
                ax.set_title(f"{layer['name']} ({layer['neuron']}): {key}", fontsize=8)
                ax.tick_params(labelsize=7)
        fig.suptitle("per-neuron parameters of adaptive layers")
        fig.tight_layout()
        save(fig, "neuron_parameters.png")
    return written


def summary_rows(report: dict) -> list[tuple[str, int, int, float, int, float]]:
    """(layer, neurons, spikes, mean rate Hz, synaptic events, energy J) per layer."""
    rows = []
    for layer in report["layers"]:
        rates = layer["spike_rate_hz"]
        rows.append(
            (
                layer["name"],
                layer["neurons"],
                layer["spikes"],
                float(np.mean(rates)) if rates else 0.0,
                layer["synaptic_events"],
                layer["energy_j"],
            )
        )
    return rows
