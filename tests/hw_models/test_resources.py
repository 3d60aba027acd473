"""Loihi 2 resource estimate: the compiler's per-core tables of Intel's PilotNet runs, and the
rules (tiles, slices, synapse memory) on random layers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.convert import read_netx
from ranvier.hw_models.calibration import PILOTNET_LIF, PILOTNET_SDNN
from ranvier.hw_models.network import Block, DenseSynapse, Network
from ranvier.hw_models.neurons import AdlifNeurons, AlifNeurons, CubaNeurons
from ranvier.hw_models.resources import (
    DELAY_BITS,
    LOIHI2_LIMITS,
    CoreLimits,
    estimate_resources,
    layer_resources,
)
from ranvier.hw_models.synapses import ConvSynapse, RecurrentDenseSynapse


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
    assert LOIHI2_LIMITS.neurons_per_core == 4095
    assert LOIHI2_LIMITS.synapse_words_per_core == 12000


DATA = Path(__file__).resolve().parents[1] / "equivalence" / "data"
COLUMNS = ("axons_in", "neuron_groups", "neurons", "synapses", "axon_map", "axon_mem", "cores")


@pytest.mark.parametrize("measured", [PILOTNET_LIF, PILOTNET_SDNN], ids=["lif", "sdnn"])
def test_pilotnet_tables_equal_the_compilers(measured):
    """Every entry of the compiler's per-core table in lava-dl's benchmark notebooks, except
    AxonMem before a conv layer (not modelled: None)."""
    net = read_netx(DATA / measured.network_file)
    res = estimate_resources(net, skip_layers=measured.skip_layers)
    assert res.cores == measured.cores
    assert len(res.layers) == len(measured.rows)
    for row, layer in zip(measured.rows, res.layers, strict=True):
        ours = (
            layer.axons_in,
            layer.neuron_groups,
            layer.neurons_per_core,
            layer.synapse_words,
            layer.axon_map,
            layer.axon_mem,
            layer.cores,
        )
        for name, theirs, mine in zip(COLUMNS, vars(row).values(), ours, strict=True):
            if mine is None:
                assert name == "axon_mem", (layer.name, name)
                continue
            assert mine == theirs, (layer.name, name, mine, theirs)


def test_pilotnet_dense_layer_splits_as_the_compiler_did():
    """The compiler's log: SynMem 61440 (LIF) / 66560 (SDNN) words on one core, max_ratio 6,
    then 12800 words on 6 cores, then 12 cores."""
    lif = read_netx(DATA / PILOTNET_LIF.network_file).blocks[6]
    sdnn = read_netx(DATA / PILOTNET_SDNN.network_file).blocks[6]
    for b, one_core in ((lif, 61440), (sdnn, 66560)):
        storage = b.synapse.storage()
        assert LOIHI2_LIMITS.list_words(storage, 100) == one_core
        assert LOIHI2_LIMITS.list_words(storage, 17) == 12800  # ceil(100 / 6) neurons
        r = layer_resources(b)
        assert (r.cores, r.limited_by) == (12, "synapse memory")


def test_small_layer_fields():
    r = layer_resources(block(5, 7, max_delay=4))
    assert (r.neurons, r.synapses, r.max_delay, r.cores, r.axons_in) == (5, 35, 4, 1, 7)
    assert r.neurons_per_core == 5 and r.tile is None and r.limited_by == "-"
    # weights 2..198 need 8 bits: 5 * (8 + 6 + 12) + 12 bits per list, 3 words, 7 lists
    assert r.synapse_words == 7 * math.ceil((5 * (8 + 6 + 12) + 12) / 64)
    no_delay = layer_resources(block(5, 7, max_delay=None))
    assert no_delay.synapse_words == 7 * math.ceil((5 * (8 + 12) + 12) / 64)


def test_neuron_limit_sets_cores():
    limits = CoreLimits(neurons_per_core=4)
    r = layer_resources(block(9, 2, max_delay=None), limits)
    # 9 neurons: ratio 9/4 -> 3 slices of 3
    assert (r.cores, r.limited_by) == (3, "neurons")


def test_recurrent_layer_takes_its_own_spikes_as_axons():
    rng = np.random.default_rng(0)
    syn = RecurrentDenseSynapse.from_file_weights(
        2 * rng.integers(-50, 50, (6, 4)), 2 * rng.integers(-50, 50, (6, 6))
    )
    b = Block(syn, CubaNeurons.create(6, vth_mant=100, i_decay=1024, v_decay=128))
    r = layer_resources(b)
    assert r.axons_in == 4 + 6
    bits = syn.forward.num_weight_bits
    assert r.synapse_words == 10 * math.ceil((6 * (bits + 12) + 12) / 64)


def test_network_totals_and_chips():
    net = Network(n_in=3, blocks=[block(4, 3), block(2, 4)])
    res = estimate_resources(net, CoreLimits(cores_per_chip=1))
    assert res.cores == sum(layer.cores for layer in res.layers) == 2
    assert res.chips == 2
    assert estimate_resources(net).chips == 1
    assert res.as_dict()["layers"][0]["neurons"] == 4
    assert [r.name for r in estimate_resources(net, skip_layers=1).layers] == [net.blocks[1].name]


def test_pure_function_of_ir():
    net = Network(n_in=6, blocks=[block(5, 6, density=0.5, seed=3)])
    assert estimate_resources(net) == estimate_resources(net)


small = CoreLimits(neurons_per_core=7, synapse_words_per_core=40)


@settings(max_examples=60, deadline=None)
@given(
    n_out=st.integers(1, 60),
    n_in=st.integers(1, 40),
    delay=st.one_of(st.none(), st.integers(0, 62)),
    limits=st.sampled_from([LOIHI2_LIMITS, small]),
)
def test_slices_fit_and_cover_the_layer(n_out, n_in, delay, limits):
    """Every slice holds ceil(n / cores) neurons at most, within both limits (unless one
    neuron alone is over), and the slices hold every neuron."""
    b = block(n_out, n_in, max_delay=delay)
    r = layer_resources(b, limits)
    size = -(-n_out // r.cores)
    assert (r.cores - 1) * size < n_out <= r.cores * size
    words = limits.list_words(b.synapse.storage(), size)
    if size > 1:
        assert size <= limits.neurons_per_core and words <= limits.synapse_words_per_core


@settings(max_examples=40, deadline=None)
@given(
    w=st.integers(3, 120),
    h=st.integers(3, 40),
    c_in=st.integers(1, 8),
    c_out=st.integers(1, 80),
    stride=st.integers(1, 2),
    limits=st.sampled_from([LOIHI2_LIMITS, CoreLimits(neurons_per_core=300)]),
)
def test_conv_tiles_fit_and_cover_the_layer(w, h, c_in, c_out, stride, limits):
    rng = np.random.default_rng(w * h)
    syn = ConvSynapse(rng.integers(-8, 8, (c_out, 3, 3, c_in)) * 2, (w, h, c_in), (stride, 1))
    out = syn.output_shape
    b = Block(
        syn, CubaNeurons.create(int(np.prod(out)), vth_mant=10, i_decay=0, v_decay=0), shape=out
    )
    r = layer_resources(b, limits)
    tw, th, tc = r.tile
    assert tw & (tw - 1) == 0  # the width a power of two
    assert r.cores == -(-out[0] // tw) * -(-out[1] // th) * -(-out[2] // tc)
    assert r.neurons_per_core == tw * th * tc
    if r.cores > 1:
        assert tw * th * tc <= limits.neurons_per_core
        assert r.axons_in == stride


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 30), seed=st.integers(0, 100))
def test_delays_never_take_fewer_words(n, k, seed):
    """Per slice, delays only add bits. (Cores need not grow: the compiler's multiplicative
    split is not monotone, e.g. 12 neurons x 14 inputs take 3 cores with delays, 4 without,
    under ``small``.)"""
    with_delays = block(n, k, max_delay=5, seed=seed).synapse.storage()
    without = block(n, k, max_delay=None, seed=seed).synapse.storage()
    for size in range(1, n + 1):
        assert small.list_words(with_delays, size) >= small.list_words(without, size)
