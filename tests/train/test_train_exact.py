"""The quantized training forward is, bit for bit, what the simulator (and so lava-nc) runs.

(a) Neurons: ``CubaNeuron`` / ``AlifNeuron`` / ``AdlifNeuron`` with ``quantized=True`` against
    the simulator's kernels (``run_cuba`` / ``run_alif`` / ``run_adlif``, themselves tested
    step by step against ``fixed_point.cuba_step`` / ``alif.alif_step`` / ``adlif.adlif_step``
    and against lava-nc in tests/equivalence), built from the neuron's own ``export`` fields,
    on random integer synaptic input: spikes and membranes equal in every bin. The regimes
    include inputs that wrap the 24-bit current and saturate v (u and w for AdLIF+), strong
    ALIF adaptation, and per-neuron AdLIF+ parameters at the ends of their ranges; a sweep
    counts that those edges were actually reached.
(b) Synapses: ``delayed_dense(quantized=True)`` against ``synapses.synaptic_input`` for random
    integer weights and delays 0..62 (T shorter than the delays included); the float modes:
    ``interp`` at integer delays equals the quantized result, at fractional delays it is the
    linear mix of the two neighbouring integer delays, and its delay (and weight) gradient is
    the hand-computed finite difference; ``dcls`` with a narrow Gaussian is the integer delay.
(c) Whole model: random ``SpikingNet`` (CUBA / ALIF / ADLIF, without and with delays) ->
    ``start_qat`` -> ``to_network`` -> netx file -> ``read_netx`` -> ``simulate``: zero
    mismatching spike bins on every hidden layer, identical read-out membranes, identical
    predictions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.convert.netx_hdf5 import read_netx, write_netx
from ranvier.hw_models import fixed_point as fp
from ranvier.hw_models.network import DenseSynapse
from ranvier.hw_models.neurons import AdlifNeurons, AlifNeurons, CubaNeurons
from ranvier.hw_models.readout import predict
from ranvier.hw_models.simulator import run_neurons, simulate
from ranvier.hw_models.synapses import synaptic_input
from ranvier.train.config import ModelConfig
from ranvier.train.delays import delayed_dense
from ranvier.train.export import verify
from ranvier.train.model import SpikingNet
from ranvier.train.neurons import ADLIF_RANGES, AdlifNeuron, AlifNeuron, CubaNeuron

H = 1 << 23
SAT = H - 1
SETTINGS = settings(deadline=None, max_examples=40, derandomize=True)

# --- (a) neurons against the simulator kernels ---------------------------------------------

REGIMES = ("normal", "large", "negative", "bursts")


def _input(rng: np.random.Generator, regime: str, shape, vth_mant: int) -> np.ndarray:
    """Integer synaptic input ``(B, n, T)`` in hardware units (what a synapse delivers)."""
    if regime == "normal":
        a = rng.integers(-2 * vth_mant, 4 * vth_mant + 1, shape)
        a[rng.random(shape) < 0.5] = 0
    elif regime == "large":  # a << 6 beyond 2**23: the current wraps, v saturates
        a = rng.integers(-(1 << 19), 1 << 19, shape)
    elif regime == "negative":  # drive v/u to negative saturation, then release
        a = rng.integers(-(1 << 18), 1 << 16, shape)
        half = shape[-1] // 2
        a[..., half:] = rng.integers(0, 1 << 16, (*shape[:-1], shape[-1] - half))
    else:  # bursts of near-threshold input separated by silence
        a = rng.integers(0, 3 * vth_mant + 1, shape) * (rng.random(shape) < 0.3)
        a[..., :: max(1, shape[-1] // 4)] = rng.integers(1 << 16, 1 << 18, (*shape[:-1], 1))
    return a.astype(np.int64)


def _torch_forward(neuron, a: np.ndarray, vth_mant: int) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        s, m = neuron(torch.tensor(a, dtype=torch.float64), True, vth_mant)
    assert torch.equal(m, torch.round(m)), "the quantized membrane must hold integers"
    return s.numpy().astype(np.uint8), m.numpy().astype(np.int64)


def _kernel(group, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The simulator's kernel on ``a`` ``(B, n, T)``: spikes and membrane ``(B, n, T)``."""
    spikes, membrane = run_neurons(group, a.transpose(2, 0, 1).astype(np.float64), record=True)
    return spikes.transpose(1, 2, 0), membrane.transpose(1, 2, 0)


