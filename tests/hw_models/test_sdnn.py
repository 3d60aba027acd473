"""Sigma-delta neurons (lava-nc 0.10.0 PyDeltaModelFixed / PySigmaModelFixed /
PySigmaDeltaModelFixed): the batched kernels against the plain-integer step rules.

``delta_step``, ``sigma_delta_step`` and ``sigma_step`` transcribe lava's ``run_spk`` on int64
with explicit 32-bit wraps (checked against lava itself in
tests/equivalence/test_sdnn_lava.py); the kernels run numpy int32 arithmetic and a different
form of the encoder (``ref = act - residue``), so they are an independent implementation.
They must agree in every regime: ordinary inputs, sigma and bias wrapping at 32 bits, the
``a_in << (spike_exp + state_exp)`` wrap of the Delta encoder, scaled thresholds that wrap
negative, ``abs(-2**31)`` and the cumulative-error variant. A few hand-computed cases and
payloads recorded from lava pin the rules themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models.fixed_point import wrap_int32
from ranvier.hw_models.neurons import NEURON_TYPES, UNITS, ParameterRangeError, neuron_unit
from ranvier.hw_models.neurons.sdnn import (
    DeltaNeurons,
    SigmaDeltaNeurons,
    SigmaNeurons,
    abs32,
    delta_step,
    scale_exp,
    sdnn_unit,
    sigma_delta_step,
    sigma_step,
)

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
EDGES = [0, 1, -1, 2, -2, 1 << 30, -(1 << 30), I32_MAX, I32_MIN, I32_MAX - 1, I32_MIN + 1]
REGIMES = ["normal", "sparse", "wrap", "big_bias", "big_vth", "edge", "zero_vth"]


# --- the reference: lava's step rules, looped --------------------------------------------
def _loop(group, a_in: np.ndarray, state: dict | None = None):
    """Loop the unit's integer step over ``a_in`` ``(T, N, C)``: payloads, membrane, state."""
    t_steps, n, c = a_in.shape
    st_ = {k: np.asarray(v, np.int64) for k, v in (state or {}).items()}

    def get(name):
        return st_.get(name, np.zeros((n, c), np.int64))

    payloads = np.zeros((t_steps, n, c), np.int64)
    membrane = np.zeros((t_steps, n, c), np.int64)
    if isinstance(group, SigmaNeurons):
        sigma = get("sigma")
        for t in range(t_steps):
            sigma, payloads[t] = sigma_step(sigma, a_in[t])
            membrane[t] = sigma
        return payloads, membrane, {"sigma": sigma}
    vth = scale_exp(group.vth_mant, group.spike_exp, group.state_exp)
    act, residue, error = get("act"), get("residue"), get("error")
    if isinstance(group, DeltaNeurons):
        for t in range(t_steps):
            act, residue, error, payloads[t] = delta_step(
                act,
                residue,
                error,
                a_in[t],
                vth=vth,
                spike_exp=group.spike_exp,
                state_exp=group.state_exp,
                cum_error=bool(group.cum_error),
            )
            membrane[t] = act
        return payloads, membrane, {"act": act, "residue": residue, "error": error}
    bias = scale_exp(group.bias_mant, group.spike_exp, group.state_exp)
    sigma = get("sigma")
    for t in range(t_steps):
        sigma, act, residue, error, payloads[t] = sigma_delta_step(
            sigma,
            act,
            residue,
            error,
            a_in[t],
            vth=vth,
            bias=bias,
            state_exp=group.state_exp,
            relu=group.relu,
            cum_error=bool(group.cum_error),
        )
        membrane[t] = sigma
    return payloads, membrane, {"sigma": sigma, "act": act, "residue": residue, "error": error}


