"""The network's read-out: which class a sample is, and the accuracy against labels.

A file declares its read-out in ``readout/mode`` (docs/file_format.md): ``spike_count``
(argmax over the last layer's spike counts) or ``membrane_sum`` (argmax over the last layer's
membrane state summed over the sample: the seed's non-spiking read-out). Without the field,
a file whose last layer cannot spike is read by ``membrane_sum``, any other by
``spike_count``. Ties go to the lowest class index (``numpy.argmax``). Training's verify, the
CLI and NeuroBench's cross-check all use these rules.
"""

from __future__ import annotations

import numpy as np

from .network import Network
from .simulator import SimResult

#: The read-outs a file may declare in ``readout/mode``.
READOUT_MODES = ("spike_count", "membrane_sum")

__all__ = ["READOUT_MODES", "accuracy_summary", "predict", "readout_mode", "readout_scores"]


def readout_mode(network: Network) -> str:
    """The read-out the file declares, or the default for its last layer (``Network.readout``)."""
    return network.readout


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
