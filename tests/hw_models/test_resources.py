"""Loihi 2 resource estimate: a pure, monotone function of the IR."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models.network import Block, DenseSynapse, Network
from ranvier.hw_models.neurons import AdlifNeurons, AlifNeurons, CubaNeurons
from ranvier.hw_models.resources import (
    DELAY_BITS,
    LOIHI2_LIMITS,
    CoreLimits,
    estimate_resources,
    layer_resources,
)


def block(n_out: int, n_in: int, density: float = 1.0, max_delay: int | None = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = 2 * rng.integers(1, 100, size=(n_out, n_in))
    w[rng.random((n_out, n_in)) >= density] = 0
    delay = None if max_delay is None else np.full((n_out, n_in), max_delay)
    syn = DenseSynapse(weight=w, delay=delay)
    return Block(syn, CubaNeurons.create(n_out, vth_mant=100, i_decay=1024, v_decay=128))


def test_constants():
    assert DELAY_BITS == 6
    # per-neuron parameter and state bits, from each unit's field schema
    assert CubaNeurons.param_bits() == 17 + 12 + 12 + 13 + 3
    assert CubaNeurons.state_bits() == 2 * 24
    assert AlifNeurons.param_bits() == 2 * 17 + 4 * 12 + 13 + 3
    assert AlifNeurons.state_bits() == 4 * 24
    assert AdlifNeurons.param_bits() == 2 * 17 + 3 * 13 + 13 + 3
    assert AdlifNeurons.state_bits() == 2 * 24 + 1
    assert LOIHI2_LIMITS.cores_per_chip == 128
    assert LOIHI2_LIMITS.neurons_per_core * 128 == 1 << 20


def test_small_layer_fields():
    r = layer_resources(block(5, 7, max_delay=4))
    assert (r.neurons, r.synapses, r.max_delay, r.delay_slots, r.cores) == (5, 35, 4, 25, 1)
    assert r.synapse_bytes == math.ceil(35 * (8 + 6) / 8)
    assert r.memory_bytes == r.synapse_bytes + r.neuron_bytes + r.accumulator_bytes
    no_delay = layer_resources(block(5, 7, max_delay=None))
    assert no_delay.synapse_bytes == 35 and no_delay.delay_slots == 5


def test_neuron_limit_sets_cores():
    limits = CoreLimits(neurons_per_core=4)
    r = layer_resources(block(9, 2, max_delay=None), limits)
    assert (r.cores, r.limited_by) == (3, "neurons")


def test_synapse_and_memory_limits():
    r = layer_resources(block(4, 50), CoreLimits(synapses_per_core=60))
    assert (r.cores, r.limited_by) == (4, "synapses")  # 200 synapses / 60
    r = layer_resources(block(4, 50), CoreLimits(memory_bytes_per_core=100))
    assert r.limited_by == "memory" and r.cores == math.ceil(r.memory_bytes / 100)


def test_network_totals_and_chips():
    net = Network(n_in=3, blocks=[block(4, 3), block(2, 4)])
    res = estimate_resources(net, CoreLimits(cores_per_chip=1))
    assert res.cores == sum(layer.cores for layer in res.layers) == 2
    assert res.chips == 2
    assert estimate_resources(net).chips == 1
    assert res.as_dict()["layers"][0]["neurons"] == 4


def test_pure_function_of_ir():
    net = Network(n_in=6, blocks=[block(5, 6, density=0.5, seed=3)])
    assert estimate_resources(net) == estimate_resources(net)


small = CoreLimits(neurons_per_core=7, synapses_per_core=40, memory_bytes_per_core=300)


@settings(max_examples=60, deadline=None)
@given(
    n_out=st.integers(1, 40),
    n_in=st.integers(1, 40),
    extra_out=st.integers(0, 20),
    extra_in=st.integers(0, 20),
    delay=st.integers(0, 62),
    extra_delay=st.integers(0, 10),
    limits=st.sampled_from([LOIHI2_LIMITS, small]),
)
def test_monotone_in_layer_size(n_out, n_in, extra_out, extra_in, delay, extra_delay, limits):
    a = layer_resources(block(n_out, n_in, max_delay=delay), limits)
    b = layer_resources(
        block(n_out + extra_out, n_in + extra_in, max_delay=min(62, delay + extra_delay)), limits
    )
    for key in ("neurons", "synapses", "delay_slots", "memory_bytes", "cores"):
        assert getattr(b, key) >= getattr(a, key), key


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 30), seed=st.integers(0, 100))
def test_more_nonzero_synapses_never_fewer_cores(n, k, seed):
    sparse = layer_resources(block(n, k, density=0.3, seed=seed), small)
    dense = layer_resources(block(n, k, density=1.0, seed=seed), small)
    assert dense.synapses >= sparse.synapses and dense.cores >= sparse.cores
