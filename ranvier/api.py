"""ranvier from Python: what the ``ranvier`` commands do, as functions (docs/api.md).

Every function here delegates to the stage that does the work (``convert`` reads and writes
netx files, ``hw_models`` simulates, ``deploy`` runs a backend and writes reports, ``train``
trains, exports and verifies); none computes anything of its own, so a script and the command
line get the same numbers. The command line uses the helpers below where it shares a step.

Files may be given as paths or as objects: a network as a path or a
:class:`~ranvier.hw_models.network.Network`, spikes as a path (``.npy``, ``.npz``, SLAYER
events) or an array ``(C, T)`` / ``(N, C, T)``. Bad files raise the stages' one-line errors
(``NetFileError``, ``InputError``, ``ProfileError``, ``ReportError``, ``ConfigError``,
``CheckpointError``, ``OutputPathError``). Nothing here imports torch until a training
function is called.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ranvier.convert import netx_differences, read_netx, write_netx
from ranvier.deploy import BACKENDS, load_spikes, run_network
from ranvier.deploy import summary as run_summary
from ranvier.deploy.inputs import (
    InputError,
    check_spikes,
    flatten_input,
    graded_input,
    load_labels,
)
from ranvier.hw_models import Network, SimResult
from ranvier.hw_models import simulate as simulate_network
from ranvier.hw_models.limits import loihi2_notes, loihi2_violations, parameter_ranges
from ranvier.hw_models.readout import accuracy_summary, readout_mode
from ranvier.hw_models.resources import estimate_resources
from ranvier.hw_models.simulator import layer_indices

if TYPE_CHECKING:
    from ranvier.hw_models.energy import CostProfile
    from ranvier.train.config import Config
    from ranvier.train.export import VerifyResult
    from ranvier.train.model import SpikingNet

#: A file name, as a string or a path.
PathLike = str | os.PathLike

#: What ``export`` warns (and ``ranvier export`` prints) for a model that never trained
#: quantization-aware.
NOT_QAT_WARNING = (
    "this checkpoint never trained quantization-aware; its scales were fixed now, so the file "
    "may behave differently from the float model"
)

__all__ = [
    "NOT_QAT_WARNING",
    "RunResult",
    "export",
    "inspect",
    "load",
    "run",
    "save",
    "simulate",
    "train_network",
    "verify",
]


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


# --- networks -----------------------------------------------------------------------------


def load(path: PathLike, *, input_channels: int | None = None) -> Network:
    """Read a netx HDF5 file into a :class:`Network` (``NetFileError`` naming the field if the
    file is unusable). ``input_channels`` is needed only for files without an input layer."""
    return read_netx(path, input_channels=input_channels)


def save(network: Network, path: PathLike, *, input_layer: bool = True) -> Path:
    """Write ``network`` as a netx HDF5 file (atomically); returns the path.

    ``input_layer`` writes lava-dl's leading ``input`` layer, as lava-dl's own exports do.
    """
    write_netx(network, path, input_layer=input_layer)
    return Path(path)


def _network(net: Network | PathLike) -> tuple[Network, Path | None]:
    """The network and the file it came from (None for a Network object)."""
    if isinstance(net, Network):
        return net, None
    return read_netx(net), Path(net)


def _spikes(
    spikes: np.ndarray | PathLike,
    network: Network,
    *,
    events: bool | None = None,
    timesteps: int | None = None,
) -> np.ndarray:
    """Input from a file (``load_spikes``) or an array (checked the same way): flat
    ``(C, T)``/``(N, C, T)``, or in the network's input shape; graded where the first layer
    takes graded values (``graded_input``)."""
    channels, shape, graded = network.n_in, network.input_shape, graded_input(network)
    if _is_path(spikes):
        return load_spikes(
            spikes, channels, events=events, timesteps=timesteps, shape=shape, graded=graded
        )
    arr = flatten_input(np.asarray(spikes), "spikes", shape)
    arr = check_spikes(arr, "spikes", channels, graded)
    return arr[..., :timesteps] if timesteps is not None else arr


def simulate(
    network: Network | PathLike,
    spikes: np.ndarray | PathLike,
    *,
    record: Sequence[int] | None = None,
    timesteps: int | None = None,
    reset: tuple[int, int] | None = None,
) -> SimResult:
    """Run ``spikes`` ``(C, T)`` or ``(N, C, T)`` (or ``(*input_shape, T)``,
    ``(N, *input_shape, T)``) through ``network`` on the bit-accurate simulator.

    ``record`` lists layers (negative from the end) whose membrane state goes into
    ``result.layers[i].membrane``. ``timesteps`` keeps only the first T steps of the input.
    ``reset`` = ``(interval, offset)``: netx's state reset every ``interval`` steps.
    Each ``result.layers[i]`` holds ``spikes`` (uint8; int32 payloads for a graded layer;
    flat ``(C_l, T)`` per sample), ``spike_counts``, ``synaptic_events`` and
    ``neuron_updates`` (per sample).
    """
    net, _ = _network(network)
    x = _spikes(spikes, net, timesteps=timesteps)
    return simulate_network(net, x, record=record, reset=reset)


def inspect(network: Network | PathLike) -> dict:
    """What ``ranvier inspect --json`` prints: ``network`` (the path, None for an object),
    ``inputs``, per-layer parameter ``layers`` (ranges as ``[min, max]``), the Loihi 2
    ``resources`` estimate, the register-limit ``violations`` (empty when the network fits)
    and ``notes``."""
    net, path = _network(network)
    return {
        "network": None if path is None else str(path),
        "inputs": net.n_in,
        "layers": parameter_ranges(net),
        "resources": estimate_resources(net).as_dict(),
        "violations": loihi2_violations(net),
        "notes": loihi2_notes(net) + netx_differences(net),
    }


# --- running, with accuracy and a report ----------------------------------------------------


def readout_probes(network: Network, probes: Sequence[int]) -> list[int]:
    """``probes`` plus the last layer when the read-out needs its membrane (``membrane_sum``)."""
    if readout_mode(network) == "membrane_sum":
        return sorted({*probes, len(network.blocks) - 1})
    return list(probes)


def sample_raster(result: SimResult) -> list[np.ndarray]:
    """Every layer's spikes ``(C, T)`` of the first sample (the report's raster)."""
    raster = [np.asarray(layer.spikes) for layer in result.layers]
    return [a[0] if a.ndim == 3 else a for a in raster]


def add_report_totals(info: dict, report: dict, report_dir: PathLike) -> None:
    """Add the report's directory and energies (total, per layer) to a run summary."""
    info["report_dir"] = str(report_dir)
    info["energy_j"] = report["totals"]["energy_j"]
    for layer, rl in zip(info["layers"], report["layers"], strict=True):
        layer["energy_j"] = rl["energy_j"]


