"""The training loop: float epochs, then quantization-aware epochs, checkpoints, metrics.

Adam with three parameter groups (weights; delays, at 10x the weights' rate in the seed;
neuron parameters), learning rates x0.7 after 5 epochs without a better validation accuracy
(the seed's plateau schedule), parameters clipped to their ranges after every step. The last
``qat_epochs`` epochs run the quantized forward (the exported network itself); the best
checkpoint is chosen among them, so ``best.pt`` is always a deployable network. Every epoch
writes ``checkpoint.pt`` (for ``--resume``) and ``metrics.json``, atomically. A run holds the
run directory's lock (``train/lock.py``) from before it reads any data until it returns.

Data-parallel (``nproc > 1``, or under torchrun: ``train/distributed.py``): ``batch_size`` is
the global batch; every rank shuffles with the same seed, takes its contiguous shard of each
global batch and scales its summed loss so the averaged gradient is the global batch's mean
(the last, smaller batch included). Validation is sharded and all-reduced, so the plateau
schedule and the best epoch are the same on every rank. Rank 0 holds the lock, writes every
file and alone exports, verifies and tests at the end; the others wait for it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ranvier.convert.atomic import atomic_path, check_writable_dir
from torch import nn

from . import data as datasets
from . import distributed
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import Config
from .distributed import SINGLE, DistributedError, World
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
    correct, loss_sum = _evaluation_sums(model, ds.x, ds.y, device, batch_size)
    n = max(1, len(ds.y))
    return correct / n, loss_sum / n


@torch.no_grad()
def _evaluation_sums(
    model: SpikingNet, x: np.ndarray, y: np.ndarray, device: torch.device, batch_size: int = 256
) -> tuple[int, float]:
    """(correct predictions, summed cross-entropy) over samples ``x``, ``y`` in batches."""
    model.eval()
    correct, loss_sum = 0, 0.0
    for start in range(0, len(y), batch_size):
        xb = torch.from_numpy(x[start : start + batch_size]).to(device)
        yb = torch.from_numpy(y[start : start + batch_size]).to(device)
        logits, _, _ = model(xb)
        loss_sum += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(-1) == yb).sum())
    return correct, loss_sum


def evaluate_sharded(
    model: SpikingNet, ds: datasets.SpikeDataset, device: torch.device, world: World
) -> tuple[float, float]:
    """:func:`evaluate` with every rank taking its shard of ``ds`` and the counts summed over
    ranks: every rank gets the same numbers (in one process, :func:`evaluate` itself)."""
    if not world.distributed:
        return evaluate(model, ds, device)
    part = distributed.shard(len(ds), world)
    correct, loss_sum = _evaluation_sums(model, ds.x[part], ds.y[part], device)
    correct, loss_sum = distributed.all_sum([correct, loss_sum], world, device)
    n = max(1, len(ds.y))
    return correct / n, loss_sum / n


def _calibrate(
    model: SpikingNet, ds: datasets.SpikeDataset, config: Config, dev: torch.device
) -> None:
    """Data-driven init of the hidden layers' weight scale (``model.init_rate``)."""
    if config.model.init_rate > 0:
        xb, _ = next(ds.batches(min(256, len(ds.y)), shuffle=False))
        model.calibrate_(torch.from_numpy(xb).to(dev), config.model.init_rate)


def _rng_state(rng: np.random.Generator, world: World) -> dict:
    """The random states a resume restores: the shuffling's (the same on every rank), rank 0's
    torch state (dropout) and, data-parallel, every rank's (``torch_ranks``)."""
    torch_states = distributed.gather_objects(torch.get_rng_state(), world)
    state = {"numpy": rng.bit_generator.state, "torch": torch_states[0]}
    if world.distributed:
        state["torch_ranks"] = torch_states
    return state


def _restore_torch_rng(state: dict, world: World, seed: int, epoch: int) -> None:
    """Each rank's torch state from a checkpoint: its own if the checkpoint has one per rank
    of this world, rank 0's for rank 0, else a fresh stream (a resume on another number of
    processes)."""
    ranks = state.get("torch_ranks")
    if world.distributed and isinstance(ranks, list) and len(ranks) == world.size:
        torch.set_rng_state(ranks[world.rank])
    elif world.main:
        torch.set_rng_state(state["torch"])
    else:
        torch.manual_seed(seed + world.rank + 1_000_003 * epoch)