def _params(rng: np.random.Generator, regime: str, c: int) -> dict:
    vth_hi = {"big_vth": 1 << 26, "edge": 4, "zero_vth": 1}.get(regime, 64)
    bias_hi = {"big_bias": 1 << 22, "edge": 1 << 20, "wrap": 1 << 12}.get(regime, 16)
    exps = (0, 0) if regime == "edge" and rng.random() < 0.5 else rng.integers(0, 8, 2)
    return {
        "vth_mant": rng.integers(0, vth_hi, c),
        "bias_mant": rng.integers(-bias_hi, bias_hi, c),
        "spike_exp": int(exps[0]),
        "state_exp": int(exps[1]),
        "cum_error": bool(rng.random() < 0.4),
        "activation": "relu" if rng.random() < 0.6 else "unit",
    }


def _input(rng: np.random.Generator, regime: str, shape: tuple[int, ...]) -> np.ndarray:
    if regime == "edge":
        return rng.choice(np.array(EDGES, np.int64), shape)
    amp = {"wrap": 1 << 31, "big_bias": 1 << 16, "big_vth": 1 << 20}.get(regime, 1 << 10)
    a = rng.integers(-amp, amp, shape, dtype=np.int64)
    if regime == "sparse":
        a[rng.random(shape) < 0.8] = 0
    return a


def _group(unit, params: dict, c: int):
    if unit is SigmaNeurons:
        return SigmaNeurons.create(c, vth_mant=params["vth_mant"])
    if unit is DeltaNeurons:
        keys = ("vth_mant", "spike_exp", "state_exp", "cum_error")
        return DeltaNeurons.create(c, **{k: params[k] for k in keys})
    return SigmaDeltaNeurons.create(c, **params)


def _case(seed: int, unit):
    rng = np.random.default_rng(seed)
    regime = REGIMES[seed % len(REGIMES)]
    t_steps, n, c = int(rng.integers(1, 30)), int(rng.integers(1, 4)), int(rng.integers(1, 7))
    return regime, _group(unit, _params(rng, regime, c), c), _input(rng, regime, (t_steps, n, c))


# --- kernel == reference ----------------------------------------------------------------------
UNITS_SDNN = [SigmaDeltaNeurons, DeltaNeurons, SigmaNeurons]


@pytest.mark.parametrize("unit", UNITS_SDNN, ids=lambda u: u.neuron_type)
def test_kernel_matches_integer_steps(unit):
    """Payloads, membrane and final state of the kernel equal the looped step rule, in every
    regime; the regimes do reach the wraps they are there for."""
    reached = dict.fromkeys(("sigma_wrap", "shift_wrap", "neg_vth", "abs_min", "messages"), 0)
    for seed in range(280):
        regime, group, a_in = _case(seed, unit)
        want, want_mem, want_state = _loop(group, a_in)
        membrane = np.zeros(a_in.shape)
        state: dict = {}
        got = group.run(a_in.astype(np.float64), membrane_out=membrane, state=state)
        assert got.dtype == np.int64 and got.shape == a_in.shape
        np.testing.assert_array_equal(got, want, err_msg=f"seed {seed} ({regime})")
        np.testing.assert_array_equal(membrane, want_mem, err_msg=f"seed {seed} membrane")
        assert set(state) == set(want_state)
        for k, v in want_state.items():
            np.testing.assert_array_equal(state[k], v, err_msg=f"seed {seed} state {k}")
        sums = np.cumsum(a_in, axis=0)
        reached["sigma_wrap"] += bool(np.any(wrap_int32(sums) != sums))
        if unit is not SigmaNeurons:
            shifted = a_in << (group.spike_exp + group.state_exp)
            reached["shift_wrap"] += bool(np.any(wrap_int32(shifted) != shifted))
            reached["neg_vth"] += bool(
                np.any(scale_exp(group.vth_mant, group.spike_exp, group.state_exp) < 0)
            )
            reached["abs_min"] += bool(np.any(a_in == I32_MIN))
        reached["messages"] += int(np.count_nonzero(want))
    wanted = ("sigma_wrap", "messages") if unit is SigmaNeurons else tuple(reached)
    assert all(reached[k] > 0 for k in wanted), reached