def _labels(
    labels: np.ndarray | Sequence[int] | PathLike, samples: int, classes: int
) -> np.ndarray:
    """Labels from a file (``load_labels``: checked) or a sequence (the count is checked)."""
    if _is_path(labels):
        return load_labels(labels, samples, classes)
    values = np.asarray(labels, dtype=np.int64).reshape(-1)
    if values.size != samples:
        raise InputError(f"labels: {values.size} labels for {samples} samples")
    return values


@dataclass
class RunResult:
    """What :func:`run` did.

    ``summary`` is the ``ranvier run --json`` document: ``samples``, ``timesteps``, ``ts_ms``,
    per-layer ``layers`` (``spikes``, ``spike_rate``, ``spike_rate_hz``, ``synaptic_events``,
    ``neuron_updates``, and ``energy_j`` with a report), ``totals``, and with labels
    ``readout``, ``predictions``, ``correct``, ``accuracy``. ``sim`` holds every layer's
    spikes, counters and probed membrane; ``report`` the report (None without one).
    """

    network: Network
    sim: SimResult
    summary: dict
    report: dict | None = None

    @property
    def spikes(self) -> list[np.ndarray]:
        """Every layer's output spikes, uint8 ``(C_l, T)`` or ``(N, C_l, T)``."""
        return [layer.spikes for layer in self.sim.layers]

    @property
    def accuracy(self) -> float | None:
        """Accuracy of the file's read-out against the labels (None without labels)."""
        return self.summary.get("accuracy")

    @property
    def predictions(self) -> np.ndarray | None:
        """The predicted class per sample (None without labels)."""
        pred = self.summary.get("predictions")
        return None if pred is None else np.asarray(pred, dtype=np.int64)

    @property
    def report_dir(self) -> Path | None:
        """Where the report was written (None without one)."""
        return Path(self.summary["report_dir"]) if "report_dir" in self.summary else None


