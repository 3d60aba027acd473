"""Input spike files for ``ranvier run``: dense arrays and SLAYER's numpy event format.

Accepted:

- ``.npy`` holding a dense array ``(C, T)`` (one sample) or ``(N, C, T)`` (a batch) of 0/1 or
  small non-negative integers. netx layers take unary spikes: any value above 0 is one spike.
  A network whose input has a shape (an image input layer, lava's ``(W, H, C)``) also takes
  ``(*shape, T)`` and ``(N, *shape, T)``. An input layer with neurons takes graded signed
  integers (its neurons' ``a_in``, int32).
- ``.npz`` holding such an array under the key ``spikes`` (or its only array).
- SLAYER's numpy event format (``slayer.io.read_np_spikes``, fmt ``xypt``): an ``.npy`` array
  of shape ``(E, 3)`` with rows ``(x, p, t)`` or ``(E, 4)`` with rows ``(x, y, p, t)``, t in
  milliseconds. It is binned as ``slayer.io.Event.to_tensor(sampling_time=1)`` bins it (time
  bin ``round(t)``, OR binning) and flattened channel-major: channel ``(p * Y + y) * X + x``
  with ``X``, ``Y`` the network's input layout (see docs/cli.md). An event array is told from a
  dense one by its name ending in ``.events.npy`` or by ``--events``.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """Input that cannot be run; the message is one line naming the file and the problem."""


#: The largest dense input an event file may expand to (channels x steps, one byte each): the
#: simulator streams any length, but the binned input is held whole. Checked before allocating.
MAX_DENSE_INPUT_BYTES = 2 << 30


def _load_array(path: Path) -> np.ndarray:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a .npy or .npz file")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            return data
        with data:
            keys = list(data.keys())
            if "spikes" in keys:
                return data["spikes"]
            if len(keys) == 1:
                return data[keys[0]]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(f"{path}: unreadable input ({reason})") from None
    raise InputError(f"{path}: npz holds {keys}; name the spike array 'spikes'")


def graded_input(network) -> bool:
    """True when the network's first layer takes graded values (an input layer's neurons, or
    a synapse with message bits), false for unary spikes."""
    return bool(network.blocks and network.blocks[0].synapse.message_bits)


def flatten_input(arr: np.ndarray, path: Path | str, shape: tuple[int, ...]) -> np.ndarray:
    """An input of the network's input shape, ``(*shape, T)`` or ``(N, *shape, T)``, as the
    flat ``(C, T)`` / ``(N, C, T)`` the simulator takes (lava's array order flattened, C
    fastest). Flat arrays pass unchanged; any other shape is an :class:`InputError`."""
    if len(shape) <= 1 or (arr.ndim in (2, 3) and arr.shape[-2] == int(np.prod(shape))):
        return arr
    k = len(shape)
    if arr.ndim in (k + 1, k + 2) and tuple(arr.shape[-1 - k : -1]) == tuple(shape):
        lead = arr.shape[: -1 - k]
        return arr.reshape(*lead, int(np.prod(shape)), arr.shape[-1])
    raise InputError(
        f"{path}: input of shape {arr.shape} does not match the network's input "
        f"{tuple(shape)} (expected (*shape, T), (N, *shape, T), or flat (C, T) / (N, C, T))"
    )


def check_spikes(
    arr: np.ndarray, path: Path | str, channels: int | None = None, graded: bool = False
) -> np.ndarray:
    """Validate a dense input array ``(C, T)`` or ``(N, C, T)`` and return it as integers
    (rank kept). ``graded``: the first layer takes graded values (an input layer's neurons
    or a synapse with message bits): signed int32 values. Otherwise unary spikes: 0/1."""
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: spikes must be numbers, found dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise InputError(f"{path}: spikes must be (C, T) or (N, C, T), found shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{path}: spikes array is empty (shape {arr.shape})")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{path}: spikes contain NaN or infinite values")
        if np.any(arr != np.round(arr)):
            raise InputError(f"{path}: input values must be integers")
    if graded:
        if arr.max() >= 2**31 or arr.min() < -(2**31):
            bad = arr.max() if arr.max() >= 2**31 else arr.min()
            raise InputError(f"{path}: input value {bad:.3g} does not fit the int32 a_in port")
    else:
        if np.any(arr < 0):
            raise InputError(
                f"{path}: spikes must be non-negative, found {arr.min()} (the first layer "
                "takes unary spikes)"
            )
        if arr.max() >= 2**31:
            raise InputError(f"{path}: spike value {arr.max():.3g} is not a small integer count")
    c = arr.shape[-2]
    if channels is not None and c != channels:
        raise InputError(
            f"{path}: input has {c} channels (axis -2 of shape {arr.shape}), "
            f"the network expects {channels}"
        )
    return arr.astype(np.int64) if arr.dtype.kind in "fb" else arr


def events_to_dense(
    events: np.ndarray,
    path: Path | str,
    channels: int,
    timesteps: int | None = None,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Bin SLAYER ``xypt`` events into a ``(channels, T)`` 0/1 array (1 ms bins, OR binning).

    A flat network input takes SLAYER's channel-major order, ``(p * Y + y) * X + x``; an image
    input of lava's shape ``(W, H, C)`` takes its own order, ``(x * H + y) * C + p`` (C
    fastest, the order of lava's arrays), with x, y, p checked against it."""
    if events.ndim != 2 or events.shape[1] not in (3, 4) or events.shape[0] == 0:
        raise InputError(
            f"{path}: event array must be (E, 3) rows (x, p, t) or (E, 4) rows (x, y, p, t), "
            f"found shape {events.shape}"
        )
    if not np.all(np.isfinite(events)):
        raise InputError(f"{path}: events contain NaN or infinite values")
    if np.abs(events).max() >= 2**31:
        raise InputError(f"{path}: event field value {np.abs(events).max():.3g} is out of range")
    x = np.round(events[:, 0]).astype(np.int64)
    y = np.zeros_like(x) if events.shape[1] == 3 else np.round(events[:, 1]).astype(np.int64)
    p = np.round(events[:, -2]).astype(np.int64)
    t = np.round(events[:, -1]).astype(np.int64)
    if min(x.min(), y.min(), p.min(), t.min()) < 0:
        raise InputError(f"{path}: events must have non-negative x, y, p and t")
    if shape is not None and len(shape) == 3:
        return _image_events(x, y, p, t, path, tuple(shape), timesteps)
    n_p, n_y = int(p.max()) + 1, int(y.max()) + 1
    if channels % (n_p * n_y):
        raise InputError(
            f"{path}: {n_p} polarities x {n_y} rows do not divide the network's {channels} inputs"
        )
    n_x = channels // (n_p * n_y)
    if x.max() >= n_x:
        raise InputError(f"{path}: event x={x.max()} is outside the network's {n_x} input columns")
    t_steps = int(t.max()) + 1 if timesteps is None else timesteps
    if channels * t_steps > MAX_DENSE_INPUT_BYTES:
        raise InputError(
            f"{path}: events up to t = {int(t.max())} ms need {channels} channels x "
            f"{t_steps:,} steps = {channels * t_steps / 2**30:.1f} GiB of binned input (limit "
            f"{MAX_DENSE_INPUT_BYTES / 2**30:.0f} GiB); pass --timesteps to run a prefix"
        )
    keep = t < t_steps
    dense = np.zeros((channels, t_steps), dtype=np.uint8)
    dense[((p * n_y + y) * n_x + x)[keep], t[keep]] = 1
    return dense