@st.composite
def _hyp_case(draw, unit):
    t_steps, n, c = draw(st.integers(0, 10)), draw(st.integers(1, 2)), draw(st.integers(1, 4))
    value = st.one_of(
        st.sampled_from(EDGES), st.integers(-(1 << 12), 1 << 12), st.integers(I32_MIN, I32_MAX)
    )
    a_in = np.array(
        draw(st.lists(value, min_size=t_steps * n * c, max_size=t_steps * n * c)), np.int64
    ).reshape(t_steps, n, c)
    params = {
        "vth_mant": draw(st.lists(st.integers(0, 1 << 21), min_size=c, max_size=c)),
        "bias_mant": draw(st.lists(st.integers(-(1 << 20), 1 << 20), min_size=c, max_size=c)),
        "spike_exp": draw(st.integers(0, 7)),
        "state_exp": draw(st.integers(0, 7)),
        "cum_error": draw(st.booleans()),
        "activation": draw(st.sampled_from(["relu", "unit"])),
    }
    return _group(unit, params, c), a_in


@pytest.mark.parametrize("unit", UNITS_SDNN, ids=lambda u: u.neuron_type)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_kernel_matches_integer_steps_property(unit, data):
    group, a_in = data.draw(_hyp_case(unit))
    want, want_mem, _ = _loop(group, a_in)
    membrane = np.zeros(a_in.shape, np.int64)
    np.testing.assert_array_equal(group.run(a_in, membrane_out=membrane), want)
    np.testing.assert_array_equal(membrane, want_mem)
    a32 = a_in.astype(np.int32)  # the values fit: int32 input (lava's port dtype) too
    np.testing.assert_array_equal(group.run(a32), want)
    np.testing.assert_array_equal(a32, a_in)  # the kernel leaves its input alone


@pytest.mark.parametrize("unit", UNITS_SDNN, ids=lambda u: u.neuron_type)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_chunked_run_equals_one_piece(unit, data):
    """A run split into chunks (empty ones included), carrying ``state``, is the run in one
    piece: payloads, membrane and final state."""
    group, a_in = data.draw(_hyp_case(unit))
    cuts = sorted(data.draw(st.lists(st.integers(0, a_in.shape[0]), max_size=4)))
    whole_state: dict = {}
    whole_mem = np.zeros(a_in.shape)
    whole = group.run(a_in, membrane_out=whole_mem, state=whole_state)
    state: dict = {}
    pieces, mems = [], []
    for lo, hi in zip([0, *cuts], [*cuts, a_in.shape[0]], strict=True):
        mem = np.zeros(a_in[lo:hi].shape)
        pieces.append(group.run(a_in[lo:hi], membrane_out=mem, state=state))
        mems.append(mem)
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    np.testing.assert_array_equal(np.concatenate(mems), whole_mem)
    for k in whole_state:
        np.testing.assert_array_equal(state[k], whole_state[k])


def test_state_is_read_at_the_start():
    """A run starting from a carried state continues it (the same as the reference started
    from that state), not from zeros."""
    rng = np.random.default_rng(5)
    group = SigmaDeltaNeurons.create(3, vth_mant=2, bias_mant=[0, 3, -3], cum_error=True)
    a_in = rng.integers(-5000, 5000, (6, 2, 3))
    start = {k: rng.integers(-(1 << 20), 1 << 20, (2, 3)) for k in ("sigma", "act", "residue")}
    start["error"] = rng.integers(-50, 50, (2, 3))
    want, _, want_state = _loop(group, a_in, start)
    state = {k: v.copy() for k, v in start.items()}
    np.testing.assert_array_equal(group.run(a_in, state=state), want)
    assert not np.array_equal(want, group.run(a_in))
    for k, v in want_state.items():
        np.testing.assert_array_equal(state[k], v)


