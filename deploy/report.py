"""Per-neuron spike-rate and energy reports: report.json, neurons.csv and plots.

``ranvier run NET --input X --report DIR`` writes a report of the run; ``ranvier report DIR``
prints it again (``--redraw`` re-draws the plots); ``--compare DIR2`` puts two side by side,
layer by layer, with the differences. The JSON schema is versioned (``schema_version``) and
documented in docs/report.md.

A report directory is written as one set: every file goes into a fresh hidden directory next
to it, which then takes the old directory's place in one step (:func:`write_report`), so an
interruption leaves either the whole old report or the whole new one. The directory is
ranvier's: :func:`check_report_dir` refuses to replace one that holds anything but a report.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ranvier.convert.atomic import OutputPathError, atomic_path, check_writable_dir
from ranvier.hw_models import Network, SimResult
from ranvier.hw_models.energy import CostProfile, energy_breakdown
from ranvier.hw_models.metrics import compute_metrics

SCHEMA_VERSION = 1
PLOTS = ("raster.png", "rate_histogram.png", "energy.png", "delay_histogram.png")
#: Every file a report directory may hold (``neuron_parameters.png`` only with ALIF/ADLIF).
REPORT_FILES = ("report.json", "neurons.csv", "raster.npz", *PLOTS, "neuron_parameters.png")


class ReportError(ValueError):
    """A report directory that cannot be written or read; one line naming the path."""


def build_report(
    network: Network,
    result: SimResult,
    profile: CostProfile,
    *,
    network_path: str = "",
    input_path: str = "",
    accuracy: dict | None = None,
    labels_path: str | None = None,
) -> dict:
    """The report as a JSON-ready dict (schema in docs/report.md).

    ``accuracy`` is the read-out's score against labels (``hw_models.readout.accuracy_summary``:
    ``readout``, ``correct``, ``accuracy``); with it the report gets its ``readout`` key, with
    ``labels_path`` the labels file it was scored on.
    """
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
    step_s = energy.step_s  # the profile's, or its step-time model's for this run
    report = {
        "schema_version": SCHEMA_VERSION,
        "network": network_path,
        "input": input_path,
        "profile": {
            "name": profile.name,
            "costs": profile.costs(),
            "step_s": step_s,
            "static_chip_w": profile.static_chip_w,
            "static_core_step_j": energy.static_core_step_j,
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
            "idle_static_j": energy.idle_static_j,
            "cores": energy.resources.cores,
            "chips": energy.resources.chips,
        },
        "metrics": compute_metrics(network, result),
        "resources": energy.resources.as_dict(),
    }
    if accuracy is not None:
        report["readout"] = {
            "mode": accuracy["readout"],
            "labels": labels_path,
            "samples": n,
            "correct": int(accuracy["correct"]),
            "accuracy": float(accuracy["accuracy"]),
        }
    return report


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


def _is_report_entry(directory: Path, name: str) -> bool:
    """A file a report directory holds: one of :data:`REPORT_FILES`, or what an interrupted
    earlier write of one left (``atomic_path``'s ``.NAME.*.tmp``, older versions' probe)."""
    if name in REPORT_FILES:
        path = directory / name
        return path.is_file() and not path.is_symlink()
    if name == ".ranvier_write_test":
        return True
    return name.endswith(".tmp") and any(name.startswith(f".{f}.") for f in REPORT_FILES)


def check_report_dir(directory: str | os.PathLike) -> Path:
    """Refuse, before any work starts, a report directory ranvier could not write a report into
    as one set: a regular file, a path under one, no permission to create it or to replace it,
    the current directory, or a non-empty directory that is not a ranvier report (no
    report.json, or files a report does not hold: replacing it would delete them).

    Returns the path; :class:`OutputPathError` (one line naming it) otherwise.
    """
    d = check_writable_dir(directory, "report")
    if not d.is_dir():
        return d
    real = d.resolve()
    if real == Path.cwd().resolve():
        raise OutputPathError(
            f"{d}: is the current directory; a report directory is replaced as a whole, "
            "choose another one"
        )
    try:
        entries = sorted(os.listdir(real))
    except OSError as exc:
        raise OutputPathError(f"{d}: cannot read it ({exc.strerror})") from None
    if entries and "report.json" not in entries:
        raise OutputPathError(
            f"{d}: not a ranvier report (no report.json) and not empty; refusing to replace it"
        )
    foreign = [name for name in entries if not _is_report_entry(real, name)]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise OutputPathError(
            f"{d}: holds {foreign[0]!r}{more}, not part of a report; refusing to replace the "
            "directory (it is replaced as a whole)"
        )
    try:
        check_writable_dir(real.parent)
    except OutputPathError:
        raise OutputPathError(
            f"{d}: cannot replace it (cannot write in {real.parent}: permission denied)"
        ) from None
    return d


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``). False where
    the platform, the C library or the file system cannot; then nothing was changed."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(new: Path, target: Path, aside: Path) -> None:
    """Put the directory ``new`` at ``target``. An old directory there is exchanged with it in
    one step where the system can (:func:`_exchange`; the old one is then at ``new``);
    elsewhere it is renamed to ``aside`` and the new one renamed in (:func:`write_report`
    puts it back if the second rename does not happen)."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    os.rename(target, aside)
    os.rename(new, target)


