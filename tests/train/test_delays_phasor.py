"""The interpolated delay kernel from the phasor table equals the ``polar`` one it replaced.

``delays.delay_kernel`` (mode ``interp`` and every quantized mode) used to evaluate
``exp(-i phase_f (1 + base))`` and ``exp(-i phase_f (2 + base))`` with ``torch.polar`` for every
synapse and frequency, then ``(near + frac (far - near)) w``. It now gathers both from a
``(max_delay + 3, F)`` table of phasors and scales them by ``w (1 - frac)`` and ``w frac``;
and its FFTs have their own backward passes (``_PaddedRfft``, ``_LeadingIrfft``). The
old implementation is kept here (``old_delay_kernel``, ``old_delayed_dense``) as the
reference: outputs and the gradients with respect to the input, the weights and the delays
must agree within 1e-5 relative in float64 (and float32), the quantized forward bit for bit.
"""

from __future__ import annotations

import pytest
import torch
from ranvier.train.delays import (
    _phases,
    _phasor_table,
    _shift_spectrum,
    delay_kernel,
    delayed_dense,
    interp_base_frac,
)

RTOL = 1e-5


def old_delay_kernel(
    weight: torch.Tensor,
    delay: torch.Tensor,
    size: int,
    *,
    max_delay: int,
    quantized: bool = False,
) -> torch.Tensor:
    """The interp/quantized branch of ``delay_kernel`` before the phasor table (``polar`` per
    synapse and frequency), ``(F, n_in, n_out)``."""
    cdtype = torch.complex128 if weight.dtype == torch.float64 else torch.complex64
    phase = _phases(size, weight.device)
    w = weight.t().to(cdtype)
    base, frac = interp_base_frac(delay.t(), max_delay, quantized)
    near = _shift_spectrum(phase, 1 + base, cdtype)
    far = _shift_spectrum(phase, 2 + base, cdtype)
    return (near + frac.to(cdtype) * (far - near)) * w


def old_delayed_dense(
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    *,
    max_delay: int,
    quantized: bool = False,
    mode: str = "interp",
) -> torch.Tensor:
    """``delayed_dense`` as it was (torch's own FFT backward passes), on
    :func:`old_delay_kernel` for ``interp``; ``dcls`` and ``none`` kept their kernel."""
    t_steps = x.shape[-1]
    size = t_steps + (1 if mode == "none" else max_delay + 2)
    dtype = torch.float64 if quantized else x.dtype
    w, d = weight.to(dtype), delay.to(dtype)
    if mode == "interp":
        kernel = old_delay_kernel(w, d, size, max_delay=max_delay, quantized=quantized)
    else:
        kernel = delay_kernel(w, d, size, mode=mode, max_delay=max_delay, quantized=quantized)
    spec = torch.fft.rfft(x.to(dtype), n=size, dim=-1)
    out_spec = torch.matmul(spec.permute(2, 0, 1).contiguous(), kernel)
    out = torch.fft.irfft(out_spec.permute(1, 2, 0), n=size, dim=-1)[..., :t_steps]
    if not quantized:
        return out
    exact = torch.round(out.detach())
    return out + (exact - out).detach()


