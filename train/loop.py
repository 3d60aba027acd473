"""The training loop: float epochs, then quantization-aware epochs, checkpoints, metrics.

Adam with three parameter groups (weights; delays, at 10x the weights' rate in the seed;
neuron parameters), learning rates x0.7 after 5 epochs without a better validation accuracy
(the seed's plateau schedule), parameters clipped to their ranges after every step. The last
``qat_epochs`` epochs run the quantized forward (the exported network itself); the best
checkpoint is chosen among them, so ``best.pt`` is always a deployable network. Every epoch
writes ``checkpoint.pt`` (for ``--resume``) and ``metrics.json``, atomically. A run holds the
run directory's lock (``train/lock.py``) from before it reads any data until it returns.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ranvier.convert.atomic import atomic_path, check_writable_dir
from torch import nn

from . import data as datasets
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import Config
from .eventprop import eventprop_logits
from .export import export_model, verify
from .lock import run_lock
from .model import SpikingNet

#: progress callback: (event, info) with event in {"epoch_start", "batch", "epoch_end",
#: "done"}
Progress = Callable[[str, dict], None]


class RunExistsError(FileExistsError):
    """The run directory already holds a run and ``resume`` was not asked for."""


@dataclass
class Splits:
    """Train, validation and test data of one run (numpy arrays, time-last)."""

    train: datasets.SpikeDataset
    valid: datasets.SpikeDataset
    test: datasets.SpikeDataset


def load_splits(config: Config, data_dir: str | os.PathLike | None) -> Splits:
    """The run's datasets, right-padded by ``max_delay`` steps so delayed spikes arrive;
    ``DatasetFormatError`` naming the file for a split without samples."""
    d = config.data
    pad = config.model.max_delay if config.model.delays != "none" else 0
    if d.dataset in ("shd", "ssc"):
        binning = {"channels": d.channels, "bin_ms": d.bin_ms, "steps": d.steps, "pad": pad}
        train = datasets.load_dataset(d.dataset, data_dir, "train", **binning)
        test = datasets.load_dataset(d.dataset, data_dir, "test", **binning)
        if d.dataset == "ssc":
            valid = datasets.load_dataset(d.dataset, data_dir, "valid", **binning)
        else:  # SHD has no validation split: hold out 10% of train, seeded
            train, valid = train.split(0.9, seed=config.train.seed)
        splits = Splits(train, valid, test)
        directory = data_dir if data_dir is not None else os.environ.get(datasets.DATA_DIR_ENV)
        for split in ("train", "valid", "test"):
            if len(getattr(splits, split)):
                continue
            held_out = split == "valid" and d.dataset == "shd"
            path = datasets.hsd_path(directory or "data", d.dataset, "train" if held_out else split)
            problem = "too few samples to hold out 10% for validation" if held_out else "no samples"
            raise datasets.DatasetFormatError(f"{path}: {problem}")
        return splits
    sizes = {"train": d.train_samples, "valid": d.valid_samples, "test": d.test_samples}
    parts = {
        split: datasets.load_dataset(
            d.dataset, data_dir, split, n_samples=n, seed=config.train.seed, pad=pad
        )
        for split, n in sizes.items()
    }
    for split, part in parts.items():
        if not len(part):
            raise datasets.DatasetFormatError(f"data.{split}_samples: the {split} split is empty")
    return Splits(**parts)


def make_optimizer(model: SpikingNet, config: Config) -> torch.optim.Adam:
    """Adam with separate learning rates for weights, delays and neuron parameters (a recurrent
    block's ``weight_rec`` and ``delay_rec`` are weights and delays)."""
    weights, delays, neuron = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.endswith((".weight", ".weight_rec")):
            weights.append(p)
        elif name.endswith((".delay", ".delay_rec")):
            delays.append(p)
        else:
            neuron.append(p)
    t = config.train
    groups = [{"params": weights, "lr": t.lr, "name": "weights"}]
    if delays:
        groups.append({"params": delays, "lr": t.lr_delay, "name": "delays"})
    if neuron:
        groups.append({"params": neuron, "lr": t.lr_neuron, "name": "neuron"})
    return torch.optim.Adam(groups)


def model_difference(checkpoint: Config, config: Config) -> str | None:
    """How the config's ``[model]`` differs from a checkpoint's, for ``--resume`` (None: the
    same). Recurrent vs feed-forward is said plainly; otherwise the differing keys."""
    theirs, ours = checkpoint.to_dict()["model"], config.to_dict()["model"]
    if theirs == ours:
        return None
    kind = {True: "a recurrent model", False: "a feed-forward model"}
    if theirs["recurrent"] != ours["recurrent"]:
        return (
            f"a different [model]: the checkpoint holds {kind[theirs['recurrent']]}, the "
            f"config's [model] is {'recurrent' if ours['recurrent'] else 'feed-forward'} "
            "(model.recurrent)"
        )
    keys = ", ".join(f"model.{k}" for k in ours if theirs.get(k) != ours[k])
    return f"a different [model] ({keys})"


def dcls_sigma(config: Config, epoch: int) -> float:
    """DCLS Gaussian width at ``epoch``: linear from max_delay/2 to sigma_end over the float
    epochs, then sigma_end (the quantized phase uses the integer delays themselves)."""
    float_epochs = config.train.epochs - config.train.qat_epochs
    start = max(config.model.max_delay / 2, config.train.sigma_end)
    if float_epochs <= 1:
        return config.train.sigma_end
    frac = min(1.0, epoch / (float_epochs - 1))
    return start + (config.train.sigma_end - start) * frac


@torch.no_grad()
def evaluate(
    model: SpikingNet, ds: datasets.SpikeDataset, device: torch.device, batch_size: int = 256
) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the current forward on a dataset."""
    model.eval()
    correct, loss_sum = 0, 0.0
    for xb, yb in ds.batches(batch_size, shuffle=False):
        x = torch.from_numpy(xb).to(device)
        y = torch.from_numpy(yb).to(device)
        logits, _, _ = model(x)
        loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
    n = max(1, len(ds.y))
    return correct / n, loss_sum / n


def _calibrate(
    model: SpikingNet, ds: datasets.SpikeDataset, config: Config, dev: torch.device
) -> None:
    """Data-driven init of the hidden layers' weight scale (``model.init_rate``)."""
    if config.model.init_rate > 0:
        xb, _ = next(ds.batches(min(256, len(ds.y)), shuffle=False))
        model.calibrate_(torch.from_numpy(xb).to(dev), config.model.init_rate)


def _rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}


