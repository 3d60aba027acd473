"""The network's read-out: which class a sample is, and the accuracy against labels.

A file declares its read-out in ``readout/mode`` (docs/file_format.md): ``spike_count``
(argmax over the last layer's spike counts) or ``membrane_sum`` (argmax over the last layer's
membrane state summed over the sample: the seed's non-spiking read-out). Without the field,
a file whose last layer cannot spike is read by ``membrane_sum``, any other by
``spike_count``. Ties go to the lowest class index (``numpy.argmax``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ranvier.convert.netx_hdf5 import READOUT_MODES
from ranvier.hw_models import Network, SimResult

from .inputs import InputError

__all__ = ["READOUT_MODES", "accuracy_summary", "load_labels", "predict", "readout_mode"]


def readout_mode(network: Network) -> str:
    """The read-out the file declares, or the default for its last layer."""
    mode = network.meta.get("readout")
    if mode is not None:
        return str(mode)
    return "spike_count" if network.blocks[-1].neurons.spiking else "membrane_sum"


def readout_scores(network: Network, result: SimResult) -> np.ndarray:
    """Per-sample class scores ``(N, n_out)``: spike counts or summed membrane state.

    ``membrane_sum`` needs the last layer's membrane in ``result`` (run with
    ``record=[-1]``).
    """
    last = result.layers[-1]
    if readout_mode(network) == "spike_count":
        return np.asarray(last.spike_counts, dtype=np.int64)
    if last.membrane is None:
        raise ValueError("the membrane_sum read-out needs the last layer's membrane (record=[-1])")
    membrane = last.membrane if last.membrane.ndim == 3 else last.membrane[None]
    return membrane.sum(axis=2, dtype=np.int64)


def predict(network: Network, result: SimResult) -> np.ndarray:
    """The predicted class of each sample, ``(N,)`` int64."""
    return np.argmax(readout_scores(network, result), axis=1).astype(np.int64)


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


def accuracy_summary(network: Network, result: SimResult, labels: np.ndarray) -> dict:
    """Read-out mode, predictions, correct count and accuracy."""
    pred = predict(network, result)
    correct = int(np.count_nonzero(pred == labels))
    return {
        "readout": readout_mode(network),
        "predictions": pred.tolist(),
        "correct": correct,
        "accuracy": correct / max(len(labels), 1),
    }
