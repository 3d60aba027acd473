"""Recurrent layers (netx ``dense_rec``) in the simulator: the ring buffer against a step-by-step
reference, the arrival time of a recurrent spike, each input path, and the op counters."""

from __future__ import annotations

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.hw_models import Block, Network, simulate
from ranvier.hw_models.fixed_point import shift_activation, wrap_int32
from ranvier.hw_models.neurons import CubaNeurons
from ranvier.hw_models.synapses import DenseSynapse, RecurrentDenseSynapse
from ranvier.testing.random_netx import random_recurrent_case, write_spec


def _recurrent_input(syn: DenseSynapse, spikes: np.ndarray, t: int) -> np.ndarray:
    """What the layer's spikes ``(T, N, n)`` of steps < t deliver at step t, synapse by
    synapse: per sending step and delay slot, the sum of effective weights, shifted by the
    weight exponent (lava floors each slot's sum), then summed."""
    n = syn.n_out
    delays = np.zeros((n, n), np.int64) if syn.delay is None else syn.delay
    out = np.zeros(spikes.shape[1:], np.int64)
    for d in np.unique(delays):
        sent = t - 1 - int(d)
        if sent < 0:
            continue
        w_d = np.where(delays == d, syn.effective_weight, 0)
        acc = spikes[sent].astype(np.int64) @ w_d.T
        out += shift_activation(acc, syn.weight_exp)
    return out