def write_report(directory: str | os.PathLike, report: dict, raster: list[np.ndarray]) -> Path:
    """Write report.json, neurons.csv, raster.npz (sample 0) and the plots into ``directory``,
    as one set.

    Everything is written into a fresh hidden directory next to ``directory``
    (``.NAME.XXXXXXXX.new``), which then takes its place; an old report there is deleted after.
    An interruption at any point leaves either the complete old report or the complete new one
    at ``directory`` (a process killed outright may leave the hidden directory behind, safe to
    delete). Where the system cannot exchange two directories in one step (not Linux), a
    process killed outright between the two renames leaves no directory there: the old report
    is then in ``.NAME.*.old`` and the new one in ``.NAME.*.new`` next to it, both whole. The
    directory is checked first (:func:`check_report_dir`). Returns the path;
    :class:`OutputPathError` naming it if it cannot be written.
    """
    d = check_report_dir(directory)
    target = d.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    except OSError as exc:
        raise OutputPathError(f"{d}: cannot write the report ({exc.strerror})") from None
    aside = new.with_name(new.name.removesuffix(".new") + ".old")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(new, 0o777 & ~umask)  # mkdtemp creates 0700: give it a mkdir's permissions
        (new / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        (new / "neurons.csv").write_text(_csv_text(report))
        rasters = [np.asarray(a).astype(np.uint8) for a in raster]
        buf = io.BytesIO()
        np.savez_compressed(buf, **{f"layer_{i}": a for i, a in enumerate(rasters)})
        (new / "raster.npz").write_bytes(buf.getvalue())
        _plot(report, rasters, lambda name, data: (new / name).write_bytes(data))
        _swap_in(new, target, aside)
    except OSError as exc:
        raise OutputPathError(
            f"{d}: cannot write the report ({exc.strerror or exc.__class__.__name__})"
        ) from None
    finally:
        # Decided by what is on disk, so an interrupt between any two steps is covered: the
        # old report renamed aside without the new one renamed in goes back; what is left
        # next to the directory (the unused new one, or the old one after the swap) goes.
        if aside.exists() and not target.exists():
            os.rename(aside, target)
        for leftover in (new, aside):
            if leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
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
    if not isinstance(report["layers"], list) or not isinstance(report["totals"], dict):
        raise ReportError(f"{path}: 'layers' must be a list and 'totals' an object")
    for i, layer in enumerate(report["layers"]):
        for key in ("name", "spikes", "synaptic_events", "energy_j"):
            if not isinstance(layer, dict) or key not in layer:
                raise ReportError(f"{path}: layers[{i}].{key} missing")
    for key in ("spikes", "synaptic_events", "energy_j"):
        if key not in report["totals"]:
            raise ReportError(f"{path}: totals.{key} missing")
    readout = report.get("readout")
    if readout is not None and (not isinstance(readout, dict) or "accuracy" not in readout):
        raise ReportError(f"{path}: readout.accuracy missing")
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
    """Re-draw a report directory's plots from ``report`` and its raster.npz, each file
    replaced atomically (``ranvier report --redraw``); returns the files written."""
    d = Path(directory)
    rasters = None
    raster_path = d / "raster.npz"
    if raster_path.exists():
        with np.load(raster_path) as data:
            rasters = [
                data[f"layer_{i}"] for i in range(len(report["layers"])) if f"layer_{i}" in data
            ]
    written = []

    def write(name: str, data: bytes) -> None:
        with atomic_path(d / name) as tmp:
            tmp.write_bytes(data)
        written.append(d / name)

    _plot(report, rasters, write)
    return written


def _plot(
    report: dict, rasters: list[np.ndarray] | None, write: Callable[[str, bytes], None]
) -> None:
    """Raster (sample 0; skipped without ``rasters``), per-neuron rate histogram, energy by
    layer/operation, delay histogram, and the adaptive layers' parameters: each PNG is handed
    to ``write(name, data)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = report["layers"]

    def save(fig, name: str) -> None:
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        finally:
            plt.close(fig)
        write(name, buf.getvalue())

    if rasters is not None:
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


def _keyed_layers(report: dict) -> dict[str, dict]:
    """A report's layers by name (a repeated name gets ``#2``, ``#3``… on its later copies)."""
    keyed: dict[str, dict] = {}
    for layer in report["layers"]:
        name, k = layer["name"], 1
        while name in keyed:
            k += 1
            name = f"{layer['name']}#{k}"
        keyed[name] = layer
    return keyed


def _aligned(a: list[str], b: list[str]) -> list[str]:
    """The layer names of both reports, in ``a``'s order, each of ``b``'s own layers placed
    after the layer that precedes it in ``b``."""
    merged = list(a)
    at = 0
    for name in b:
        if name in merged:
            at = merged.index(name) + 1
        else:
            merged.insert(at, name)
            at += 1
    return merged


def _change(a: float | None, b: float | None, relative: bool = True) -> dict:
    """``a``, ``b``, ``delta`` = b - a and ``relative`` = delta / a (None where a side is
    missing, or for ``relative`` where a is 0 or not asked for)."""
    delta = None if a is None or b is None else b - a
    rel = delta / a if relative and delta is not None and a else None
    return {"a": a, "b": b, "delta": delta, "relative": rel}


def compare_reports(a: dict, b: dict) -> dict:
    """Two reports side by side (``ranvier report A --compare B``), layers aligned by name.

    ``layers``: per layer, ``name`` and for ``spikes``, ``synaptic_events`` and
    ``energy_per_sample_j`` a dict of ``a``, ``b``, ``delta`` (b - a) and ``relative``
    (delta / a); a layer only one report has is None on the other side. ``totals``: the same
    for the totals and the whole run's ``energy_j``. ``accuracy``: the read-outs' accuracies
    and their difference (no ``relative``), None when neither report has one.
    """
    la, lb = _keyed_layers(a), _keyed_layers(b)
    samples_a, samples_b = max(int(a["samples"]), 1), max(int(b["samples"]), 1)

    def get(entry: dict | None, key: str):
        return None if entry is None else entry[key]

    def per_sample(layer: dict | None, samples: int) -> float | None:
        return None if layer is None else layer["energy_j"] / samples

    layers = []
    for name in _aligned(list(la), list(lb)):
        x, y = la.get(name), lb.get(name)
        layers.append(
            {
                "name": name,
                "spikes": _change(get(x, "spikes"), get(y, "spikes")),
                "synaptic_events": _change(get(x, "synaptic_events"), get(y, "synaptic_events")),
                "energy_per_sample_j": _change(per_sample(x, samples_a), per_sample(y, samples_b)),
            }
        )
    ta, tb = a["totals"], b["totals"]
    totals = {
        key: _change(ta[key], tb[key])
        for key in ("spikes", "synaptic_events", "energy_per_sample_j", "energy_j")
    }
    ra, rb = a.get("readout"), b.get("readout")
    accuracy = None
    if ra is not None or rb is not None:
        accuracy = _change(get(ra, "accuracy"), get(rb, "accuracy"), relative=False)
        accuracy["readout"] = {"a": get(ra, "mode"), "b": get(rb, "mode")}
    return {"layers": layers, "totals": totals, "accuracy": accuracy}