def _case(seed: int, dtype: torch.dtype, n_in: int = 13, n_out: int = 7, max_delay: int = 6):
    """Spikes (dropout-scaled), weights and delays with every edge: 0, max_delay, integers,
    and values outside ``[0, max_delay]`` (clamped base, frac outside [0, 1]). The FFT length
    ``T + max_delay + 2`` is even for even seeds (a Nyquist bin), odd for odd ones (none)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(3, n_in, 20 + seed % 2, generator=gen) < 0.3).to(dtype) * 2.0
    w = torch.randn(n_out, n_in, generator=gen, dtype=torch.float64).to(dtype)
    d = torch.rand(n_out, n_in, generator=gen, dtype=torch.float64) * max_delay
    d[0, :6] = torch.tensor([0.0, float(max_delay), 2.0, -0.4, max_delay + 0.7, max_delay - 1e-9])
    return x, w, d.to(dtype), max_delay


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def test_phasor_table_rows_are_shift_spectra_bit_for_bit():
    size, max_shift = 37, 9
    for dtype in (torch.complex64, torch.complex128):
        table = torch.view_as_complex(_phasor_table(size, max_shift, dtype, torch.device("cpu")))
        shifts = torch.arange(max_shift + 1, dtype=torch.float64)
        ref = _shift_spectrum(_phases(size, torch.device("cpu")), shifts, dtype).t()
        assert table.shape == (max_shift + 1, size // 2 + 1)
        assert torch.equal(table, ref)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("quantized", [False, True])
def test_kernel_equals_polar_kernel(dtype, quantized):
    x, w, d, max_delay = _case(1, dtype)
    size = x.shape[-1] + max_delay + 2
    new = delay_kernel(w, d, size, mode="interp", max_delay=max_delay, quantized=quantized)
    old = old_delay_kernel(w, d, size, max_delay=max_delay, quantized=quantized)
    assert new.dtype == old.dtype and new.shape == old.shape and new.is_contiguous()
    if quantized:  # frac is 0 in the forward pass: w E[1 + base] both ways, bit for bit
        assert torch.equal(new, old)
    assert _rel(new, old) < (1e-12 if dtype == torch.float64 else RTOL)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delayed_dense_and_gradients_equal_polar_version(dtype, quantized, seed):
    x, w, d, max_delay = _case(seed, dtype)
    if quantized:  # the exported weights: even integers
        w = (w * 40).round() * 2
    gen = torch.Generator().manual_seed(100 + seed)
    upstream = torch.randn(x.shape[0], w.shape[0], x.shape[-1], generator=gen, dtype=dtype)
    results = []
    for fn in (delayed_dense, old_delayed_dense):
        leaves = [t.clone().requires_grad_() for t in (x, w, d)]
        out = fn(*leaves, max_delay=max_delay, quantized=quantized)
        grads = torch.autograd.grad((out * upstream.to(out.dtype)).sum(), leaves)
        results.append((out.detach(), *grads))
    new, old = results
    if quantized:  # rounded integer sums: the deployed synaptic input, unchanged
        assert torch.equal(new[0], old[0])
    for name, a, b in zip(("out", "x", "weight", "delay"), new, old, strict=True):
        assert a.shape == b.shape, name
        assert _rel(a, b) < RTOL, (name, _rel(a, b))


def test_training_shapes_float32_gradients():
    """The SHD layer shape (140 -> 128, delays <= 25, T = 125) in float32: the production case."""
    gen = torch.Generator().manual_seed(7)
    x = (torch.rand(2, 140, 125, generator=gen) < 0.1).float() * 2.0
    w = torch.randn(128, 140, generator=gen)
    d = torch.rand(128, 140, generator=gen) * 25
    upstream = torch.randn(2, 128, 125, generator=gen)
    results = []
    for fn in (delayed_dense, old_delayed_dense):
        leaves = [t.clone().requires_grad_() for t in (x, w, d)]
        out = fn(*leaves, max_delay=25)
        grads = torch.autograd.grad((out * upstream).sum(), leaves)
        results.append((out.detach(), *grads))
    for name, a, b in zip(("out", "x", "weight", "delay"), *results, strict=True):
        assert _rel(a, b) < RTOL, (name, _rel(a, b))


@pytest.mark.parametrize("mode", ["dcls", "none"])
@pytest.mark.parametrize("seed", [0, 1])
def test_other_modes_through_the_new_fft_backward(mode, seed):
    """dcls and no-delay kernels are unchanged; their FFTs' gradients are the new ones."""
    x, w, d, max_delay = _case(seed, torch.float64)
    gen = torch.Generator().manual_seed(200 + seed)
    upstream = torch.randn(x.shape[0], w.shape[0], x.shape[-1], generator=gen, dtype=x.dtype)
    results = []
    for fn in (delayed_dense, old_delayed_dense):
        leaves = [t.clone().requires_grad_() for t in (x, w, d)]
        out = fn(*leaves, max_delay=max_delay, mode=mode)
        used = leaves if mode == "dcls" else leaves[:2]
        grads = torch.autograd.grad((out * upstream).sum(), used)
        results.append((out.detach(), *grads))
    for a, b in zip(*results, strict=True):
        assert _rel(a, b) < 1e-12
