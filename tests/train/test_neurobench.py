"""NeuroBench's own metric code, run on the trained torch model, agrees with ranvier's metrics
computed from the bit-accurate simulator's counters on the exported file.

Two independent paths: NeuroBench 2.3.0 counts with its hooks and binary layer copies on the
model's quantized torch forward (``train/neurobench_view.py``); ranvier counts on the netx
file read back into the IR and run by ``hw_models.simulate`` (``hw_models/metrics.py``).
Compared: synaptic operations (effective ACs, MACs, dense), activation sparsity, connection
sparsity and classification accuracy. Membrane updates and footprint differ by definition
(docs/energy.md) and are not compared.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from neurobench.models import TorchModel
from ranvier.hw_models import simulate
from ranvier.hw_models.metrics import compute_metrics
from ranvier.hw_models.readout import predict
from ranvier.train.config import ModelConfig
from ranvier.train.export import export_model
from ranvier.train.model import SpikingNet
from ranvier.train.neurobench_view import NeuroBenchView, neurobench_model, run_neurobench

#: weight multipliers that make every hidden layer spike (AdLIF+ feeds (1 - alpha) of its input)
GAIN = {"CUBA": 3.0, "ALIF": 3.0, "ADLIF": 12.0}


def _model(neuron: str, delays: str, seed: int) -> SpikingNet:
    """A quantized model with some synapses pruned (so connection sparsity is not zero)."""
    cfg = ModelConfig(
        hidden=[12, 10], neuron=neuron, delays=delays, max_delay=7 if delays != "none" else 0
    )
    net = SpikingNet(16, 4, cfg, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for b in net.blocks:
            b.weight.mul_(GAIN[neuron])
            b.weight.mul_(torch.rand(b.weight.shape, generator=gen) > 0.3)
            if b.delay is not None:
                b.delay.copy_(torch.rand(b.delay.shape, generator=gen) * b.max_delay)
    net.start_qat()
    return net


@pytest.mark.parametrize(
    ("neuron", "delays", "seed", "batch_size"),
    [("CUBA", "none", 0, 7), ("ALIF", "interp", 1, 4), ("ADLIF", "dcls", 2, 16)],
)
def test_neurobench_metrics_equal_ranvier_metrics(tmp_path, neuron, delays, seed, batch_size):
    net = _model(neuron, delays, seed)
    rng = np.random.default_rng(seed)
    x = (rng.random((16, 16, 40)) < 0.2).astype(np.uint8)
    y = rng.integers(0, 4, size=16)

    network = export_model(net, tmp_path / "m.net")
    result = simulate(network, x, record=[-1])
    ours = compute_metrics(network, result)
    theirs = run_neurobench(net, x, y, batch_size)

    ops = theirs["SynapticOperations"]
    assert ops["Effective_ACs"] > 0, "no synaptic operation counted: the case tests nothing"
    assert ops["Effective_ACs"] == ours["synaptic_operations"]["Effective_ACs"]
    assert ops["Effective_MACs"] == ours["synaptic_operations"]["Effective_MACs"] == 0
    assert ops["Dense"] == ours["synaptic_operations"]["Dense"]

    spikes = sum(int(layer.spike_counts.sum()) for layer in result.layers)
    assert spikes > 0
    assert 0.0 < theirs["ActivationSparsity"] < 1.0
    assert math.isclose(theirs["ActivationSparsity"], ours["activation_sparsity"], rel_tol=1e-12)

    # NeuroBench rounds connection sparsity to 4 decimals.
    assert 0.0 < ours["connection_sparsity"] < 1.0
    assert theirs["ConnectionSparsity"] == round(ours["connection_sparsity"], 4)

    # NeuroBench averages float32 batch accuracies: equal within float32 rounding, far
    # below one sample's 1/16.
    accuracy = float(np.mean(predict(network, result) == y))
    assert math.isclose(theirs["ClassificationAccuracy"], accuracy, abs_tol=1e-6)


def test_view_sees_the_deployed_weights_and_spikes():
    """The ``Linear`` layers hold the effective synapse weights the file runs, and the model
    stays in the mode it was in (the view forces eval only for its own forward)."""
    net = _model("ADLIF", "interp", 3)
    net.train()
    view = NeuroBenchView(net)
    for linear, block in zip(view.synapses, net.blocks, strict=True):
        assert torch.equal(linear.weight, block.synapse_weight().detach().double())
    x = torch.tensor(np.random.default_rng(0).random((2, 30, 16)) < 0.2, dtype=torch.float64)
    logits = view(x)
    assert net.training
    net.eval()
    with torch.no_grad():
        want, _, _ = net(x.transpose(1, 2), quantized=True)
    assert torch.equal(logits, want)


def test_view_refuses_a_float_model():
    net = SpikingNet(4, 2, ModelConfig(hidden=[3]))
    with pytest.raises(ValueError, match="start_qat"):
        NeuroBenchView(net)


def test_neurobench_finds_one_synapse_per_layer_and_one_tap_per_hidden_layer():
    net = _model("CUBA", "interp", 4)
    model = neurobench_model(net)
    assert isinstance(model, TorchModel)
    assert len(model.connection_layers()) == len(net.blocks) == 3
    assert [layer["layer_name"] for layer in model.activation_layers()] == ["0", "1"]