def _image_events(x, y, p, t, path, shape: tuple[int, ...], timesteps: int | None):
    """Events of an image input ``(W, H, C)``: x < W, y < H, polarity p < C."""
    w, h, c = shape
    for name, values, size in (("x", x, w), ("y", y, h), ("p", p, c)):
        if values.max() >= size:
            raise InputError(
                f"{path}: event {name}={values.max()} is outside the network's input "
                f"(W, H, C) = {shape}"
            )
    t_steps = int(t.max()) + 1 if timesteps is None else timesteps
    if w * h * c * t_steps > MAX_DENSE_INPUT_BYTES:
        raise InputError(f"{path}: the binned input would exceed {MAX_DENSE_INPUT_BYTES} bytes")
    keep = t < t_steps
    dense = np.zeros((w * h * c, t_steps), dtype=np.uint8)
    dense[((x * h + y) * c + p)[keep], t[keep]] = 1
    return dense


def load_spikes(
    path: str | os.PathLike,
    channels: int | None = None,
    *,
    events: bool | None = None,
    timesteps: int | None = None,
    shape: tuple[int, ...] | None = None,
    graded: bool = False,
) -> np.ndarray:
    """Load and validate an input file; returns ``(C, T)`` or ``(N, C, T)`` integers.

    ``shape``: the network's input shape (an image input layer's ``(W, H, C)``), which the
    file may have (``(*shape, T)`` or ``(N, *shape, T)``); ``graded``: the first layer takes
    graded signed values (see :func:`check_spikes`)."""
    path = Path(path)
    arr = _load_array(path)
    is_events = path.name.endswith(".events.npy") if events is None else events
    if is_events:
        if channels is None:
            raise InputError(f"{path}: event input needs the network's channel count")
        return events_to_dense(arr, path, channels, timesteps, shape)
    if shape is not None:
        arr = flatten_input(arr, path, shape)
    arr = check_spikes(arr, path, channels, graded)
    if timesteps is not None:
        arr = arr[..., :timesteps]
    return arr


def load_labels(path: str | os.PathLike, samples: int, classes: int) -> np.ndarray:
    """Integer class labels ``(N,)`` from .npy, .npz (one array) or text (one per line).

    Raises :class:`InputError` (one line naming the file) when the file is unreadable, the
    count differs from the number of samples, or a label is not a class of the network.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if path.suffix == ".npy":
            labels = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if len(z.files) != 1:
                    raise InputError(f"{path}: expected one array, found {len(z.files)}")
                labels = z[z.files[0]]
        else:
            labels = np.loadtxt(path, ndmin=1)
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read labels ({exc.__class__.__name__})") from None
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind not in "iuf" or (labels.size and np.any(labels != np.round(labels))):
        raise InputError(f"{path}: labels must be integer class indices")
    if labels.size != samples:
        raise InputError(f"{path}: {labels.size} labels for {samples} samples")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise InputError(f"{path}: label {bad} is not a class of the {classes}-neuron output")
    return labels
