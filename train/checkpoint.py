"""Checkpoints: one torch file per state of a run, written atomically, read with checks.

A checkpoint holds the config, the data shape (inputs, classes), the model's parameters and
buffers (including each layer's scale ``vth_mant``), whether the quantized forward is on,
and — for ``--resume`` — the optimizer, the scheduler, the epoch, the history and the random
states. It is read with ``torch.load(weights_only=True)``: no code is ever unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from ranvier.convert.atomic import atomic_path

from .config import Config, ConfigError
from .model import SpikingNet

FORMAT = "ranvier-checkpoint"
VERSION = 1
_REQUIRED = ("format", "version", "config", "n_in", "n_classes", "model", "quantized")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what is wrong."""


@dataclass
class Loaded:
    """A checkpoint read back: the config, the model (in eval mode), the raw dict and the file
    it came from."""

    config: Config
    model: SpikingNet
    raw: dict
    path: Path | None = None


#: The checkpoint a run directory stands for: the best quantized epoch, the one ``model.net``
#: holds (``checkpoint.pt`` is the last epoch, kept for ``--resume``).
RUN_CHECKPOINT = "best.pt"


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint file ``path`` names: itself, or a run directory's ``best.pt``."""
    path = Path(path)
    if not path.is_dir():
        return path
    best = path / RUN_CHECKPOINT
    if best.is_file():
        return best
    last = path / "checkpoint.pt"
    hint = f"; {last} holds the last epoch, give it to use that" if last.is_file() else ""
    raise CheckpointError(
        f"{path}: a directory without {RUN_CHECKPOINT} (not a run directory){hint}"
    )


def save_checkpoint(path: str | os.PathLike, model: SpikingNet, config: Config, **extra) -> None:
    """Write ``path`` atomically (a temporary file renamed into place)."""
    state = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        "n_in": model.n_in,
        "n_classes": model.n_classes,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "quantized": bool(model.quantized),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str = "cpu") -> Loaded:
    """Read and check a checkpoint (a file, or a run directory: its ``best.pt``);
    CheckpointError (one line) for anything unusable, NaN or infinite values included."""
    path = resolve_checkpoint(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        raw = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable ranvier checkpoint ({reason})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a ranvier checkpoint (no format '{FORMAT}')")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks the field '{missing[0]}'")
    if raw["version"] != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {raw['version']} (this ranvier reads {VERSION})"
        )
    if not isinstance(raw["model"], dict):
        raise CheckpointError(f"{path}: the field 'model' is not a dict of tensors")
    for name, tensor in raw["model"].items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
            finite = torch.isfinite(tensor)
            if not bool(finite.all()):
                nan = int(torch.isnan(tensor).sum())
                inf = int((~finite).sum()) - nan
                raise CheckpointError(
                    f"{path}: tensor '{name}' holds {nan} NaN and {inf} infinite value(s)"
                )
    if not isinstance(raw["config"], dict):
        raise CheckpointError(f"{path}: the field 'config' is not a dict")
    try:
        # a checkpoint is read on any machine: its training memory is not checked here
        config = Config.from_dict(raw["config"], where="config", memory=False)
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    model = SpikingNet(int(raw["n_in"]), int(raw["n_classes"]), config.model, config.train.seed)
    try:
        model.load_state_dict(raw["model"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{path}: model does not match its config: {detail[:300]}") from None
    model.quantized = bool(raw["quantized"])
    model.eval()
    return Loaded(config=config, model=model, raw=raw, path=path)
