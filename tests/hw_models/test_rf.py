"""Resonate-and-fire neurons (lava-nc RF / RF_IZ fixed point) and the complex dense synapse.

``rf_step``/``rf_iz_step`` are the plain-integer transcriptions of PyRFModelFixed /
PyRF_IZModelFixed.run_spk (checked against lava itself in tests/equivalence/test_rf_lava.py);
``run_rf``/``run_rf_iz`` must equal looping them in every regime: ordinary inputs, the 24-bit
clip of real and imag, the int32 wrap of ``a << 6``, decays whose gain exceeds 1, thresholds
whose ``vThMant << 6`` wraps at 32 bits, per-neuron decays. The decay round trip through
netx's float period/alpha is pinned to values measured in lava. ``ComplexDenseSynapse`` is
checked against a direct integer computation of lava's two Dense synapses.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models.fixed_point import (
    WeightFormatError,
    netx_optimize_weight_bits,
    shift_activation,
    synapse_weights,
)
from ranvier.hw_models.neurons import NEURON_TYPES, ParameterRangeError, neuron_unit
from ranvier.hw_models.neurons.rf import (
    RI_LIMIT,
    ResonatorNeurons,
    RfIzNeurons,
    RfNeurons,
    lava_rf_decays,
    rf_iz_step,
    rf_step,
    rf_threshold,
    run_rf,
    run_rf_iz,
)
from ranvier.hw_models.synapses import ComplexDenseSynapse, DenseSynapse, Synapse

UNITS = {"RF": (RfNeurons, rf_step, run_rf), "RF_IZ": (RfIzNeurons, rf_iz_step, run_rf_iz)}
REGIMES = ["normal", "clip", "huge", "unstable", "big_vth", "quiet"]

#: (sinDecay, cosDecay) in the file -> the integers lava's RF process holds, measured in
#: .venv-lava with lava-dl's slayer.neuron.rf.neuron_params and lava-nc's RF constructor
MEASURED_DECAYS = [
    ((155, 666), (154, 665)),
    ((1, 4000), (0, 4000)),
    ((2166, 2982), (2166, 2982)),
    ((0, 4096), (0, 4096)),
    ((0, 0), (0, 0)),
    ((4096, 4096), (4096, 4096)),
    ((-4096, -4096), (-4096, -4096)),
    ((1, 0), (1, 0)),
    ((3000, -2000), (3000, -1999)),
    ((-1, -1), (0, 0)),
    ((-3000, -3043), (-3000, -3042)),
    ((2434, -6), (2434, -5)),
    ((738, 832), (738, 832)),
    ((1738, -3861), (1737, -3861)),
    ((-119, -2885), (-118, -2885)),
    ((-807, 3508), (-806, 3508)),
    ((391, -3520), (390, -3520)),
    ((3505, 1139), (3504, 1139)),
    ((1926, 2650), (1926, 2649)),
    ((1202, 3700), (1202, 3700)),
]


def _case(seed: int, regime: str, kind: str) -> tuple[ResonatorNeurons, np.ndarray]:
    rng = np.random.default_rng(seed)
    unit = UNITS[kind][0]
    t_steps = int(rng.integers(1, 50))
    n = int(rng.integers(1, 4))
    c = int(rng.integers(1, 7))
    if regime == "unstable":  # gain above 1: the states grow into the clip
        sin = rng.integers(-4096, 4097, c)
        cos = rng.choice([-4096, 4096], c)
    elif regime == "quiet":  # first quadrant, as SLAYER exports them
        sin = rng.integers(1, 2900, c)
        cos = rng.integers(0, 2900, c)
    else:
        sin = rng.integers(-4096, 4097, c)
        cos = rng.integers(-4096, 4097, c)
    if regime == "big_vth":  # vThMant << 6 beyond int32: lava's int32 vth wraps
        vth_mant = int(rng.choice([-(1 << 25), 1 << 25, (1 << 26) + 3, -(1 << 31), (1 << 31) - 1]))
    else:
        vth_mant = int(rng.integers(-50, 1 << 14))
    neurons = unit.create(c, vth_mant=vth_mant, sin_decay=sin, cos_decay=cos)
    amp = {
        "normal": 1 << 10,
        "clip": 1 << 17,
        "huge": 1 << 31,
        "unstable": 1 << 8,
        "big_vth": 1 << 12,
        "quiet": 1 << 11,
    }[regime]
    re = rng.integers(-amp, amp, (t_steps, n, c))
    im = rng.integers(-amp, amp, (t_steps, n, c))
    if regime in ("normal", "quiet", "unstable"):
        re[rng.random(re.shape) < 0.6] = 0
        im[rng.random(im.shape) < 0.6] = 0
    return neurons, re + 1j * im


def _loop(neurons: ResonatorNeurons, a_in: np.ndarray, step) -> tuple[np.ndarray, ...]:
    """The reference: the integer step, step after step; spikes, real and imag per step."""
    sin, cos = lava_rf_decays(neurons.sin_decay, neurons.cos_decay)
    vth = rf_threshold(neurons.vth_mant)
    shape = a_in.shape[1:]
    real = np.zeros(shape, dtype=np.int64)
    imag = np.zeros(shape, dtype=np.int64)
    spikes = np.zeros(a_in.shape, dtype=np.uint8)
    reals = np.zeros(a_in.shape, dtype=np.int64)
    imags = np.zeros(a_in.shape, dtype=np.int64)
    for t in range(a_in.shape[0]):
        a_re = a_in[t].real.astype(np.int64)
        a_im = a_in[t].imag.astype(np.int64)
        real, imag, s = step(real, imag, a_re, a_im, sin_decay=sin, cos_decay=cos, vth=vth)
        spikes[t], reals[t], imags[t] = s, real, imag
    return spikes, reals, imags


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(REGIMES), st.sampled_from(sorted(UNITS)))
def test_kernel_equals_integer_steps(seed, regime, kind):
    neurons, a_in = _case(seed, regime, kind)
    _, step, kernel = UNITS[kind]
    ref_spikes, ref_real, ref_imag = _loop(neurons, a_in, step)
    membrane = np.zeros(a_in.shape)
    state: dict[str, np.ndarray] = {}
    spikes = kernel(neurons, a_in, membrane, None, state)
    assert spikes.dtype == np.uint8
    assert np.array_equal(spikes, ref_spikes)
    assert np.array_equal(membrane, ref_imag)
    if a_in.shape[0]:
        assert np.array_equal(state["real"], ref_real[-1])
        assert np.array_equal(state["imag"], ref_imag[-1])
    # the unit's run() dispatches to the same kernel
    assert np.array_equal(neurons.run(a_in), ref_spikes)


@pytest.mark.parametrize("kind", sorted(UNITS))
def test_regimes_are_reached(kind):
    """The random cases above do reach what they are meant to: spikes, the 24-bit clip, the
    int32 wrap of ``a << 6``, a wrapped threshold."""
    hit = dict.fromkeys(("spikes", "clip", "shift_wrap", "vth_wrap"), False)
    for seed in range(60):
        for regime in REGIMES:
            neurons, a_in = _case(seed, regime, kind)
            spikes, real, imag = _loop(neurons, a_in, UNITS[kind][1])
            hit["spikes"] |= bool(spikes.any())
            hit["clip"] |= bool(
                np.any(np.abs(real) == RI_LIMIT) or np.any(np.abs(imag) == RI_LIMIT)
            )
            a = np.concatenate([a_in.real.ravel(), a_in.imag.ravel()]).astype(np.int64)
            hit["shift_wrap"] |= bool(np.any(np.abs(a << 6) >= 1 << 31))
            hit["vth_wrap"] |= bool(np.any(neurons.vth != neurons.vth_mant * 64))
    assert all(hit.values()), hit


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(REGIMES), st.sampled_from(sorted(UNITS)))
def test_chunked_run_equals_one_piece(seed, regime, kind):
    neurons, a_in = _case(seed, regime, kind)
    kernel = UNITS[kind][2]
    whole_m = np.zeros(a_in.shape)
    whole = kernel(neurons, a_in, whole_m)
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, max(a_in.shape[0], 2)), size=2))
    state: dict[str, np.ndarray] = {}
    pieces, membranes = [], []
    for a, b in zip([0, *cuts], [*cuts, a_in.shape[0]], strict=True):
        m = np.zeros(a_in[a:b].shape)
        pieces.append(kernel(neurons, a_in[a:b], m, None, state))
        membranes.append(m)
    assert np.array_equal(np.concatenate(pieces), whole)
    assert np.array_equal(np.concatenate(membranes), whole_m)


def test_hand_trace_matches_lava_run():
    """Measured in .venv-lava: lava-nc RF(period=10, alpha=0.1, state_exp=6, decay_bits=12,
    vth=1) (sin_decay 2166, cos_decay 2982, vth 64), one neuron, RingBuffers into a_real_in /
    a_imag_in, probed with io.sink.Read. The inputs 2**20, 2**26, 2**30 show the int32 wrap
    of the shift (2**26 << 6 arrives as 0) and the 24-bit clip (2**20 << 6)."""
    real_in = [1, 2**20, 2**26, -(2**26), 40000]
    imag_in = [3, 2**16, -40000, 2**30, 5]
    lava_real = [64, 8388607, 3889061, 224496, -261947]
    lava_imag = [192, 4194476, 4929660, 5645495, 4229109]
    neurons = RfNeurons.create(1, vth_mant=1, sin_decay=2166, cos_decay=2982)
    a_in = (np.array(real_in) + 1j * np.array(imag_in))[:, None, None]
    membrane = np.zeros(a_in.shape)
    state: dict[str, np.ndarray] = {}
    reals = []
    for t in range(5):
        run_rf(neurons, a_in[t : t + 1], membrane[t : t + 1], None, state)
        reals.append(int(state["real"][0, 0]))
    assert reals == lava_real
    assert membrane.ravel().tolist() == lava_imag


def test_hand_trace_per_neuron_decays_matches_lava_run():
    """Measured in .venv-lava: RF with per-neuron period (5, 10, 20) and alpha (0.1, 0.2,
    0.05) (lava holds sin_decay (3505, 1926, 1202), cos_decay (1139, 2650, 3700)), vth=1, a
    real input of 1000 at step 0: lava's imag trace and the one spike, neuron 0 at step 6.

    No file pair runs as (1926, 2650) (lava reached it from float period/alpha, not through
    netx's round trip), so that neuron is checked on ``rf_step`` with lava's integers; the
    other two run in the kernel from file decays that come back as lava's."""
    lava_imag = [
        [0, 54765, 30456, -27398, -39892, -6, 32292, 17963],
        [0, 30093, 38938, 31133, 15378, -16, -9856, -12743],
        [0, 18781, 33930, 44356, 49527, 49464, 44684, 36107],
    ]
    sin, cos = np.array([3505, 1202]), np.array([1140, 3700])
    assert [x.tolist() for x in lava_rf_decays(sin, cos)] == [[3505, 1202], [1139, 3700]]
    neurons = RfNeurons.create(2, vth_mant=1, sin_decay=sin, cos_decay=cos)
    a_in = np.zeros((8, 1, 2), dtype=np.complex128)
    a_in[0, 0, :] = 1000
    membrane = np.zeros(a_in.shape)
    spikes = run_rf(neurons, a_in, membrane)
    assert membrane[:, 0, :].T.tolist() == [lava_imag[0], lava_imag[2]]
    assert np.argwhere(spikes[:, 0, :]).tolist() == [[6, 0]]
    real = imag = np.zeros(1, dtype=np.int64)
    trace = []
    for t in range(8):
        a = np.array([1000 if t == 0 else 0])
        real, imag, s = rf_step(real, imag, a, 0 * a, sin_decay=1926, cos_decay=2650, vth=64)
        trace.append(int(imag[0]))
        assert not s.any()
    assert trace == lava_imag[1]


@pytest.mark.parametrize(("file", "lava"), MEASURED_DECAYS)
def test_decay_round_trip_matches_lava(file, lava):
    got = lava_rf_decays(*file)
    assert (int(got[0]), int(got[1])) == lava
    # scalar and array forms agree, and the group exposes the same integers
    arr = lava_rf_decays(np.array([file[0]] * 3), np.array([file[1]] * 3))
    assert arr[0].tolist() == [lava[0]] * 3 and arr[1].tolist() == [lava[1]] * 3
    group = RfIzNeurons.create(3, vth_mant=5, sin_decay=file[0], cos_decay=file[1])
    assert [x.tolist() for x in group.effective_decays] == [[lava[0]] * 3, [lava[1]] * 3]


def test_kernel_runs_the_effective_decays():
    """File (1, 4000) runs as (0, 4000): a real input never reaches imag (no rotation)."""
    neurons = RfNeurons.create(1, vth_mant=1, sin_decay=1, cos_decay=4000)
    a_in = np.zeros((30, 1, 1), dtype=np.complex128)
    a_in[0] = 5000
    membrane = np.zeros(a_in.shape)
    run_rf(neurons, a_in, membrane)
    assert not membrane.any()
    # while (2, 4000), which lava keeps as (1, 4000) or (2, 4000), does rotate
    rotating = RfNeurons.create(1, vth_mant=1, sin_decay=2, cos_decay=4000)
    assert lava_rf_decays(2, 4000)[0] > 0
    run_rf(rotating, a_in, membrane)
    assert membrane.any()


def test_rf_iz_reset_and_threshold_wrap():
    """RF_IZ: after a spike real = 0 and imag = vth - 1 in int32 arithmetic; vThMant = -2**25
    gives vth = -2**31 and the reset imag wraps to 2**31 - 1 (measured in lava: imag
    2147483647 after every step, a spike on every step)."""
    neurons = RfIzNeurons.create(2, vth_mant=-(1 << 25), sin_decay=2166, cos_decay=2982)
    a_in = np.zeros((4, 1, 2), dtype=np.complex128)
    a_in[0] = 1000
    membrane = np.zeros(a_in.shape)
    state: dict[str, np.ndarray] = {}
    spikes = run_rf_iz(neurons, a_in, membrane, None, state)
    assert spikes.all()
    assert np.all(membrane == (1 << 31) - 1)
    assert not state["real"].any()
    # vThMant = 2**26: vth wraps to 0 (lava: spikes every step, imag -1 after each)
    zero = RfIzNeurons.create(1, vth_mant=1 << 26, sin_decay=2166, cos_decay=2982)
    assert int(zero.vth[0]) == 0
    m = np.zeros((4, 1, 1))
    assert run_rf_iz(zero, a_in[:, :, :1], m).all()
    assert np.all(m == -1)


def test_refusals():
    neurons = RfNeurons.create(2, vth_mant=10, sin_decay=100, cos_decay=4000)
    a_in = np.zeros((3, 1, 2), dtype=np.complex128)
    with pytest.raises(ValueError, match="feedback"):
        run_rf(neurons, a_in, None, feedback=object())
    with pytest.raises(TypeError, match="complex"):
        run_rf(neurons, np.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match="neurons"):
        run_rf(neurons, np.zeros((3, 1, 5), dtype=np.complex128))
    with pytest.raises(ValueError, match="vth_mant"):
        RfNeurons.create(2, vth_mant=[10, 11], sin_decay=100, cos_decay=4000)
    with pytest.raises(ValueError, match="bias_mant"):
        RfIzNeurons.create(2, vth_mant=10, sin_decay=100, cos_decay=4000, bias_mant=3)
    for name, bad in (("sin_decay", {"sin_decay": 4097}), ("cos_decay", {"cos_decay": -4097})):
        kwargs = {"sin_decay": 1, "cos_decay": 1} | bad
        with pytest.raises(ParameterRangeError, match=name):
            RfNeurons.create(2, vth_mant=10, **kwargs)
    # per-neuron decays are accepted (lava runs them)
    per = RfNeurons.create(2, vth_mant=10, sin_decay=[1, 2], cos_decay=[3, 4])
    assert per.sin_decay.tolist() == [1, 2]


def test_registry_follows_netx_rule():
    """netx: ``RF if "PHASE" in neuron_type else RF_IZ`` for every tag containing "RF"."""
    assert neuron_unit("RF_PHASE") is RfNeurons
    assert neuron_unit("RF_IZHIKEVICH") is RfIzNeurons
    for tag, unit in NEURON_TYPES.items():
        if issubclass(unit, ResonatorNeurons):
            assert "RF" in tag
            assert (unit is RfNeurons) == ("PHASE" in tag), tag
        else:
            assert "RF" not in tag, tag
    assert {t for t, u in NEURON_TYPES.items() if u is RfIzNeurons} == {
        "RF_IZHIKEVICH",
        "RF_IZ",
        "RF",
    }
    assert RfNeurons.INPUT == RfIzNeurons.INPUT == "complex"
    assert RfNeurons.membrane == "imag"


def test_checks_and_bits():
    ok = RfNeurons.create(4, vth_mant=100, sin_decay=[1, 500, 2000, 2900], cos_decay=2900)
    assert ok.violations("L") == []
    assert ok.spiking
    # cosDecay 4096 with no rotation runs as 4096: beyond the 12-bit register
    lines = RfNeurons.create(1, vth_mant=100, sin_decay=0, cos_decay=4096).violations("L")
    assert len(lines) == 1 and "cosDecay" in lines[0] and "12-bit" in lines[0]
    lines = RfNeurons.create(1, vth_mant=100, sin_decay=-20, cos_decay=30).violations("L")
    assert len(lines) == 1 and "sinDecay" in lines[0]
    lines = RfNeurons.create(1, vth_mant=1 << 18, sin_decay=1, cos_decay=30).violations("L")
    assert lines == []  # a threshold no state reaches: a read-out
    assert not RfNeurons.create(1, vth_mant=1 << 17, sin_decay=1, cos_decay=30).spiking
    lines = RfNeurons.create(1, vth_mant=-3, sin_decay=1, cos_decay=30).violations("L")
    assert len(lines) == 1 and "vThMant" in lines[0]
    assert RfNeurons.param_bits() == 12 + 12 + 24
    assert RfIzNeurons.state_bits() == 2 * 24
    assert RfNeurons.create(2, vth_mant=5, sin_decay=1, cos_decay=2).message_bits == 0
    params = RfNeurons.create(1, vth_mant=64, sin_decay=2048, cos_decay=2048).model_parameters()
    assert params["period"][0] == pytest.approx(8.0)
    assert params["decay"][0] == pytest.approx(1 - np.sqrt(0.5))
    assert params["threshold"][0] == 1.0


# --- the complex dense synapse ---------------------------------------------------------------
def _direct_input(file_weight: np.ndarray, spikes: np.ndarray) -> np.ndarray:
    """lava's bit-accurate Dense, written out: the mantissas netx derives, clip and truncate,
    each step's sum of the weights of last step's spikes, shifted (floor) by the exponent.
    Returns ``(T, N, n_out)`` int64."""
    mant, bits, exp = netx_optimize_weight_bits(file_weight)
    w = synapse_weights(mant, bits)
    n, _, t_steps = spikes.shape
    out = np.zeros((t_steps, n, w.shape[0]), dtype=np.int64)
    for t in range(1, t_steps):
        for k in range(n):
            acc = w.astype(np.int64) @ spikes[k, :, t - 1].astype(np.int64)
            out[t, k] = shift_activation(acc, exp)
    return out


def _random_weights(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    kind = rng.integers(0, 4)
    if kind == 0:  # mixed
        w = rng.integers(-256, 255, shape)
    elif kind == 1:  # excitatory, coarse
        w = rng.integers(0, 64, shape) * 4
    elif kind == 2:  # inhibitory
        w = -rng.integers(0, 257, shape)
    else:  # small, sparse
        w = rng.integers(-8, 9, shape) * (rng.random(shape) < 0.3)
    w.flat[0] = w.flat[0] or 2  # never all zero (netx cannot map that)
    return w


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_complex_dense_matches_direct_integer_computation(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    t_steps, samples = int(rng.integers(2, 30)), int(rng.integers(1, 4))
    w_re = _random_weights(rng, (n_out, n_in))
    w_im = _random_weights(rng, (n_out, n_in))
    syn = ComplexDenseSynapse.from_file_weights(w_re, w_im)
    spikes = (rng.random((samples, n_in, t_steps)) < 0.4).astype(np.uint8)
    want = _direct_input(w_re, spikes) + 1j * _direct_input(w_im, spikes)
    got = syn.synaptic_input(spikes)
    assert got.dtype == np.complex128 and got.shape == (t_steps, samples, n_out)
    assert np.array_equal(got, want)
    # the stream in chunks is the whole-sequence input cut at those steps
    chunk = int(rng.integers(1, t_steps + 1))
    stream = syn.input_stream(chunk)
    pieces = [stream(spikes[:, :, a : a + chunk]) for a in range(0, t_steps, chunk)]
    assert np.array_equal(np.concatenate(pieces), want)
    one = syn.input_stream()
    assert np.array_equal(one(spikes), want)


def test_complex_dense_protocol():
    w_re = np.array([[2, 0, -4], [0, 0, 6]])
    w_im = np.array([[0, 0, 0], [8, 0, 16]])
    syn = ComplexDenseSynapse.from_file_weights(w_re, w_im)
    assert isinstance(syn, Synapse)
    assert syn.layer_type == "dense_complex"
    assert (syn.n_in, syn.n_out, syn.max_delay, syn.has_delays) == (3, 2, 0, False)
    assert syn.parts == (syn.real, syn.imag)
    assert syn.fan_out().tolist() == [1 + 1, 0, 2 + 1]
    assert syn.synapse_count == 3 + 2 and syn.entries == 12
    assert syn.delay_histogram().tolist() == [5]
    assert syn.recurrent_fan_out() is None and syn.feedback(2, 10) is None
    assert syn.same_as(ComplexDenseSynapse.from_file_weights(w_re, w_im))
    assert not syn.same_as(ComplexDenseSynapse.from_file_weights(w_im, w_re))
    assert not syn.same_as(syn.real)
    assert np.array_equal(syn.file_weight[0], w_re) and np.array_equal(syn.file_weight[1], w_im)
    desc = syn.describe()
    assert desc["synapses"] == 5 and desc["fan_in"] == 3
    assert desc["imag"]["synapses"] == 2 and desc["weight"] == syn.real.describe()["weight"]
    assert syn.violations("L") == []
    with pytest.raises(ValueError, match="delays"):
        ComplexDenseSynapse(DenseSynapse(w_re, delay=np.zeros((2, 3), int)), DenseSynapse(w_im))
    with pytest.raises(ValueError, match="shape"):
        ComplexDenseSynapse(DenseSynapse(w_re), DenseSynapse(w_im[:, :2]))
    with pytest.raises(WeightFormatError):  # netx cannot map an all-zero matrix either
        ComplexDenseSynapse.from_file_weights(w_re, np.zeros((2, 3), int))
    bad = ComplexDenseSynapse(DenseSynapse(w_re, num_weight_bits=9), DenseSynapse(w_im))
    assert any("weight/real" in line for line in bad.violations("L"))


def test_complex_dense_feeds_the_kernel():
    """The synapse's complex output is what the neuron kernel takes."""
    rng = np.random.default_rng(3)
    syn = ComplexDenseSynapse.from_file_weights(
        rng.integers(-100, 100, (4, 6)), rng.integers(-100, 100, (4, 6))
    )
    spikes = (rng.random((2, 6, 40)) < 0.5).astype(np.uint8)
    a_in = syn.synaptic_input(spikes)
    neurons = RfIzNeurons.create(4, vth_mant=40, sin_decay=1500, cos_decay=3500)
    ref, _, _ = _loop(neurons, a_in, rf_iz_step)
    out = run_rf_iz(neurons, a_in)
    assert np.array_equal(out, ref) and out.any()