def _cuba_group(neuron: CubaNeuron, vth_mant: int) -> CubaNeurons:
    return neuron.to_ir(vth_mant)


def _alif_group(neuron: AlifNeuron, vth_mant: int) -> AlifNeurons:
    return neuron.to_ir(vth_mant)


def _adlif_group(neuron: AdlifNeuron, vth_mant: int) -> AdlifNeurons:
    return neuron.to_ir(vth_mant)


def _assert_same(ours, theirs, label: str) -> None:
    s0, m0 = ours
    s1, m1 = theirs
    bad = np.argwhere(s0 != s1)
    assert bad.size == 0, f"{label}: {len(bad)} spike bins differ, first (b, n, t) {bad[:3]}"
    bad = np.argwhere(m0 != m1)
    assert bad.size == 0, f"{label}: {len(bad)} membrane bins differ, first {bad[:3]}"


def _cuba_current_wrapped(group: CubaNeurons, a: np.ndarray) -> bool:
    """Whether the 24-bit fold of u fired (fixed_point rules, step by step)."""
    u = np.zeros(a.shape[:-1], dtype=np.int64)
    for t in range(a.shape[-1]):
        pre = fp.decay(u, group.i_decay) + fp.scale_activation(a[..., t])
        if np.any((pre > H) | (pre <= -H)):
            return True
        u = fp.wrap_current(pre)
    return False


vth_mants = st.one_of(st.sampled_from([1, 64, 4096]), st.integers(1, 4096))
fractions = st.one_of(st.sampled_from([0.0, 1.0, 1 / 4096, 4095 / 4096]), st.floats(0.0, 1.0))


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    regime=st.sampled_from(REGIMES),
    vth_mant=vth_mants,
    current_decay=fractions,
    voltage_decay=fractions,
    spiking=st.booleans(),
)
def test_cuba_quantized_forward_equals_run_cuba(
    seed, regime, vth_mant, current_decay, voltage_decay, spiking
):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    neuron = CubaNeuron(n, current_decay, voltage_decay, spiking=spiking)
    a = _input(rng, regime, (2, n, int(rng.integers(1, 40))), vth_mant)
    group = _cuba_group(neuron, vth_mant)
    assert group.spiking == spiking
    _assert_same(_torch_forward(neuron, a, vth_mant), _kernel(group, a), f"CUBA {regime}")


alif_steps = st.one_of(st.sampled_from([0.0, 0.05, 1.0, 4.0]), st.floats(0.0, 4.0))


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    regime=st.sampled_from(REGIMES),
    vth_mant=vth_mants,
    decays=st.tuples(fractions, fractions, fractions, fractions),
    threshold_step=alif_steps,
)
def test_alif_quantized_forward_equals_run_alif(seed, regime, vth_mant, decays, threshold_step):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    neuron = AlifNeuron(n, *decays, threshold_step=threshold_step)
    a = _input(rng, regime, (2, n, int(rng.integers(1, 40))), vth_mant)
    group = _alif_group(neuron, vth_mant)
    _assert_same(_torch_forward(neuron, a, vth_mant), _kernel(group, a), f"ALIF {regime}")


def _adlif_params(rng: np.random.Generator, n: int, ends: bool) -> dict[str, torch.Tensor]:
    """Per-neuron parameters: uniform in the seed's ranges, or (``ends``) mostly at the ends."""
    out = {}
    for name, (lo, hi) in ADLIF_RANGES.items():
        v = rng.uniform(lo, hi, n)
        if ends:
            pick = rng.integers(0, 3, n)
            v = np.where(pick == 0, lo, np.where(pick == 1, hi, v))
        out[name] = torch.tensor(v, dtype=torch.float32)
    return out


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    regime=st.sampled_from(REGIMES),
    vth_mant=vth_mants,
    ends=st.booleans(),
)
def test_adlif_quantized_forward_equals_run_adlif(seed, regime, vth_mant, ends):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    neuron = AdlifNeuron(n)
    with torch.no_grad():
        for name, value in _adlif_params(rng, n, ends).items():
            getattr(neuron, name).copy_(value)
    a = _input(rng, regime, (2, n, int(rng.integers(1, 40))), vth_mant)
    group = _adlif_group(neuron, vth_mant)
    _assert_same(_torch_forward(neuron, a, vth_mant), _kernel(group, a), f"ADLIF {regime}")