# --- the rules themselves ---------------------------------------------------------------------
def test_delta_hand_case():
    """vth 0, spike_exp 6, state_exp 6: every change is sent, ``(a_t - a_{t-1}) << 6``."""
    group = DeltaNeurons.create(1, vth_mant=0)
    a_in = np.array([3, 3, 5, -1, -1])[:, None, None]
    np.testing.assert_array_equal(group.run(a_in)[:, 0, 0], [3 << 6, 0, 2 << 6, -6 << 6, 0])


def test_delta_residue_accumulates():
    """Below the threshold the change accumulates in the residue and goes out with the next
    message."""
    group = DeltaNeurons.create(1, vth_mant=3, spike_exp=0, state_exp=2)  # vth 12 scaled
    # x = a << 2: 4, 8, 12, 12 -> deltas 4, 8 (4 + residue 4), 12 (sent: 12 >> 2 = 3), 0
    a_in = np.array([1, 2, 3, 3])[:, None, None]
    np.testing.assert_array_equal(group.run(a_in)[:, 0, 0], [0, 0, 3, 0])


def test_sigma_delta_loses_low_bits():
    """The residue is taken before the ``state_exp`` shift of the message, so the low bits
    of a message are lost for good (SigmaDelta's input is not shifted; the behaviour lava's
    later "Corrected" model changes)."""
    group = SigmaDeltaNeurons.create(1, vth_mant=0, spike_exp=0, state_exp=2, activation="unit")
    assert group.run(np.array([5, 0, 0])[:, None, None])[:, 0, 0].tolist() == [1, 0, 0]


def test_sigma_delta_hand_case():
    """sigma = running sum, act = relu(sigma + bias << 12), message delta >> 6. A lava-nc
    0.10.0 run (RingBuffer -> SigmaDelta(vth=3, bias=5, spike_exp=6, state_exp=6)) sent
    330 then 0 for the inputs 680, 376."""
    group = SigmaDeltaNeurons.create(1, vth_mant=3, bias_mant=5)
    out = group.run(np.array([680, 376])[:, None, None])[:, 0, 0]
    assert out.tolist() == [(680 + 5 * 4096) >> 6, 0]  # second delta 376 < vth 3 << 12


def test_relu_and_unit():
    a_in = np.array([-100, -100, 300])[:, None, None]
    relu = SigmaDeltaNeurons.create(1, vth_mant=0, spike_exp=0, state_exp=0)
    unit = SigmaDeltaNeurons.create(1, vth_mant=0, spike_exp=0, state_exp=0, activation="unit")
    assert relu.run(a_in)[:, 0, 0].tolist() == [0, 0, 100]
    assert unit.run(a_in)[:, 0, 0].tolist() == [-100, -100, 300]


def test_int32_quirks_of_the_encoder():
    """``abs(-2**31)`` is ``-2**31`` in int32: a delta of -2**31 never passes a threshold >= 0
    (it stays in the residue), and with cum_error such a message does not reset the error."""
    g = DeltaNeurons.create(1, vth_mant=0, spike_exp=0, state_exp=0)
    assert g.run(np.array([I32_MIN, 0])[:, None, None])[:, 0, 0].tolist() == [0, 0]
    assert abs32(np.array([I32_MIN]))[0] == I32_MIN
    # scaled threshold 2**31 wraps to -2**31: every step fires, even a zero delta (payload 0)
    g = DeltaNeurons.create(1, vth_mant=1 << 19, spike_exp=6, state_exp=6)
    assert scale_exp(g.vth_mant, 6, 6)[0] == I32_MIN
    assert g.run(np.array([1, 1, 2])[:, None, None])[:, 0, 0].tolist() == [64, 0, 64]
    # ... and so does a delta of -2**31 (abs32(-2**31) >= -2**31), unlike with vth 0 above
    assert g.run(np.array([-(1 << 19)])[:, None, None])[0, 0, 0] == I32_MIN >> 6
    # cum_error with a wrapped negative threshold sends delta -2**31; error is not reset
    _act, res, err, p = delta_step(
        np.array([0]),
        np.array([0]),
        np.array([0]),
        np.array([I32_MIN]),
        vth=I32_MIN,
        spike_exp=0,
        state_exp=0,
        cum_error=True,
    )
    assert p.tolist() == [I32_MIN] and err.tolist() == [I32_MIN] and res.tolist() == [0]