def train(
    config: Config,
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    device: str | None = None,
    progress: Progress | None = None,
    nproc: int = 1,
) -> dict:
    """Train, checkpoint every epoch, export ``model.net`` and verify it; returns the summary.

    Before any data is read: ``ConfigError`` for a config outside its ranges,
    ``OutputPathError`` for an ``out_dir`` that cannot be a directory, ``CheckpointError``
    for ``resume`` without a ``checkpoint.pt``, ``RunLockedError`` while another run writes
    to ``out_dir``, ``RunExistsError`` for an ``out_dir`` that holds a run unless ``resume``,
    ``DistributedError`` for an ``nproc`` the devices cannot take. The lock is held until
    this returns.

    ``nproc > 1`` trains data-parallel in that many spawned local processes (gloo on CPU,
    NCCL on CUDA) and returns rank 0's summary. Under torchrun, or inside an initialized
    process group, the run is data-parallel over that world and nothing is spawned (every
    rank calls this and gets the same summary).
    """
    config.check()  # a Config built in Python is held to the file's rules
    out = check_writable_dir(out_dir, "training run")
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise DistributedError(f"nproc: {nproc!r} is not a number of processes (1 or more)")
    world = distributed.current_world()
    if world.distributed:
        return _train_world(config, out, data_dir, resume, device, progress, world)
    if resume and not out.is_dir():  # (checked before the lock, which creates the directory)
        _check_start(out, resume)
    if nproc > 1:
        distributed.check_devices(nproc, device)
        with run_lock(out):  # fail fast here; rank 0 takes the lock (and checks) itself
            _check_start(out, resume)
        return distributed.launch(
            nproc,
            _train_rank,
            (config, str(out), data_dir, resume, device),
            device=device,
            progress=progress,
        )
    with run_lock(out):
        _check_start(out, resume)
        return _train(config, out, data_dir, resume=resume, device=device, progress=progress)


def _check_start(out: Path, resume: bool) -> None:
    """``resume`` needs ``checkpoint.pt``; a new run needs a directory without one."""
    last = out / "checkpoint.pt"
    if resume and not last.is_file():
        raise CheckpointError(
            f"{out}: nothing to resume (no checkpoint.pt); start the run without resume"
        )
    if not resume and last.exists():
        raise RunExistsError(
            f"{out}: already holds a run (checkpoint.pt); resume it (--resume) or "
            f"choose a new output directory"
        )


def _train_rank(
    config: Config,
    out: str,
    data_dir: str | os.PathLike | None,
    resume: bool,
    device: str | None,
    progress: Progress | None = None,
) -> dict:
    """One spawned rank of ``train(..., nproc=N)`` (in its process group already)."""
    world = distributed.current_world()
    return _train_world(config, Path(out), data_dir, resume, device, progress, world)


def _train_world(
    config: Config,
    out: Path,
    data_dir: str | os.PathLike | None,
    resume: bool,
    device: str | None,
    progress: Progress | None,
    world: World,
) -> dict:
    """One rank of a data-parallel run: join the group (unless joined), rank 0 takes the lock
    and checks the directory (its error stops every rank), then train."""
    dev = distributed.resolve_device(device, world)
    with distributed.process_group(world, dev), ExitStack() as stack:

        def start() -> None:
            if resume and not out.is_dir():  # (before the lock, which creates it)
                _check_start(out, resume)
            stack.enter_context(run_lock(out))
            _check_start(out, resume)

        distributed.on_main(world, start)
        return _train(
            config,
            out,
            data_dir,
            resume=resume,
            device=dev,
            progress=progress if world.main else None,
            world=world,
        )


class _Forward(nn.Module):
    """The training forward as one module, logits only (what DistributedDataParallel wraps):
    the model's forward, or the EventProp forward with its event-based backward."""

    def __init__(self, model: SpikingNet, gradient: str) -> None:
        super().__init__()
        self.model = model
        self.gradient = gradient

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gradient == "eventprop":  # same forward, event-based backward
            return eventprop_logits(self.model, x)
        logits, _, _ = self.model(x)
        return logits


def _resume_state(out: Path, config: Config) -> dict:
    """The checkpoint a resume continues from (its raw dict), checked against ``config``."""
    loaded = load_checkpoint(out / "checkpoint.pt")
    problem = model_difference(loaded.config, config)
    if problem is not None:
        raise CheckpointError(f"{out / 'checkpoint.pt'}: --resume with {problem}")
    return loaded.raw


def _save_epoch(
    out: Path,
    model: SpikingNet,
    config: Config,
    state: dict,
    best: float,
    improved: bool,
    history: list[dict],
) -> None:
    """An epoch's files: ``best.pt`` if it improved, ``checkpoint.pt``, ``metrics.json``."""
    if improved:
        save_checkpoint(out / "best.pt", model, config, best_valid=best, **state)
    save_checkpoint(out / "checkpoint.pt", model, config, best_valid=best, **state)
    _write_json(out / "metrics.json", {"config": config.to_dict(), "history": history})


