"""Export a trained model to netx HDF5, and verify that the file runs as the model trained.

The IR is the hub: ``SpikingNet.to_network()`` gives the quantized network as a
:class:`~ranvier.hw_models.network.Network`, the netx writer serializes that. ``verify``
compares, on the same input, the model's quantized torch forward with the simulator running
the exported network (every hidden layer's spikes bin by bin, the read-out's membrane at every
step), then checks that the file written from it reads back to the same network. Its
``mismatches`` counts every bin that differs; zero with ``file_matches`` means the trained
network is, spike for spike, the deployed one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ranvier.convert.netx_hdf5 import read_netx, write_netx
from ranvier.hw_models.network import Network
from ranvier.hw_models.readout import predict
from ranvier.hw_models.simulator import simulate

from .model import SpikingNet


def export_model(model: SpikingNet, path: str | os.PathLike) -> Network:
    """Write the quantized model to ``path`` (atomically); returns the IR read back from it.

    A model that never entered its quantized phase is quantized here first (its scales are
    fixed from its weights); it was then not trained quantization-aware.
    """
    if not model.quantized:
        model.start_qat()
    write_netx(model.to_network(), path)
    return read_netx(path)


def network_mismatch(model: SpikingNet, network: Network) -> str | None:
    """Why ``network`` cannot be a file exported from ``model`` (other layer sizes, input
    width, layer types — ``dense_rec`` for a recurrent block, ``dense`` for a feed-forward
    one — or neuron types), or None. Weights, delays and neuron parameters may
    differ: ``verify`` counts those as mismatching bins."""
    sizes = [b.neuron.n for b in model.blocks]
    if network.layer_sizes != sizes:
        return f"layer sizes {network.layer_sizes} do not match the checkpoint's {sizes}"
    if network.n_in != model.n_in:
        return f"{network.n_in} inputs, the checkpoint's network has {model.n_in}"
    for block, mine in zip(network.blocks, model.blocks, strict=True):
        ours = "dense_rec" if mine.recurrent else "dense"
        if block.synapse.layer_type != ours:
            return f"{block.name} is a {block.synapse.layer_type} layer, the checkpoint's is {ours}"
        theirs, ours = block.neurons.neuron_type, mine.neuron.neuron_type
        if theirs != ours:
            return f"{block.name} has {theirs} neurons, the checkpoint's has {ours}"
    return None


@dataclass
class VerifyResult:
    """Torch forward vs simulator on the exported file, per layer and in total."""

    samples: int
    timesteps: int
    #: per layer: differing spike bins (hidden layers) or membrane bins (the read-out)
    layer_mismatches: list[int]
    layer_names: list[str]
    layer_spikes: list[int]
    synaptic_events: list[int]
    predictions_equal: bool
    accuracy: float | None = None
    torch_accuracy: float | None = None
    #: the exported file reads back to the network the model exports (``Network.same_as``)
    file_matches: bool = True
    #: the checkpoint file the model came from (None for a model object)
    checkpoint: str | None = None

    @property
    def mismatches(self) -> int:
        return int(sum(self.layer_mismatches))

    @property
    def ok(self) -> bool:
        """Zero mismatching bins and a file that reads back to the exported network."""
        return self.mismatches == 0 and self.file_matches

    def as_dict(self) -> dict:
        """The ``ranvier verify --json`` document (``checkpoint`` first, where known)."""
        head = {} if self.checkpoint is None else {"checkpoint": self.checkpoint}
        return head | {
            "mismatches": self.mismatches,
            "samples": self.samples,
            "timesteps": self.timesteps,
            "layers": [
                {"name": n, "mismatches": m, "spikes": s, "synaptic_events": e}
                for n, m, s, e in zip(
                    self.layer_names,
                    self.layer_mismatches,
                    self.layer_spikes,
                    self.synaptic_events,
                    strict=True,
                )
            ],
            "predictions_equal": self.predictions_equal,
            "file_matches": self.file_matches,
            "accuracy": self.accuracy,
            "torch_accuracy": self.torch_accuracy,
        }


@torch.no_grad()
def verify(
    model: SpikingNet,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    network: Network | None = None,
    batch_size: int = 128,
) -> VerifyResult:
    """Quantized torch forward vs the simulator on the exported network, on spikes
    ``(N, C, T)``; then the file check.

    ``network`` is the network read back from the deployed file (``export_model``'s return);
    without it the model is written to a temporary file and read back, so the comparison goes
    through the same bytes a user deploys. The simulator runs the file's network, and
    ``file_matches`` says whether it equals ``model.to_network()`` (the IR the model exports):
    a different file shows as mismatching bins and as ``file_matches`` False.
    """
    model.eval()
    if network is None:
        with tempfile.TemporaryDirectory() as tmp:
            network = export_model(model, Path(tmp) / "model.net")
    problem = network_mismatch(model, network)
    if problem is not None:  # not the same network at all: no bin-by-bin comparison
        raise ValueError(f"network: {problem}")
    file_matches = network.same_as(model.to_network())
    x = (np.asarray(x) != 0).astype(np.uint8)
    sim = simulate(network, x, record=[-1])
    n_layers = len(model.blocks)
    mism = [0] * n_layers
    torch_pred = []
    device = next(model.parameters()).device
    for start in range(0, x.shape[0], batch_size):
        xb = torch.from_numpy(x[start : start + batch_size]).to(device)
        logits, hidden, membrane = model(xb, quantized=True)
        torch_pred.append(logits.argmax(-1).cpu().numpy())
        sl = slice(start, start + xb.shape[0])
        for i, s in enumerate(hidden):
            ref = sim.layers[i].spikes[sl]
            mism[i] += int(np.count_nonzero(ref != s.cpu().numpy().astype(np.uint8)))
        ref_m = sim.layers[-1].membrane[sl]
        mism[-1] += int(np.count_nonzero(ref_m != membrane.cpu().numpy().astype(np.int64)))
    pred_torch = np.concatenate(torch_pred)
    pred_sim = predict(network, sim)  # the deployed read-out, as `ranvier run --labels`
    acc = tacc = None
    if y is not None:
        acc = float(np.mean(pred_sim == y))
        tacc = float(np.mean(pred_torch == y))
    return VerifyResult(
        samples=int(x.shape[0]),
        timesteps=int(x.shape[-1]),
        layer_mismatches=mism,
        layer_names=[b.name for b in network.blocks],
        layer_spikes=[int(layer.spike_counts.sum()) for layer in sim.layers],
        synaptic_events=[int(layer.synaptic_events.sum()) for layer in sim.layers],
        predictions_equal=bool(np.array_equal(pred_torch, pred_sim)),
        accuracy=acc,
        torch_accuracy=tacc,
        file_matches=file_matches,
    )
