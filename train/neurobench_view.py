"""A trained ``SpikingNet`` as NeuroBench sees a network, so NeuroBench's own metric code can
count on it.

NeuroBench (``neurobench.metrics``, 2.3.0) finds what to count by module type: connection
layers are ``nn.Linear``/``nn.Conv*``/RNN modules, whose forward pre-hooks record their input
at every call; activation layers are modules of registered types, whose forward hooks record
their output. It expects an snnTorch-style model called once per time step.

``SpikingNet`` computes each layer's delayed synapse for all time steps at once in the
frequency domain (``train/delays.py``), so it has no ``nn.Linear`` and no per-step call.
``NeuroBenchView`` runs the model's own quantized forward (the deployed network, in torch),
then presents what happened step by step: at step ``t`` it calls, for every layer, an
``nn.Linear`` holding that layer's effective synapse weights (the weights the hardware adds)
on the spikes the layer received at ``t``, and a ``SpikeTap`` on the spikes each hidden
layer sent at ``t``. Those calls exist so NeuroBench's hooks see the real inputs, outputs
and weights; their results are discarded, because a ``Linear`` cannot apply the layer's
per-synapse delays. The class scores returned are the model's own logits.

What NeuroBench can then count and what it means (docs/energy.md, "Metrics"):

- ``SynapticOperations``: binary input x non-zero weight, summed = every received spike times
  the sender's non-zero fan-out, whatever the synapse's delay: ranvier's synaptic events.
- ``ActivationSparsity``: zero outputs of the spike taps = silent (neuron, step) bins of
  the spiking layers. The read-out is a membrane, not an activation, and has no tap.
- ``ConnectionSparsity``: zero weights of the ``Linear`` layers.
- ``ClassificationAccuracy``: the model's own predictions.

Membrane updates and footprint are not comparable by definition (snnTorch membranes that
changed vs Loihi's update of every neuron every step; torch dtypes vs Loihi storage widths).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .model import SpikingNet


class SpikeTap(nn.Module):
    """Identity on one hidden layer's spikes at one step; NeuroBench's activation hook."""

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return spikes


class NeuroBenchView(nn.Module):
    """``SpikingNet`` (in its quantized phase) laid out per time step for NeuroBench's hooks.

    Input: spikes ``(batch, timesteps, channels)``, NeuroBench's layout. Output: the model's
    logits ``(batch, classes)``. The ``Linear`` weights are copied when the view is built:
    build a new view after changing the model.
    """

    def __init__(self, net: SpikingNet):
        super().__init__()
        if not net.quantized:
            raise ValueError("NeuroBenchView needs a quantized model (call start_qat first)")
        if any(block.recurrent for block in net.blocks):
            raise ValueError(
                "NeuroBenchView lays out feed-forward blocks only; the model is recurrent"
            )
        # Kept out of the module tree: NeuroBench walks children for its layers and footprint.
        self._net = [net]
        self.synapses = nn.ModuleList()
        with torch.no_grad():
            for block in net.blocks:
                w = block.synapse_weight().detach().to(torch.float64)
                linear = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=torch.float64)
                linear.weight.copy_(w)
                linear.weight.requires_grad_(False)
                self.synapses.append(linear)
        self.spikes = nn.ModuleList(SpikeTap() for _ in net.blocks[:-1])

    @property
    def net(self) -> SpikingNet:
        return self._net[0]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2).to(torch.float64)  # (B, C, T), the model's layout
        training = self.net.training
        self.net.eval()  # the deployed network: no dropout
        try:
            logits, hidden, _ = self.net(x, quantized=True)
        finally:
            self.net.train(training)
        received = [x, *hidden]
        for t in range(x.shape[-1]):
            for linear, spikes in zip(self.synapses, received, strict=True):
                linear(spikes[..., t])
            for tap, spikes in zip(self.spikes, hidden, strict=True):
                tap(spikes[..., t])
        return logits


def neurobench_model(net: SpikingNet):
    """A ``neurobench.models.TorchModel`` of ``NeuroBenchView(net)`` with ``SpikeTap``
    registered as its activation type. Needs the ``neurobench`` package (``make install``)."""
    from neurobench.models import TorchModel

    model = TorchModel(NeuroBenchView(net))
    model.add_activation_module(SpikeTap)
    return model


def run_neurobench(
    net: SpikingNet, x: np.ndarray, y: np.ndarray, batch_size: int = 64
) -> dict[str, Any]:
    """NeuroBench's ``Benchmark`` on spikes ``x`` ``(N, C, T)`` with labels ``y``: its
    ``ConnectionSparsity``, ``SynapticOperations``, ``ActivationSparsity`` and
    ``ClassificationAccuracy`` (the prediction is the arg-max of the logits)."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ClassificationAccuracy,
        SynapticOperations,
    )
    from torch.utils.data import DataLoader, TensorDataset

    inputs = torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 2, 1)))
    data = TensorDataset(inputs.to(torch.float64), torch.as_tensor(np.asarray(y)))
    bench = Benchmark(
        neurobench_model(net),
        DataLoader(data, batch_size=batch_size),
        [],
        [lambda logits: logits.argmax(1)],
        [[ConnectionSparsity], [SynapticOperations, ActivationSparsity, ClassificationAccuracy]],
    )
    return bench.run(quiet=True)


__all__ = ["NeuroBenchView", "SpikeTap", "neurobench_model", "run_neurobench"]