def _stepwise(network: Network, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's spikes ``(N, n, T)``, one step at a time: at step t the recurrent input is
    built from the spikes already decided, and the neurons are re-run from step 0 on the input
    so far with the feed-forward kernel (tested against the integer step functions)."""
    current = (np.asarray(x) != 0).astype(np.uint8)
    outs = []
    t_steps = current.shape[2]
    for block in network.blocks:
        a_ff = block.synapse.synaptic_input(current).astype(np.int64)
        rec = getattr(block.synapse, "recurrent", None)
        spikes = np.zeros(a_ff.shape, np.uint8)
        a_in = a_ff.copy()
        for t in range(t_steps):
            if rec is not None:
                a_in[t] = wrap_int32(a_ff[t] + _recurrent_input(rec, spikes, t))
            spikes[t] = block.neurons.run(a_in[: t + 1].astype(np.float64))[t]
        out = spikes.transpose(1, 2, 0)
        outs.append(out)
        current = out
    return outs


@pytest.mark.parametrize("seed", range(24))
def test_recurrent_networks_match_the_stepwise_reference(tmp_path, seed):
    rng = np.random.default_rng(7_000 + seed)
    spec, x = random_recurrent_case(rng, ("CUBA", "ALIF", "ADLIF")[seed % 3])
    path = tmp_path / "rec.net"
    write_spec(spec, path)
    network = read_netx(path)
    assert any(isinstance(b.synapse, RecurrentDenseSynapse) for b in network.blocks)
    ours = simulate(network, x)
    for i, (mine, ref) in enumerate(zip(ours.layers, _stepwise(network, x), strict=True)):
        assert np.array_equal(mine.spikes, ref), f"layer {i}"


def _self_loop(delay_rec: int | None, weight_rec: int = 200) -> Network:
    """One input, one CUBA neuron with a self-connection: input weight and threshold so that
    one input spike or one recurrent spike makes it fire on the step it arrives."""
    syn = RecurrentDenseSynapse.from_file_weights(
        np.array([[200]]),
        np.array([[weight_rec]]),
        delay_rec=None if delay_rec is None else np.array([[delay_rec]]),
    )
    neurons = CubaNeurons.create(1, vth_mant=10, i_decay=4096, v_decay=4096)
    return Network(n_in=1, blocks=[Block(syn, neurons)])


@pytest.mark.parametrize("delay_rec", [None, 0, 1, 5, 62])
def test_a_recurrent_spike_arrives_one_step_plus_its_delay_later(delay_rec):
    """Spike at step t -> recurrent target at t + 1 + delay_rec (lava's DelayDense timing,
    docs/lava_backend.md): one input spike at step 0 reaches the neuron at step 1, which
    then fires every 1 + delay_rec steps."""
    t_steps = 140
    x = np.zeros((1, t_steps), np.uint8)
    x[0, 0] = 1
    spikes = simulate(_self_loop(delay_rec), x).layers[0].spikes[0]
    period = 1 + (delay_rec or 0)
    assert np.flatnonzero(spikes).tolist() == list(range(1, t_steps, period))


def test_inhibitory_recurrence_cancels_the_drive():
    """A self-connection of -200 arriving with the next input spike cancels it: constant
    input makes the neuron fire every other step."""
    x = np.ones((1, 12), np.uint8)
    spikes = simulate(_self_loop(0, weight_rec=-200), x).layers[0].spikes[0]
    assert np.flatnonzero(spikes).tolist() == [1, 3, 5, 7, 9, 11]


def _block(
    weight_rec: np.ndarray, delay_rec, n_in: int = 3, seed: int = 0, bias: int = 0
) -> Network:
    rng = np.random.default_rng(seed)
    n = weight_rec.shape[0]
    if weight_rec.max() <= 0:  # keep the whole matrix non-positive (netx maps both at once)
        weight = -rng.integers(0, 5, size=(n, n_in))
    else:
        weight = 2 * rng.integers(0, 100, size=(n, n_in))
    syn = RecurrentDenseSynapse.from_file_weights(weight, weight_rec, delay_rec=delay_rec)
    neurons = CubaNeurons.create(n, vth_mant=60, i_decay=1024, v_decay=512, bias_mant=bias)
    return Network(n_in=n_in, blocks=[Block(syn, neurons)])


@pytest.mark.parametrize(
    ("name", "weight_rec", "delay_rec", "mode"),
    [
        ("one delay value", "mixed", 4, "single"),
        ("no delays", "mixed", None, "single"),
        ("several delays", "mixed", "random", "scatter"),
        # all non-positive with a zero: lava's synapse keeps fractions (-4 acts as -3.5), so
        # each step's slot sum is floored (DenseSynapse.values_are_integers)
        ("fractional values", "fractional", "random", "per_delay"),
    ],
)
def test_each_recurrent_input_path_matches_the_reference(name, weight_rec, delay_rec, mode):
    rng = np.random.default_rng(3)
    n = 6
    if weight_rec == "mixed":
        w = 2 * rng.integers(-60, 100, size=(n, n))
    else:
        w = -rng.integers(3, 5, size=(n, n))
        w[0, 0] = 0
    d = rng.integers(0, 9, size=(n, n)) if delay_rec == "random" else delay_rec
    bias = 40 if weight_rec == "fractional" else 0  # inhibitory weights: a bias drives it
    network = _block(w, None if d is None else np.broadcast_to(d, (n, n)).copy(), bias=bias)
    syn = network.blocks[0].synapse
    feedback = syn.feedback(1, 10)
    assert feedback.mode == mode
    x = (rng.random((4, 3, 60)) < 0.3).astype(np.uint8)
    ours = simulate(network, x).layers[0].spikes
    assert ours.any()
    assert np.array_equal(ours, _stepwise(network, x)[0])


def test_a_summed_input_beyond_32_bits_is_exact():
    """Feed-forward and recurrent input are two int32 channels into one InPort, summed in
    int32; lava then shifts the sum by 6 in int32 as well, so the wrap of the sum itself is
    invisible in what the neuron integrates (x mod 2**32, times 64, mod 2**32). No netx file
    gets there (its values are at most 256 per synapse), so the synapses are built with a
    large weight exponent: each part stays below 2**31, their sum does not, and ranvier must
    still equal the integer reference (bias-driven spikes on top)."""
    ff = DenseSynapse(np.full((1, 2), 201), weight_exp=22, num_weight_bits=8)
    rec = DenseSynapse(np.array([[201]]), weight_exp=22, num_weight_bits=8)
    neurons = CubaNeurons.create(1, vth_mant=50, i_decay=2048, v_decay=1024, bias_mant=40)
    network = Network(n_in=2, blocks=[Block(RecurrentDenseSynapse(ff, rec), neurons)])
    x = np.zeros((1, 2, 40), np.uint8)
    x[0, :, ::3] = 1
    a_ff = ff.synaptic_input(x)[:, 0, 0]
    assert a_ff.max() < 2**31 and rec.values.max() < 2**31
    assert a_ff.max() + rec.values.max() >= 2**31  # the sum crosses int32
    ours = simulate(network, x).layers[0].spikes
    assert ours.any()
    assert np.array_equal(ours, _stepwise(network, x)[0])


def test_the_overflow_bound_covers_floored_fractional_slots():
    """Fractional recurrent values (-3.5 here) are floored per delay slot as lava does
    (-7 for two of them), one more than their sum of magnitudes: the kernels' bound on the
    input must include that, or they skip a wrap they need. A long run whose current wraps
    past 2**23 only with the floored input checks it against the integer rules."""
    weight_rec = np.zeros((3, 3), np.int64)
    weight_rec[2, :2] = -4
    syn = RecurrentDenseSynapse.from_file_weights(
        np.full((3, 1), -3), weight_rec, delay_rec=np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0]])
    )
    feedback = syn.feedback(1, 10)
    assert feedback.mode == "per_delay"
    assert syn.recurrent.values[2, 0] == -3.5
    assert feedback.bound >= 8  # two slots: ceil(3.5) + ceil(3.5)
    rng = np.random.default_rng(0)
    fired = rng.random((200, 1, 3)) < 0.5
    for t in range(200):  # the arrivals never exceed the bound
        assert np.abs(feedback.arriving()).max() <= feedback.bound
        feedback.send(fired[t])
    # neurons 0 and 1 fire every step from their bias; neuron 2 integrates -7 per step
    neurons = CubaNeurons.create(
        3, vth_mant=1, i_decay=0, v_decay=4096, bias_mant=np.array([100, 100, 0])
    )
    network = Network(n_in=1, blocks=[Block(syn, neurons)])
    t_steps = 18_000  # |u| = 448 * T (the sum) < 2**23 <= 512 * T (floored)
    x = np.zeros((1, t_steps), np.uint8)
    spikes = simulate(network, x).layers[0].spikes
    assert np.array_equal(spikes, _integer_reference(network, x))
    assert spikes[2].any()  # the wrapped current makes neuron 2 fire


def _integer_reference(network: Network, x: np.ndarray) -> np.ndarray:
    """CUBA in plain integers (``cuba_step``), one step at a time, with the recurrent input of
    :func:`_recurrent_input`; one layer, one sample ``(C, T)``."""
    from ranvier.hw_models import fixed_point as fp
    from ranvier.hw_models.neurons.cuba import cuba_step

    block = network.blocks[0]
    neu = block.neurons
    a_ff = block.synapse.synaptic_input(x[None]).astype(np.int64)
    u = np.zeros(a_ff.shape[1:], np.int64)
    v = np.zeros_like(u)
    spikes = np.zeros(a_ff.shape, np.uint8)
    bias = fp.scale_bias(neu.bias_mant, neu.bias_exp)
    vth = fp.scale_threshold(neu.vth_mant)
    rec = block.synapse.recurrent
    for t in range(a_ff.shape[0]):
        a_t = wrap_int32(a_ff[t] + _recurrent_input(rec, spikes[max(0, t - 2) : t + 1], min(t, 2)))
        u, v, s = cuba_step(u, v, a_t, i_decay=neu.i_decay, v_decay=neu.v_decay, bias=bias, vth=vth)
        spikes[t] = s
    return spikes.transpose(1, 2, 0)[0]


def test_synaptic_events_count_both_synapses():
    """Each input spike times its feed-forward fan-out plus each of the layer's own spikes
    times its recurrent fan-out; the energy model's per-neuron share uses the same fan-out."""
    w_rec = np.array([[0, 4, 6], [2, 0, 0], [2, 2, 2]])  # recurrent fan-out 2, 2, 2
    network = _block(w_rec, None)
    rng = np.random.default_rng(1)
    x = (rng.random((2, 3, 40)) < 0.4).astype(np.uint8)
    layer = simulate(network, x).layers[0]
    syn = network.blocks[0].synapse
    expected = x.sum(axis=2) @ syn.fan_out() + layer.spikes.sum(axis=2) @ np.array([2, 2, 2])
    assert layer.synaptic_events.tolist() == expected.tolist()
    assert network.fan_out(0).tolist() == [2, 2, 2]
    assert syn.synapse_count == np.count_nonzero(syn.forward.effective_weight) + 6
