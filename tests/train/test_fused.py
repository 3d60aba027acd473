"""The fused neuron loops (train/fused) against the reference torch loops (train/neurons.py).

For CUBA (spiking and read-out), ALIF and AdLIF+, float and quantized, on random inputs,
random parameters (hypothesis: decays anywhere in [0, 1] including the ends, AdLIF+ values
anywhere in their ranges) and random scales: the quantized forward equal bin for bin, the
float forward within 1e-5 (spikes equal), and every gradient (input and each parameter,
through a random upstream gradient on both spikes and voltage) within 1e-5 relative. Also:
the fused path is really taken whenever the library is built (a stale or broken build fails
here rather than silently running the slow loop), and the fallbacks (disabled, feedback).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.train import fused
from ranvier.train.neurons import ADLIF_RANGES, AdlifNeuron, AlifNeuron, CubaNeuron

SETTINGS = settings(deadline=None, max_examples=25, derandomize=True)
KINDS = ("cuba", "readout", "alif", "adlif")

needs_fused = pytest.mark.skipif(
    not fused.available(), reason=f"fused kernels not loaded: {fused.load_error()}"
)


def test_fused_path_is_taken_when_built():
    """A built library must load and be used: no silent fallback to the reference loop."""
    if not fused.is_built():
        pytest.skip("fused library not built (make install)")
    assert fused.available(), f"fused library built but not loaded: {fused.load_error()}"
    before = dict(fused.CALLS)
    neuron = CubaNeuron(3)
    neuron(torch.rand(2, 3, 5), False, 1)
    assert fused.CALLS["cuba"] == before.get("cuba", 0) + 1


@needs_fused
def test_disabled_and_feedback_fall_back():
    """``disabled()`` and a recurrent feedback run the reference loop."""

    class NoFeedback:
        def arrive(self) -> torch.Tensor:
            return torch.zeros(2, 3)

        def send(self, spikes: torch.Tensor) -> None:
            pass

    neuron, a = CubaNeuron(3), torch.rand(2, 3, 5)
    before = sum(fused.CALLS.values())
    with fused.disabled():
        s0, v0 = neuron(a, False, 1)
    s1, v1 = neuron(a, False, 1, feedback=NoFeedback())
    assert sum(fused.CALLS.values()) == before
    s2, v2 = neuron(a, False, 1)
    assert sum(fused.CALLS.values()) == before + 1
    assert torch.equal(s0, s2) and torch.equal(v0, v2)
    assert torch.equal(s1, s2) and torch.equal(v1, v2)


def _neuron(kind: str, n: int, rng: np.random.Generator, decays: list[float], step: float):
    if kind in ("cuba", "readout"):
        return CubaNeuron(n, *decays[:2], spiking=kind == "cuba")
    if kind == "alif":
        return AlifNeuron(n, *decays[:4], threshold_step=step)
    neuron = AdlifNeuron(n)
    with torch.no_grad():
        for name, (lo, hi) in ADLIF_RANGES.items():
            u = rng.random(n)
            u[rng.random(n) < 0.2] = rng.integers(0, 2, 1)  # the ends of the range
            getattr(neuron, name).copy_(torch.from_numpy(lo + (hi - lo) * u))
    return neuron


def _input(rng: np.random.Generator, shape, quantized: bool, vth_mant: int, regime: str):
    """Synaptic input: integers at scale ``vth_mant`` quantized, threshold units in float."""
    if not quantized:
        a = rng.normal(0.2, 1.0, shape) * (rng.random(shape) < 0.7)
        return torch.from_numpy(a).float()
    if regime == "normal":
        a = rng.integers(-2 * vth_mant, 4 * vth_mant + 1, shape) * (rng.random(shape) < 0.6)
    else:  # wraps the 24-bit current, saturates the voltage
        a = rng.integers(-(1 << 19), 1 << 19, shape)
    return torch.from_numpy(a.astype(np.float64))


def _run(neuron, a, quantized, vth_mant, grads, reference: bool):
    """Outputs and gradients (input, then each learnable parameter) of one path."""
    neuron.zero_grad(set_to_none=True)
    a = a.detach().clone().requires_grad_(True)
    forward = neuron._forward_reference if reference else neuron.forward
    calls = sum(fused.CALLS.values())
    s, v = forward(a, quantized, vth_mant)
    assert sum(fused.CALLS.values()) == calls + (not reference), "fused path not taken"
    ((s * grads[0]).sum() + (v * grads[1]).sum()).backward()
    params = [p.grad for p in neuron.parameters() if p.requires_grad]
    return s.detach(), v.detach(), [a.grad, *params]


def _assert_close_rel(ours: torch.Tensor, ref: torch.Tensor, label: str, rtol: float = 1e-5):
    """Within ``rtol`` of the reference, relative to the reference's largest magnitude."""
    assert ours is not None and ref is not None, label
    scale = float(ref.abs().max()) if ref.numel() else 0.0
    err = float((ours - ref).abs().max()) if ref.numel() else 0.0
    assert err <= rtol * max(scale, 1e-12), f"{label}: max error {err:.3g}, scale {scale:.3g}"


