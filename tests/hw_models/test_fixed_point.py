"""Properties of the fixed-point rules and of the simulator's fast kernels.

The rules in ``fixed_point`` are checked against explicit arithmetic (written out from lava-nc's
source text, e.g. ``sign(x) * (abs(x) >> 12)``); the simulator's vectorised kernels are checked
against the integer rules, step by step, on random data including wrap-around and saturation.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models import fixed_point as fp
from ranvier.hw_models.network import DenseSynapse
from ranvier.hw_models.neurons import CubaNeurons
from ranvier.hw_models.neurons.cuba import cuba_step, run_cuba
from ranvier.hw_models.synapses import synaptic_input

ints24 = st.integers(-(1 << 23) + 1, 1 << 23)
decays = st.integers(0, 4096)


@given(st.integers(-(1 << 40), 1 << 40), st.integers(0, 20))
def test_right_shift_toward_zero_matches_truncated_division(x, bits):
    expected = abs(x) // (1 << bits) * (1 if x >= 0 else -1)
    assert fp.right_shift_toward_zero(np.array(x), bits) == expected


@given(ints24, decays)
def test_decay_rounds_toward_zero(u, d):
    prod = u * (4096 - d)
    expected = int(prod / 4096) if abs(prod) < 2**50 else None  # float trunc is exact here
    assert fp.decay(np.array(u), d) == expected
    # never grows in magnitude for decays in 0..4096
    assert abs(int(fp.decay(np.array(u), d))) <= abs(u)


@given(st.integers(-(3 << 23), 3 << 23))
def test_wrap_current_folds_once_with_lavas_asymmetric_bounds(u):
    w = int(fp.wrap_current(np.array(u)))
    if u > 1 << 23:
        assert w == u - (1 << 24)
    elif u <= -(1 << 23):
        assert w == u + (1 << 24)
    else:
        assert w == u
    # inside one fold the result lies in (-2**23, 2**23]
    if -(3 << 23) < u <= 3 << 23:
        assert -(1 << 23) < w <= 1 << 23


def test_wrap_current_edges():
    h = 1 << 23
    got = fp.wrap_current(np.array([h, h + 1, -h, -h + 1, 0]))
    assert got.tolist() == [h, h + 1 - 2 * h, h, -h + 1, 0]


@given(st.integers(-(1 << 30), 1 << 30))
def test_saturate_voltage(v):
    s = int(fp.saturate_voltage(np.array(v)))
    assert s == max(-(1 << 23) + 1, min((1 << 23) - 1, v))


@given(st.integers(-(1 << 40), 1 << 40))
def test_wrap_int32_is_twos_complement(x):
    assert int(fp.wrap_int32(np.array(x))) == int(
        np.array(x % (1 << 32)).astype(np.uint32).view(np.int32)
    )


@given(st.integers(-4096, 4095), st.integers(-8, 7))
def test_scale_bias_shift_by_sign_of_exponent(mant, exp):
    expected = mant * (1 << exp) if exp >= 0 else mant >> -exp
    assert int(fp.scale_bias(np.array(mant), exp)) == expected


@given(st.integers(-(1 << 20), 1 << 20), st.integers(-8, 8))
def test_shift_activation_floor_for_negative_exponent(a, e):
    expected = a * (1 << e) if e > 0 else a // (1 << -e)  # floor division = arithmetic shift
    assert int(fp.shift_activation(np.array(a), e)) == expected


weights = st.lists(st.integers(-300, 300), min_size=1, max_size=40).map(np.array)


@given(weights)
def test_sign_mode_rule(w):
    mode = fp.determine_sign_mode(w)
    if w.min() >= 0:
        assert mode == fp.SignMode.EXCITATORY
    elif w.max() <= 0:
        assert mode == fp.SignMode.INHIBITORY
    else:
        assert mode == fp.SignMode.MIXED


@given(weights, st.integers(1, 9))
def test_synapse_weights_fit_the_sign_mode_range(w, bits):
    mode = fp.determine_sign_mode(w)
    eff = fp.synapse_weights(w, bits)
    if mode == fp.SignMode.EXCITATORY:
        assert eff.min() >= 0 and eff.max() <= 255
    elif mode == fp.SignMode.INHIBITORY:
        assert eff.max() <= 0 and eff.min() >= -255
    else:
        assert -256 <= eff.min() and eff.max() <= 255
    # truncation never increases magnitude beyond the clipped value and drops low bits
    drop = 8 - bits + int(mode == fp.SignMode.MIXED)
    if drop >= 0:
        assert np.all(np.abs(eff) % (1 << drop) == 0)
    else:
        assert not eff.any()  # numpy's negative shift count zeroes everything, as in lava


@given(st.lists(st.integers(-256, 254), min_size=1, max_size=30).map(np.array))
def test_netx_weight_bits_preserve_effective_weights(w):
    """For weights netx can represent, mantissa * 2**exp reproduces the file weights.

    Exactly for MIXED weights on an even grid (what SLAYER writes), else up to the bits the
    synapse drops.
    """
    if not w.any():
        return
    try:
        mant, bits, exp = fp.netx_optimize_weight_bits(w)
    except fp.WeightFormatError:
        assert (w.min() >= 0 and w.max() > 255) or (w.max() <= 0 and w.min() < -256)
        return
    eff = fp.synapse_weights(mant, bits)
    scaled = eff * (1 << exp) if exp >= 0 else eff / (1 << -exp)
    if fp.determine_sign_mode(w) == fp.SignMode.MIXED and np.all(w % 2 == 0):
        np.testing.assert_array_equal(scaled, w)


# --- the simulator's kernels against the integer rules ------------------------------------


def _reference_cuba(neurons: CubaNeurons, a_in: np.ndarray) -> np.ndarray:
    t_steps, n, c = a_in.shape
    u = np.zeros((n, c), dtype=np.int64)
    v = np.zeros((n, c), dtype=np.int64)
    out = np.zeros((t_steps, n, c), dtype=np.uint8)
    for t in range(t_steps):
        u, v, s = cuba_step(
            u,
            v,
            a_in[t],
            i_decay=neurons.i_decay,
            v_decay=neurons.v_decay,
            bias=fp.scale_bias(neurons.bias_mant, neurons.bias_exp),
            vth=fp.scale_threshold(neurons.vth_mant),
        )
        out[t] = s
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["normal", "wrap", "saturate", "huge"]))
def test_cuba_kernel_equals_integer_rules(seed, regime):
    rng = np.random.default_rng(seed)
    c, n, t = int(rng.integers(1, 9)), int(rng.integers(1, 4)), int(rng.integers(1, 40))
    if regime == "huge":  # beyond 2**18 per step: the int32 sums of lava wrap
        a_in = rng.integers(-(1 << 31), 1 << 31, size=(t, n, c))
        i_decay, v_decay, vth = rng.integers(0, 4097, c), rng.integers(0, 4097, c), (1 << 17) - 1
    elif regime == "wrap":  # no current decay, strong one-signed input: u crosses 2**23
        a_in = rng.integers(20_000, 90_000, size=(t, n, c)) * rng.choice([-1, 1])
        i_decay, v_decay, vth = rng.integers(0, 3, c), rng.integers(0, 4097, c), (1 << 17) - 1
    elif regime == "saturate":  # no voltage decay, huge threshold: v pins at +-(2**23 - 1)
        a_in = rng.integers(-5_000, 20_000, size=(t, n, c))
        i_decay, v_decay, vth = rng.integers(0, 4097, c), rng.integers(0, 3, c), (1 << 17) - 1
    else:
        a_in = rng.integers(-400, 800, size=(t, n, c))
        i_decay, v_decay = rng.integers(0, 4097, c), rng.integers(0, 4097, c)
        vth = rng.integers(1, 5000, c)
    # the kernel's shortcuts: iDecay 4096 (u is the step's input), vDecay 0 (v kept), no bias
    if rng.random() < 0.25:
        i_decay = np.full(c, 4096)
    if rng.random() < 0.25:
        v_decay = np.zeros(c, dtype=np.int64)
    neurons = CubaNeurons.create(
        c,
        vth_mant=vth,
        i_decay=i_decay,
        v_decay=v_decay,
        bias_mant=rng.integers(-40_000, 40_000, c) if rng.random() < 0.5 else 0,
    )
    np.testing.assert_array_equal(run_cuba(neurons, a_in), _reference_cuba(neurons, a_in))


def _reference_synaptic_input(syn: DenseSynapse, spikes: np.ndarray) -> np.ndarray:
    """Per-synapse loops: sum each step's spikes per (delay slot), shift, deliver at t+1+d."""
    n, _, t_steps = spikes.shape
    w = syn.effective_weight
    delay = np.zeros_like(w) if syn.delay is None else syn.delay
    out = np.zeros((t_steps, n, syn.n_out), dtype=np.int64)
    for t in range(t_steps):
        slots: dict[int, np.ndarray] = {}
        for j in range(syn.n_out):
            for i in range(syn.n_in):
                d = int(delay[j, i])
                acc = slots.setdefault(d, np.zeros((n, syn.n_out), dtype=np.int64))
                acc[:, j] += w[j, i] * (spikes[:, i, t] != 0)
        for d, acc in slots.items():
            if t + 1 + d < t_steps:
                out[t + 1 + d] += fp.shift_activation(acc, syn.weight_exp)
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["auto", "per_delay", "dft"]))
def test_synaptic_input_equals_per_synapse_loops(seed, method):
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    t, n = int(rng.integers(1, 30)), int(rng.integers(1, 4))
    w = rng.integers(-256, 256, size=(n_out, n_in))
    delay = rng.integers(0, int(rng.choice([1, 3, 10, 63])), size=(n_out, n_in))
    syn = DenseSynapse(
        weight=w,
        weight_exp=int(rng.integers(-7, 1)),
        num_weight_bits=int(rng.integers(1, 9)),
        delay=delay if rng.random() < 0.8 else None,
    )
    if rng.random() < 0.5:  # netx-style: mantissas whose low bits the synapse truncates anyway
        syn = DenseSynapse(weight=w << 3, weight_exp=-3, num_weight_bits=5, delay=syn.delay)
    x = (rng.random((n, n_in, t)) < rng.random()).astype(np.uint8)
    got = synaptic_input(syn, x, method=method)
    np.testing.assert_array_equal(got, _reference_synaptic_input(syn, x))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-400, 400), min_size=1, max_size=24))
def test_netx_synapses_have_integer_values(raw):
    """Weights from a netx file always give integer synapse values (the floor is exact)."""
    w = np.array(raw)
    if not w.any():
        return
    try:
        mant, bits, exp = fp.netx_optimize_weight_bits(w)
    except fp.WeightFormatError:
        return
    syn = DenseSynapse(weight=mant.reshape(1, -1), weight_exp=exp, num_weight_bits=bits)
    assert syn.values_are_integers