def test_shift_and_sum_wrap_int32():
    """``a_in << (spike_exp + state_exp)`` and sigma wrap at 32 bits."""
    g = DeltaNeurons.create(1, vth_mant=0, spike_exp=7, state_exp=0)
    # 3 * 2**30 wraps to -2**30; -2**31 itself would be no message (abs32, above)
    assert g.run(np.array([3 << 23])[:, None, None])[0, 0, 0] == -(1 << 30)
    s = SigmaNeurons.create(1)
    out = s.run(np.array([I32_MAX, 1, I32_MAX, 2])[:, None, None])[:, 0, 0]
    assert out.tolist() == [I32_MAX, I32_MIN, -1, 1]
    # an input beyond int32 is wrapped as lava's int32 port holds it
    assert s.run(np.array([1 << 32, 3.0])[:, None, None])[:, 0, 0].tolist() == [0, 3]


def test_bias_is_scaled_and_wraps():
    g = SigmaDeltaNeurons.create(2, vth_mant=0, bias_mant=[3 << 18, -3], activation="unit")
    assert scale_exp(g.bias_mant, 6, 6).tolist() == [-(1 << 30), -3 << 12]
    assert scale_exp([1 << 19], 6, 6).tolist() == [I32_MIN]
    assert g.run(np.zeros((1, 1, 2)))[0, 0].tolist() == [-(1 << 24), (-3 << 12) >> 6]


# --- the unit's interface ---------------------------------------------------------------------
def test_create_broadcasts_and_defaults():
    g = SigmaDeltaNeurons.create(4, 7)
    assert g.vth_mant.tolist() == [7] * 4 and g.bias_mant.tolist() == [0] * 4
    assert (g.spike_exp, g.state_exp, g.message_bits, g.activation, g.cum_error) == (6, 6, 16, 1, 0)
    assert g.relu and g.spiking
    g = SigmaDeltaNeurons.create(3, vth_mant=[1, 2, 3], bias_mant=[4, 5, 6], message_bits=24)
    assert g.vth_mant.tolist() == [1, 2, 3] and g.message_bits == 24
    assert SigmaDeltaNeurons.create(1, vth_mant=1, activation="identity").activation == 0
    assert SigmaDeltaNeurons.create(1, vth_mant=1, activation="RELU").activation == 1
    with pytest.raises(ValueError, match="expected 1 or 3"):
        SigmaDeltaNeurons.create(3, vth_mant=[1, 2])
    with pytest.raises(ValueError, match="activation"):
        SigmaDeltaNeurons.create(1, vth_mant=1, activation="sigmoid")
    with pytest.raises(ParameterRangeError, match="spike_exp"):
        SigmaDeltaNeurons.create(1, vth_mant=1, spike_exp=8)
    with pytest.raises(TypeError, match="unknown"):
        DeltaNeurons.create(1, vth_mant=1, activation="relu")
    with pytest.raises(TypeError, match="missing"):
        SigmaDeltaNeurons.create(1)
    s = SigmaNeurons.create(2)
    assert s.vth_mant.tolist() == [0, 0] and s.message_bits == 16 and not s.spiking
    d = DeltaNeurons.create(2, vth_mant=1, cum_error=True)
    assert d.cum_error == 1 and d.message_bits == 16 and d.spiking
    assert g.same_as(SigmaDeltaNeurons.create(3, [1, 2, 3], [4, 5, 6], message_bits=24))
    assert not g.same_as(SigmaDeltaNeurons.create(3, [1, 2, 3], [4, 5, 6]))


