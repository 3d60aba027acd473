"""NeuroBench-style metrics from the counters, checked against explicit loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ranvier.convert.netx_hdf5 import read_netx
from ranvier.hw_models import simulate
from ranvier.hw_models.fixed_point import NON_SPIKING_VTH_MANT
from ranvier.hw_models.metrics import (
    activation_sparsity,
    compute_metrics,
    connection_sparsity,
    footprint_bytes,
    synaptic_operations,
)
from ranvier.testing.random_netx import random_spec, random_spikes, write_spec


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rng = np.random.default_rng(11)
    x = random_spikes(rng, 9, 30, 0.3, samples=3)
    spec = random_spec(
        rng, n_in=9, sizes=[7, 5], weight_style="sparse", regime="normal", calibrate=x
    )
    path = tmp_path_factory.mktemp("metrics") / "m.net"
    write_spec(spec, path)
    network = read_netx(path)
    return network, x, simulate(network, x)


def test_synaptic_operations_by_loops(run):
    network, x, result = run
    acs, current = 0, (x != 0)
    for block, layer in zip(network.blocks, result.layers, strict=True):
        w = block.synapse.effective_weight
        for s in range(current.shape[0]):
            for t in range(current.shape[2]):
                for i in range(current.shape[1]):
                    if current[s, i, t]:
                        acs += int(np.count_nonzero(w[:, i]))
        current = np.asarray(layer.spikes) != 0
    ops = synaptic_operations(network, result)
    assert ops["Effective_ACs"] == acs / result.samples
    assert ops["Effective_MACs"] == 0.0
    assert ops["Dense"] == (9 * 7 + 7 * 5) * result.timesteps
    assert acs > 0


def test_activation_sparsity(run):
    network, _, result = run
    spikes = sum(int(np.asarray(layer.spikes).sum()) for layer in result.layers)
    want = 1 - spikes / ((7 + 5) * result.timesteps * result.samples)
    assert math.isclose(activation_sparsity(network, result), want)
    assert 0.0 <= want < 1.0


def test_connection_sparsity_and_footprint(run):
    network, _, _ = run
    zeros = sum(int((b.synapse.effective_weight == 0).sum()) for b in network.blocks)
    assert math.isclose(connection_sparsity(network), zeros / (9 * 7 + 7 * 5))
    want = 0
    for b in network.blocks:
        bits = 8 * b.synapse.effective_weight.size + 57 * b.neurons.n
        if b.synapse.delay is not None:
            bits += 6 * b.synapse.effective_weight.size
        want += math.ceil(bits / 8)
    assert footprint_bytes(network) == want


def test_compute_metrics_layers_consistent(run):
    network, _, result = run
    m = compute_metrics(network, result)
    assert math.isclose(
        sum(layer["effective_acs"] for layer in m["layers"]),
        m["synaptic_operations"]["Effective_ACs"],
    )
    assert sum(layer["footprint_bytes"] for layer in m["layers"]) == m["footprint_bytes"]
    assert m["membrane_updates"] == (7 + 5) * result.timesteps
    assert all(isinstance(layer["connection_sparsity"], float) for layer in m["layers"])


def test_activation_sparsity_leaves_out_a_non_spiking_readout(run, tmp_path):
    """A membrane read-out (no reachable threshold) has no activations to count."""
    _, x, _ = run
    spec = random_spec(
        np.random.default_rng(12),
        n_in=9,
        sizes=[7, 5],
        weight_style="sparse",
        regime="normal",
        calibrate=x,
    )
    spec.layers[-1].vth_mant = NON_SPIKING_VTH_MANT
    path = tmp_path / "readout.net"
    write_spec(spec, path)
    readout_net = read_netx(path)
    assert readout_net.blocks[0].neurons.spiking and not readout_net.blocks[-1].neurons.spiking
    result = simulate(readout_net, x)
    hidden = int(result.layers[0].spike_counts.sum())
    assert hidden > 0
    want = 1 - hidden / (7 * result.timesteps * result.samples)
    assert math.isclose(activation_sparsity(readout_net, result), want)
    assert compute_metrics(readout_net, result)["layers"][-1]["activation_sparsity"] == 1.0