def test_neuron_sweep_reaches_the_edges():
    """A seeded sweep (all three types) with zero mismatches that provably reached: the current
    wrap (CUBA), positive and negative v saturation, strong ALIF adaptation, saturated AdLIF+
    u, and AdLIF+ parameters at both ends of every range."""
    rng = np.random.default_rng(2024)
    hits = dict.fromkeys(
        ("cuba_wrap", "cuba_neg_sat", "alif_pos_sat", "alif_adapted", "adlif_sat", "adlif_ends"),
        0,
    )
    for k in range(36):
        regime = REGIMES[k % len(REGIMES)]
        vth = int(rng.integers(1, 4097))
        n, t_steps = 5, 48
        a = _input(rng, regime, (2, n, t_steps), vth)
        cuba = CubaNeuron(n, float(rng.uniform(0, 1)), float(rng.uniform(0, 0.05)))
        g = _cuba_group(cuba, vth)
        ours, theirs = _torch_forward(cuba, a, vth), _kernel(g, a)
        _assert_same(ours, theirs, f"CUBA sweep {k}")
        hits["cuba_wrap"] += _cuba_current_wrapped(g, a)
        hits["cuba_neg_sat"] += bool(np.any(theirs[1] == -SAT))

        # strong adaptation: a large step that decays slowly
        alif = AlifNeuron(n, 0.5, 0.0, 0.002, 0.1, threshold_step=float(rng.uniform(1.0, 4.0)))
        ga = _alif_group(alif, vth)
        ours, theirs = _torch_forward(alif, a, vth), _kernel(ga, a)
        _assert_same(ours, theirs, f"ALIF sweep {k}")
        hits["alif_pos_sat"] += bool(np.any(theirs[1] == SAT))
        counts = theirs[0].sum(-1)
        hits["alif_adapted"] += bool(ga.vth_step[0] >= vth and counts.max() >= 3)

        adlif = AdlifNeuron(n)
        params = _adlif_params(rng, n, ends=True)
        with torch.no_grad():
            for name, value in params.items():
                getattr(adlif, name).copy_(value)
        gd = _adlif_group(adlif, vth)
        ours, theirs = _torch_forward(adlif, a, vth), _kernel(gd, a)
        _assert_same(ours, theirs, f"ADLIF sweep {k}")
        hits["adlif_sat"] += bool(np.any(np.abs(theirs[1]) == SAT))
        lo_hi = [
            (gd.u_decay.max(), gd.u_decay.min()),
            (gd.a_mant.min(), gd.a_mant.max()),
            (gd.b_mant.min(), gd.b_mant.max()),
        ]
        hits["adlif_ends"] += all(lo != hi for lo, hi in lo_hi) and gd.a_mant.min() == 0
    assert all(hits.values()), hits


def test_nonspiking_readout_equals_run_cuba_with_unreachable_threshold():
    rng = np.random.default_rng(3)
    neuron = CubaNeuron(4, 1.0, 1.0, learn=False, spiking=False)
    a = _input(rng, "large", (3, 4, 30), 100)
    group = _cuba_group(neuron, 100)
    assert group.vth_mant.tolist() == [fp.NON_SPIKING_VTH_MANT] * 4 and not group.spiking
    ours, theirs = _torch_forward(neuron, a, 100), _kernel(group, a)
    _assert_same(ours, theirs, "read-out")
    assert np.abs(theirs[1]).max() == SAT  # the memoryless read-out saturates too


# --- (b) delayed synapses --------------------------------------------------------------------


def _spikes(rng: np.random.Generator, shape, rate: float = 0.3) -> np.ndarray:
    return (rng.random(shape) < rate).astype(np.float64)


def _sim_input(synapse: DenseSynapse, x: np.ndarray, method: str = "auto") -> np.ndarray:
    return synaptic_input(synapse, x.astype(np.uint8), method=method).transpose(1, 2, 0)