def test_registry_and_variants():
    assert NEURON_TYPES["SDNN"] is SigmaDeltaNeurons and neuron_unit("SDNN") is SigmaDeltaNeurons
    tags = {DeltaNeurons.neuron_type, SigmaNeurons.neuron_type, SigmaDeltaNeurons.neuron_type}
    assert tags == {"SDNN", "SDNN_DELTA", "SDNN_SIGMA"}
    assert "SDNN_DELTA" not in NEURON_TYPES and "SDNN_SIGMA" not in NEURON_TYPES
    assert not (tags - {"SDNN"}) & {a for u in UNITS for a in u.aliases}
    assert sdnn_unit(input_layer=True, sigma_output=False) is DeltaNeurons
    assert sdnn_unit(input_layer=True, sigma_output=True) is DeltaNeurons  # netx: input first
    assert sdnn_unit(input_layer=False, sigma_output=True) is SigmaNeurons
    assert sdnn_unit(input_layer=False, sigma_output=False) is SigmaDeltaNeurons
    assert SigmaDeltaNeurons.variant({"type": "SDNN", "sigma_output": True}) is SigmaNeurons
    assert SigmaDeltaNeurons.variant({"type": "SDNN"}, input_layer=True) is DeltaNeurons
    assert SigmaDeltaNeurons.variant({"type": "SDNN"}) is SigmaDeltaNeurons
    assert all(u.graded_output for u in UNITS_SDNN)
    # netx builds every SDNN layer with ReLU: 'relu' is read (nothing to pass on), any other
    # activation is refused rather than silently run as ReLU
    assert all(u.read_extra({"activation": b"relu"}) == {} for u in UNITS_SDNN)
    assert all(u.read_extra({}) == {} for u in UNITS_SDNN)
    for unit in UNITS_SDNN:
        with pytest.raises(ValueError, match="'sigmoid' is not an activation netx builds"):
            unit.read_extra({"activation": "sigmoid"}, where="layer/3/neuron")
    groups = [SigmaDeltaNeurons.create(1, 1), DeltaNeurons.create(1, 1), SigmaNeurons.create(1)]
    assert [g.file_type for g in groups] == ["SDNN"] * 3
    assert [g.file_extra() for g in groups] == [{}, {}, {"sigma_output": True}]
    assert [u.membrane for u in UNITS_SDNN] == ["sigma", "act", "sigma"]


def test_feedback_is_refused():
    g = SigmaDeltaNeurons.create(1, vth_mant=1)
    with pytest.raises(ValueError, match="recurrent"):
        g.run(np.zeros((2, 1, 1)), None, object(), None)


def test_violations_and_memory():
    ok = SigmaDeltaNeurons.create(2, vth_mant=[1, 4095], bias_mant=[-8, 7])
    assert ok.violations("L") == []
    bad = SigmaDeltaNeurons.create(2, vth_mant=4096, bias_mant=[8, 0], message_bits=25)
    msgs = bad.violations("L")
    assert len(msgs) == 3 and all(m.startswith("L: ") for m in msgs)
    assert "precision=24" in msgs[0] and "precision=16" in msgs[1] and "messageBits" in msgs[2]
    # with smaller exponents the same mantissas fit
    assert (
        SigmaDeltaNeurons.create(1, vth_mant=4096, bias_mant=8, spike_exp=0).violations("L") == []
    )
    assert DeltaNeurons.create(1, vth_mant=4096).violations("L") != []
    assert SigmaNeurons.create(1, bias_mant=3).violations("L")[0].startswith("L: a sigma_output")
    assert SigmaNeurons.create(1, vth_mant=1 << 30).violations("L") == []
    assert SigmaDeltaNeurons.param_bits() == 40 and SigmaDeltaNeurons.state_bits() == 96
    assert DeltaNeurons.param_bits() == 24 and DeltaNeurons.state_bits() == 72
    assert SigmaNeurons.param_bits() == 0 and SigmaNeurons.state_bits() == 24