def _compare(kind, quantized, seed, vth_mant, decays, step, regime="normal", dtype=None):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 20)), int(rng.integers(1, 40)))
    neuron = _neuron(kind, shape[1], rng, decays, step)
    a = _input(rng, shape, quantized, vth_mant, regime)
    if dtype is not None:
        a = a.to(dtype)
    grads = [torch.from_numpy(rng.normal(size=shape)).to(a.dtype) for _ in range(2)]
    s0, v0, g0 = _run(neuron, a, quantized, vth_mant, grads, reference=True)
    s1, v1, g1 = _run(neuron, a, quantized, vth_mant, grads, reference=False)
    label = f"{kind} {'quantized' if quantized else 'float'} {shape}"
    assert torch.equal(s1, s0), f"{label}: spikes differ"
    if quantized:
        assert torch.equal(v1, v0), f"{label}: membrane differs"
    else:
        _assert_close_rel(v1, v0, f"{label} voltage")
    names = ["input"] + [name for name, p in neuron.named_parameters() if p.requires_grad]
    assert len(g0) == len(g1) == len(names)
    for name, ours, ref in zip(names, g1, g0, strict=True):
        _assert_close_rel(ours, ref, f"{label} d/d{name}")


fractions = st.one_of(st.sampled_from([0.0, 1.0, 1 / 4096, 0.5]), st.floats(0.0, 1.0))
vth_mants = st.one_of(st.sampled_from([1, 64, 2048]), st.integers(1, 2048))


@needs_fused
@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    quantized=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    vth_mant=vth_mants,
    decays=st.lists(fractions, min_size=4, max_size=4),
    step=st.one_of(st.sampled_from([0.0, 0.2, 4.0]), st.floats(0.0, 4.0)),
    regime=st.sampled_from(["normal", "large"]),
)
def test_fused_equals_reference(kind, quantized, seed, vth_mant, decays, step, regime):
    _compare(kind, quantized, seed, vth_mant, decays, step, regime)


@needs_fused
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("quantized", [False, True])
def test_fused_equals_reference_each_kind(kind, quantized):
    """Every kind and mode once at a fixed draw (hypothesis may not pair them all)."""
    _compare(kind, quantized, 7, 256, [0.25, 0.03, 0.01, 0.5], 0.2)


@needs_fused
@pytest.mark.parametrize("kind", KINDS)
def test_fused_float64_float_mode(kind):
    """The float forward in float64 (the kernels are templated on the dtype)."""
    _compare(kind, False, 3, 1, [0.1, 0.2, 0.05, 0.3], 0.5, dtype=torch.float64)


@needs_fused
def test_fused_non_contiguous_input_and_frozen_parameters():
    """A permuted input is made contiguous; frozen parameters take no gradient."""
    neuron = AlifNeuron(6, learn=False)
    base = torch.rand(9, 6, 4)
    a = base.permute(2, 1, 0).requires_grad_(True)  # (4, 6, 9), not contiguous
    s1, v1 = neuron(a, False, 1)
    (s1.sum() + v1.sum()).backward()
    g1 = a.grad.clone()
    a.grad = None
    s0, v0 = neuron._forward_reference(a, False, 1)
    (s0.sum() + v0.sum()).backward()
    assert torch.equal(s1, s0) and torch.equal(v1, v0)
    _assert_close_rel(g1, a.grad, "input")
    assert all(p.grad is None for p in neuron.parameters())


@needs_fused
def test_fused_multithreaded_matches_single_thread():
    """Tiles split over threads give the same result as one thread (no shared state)."""
    rng = np.random.default_rng(0)
    neuron = _neuron("adlif", 64, rng, [], 0.0)
    a = _input(rng, (5, 64, 30), True, 100, "normal").requires_grad_(True)
    threads = torch.get_num_threads()
    results = []
    try:
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            neuron.zero_grad(set_to_none=True)
            a.grad = None
            s, v = neuron(a, True, 100)
            (s.sum() + v.sum()).backward()
            results.append((s, v, a.grad.clone(), neuron.alpha.grad.clone()))
    finally:
        torch.set_num_threads(threads)
    for x, y in zip(*results, strict=True):
        assert torch.equal(x, y)