def _torch_input(x, w, d, **kw) -> np.ndarray:
    with torch.no_grad():
        out = delayed_dense(torch.tensor(x), torch.tensor(w, dtype=torch.float64), _opt(d), **kw)
    return out.numpy()


def _opt(d):
    return None if d is None else torch.tensor(d, dtype=torch.float64)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    t_steps=st.one_of(st.integers(1, 8), st.integers(9, 80)),
    delays=st.sampled_from(["none", "zero", "max", "random", "mixed"]),
    file_weights=st.booleans(),
)
def test_quantized_delayed_dense_equals_synaptic_input(seed, t_steps, delays, file_weights):
    rng = np.random.default_rng(seed)
    n_in, n_out, batch = int(rng.integers(1, 9)), int(rng.integers(1, 7)), 3
    x = _spikes(rng, (batch, n_in, t_steps), float(rng.uniform(0.05, 0.9)))
    d = {
        "none": None,
        "zero": np.zeros((n_out, n_in), dtype=np.int64),
        "max": np.full((n_out, n_in), 62),
        "random": rng.integers(0, 63, (n_out, n_in)),
        "mixed": rng.choice([0, 1, 61, 62], (n_out, n_in)),
    }[delays]
    if file_weights:  # a netx file's weights, mapped as read_netx maps them
        w = 2 * rng.integers(-128, 128, (n_out, n_in))
        w[0, 0] = abs(w[0, 0]) + 2  # a positive weight: see test_fixed_torch's xfail
        mant, bits, exp = fp.netx_optimize_weight_bits(w)
        synapse = DenseSynapse(mant, weight_exp=exp, num_weight_bits=bits, delay=d)
        assert np.array_equal(synapse.values, w)
    else:  # any integer the synapse can add
        synapse = DenseSynapse(rng.integers(-255, 256, (n_out, n_in)), delay=d)
        w = synapse.values
    mode = "none" if d is None else "interp"
    ours = _torch_input(x, w, d, mode=mode, max_delay=62, quantized=True)
    for method in ("auto", "per_delay"):
        theirs = _sim_input(synapse, x, method)
        assert np.array_equal(ours, theirs), (method, np.argwhere(ours != theirs)[:3])
    if d is not None and t_steps <= int(d.min()) + 1:
        assert not ours.any()  # nothing arrives inside a run shorter than every delay + 1


def test_delayed_dense_latency_and_delay_by_hand():
    """One spike at step 2 through delay 3 arrives at step 2 + 1 + 3 = 6."""
    x = np.zeros((1, 1, 10))
    x[0, 0, 2] = 1
    out = _torch_input(x, np.array([[7.0]]), np.array([[3.0]]), max_delay=5, quantized=True)
    assert out[0, 0].tolist() == [0, 0, 0, 0, 0, 0, 7, 0, 0, 0]
    out = _torch_input(x, np.array([[7.0]]), None, mode="none", quantized=True)
    assert out[0, 0].tolist() == [0, 0, 0, 7, 0, 0, 0, 0, 0, 0]


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """``x[..., t - k]`` with zeros before the start."""
    out = np.zeros_like(x)
    if k < x.shape[-1]:
        out[..., k:] = x[..., : x.shape[-1] - k]
    return out