def run(
    network: Network | PathLike,
    spikes: np.ndarray | PathLike,
    *,
    labels: np.ndarray | Sequence[int] | PathLike | None = None,
    report_dir: PathLike | None = None,
    profile: str | PathLike | CostProfile = "loihi2",
    backend: str = "ranvier",
    record: Sequence[int] | None = None,
    timesteps: int | None = None,
    events: bool | None = None,
    reset: tuple[int, int] | None = None,
) -> RunResult:
    """What ``ranvier run`` does: run ``spikes`` through ``network`` on ``backend``
    (``ranvier``, or ``lava`` where lava-nc is installed), count every layer's activity,
    score the file's read-out against ``labels`` and write a report into ``report_dir``
    (report.json, neurons.csv, raster.npz and the plots, priced by ``profile``: ``loihi2``,
    ``loihi1``, a TOML file or a ``CostProfile``).

    ``record`` probes the membrane of those layers; ``timesteps`` keeps the first T steps;
    ``events`` reads a spike file as SLAYER events (default: by its ``.events.npy`` name);
    ``reset`` = ``(interval, offset)`` resets the state every ``interval`` steps as netx's
    ``reset_interval``/``reset_offset`` do.

    ``report_dir`` is checked before anything runs (``OutputPathError`` naming it: a regular
    file, a path under one, no permission, or a non-empty directory that is not a ranvier
    report) and written as one set: an existing report there is replaced as a whole
    (docs/report.md). With labels the report stores the accuracy under ``readout``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    cost_profile = None
    if report_dir is not None:
        from ranvier.deploy.report import check_report_dir
        from ranvier.hw_models.energy import CostProfile, load_profile

        check_report_dir(report_dir)
        cost_profile = profile if isinstance(profile, CostProfile) else load_profile(profile)
    net, net_path = _network(network)
    x = _spikes(spikes, net, events=events, timesteps=timesteps)
    probes = layer_indices(record, len(net.blocks))
    label_values = None
    if labels is not None:
        n_samples = 1 if x.ndim == 2 else int(x.shape[0])
        label_values = _labels(labels, n_samples, net.n_out)
        probes = readout_probes(net, probes)
    with ExitStack() as stack:
        if backend == "lava" and net_path is None:  # lava runs a file: write the object
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            write_netx(net, tmp / "network.net")
            file = tmp / "network.net"
        else:
            file = net_path
        result = run_network(
            net, x, backend=backend, net_path=file, record=probes or None, reset=reset
        )
    info = run_summary(net, result)
    info.update(
        {
            "network": None if net_path is None else str(net_path),
            "input": str(spikes) if _is_path(spikes) else None,
            "backend": backend,
        }
    )
    scores = None
    if label_values is not None:
        scores = accuracy_summary(net, result, label_values)
        info.update(scores)
        if _is_path(labels):
            info["labels"] = str(labels)
    rep = None
    if report_dir is not None:
        from ranvier.deploy.report import build_report, write_report

        rep = build_report(
            net,
            result,
            cost_profile,
            network_path=info["network"] or "",
            input_path=info["input"] or "",
            accuracy=scores,
            labels_path=info.get("labels"),
        )
        write_report(report_dir, rep, sample_raster(result))
        add_report_totals(info, rep, report_dir)
    return RunResult(network=net, sim=result, summary=info, report=rep)


# --- training (imports torch) ---------------------------------------------------------------


def training_config(config: Config | Mapping[str, Any] | PathLike) -> Config:
    """A training config from a ``Config``, a preset name (``demo``, ``shd``, ``ssc``), a TOML
    file, or a dict shaped like one (``{"model": {...}, "train": {...}, "data": {...}}``, or
    ``{"preset": "demo", "train": {"epochs": 1}}``); ``ConfigError`` names the bad key."""
    from ranvier.train.config import PRESETS, Config, load_config, preset

    if isinstance(config, Config):
        return config.check()
    if isinstance(config, Mapping):
        return Config.from_dict(dict(config))
    if isinstance(config, str) and config in PRESETS:
        return preset(config)
    return load_config(config)


def override_training(
    cfg: Config,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    gradient: str | None = None,
) -> Config:
    """``cfg`` with ``train.seed``, ``train.epochs`` and ``train.gradient`` replaced where
    given (the QAT phase is shortened to fit), as ``ranvier train --seed/--epochs/--gradient``
    does."""
    from ranvier.train.config import Config

    if seed is None and epochs is None and gradient is None:
        return cfg
    t = cfg.train
    new_epochs = epochs if epochs is not None else t.epochs
    return Config(
        model=cfg.model,
        train=replace(
            t,
            seed=t.seed if seed is None else seed,
            epochs=new_epochs,
            qat_epochs=min(t.qat_epochs, new_epochs),
            gradient=t.gradient if gradient is None else gradient,
        ),
        data=cfg.data,
        preset=cfg.preset,
    ).check()  # the overrides are held to the config's ranges (ConfigError names the field)


def train_network(
    config: Config | Mapping[str, Any] | PathLike,
    out_dir: PathLike,
    *,
    data_dir: PathLike | None = None,
    resume: bool = False,
    device: str | None = None,
    seed: int | None = None,
    epochs: int | None = None,
    gradient: str | None = None,
    progress: Callable[[str, dict], None] | None = None,
) -> dict:
    """What ``ranvier train`` does: train, checkpoint every epoch, export
    ``out_dir/model.net`` and verify it against the trained model; returns the summary
    (``best_valid_accuracy``, ``test_accuracy``, ``network``, ``checkpoint``, ``verify``…).

    ``config`` as for :func:`training_config`; ``seed``, ``epochs`` and ``gradient``
    (``"bptt"`` or ``"eventprop"``) override the config's; ``data_dir`` holds the SHD/SSC files;
    ``progress(event, info)`` is called per epoch and batch. Before any data is read it
    refuses (``FileExistsError``) an ``out_dir`` that already holds a run unless ``resume``,
    ``resume`` without a checkpoint (``CheckpointError``), an ``out_dir`` that cannot be a
    directory (``OutputPathError``) and one another run is writing to (``RunLockedError``:
    the run holds ``out_dir/train.lock`` until it returns).
    """
    from ranvier.train.loop import train as run_training

    cfg = override_training(training_config(config), seed=seed, epochs=epochs, gradient=gradient)
    return run_training(
        cfg, Path(out_dir), data_dir, resume=resume, device=device, progress=progress
    )


def _model(checkpoint: SpikingNet | PathLike) -> tuple[SpikingNet, Any, Path | None]:
    """The model of a checkpoint file or run directory (its ``best.pt``), its config and the
    file read; or a model as is."""
    if not _is_path(checkpoint):
        return checkpoint, None, None
    from ranvier.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    return loaded.model, loaded.config, loaded.path


def export(checkpoint: SpikingNet | PathLike, path: PathLike) -> Network:
    """What ``ranvier export`` does: write a trained model (a checkpoint file, a run
    directory, whose ``best.pt`` is read, or a ``SpikingNet``) as a netx HDF5 file with
    integer weights and delays; returns the network read back from the file.

    ``OutputPathError`` for a ``path`` that cannot be written (before any work). Warns
    (``UserWarning``) when the model never trained quantization-aware.
    """
    from ranvier.convert.atomic import check_writable
    from ranvier.train.export import export_model

    check_writable(path, "netx file")
    model, _, _ = _model(checkpoint)
    if not model.quantized:
        warnings.warn(NOT_QAT_WARNING, UserWarning, stacklevel=2)
    return export_model(model, path)


def verify(
    checkpoint: SpikingNet | PathLike,
    *,
    network: Network | PathLike | None = None,
    samples: int | None = None,
    data_dir: PathLike | None = None,
    spikes: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    device: str | None = None,
) -> VerifyResult:
    """What ``ranvier verify`` does: compare the model's quantized torch forward with the
    simulator running its exported file (``network``, else a fresh export), every layer, bin
    by bin. ``result.mismatches == 0`` means the file is the trained network spike for spike;
    ``result.as_dict()`` is the ``--json`` document, ``result.checkpoint`` the file read (a run
    directory's ``best.pt``).

    The input is the first ``samples`` of the run's test split (``data_dir`` for SHD/SSC), or
    ``spikes`` ``(N, C, T)`` with optional ``labels`` (a model object has no run, so it needs
    ``spikes``). A ``network`` with other layer sizes, layer types or neuron types than the
    model's raises ``ValueError`` naming it. ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:K"``)
    runs the torch forward there (default: where a model object is, a checkpoint on cpu).
    """
    from ranvier.train.distributed import parse_device
    from ranvier.train.export import network_mismatch
    from ranvier.train.export import verify as run_verify

    model, config, source = _model(checkpoint)
    if device is not None:
        model.to(parse_device(device))
    net = None if network is None else _network(network)[0]
    if net is not None:
        problem = network_mismatch(model, net)
        if problem is not None:
            raise ValueError(f"{network if _is_path(network) else 'network'}: {problem}")
    if spikes is None:
        if config is None:
            raise ValueError("verify a model object on spikes=...: it has no run to read data of")
        from ranvier.train.loop import load_splits

        test = load_splits(config, data_dir).test
        x, y = test.x, test.y
    else:
        x = np.asarray(spikes)
        y = None if labels is None else np.asarray(labels)
    n = len(x) if samples is None else min(samples, len(x))
    result = run_verify(model, x[:n], None if y is None else y[:n], network=net)
    result.checkpoint = None if source is None else str(source)
    return result