def _train(
    config: Config,
    out: Path,
    data_dir: str | os.PathLike | None,
    *,
    resume: bool,
    device: str | torch.device | None,
    progress: Progress | None,
    world: World = SINGLE,
) -> dict:
    dev = distributed.resolve_device(device, world)
    splits = load_splits(config, data_dir)
    t = config.train
    # rank 0's stream is a single run's; the others draw other dropout masks
    torch.manual_seed(t.seed + world.rank)
    rng = np.random.default_rng(t.seed)  # the shuffled order: the same on every rank
    n_in, n_classes = splits.train.x.shape[1], splits.train.n_classes
    model = SpikingNet(n_in, n_classes, config.model, seed=t.seed).to(dev)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=t.plateau_factor, patience=t.plateau_patience
    )
    history: list[dict] = []
    start_epoch, best = 0, -math.inf
    if resume:
        # rank 0 reads it; every rank continues from the same state
        raw = distributed.on_main(world, _resume_state, out, config)
        model.load_state_dict(raw["model"])
        model.quantized = bool(raw["quantized"])
        model.to(dev)
        optimizer = make_optimizer(model, config)
        optimizer.load_state_dict(raw["optimizer"])
        scheduler.load_state_dict(raw["scheduler"])
        start_epoch = int(raw["epoch"]) + 1
        best = float(raw.get("best_valid", -math.inf))
        history = list(raw.get("history", []))
        rng.bit_generator.state = raw["rng"]["numpy"]
        _restore_torch_rng(raw["rng"], world, t.seed, start_epoch)
    else:
        _calibrate(model, splits.train, config, dev)
    # data-parallel: rank 0's parameters are copied to every rank here
    forward = distributed.wrap(
        _Forward(model, t.gradient), world, dev, unused=t.gradient == "eventprop"
    )
    qat_from = t.epochs - t.qat_epochs
    for epoch in range(start_epoch, t.epochs):
        float_test = None
        if epoch == qat_from and not model.quantized:
            # the float network's test accuracy, for the float-vs-QAT comparison
            float_test, _ = evaluate_sharded(model, splits.test, dev, world)
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
        forward.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in splits.train.batches(t.batch_size, shuffle=True, rng=rng):
            scale = 1.0
            if world.distributed:
                xb, yb, scale = _shard_batch(xb, yb, world)
            x = torch.from_numpy(xb).to(dev)
            y = torch.from_numpy(yb).to(dev)
            logits = forward(x)
            if world.distributed:
                # summed over the shard, x world size / global batch: DDP's average over the
                # ranks is then the global batch's mean, as in one process
                summed = nn.functional.cross_entropy(logits, y, reduction="sum")
                loss = summed * scale
                batch_loss = float(summed.detach()) / len(yb)
            else:
                loss = nn.functional.cross_entropy(logits, y)
                batch_loss = float(loss.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.clip_()
            if scale > 0:  # (not the stand-in sample of an empty shard)
                loss_sum += batch_loss * len(yb)
                correct += int((logits.argmax(-1) == y).sum())
                seen += len(yb)
            if progress:
                progress("batch", {"loss": batch_loss})
        loss_sum, correct, seen = distributed.all_sum([loss_sum, correct, seen], world, dev)
        valid_acc, valid_loss = evaluate_sharded(model, splits.valid, dev, world)
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
            "rng": _rng_state(rng, world),
        }
        improved = valid_acc > best
        if improved:
            best = valid_acc
        distributed.check_in_sync(model, world, f"after epoch {epoch + 1}")
        distributed.on_main(world, _save_epoch, out, model, config, state, best, improved, history)
        if progress:
            progress("epoch_end", row)
    return distributed.on_main(
        world, finish, out, splits, config, history, progress, processes=world.size
    )


def _shard_batch(
    xb: np.ndarray, yb: np.ndarray, world: World
) -> tuple[np.ndarray, np.ndarray, float]:
    """This rank's shard of a global batch and its loss scale (world size / global batch). A
    rank whose shard is empty (a last batch smaller than the world) runs the batch's first
    sample with scale 0: every rank must take part in the gradient's all-reduce."""
    part = distributed.shard(len(yb), world)
    if part.stop > part.start:
        return xb[part], yb[part], world.size / len(yb)
    return xb[:1], yb[:1], 0.0


def finish(
    out: Path,
    splits: Splits,
    config: Config,
    history: list[dict],
    progress: Progress | None,
    processes: int = 1,
) -> dict:
    """Export the best checkpoint, test it on the simulator and verify it against torch.

    The summary's ``best_valid_accuracy`` is the validation accuracy of the exported network
    (``best.pt``, quantized: the best of the quantization-aware epochs); the float epochs'
    best is ``best_float_valid_accuracy``; ``processes`` is the number of data-parallel
    processes that trained it (1: a single process).
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
        "processes": processes,
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