def _interp_by_hand(x: np.ndarray, w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``a[b, j, t] = sum_i w[j, i] ((1 - f) x[b, i, t - 1 - k] + f x[b, i, t - 2 - k])``."""
    k = np.floor(d).astype(int)
    f = d - k
    out = np.zeros((x.shape[0], w.shape[0], x.shape[-1]))
    for j in range(w.shape[0]):
        for i in range(w.shape[1]):
            mix = (1 - f[j, i]) * _shift(x[:, i], 1 + k[j, i]) + f[j, i] * _shift(
                x[:, i], 2 + k[j, i]
            )
            out[:, j] += w[j, i] * mix
    return out


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), max_delay=st.integers(1, 30))
def test_interp_at_integer_delays_equals_quantized(seed, max_delay):
    rng = np.random.default_rng(seed)
    x = _spikes(rng, (2, 5, 40))
    w = 2.0 * rng.integers(-128, 128, (4, 5))
    d = rng.integers(0, max_delay + 1, (4, 5)).astype(np.float64)
    exact = _torch_input(x, w, d, max_delay=max_delay, quantized=True)
    interp = _torch_input(x, w, d, mode="interp", max_delay=max_delay)
    assert np.allclose(interp, exact, rtol=0, atol=1e-9)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), max_delay=st.integers(1, 30))
def test_interp_fractional_delay_is_linear_mix_of_neighbours(seed, max_delay):
    rng = np.random.default_rng(seed)
    x = _spikes(rng, (2, 5, 40))
    w = rng.normal(size=(4, 5))
    d = rng.uniform(0, max_delay, (4, 5))
    d[0, 0] = max_delay  # the top end: only the lower neighbour counts
    ours = _torch_input(x, w, d, mode="interp", max_delay=max_delay)
    assert np.allclose(ours, _interp_by_hand(x, w, d), rtol=0, atol=1e-9)


@pytest.mark.parametrize("quantized", [False, True])
def test_delay_and_weight_gradients_are_the_finite_difference(quantized):
    """d sum(G * a) / d delay[j, i] = w[j, i] sum_{b,t} G[b,j,t] (x[b,i,t-2-k] - x[b,i,t-1-k])
    with k = floor(d) (interp) or round(d) (quantized: the straight-through gradient at the
    exported integer delay); the weight gradient is the delayed input itself."""
    rng = np.random.default_rng(11 + quantized)
    n_in, n_out, max_delay = 5, 4, 12
    x = _spikes(rng, (2, n_in, 30))
    w_np = 2.0 * rng.integers(-128, 128, (n_out, n_in)) if quantized else rng.normal(size=(4, 5))
    d_np = rng.uniform(0, max_delay - 1, (n_out, n_in))
    g_np = rng.normal(size=(2, n_out, 30))
    w = torch.tensor(w_np, requires_grad=True)
    d = torch.tensor(d_np, requires_grad=True)
    out = delayed_dense(
        torch.tensor(x), w, d, mode="interp", max_delay=max_delay, quantized=quantized
    )
    (out * torch.tensor(g_np)).sum().backward()
    k = np.rint(d_np).astype(int) if quantized else np.floor(d_np).astype(int)
    f = np.zeros_like(d_np) if quantized else d_np - k
    grad_d = np.zeros_like(d_np)
    grad_w = np.zeros_like(w_np)
    for j in range(n_out):
        for i in range(n_in):
            near, far = _shift(x[:, i], 1 + k[j, i]), _shift(x[:, i], 2 + k[j, i])
            grad_d[j, i] = w_np[j, i] * np.sum(g_np[:, j] * (far - near))
            grad_w[j, i] = np.sum(g_np[:, j] * ((1 - f[j, i]) * near + f[j, i] * far))
    assert np.allclose(d.grad.numpy(), grad_d, rtol=1e-9, atol=1e-9)
    assert np.allclose(w.grad.numpy(), grad_w, rtol=1e-9, atol=1e-9)
    assert np.any(grad_d != 0)


@pytest.mark.parametrize(("sigma", "offset"), [(0.05, 0.0), (0.1, 0.3), (0.1, -0.3)])
def test_dcls_with_narrow_gaussian_is_the_integer_delay(sigma, offset):
    rng = np.random.default_rng(5)
    max_delay = 20
    x = _spikes(rng, (2, 6, 50))
    w = 2.0 * rng.integers(-128, 128, (3, 6))
    k = rng.integers(1, max_delay, (3, 6)).astype(np.float64)
    exact = _torch_input(x, w, k, max_delay=max_delay, quantized=True)
    dcls = _torch_input(x, w, k + offset, mode="dcls", max_delay=max_delay, sigma=sigma)
    assert np.abs(exact).max() > 0
    assert np.allclose(dcls, exact, rtol=0, atol=1e-6 * np.abs(exact).max())


def test_dcls_with_tiny_sigma_between_taps_follows_the_nearest_tap():
    """The Gaussian is normalised as a softmax: no underflow for a tiny sigma between taps."""
    rng = np.random.default_rng(6)
    x = _spikes(rng, (1, 3, 40))
    w = np.array([[50.0, -20.0, 30.0]])
    k = np.array([[4.0, 7.0, 9.0]])
    exact = _torch_input(x, w, k, max_delay=20, quantized=True)
    dcls = _torch_input(x, w, k + 0.45, mode="dcls", max_delay=20, sigma=0.05)
    assert np.allclose(dcls, exact, rtol=0, atol=1e-3 * np.abs(exact).max())


# --- (c) the whole model: train forward == exported file on the simulator ------------------

#: weight multipliers that make every hidden layer spike (AdLIF+ feeds (1 - alpha) of its input)
GAIN = {"CUBA": 3.0, "ALIF": 3.0, "ADLIF": 12.0}


def _model_case(neuron: str, delays: str, seed: int, readout_delays: bool = True):
    cfg = ModelConfig(
        hidden=[12, 10],
        neuron=neuron,
        delays=delays,
        max_delay=9 if delays != "none" else 0,
        dropout=0.0,
        readout_delays=readout_delays,
    )
    net = SpikingNet(16, 4, cfg, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for b in net.blocks:
            b.weight.mul_(GAIN[neuron])
            if b.delay is not None:
                b.delay.copy_(torch.rand(b.delay.shape, generator=gen) * b.max_delay)
    net.start_qat()
    net.eval()
    return net


CASES = [
    (neuron, delays, readout)
    for neuron in ("CUBA", "ALIF", "ADLIF")
    for delays, readout in (("none", True), ("interp", True), ("dcls", False))
]


@pytest.mark.parametrize(("neuron", "delays", "readout_delays"), CASES)
def test_exported_model_runs_spike_for_spike_on_the_simulator(
    tmp_path, neuron, delays, readout_delays
):
    for seed in (0, 1):
        net = _model_case(neuron, delays, seed, readout_delays)
        rng = np.random.default_rng(100 + seed)
        x = (rng.random((6, 16, 45)) < 0.25).astype(np.uint8)
        with torch.no_grad():
            logits, hidden, membrane = net(torch.tensor(x))
        path = tmp_path / f"{neuron}_{delays}_{seed}.net"
        write_netx(net.to_network(), path)
        network = read_netx(path)
        assert network.same_as(net.to_network())
        result = simulate(network, x, record=[-1])
        assert len(result.layers) == len(hidden) + 1
        for i, h in enumerate(hidden):
            ours = h.numpy().astype(np.uint8)
            theirs = result.layers[i].spikes
            assert theirs.sum() > 0, f"layer {i} never spikes: the case tests nothing"
            bad = np.argwhere(ours != theirs)
            assert bad.size == 0, f"layer {i}: {len(bad)} spike bins differ, first {bad[:3]}"
        mem = membrane.numpy()
        assert np.array_equal(mem, np.round(mem))
        assert np.array_equal(mem.astype(np.int64), result.layers[-1].membrane)
        assert np.abs(mem).max() > 0
        scores = result.layers[-1].membrane.sum(-1)
        assert np.array_equal(logits.argmax(1).numpy(), predict(network, result))
        assert np.array_equal(np.argmax(scores, 1), predict(network, result))
        if delays != "none":
            file_delays = [b.synapse.delay for b in network.blocks]
            for fd, ours_d in zip(file_delays, net.delays_int(), strict=True):
                assert (fd is None) == (ours_d is None) or not np.any(fd)
                if ours_d is not None:
                    assert np.array_equal(fd, ours_d)


def test_all_non_positive_readout_runs_as_trained():
    """netx maps all-<=0 weights whose minimum is a power of two lossily (-128 runs as -127);
    the quantized forward uses the mapped values, so the file still runs as trained."""
    net = SpikingNet(
        6, 2, ModelConfig(hidden=[5], neuron="CUBA", delays="none", dropout=0.0), seed=0
    )
    with torch.no_grad():
        net.blocks[0].weight.mul_(3.0)
        net.blocks[1].weight.copy_(
            torch.tensor(
                [[-0.0625, -0.01, 0.0, -0.02, -0.0625], [-0.005, -0.0625, -0.03, 0.0, -0.01]]
            )
        )
    net.start_qat()
    net.eval()
    assert -128 in net.blocks[1].file_weight().detach().round().long().tolist()[0]
    x = (np.random.default_rng(0).random((4, 6, 30)) < 0.4).astype(np.uint8)
    result = verify(net, x)
    assert result.layer_spikes[0] > 0
    assert result.mismatches == 0