def train(
    config: Config,
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    device: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Train, checkpoint every epoch, export ``model.net`` and verify it; returns the summary.

    Before any data is read: ``ConfigError`` for a config outside its ranges,
    ``OutputPathError`` for an ``out_dir`` that cannot be a directory, ``CheckpointError``
    for ``resume`` without a ``checkpoint.pt``, ``RunLockedError`` while another run writes
    to ``out_dir``, ``RunExistsError`` for an ``out_dir`` that holds a run unless ``resume``.
    The lock is held until this returns.
    """
    config.check()  # a Config built in Python is held to the file's rules
    out = check_writable_dir(out_dir, "training run")
    last = out / "checkpoint.pt"
    nothing = f"{out}: nothing to resume (no checkpoint.pt); start the run without resume"
    if resume and not out.is_dir():  # (checked before the lock, which creates the directory)
        raise CheckpointError(nothing)
    with run_lock(out):
        if resume and not last.is_file():
            raise CheckpointError(nothing)
        if not resume and last.exists():
            raise RunExistsError(
                f"{out}: already holds a run (checkpoint.pt); resume it (--resume) or "
                f"choose a new output directory"
            )
        return _train(config, out, data_dir, resume=resume, device=device, progress=progress)


def _train(
    config: Config,
    out: Path,
    data_dir: str | os.PathLike | None,
    *,
    resume: bool,
    device: str | None,
    progress: Progress | None,
) -> dict:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    splits = load_splits(config, data_dir)
    t = config.train
    torch.manual_seed(t.seed)
    rng = np.random.default_rng(t.seed)
    n_in, n_classes = splits.train.x.shape[1], splits.train.n_classes
    model = SpikingNet(n_in, n_classes, config.model, seed=t.seed).to(dev)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=t.plateau_factor, patience=t.plateau_patience
    )
    history: list[dict] = []
    start_epoch, best = 0, -math.inf
    if resume:
        loaded = load_checkpoint(out / "checkpoint.pt")
        problem = model_difference(loaded.config, config)
        if problem is not None:
            raise CheckpointError(f"{out / 'checkpoint.pt'}: --resume with {problem}")
        model.load_state_dict(loaded.model.state_dict())
        model.quantized = loaded.model.quantized
        model.to(dev)
        optimizer = make_optimizer(model, config)
        optimizer.load_state_dict(loaded.raw["optimizer"])
        scheduler.load_state_dict(loaded.raw["scheduler"])
        start_epoch = int(loaded.raw["epoch"]) + 1
        best = float(loaded.raw.get("best_valid", -math.inf))
        history = list(loaded.raw.get("history", []))
        rng.bit_generator.state = loaded.raw["rng"]["numpy"]
        torch.set_rng_state(loaded.raw["rng"]["torch"])
    else:
        _calibrate(model, splits.train, config, dev)
    qat_from = t.epochs - t.qat_epochs
    for epoch in range(start_epoch, t.epochs):
        float_test = None
        if epoch == qat_from and not model.quantized:
            # the float network's test accuracy, for the float-vs-QAT comparison
            float_test, _ = evaluate(model, splits.test, dev)
            model.start_qat()
            best = -math.inf  # the best checkpoint is a quantized one
        if model.cfg.delays == "dcls":
            model.set_sigma(dcls_sigma(config, epoch))
        phase = "qat" if model.quantized else "float"
        if progress:
            progress(
                "epoch_start",
                {
                    "epoch": epoch,
                    "epochs": t.epochs,
                    "phase": phase,
                    "batches": math.ceil(len(splits.train.y) / t.batch_size),
                },
            )
        started = time.perf_counter()
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in splits.train.batches(t.batch_size, shuffle=True, rng=rng):
            x = torch.from_numpy(xb).to(dev)
            y = torch.from_numpy(yb).to(dev)
            if t.gradient == "eventprop":  # same forward, event-based backward
                logits = eventprop_logits(model, x)
            else:
                logits, _, _ = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.clip_()
            loss_sum += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(-1) == y).sum())
            seen += len(yb)
            if progress:
                progress("batch", {"loss": float(loss.detach())})
        valid_acc, valid_loss = evaluate(model, splits.valid, dev)
        scheduler.step(valid_acc)
        row = {
            "epoch": epoch,
            "phase": phase,
            "train_loss": loss_sum / max(1, seen),
            "train_accuracy": correct / max(1, seen),
            "valid_loss": valid_loss,
            "valid_accuracy": valid_acc,
            "lr": {g.get("name", str(i)): g["lr"] for i, g in enumerate(optimizer.param_groups)},
            "seconds": time.perf_counter() - started,
        }
        if float_test is not None:
            row["float_test_accuracy"] = float_test
        history.append(row)
        state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "history": history,
            "rng": _rng_state(rng),
        }
        if valid_acc > best:
            best = valid_acc
            save_checkpoint(out / "best.pt", model, config, best_valid=best, **state)
        save_checkpoint(out / "checkpoint.pt", model, config, best_valid=best, **state)
        _write_json(out / "metrics.json", {"config": config.to_dict(), "history": history})
        if progress:
            progress("epoch_end", row)
    return finish(out, splits, config, history, progress)


def finish(
    out: Path, splits: Splits, config: Config, history: list[dict], progress: Progress | None
) -> dict:
    """Export the best checkpoint, test it on the simulator and verify it against torch.

    The summary's ``best_valid_accuracy`` is the validation accuracy of the exported network
    (``best.pt``, quantized: the best of the quantization-aware epochs); the float epochs'
    best is ``best_float_valid_accuracy``.
    """
    best_path = out / "best.pt" if (out / "best.pt").exists() else out / "checkpoint.pt"
    loaded = load_checkpoint(best_path)
    model = loaded.model
    network = export_model(model, out / "model.net")  # quantizes a model that never was
    valid_acc, _ = evaluate(model, splits.valid, torch.device("cpu"))
    n = config.train.verify_samples or len(splits.test.y)
    x, y = splits.test.x[:n], splits.test.y[:n]
    result = verify(model, x, y, network=network)
    # the verified samples, so `ranvier run RUN_DIR/model.net --input ... --labels ...` works
    _write_npy(out / "test_input.npy", x.astype(np.uint8))
    _write_npy(out / "test_labels.npy", y.astype(np.int64))
    test_acc, _ = evaluate(model, splits.test, torch.device("cpu"))
    summary = {
        "run_dir": str(out),
        "checkpoint": str(best_path),
        "network": str(out / "model.net"),
        "test_input": str(out / "test_input.npy"),
        "test_labels": str(out / "test_labels.npy"),
        "epochs": len(history),
        "best_epoch": int(loaded.raw.get("epoch", len(history) - 1)),
        "best_valid_accuracy": valid_acc,
        "best_float_valid_accuracy": max(
            (h["valid_accuracy"] for h in history if h["phase"] == "float"), default=None
        ),
        "test_accuracy": test_acc,
        "float_test_accuracy": next(
            (h["float_test_accuracy"] for h in history if "float_test_accuracy" in h), None
        ),
        "verify": result.as_dict(),
    }
    _write_json(
        out / "metrics.json", {"config": config.to_dict(), "history": history, "summary": summary}
    )
    if progress:
        progress("done", summary)
    return summary


def _write_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
