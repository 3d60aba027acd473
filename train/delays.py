"""A dense synapse with one learnable delay per synapse, computed in the frequency domain.

The synaptic input of neuron j at step t is, as the simulator and lava-nc compute it,
``a[j, t] = sum_i W[j, i] * x[i, t - 1 - d[j, i]]`` (one step of synaptic latency plus the
delay). Per synapse that is a short causal filter ("taps") on the input spike train; summed
over inputs it is a multi-channel convolution. The naive ways to compute it are slow: expand
the input per synapse and shift it (memory ``B * n_out * n_in * T``), or a dense conv1d
with ``max_delay + 2`` taps per synapse (``max_delay`` matrix products over every step).
Here the convolution is done in the frequency domain: one real FFT of the input, one complex
matrix product per frequency (``T/2`` of them instead of ``max_delay`` products over all
``T`` steps), one inverse FFT. The per-synapse filter is built directly in the frequency
domain from the delay, so the delay gradient comes out of autograd; its two (interp) taps'
spectra are rows gathered from a small table of phasors ``exp(-2 pi i k f / N)`` of the
integer delays k (not ``polar`` per synapse and frequency), and the two FFTs have backward
passes of their own (half the work of torch's for the forward FFT, a contiguous gradient
for the per-frequency product):

- ``interp`` (SLAYER style): the delay ``d = k + f`` feeds taps ``k`` and ``k + 1`` with
  weights ``1 - f`` and ``f`` (linear interpolation), so ``da/dd`` is the finite difference
  ``x[t - 2 - k] - x[t - 1 - k]``.
- ``dcls`` (Hammouamri et al.): a Gaussian over the taps ``0..max_delay`` centred on ``d``,
  normalised to sum 1, whose width ``sigma`` the training loop shrinks on a schedule.
- ``quantized``: the forward uses the integer delays ``round(d)`` (what is exported) and the
  gradient is the interpolated one at that point (the straight-through finite difference).

The length of the FFT is ``T + max_delay + 2``, so the circular convolution never wraps
into the kept steps: the result is the linear one. In the quantized forward (float64)
every output is an integer (integer weights, binary inputs); it is rounded and the residue
is checked, so it equals the simulator's ``synaptic_input`` exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable


class DelayPrecisionError(RuntimeError):
    """The frequency-domain sum was not close enough to an integer to round safely."""


def _phases(size: int, device: torch.device) -> torch.Tensor:
    """``2 pi f / size`` for the ``size // 2 + 1`` frequencies of a real FFT."""
    return (2 * math.pi / size) * torch.arange(size // 2 + 1, device=device, dtype=torch.float64)


def _shift_spectrum(phase: torch.Tensor, shift: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``exp(-i * phase * shift)``, shape ``(F, *shift.shape)``, as complex ``dtype``."""
    angle = phase.view(-1, *([1] * shift.dim())) * shift.to(torch.float64).unsqueeze(0)
    return torch.polar(torch.ones_like(angle), -angle).to(dtype)


def _phasor_table(
    size: int, max_shift: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``exp(-2 pi i k f / size)`` for the integer shifts ``k = 0..max_shift``, as the real
    view ``(max_shift + 1, F, 2)`` of complex ``dtype``: row k is the spectrum of a k-step delay.

    Small (``(max_delay + 3) x F``): the interpolated kernel gathers its two taps' rows from it
    instead of evaluating ``polar`` per synapse and frequency (float64 sin/cos over
    ``F x n_in x n_out``, the larger part of the synapse's cost). Its entries are bit for bit
    :func:`_shift_spectrum`'s (the same float64 angles, the same rounding to ``dtype``).
    """
    shifts = torch.arange(max_shift + 1, device=device, dtype=torch.float64)
    angle = shifts.unsqueeze(1) * _phases(size, device)  # (K, F)
    return torch.view_as_real(torch.polar(torch.ones_like(angle), -angle).to(dtype))


def interp_base_frac(
    delay: torch.Tensor, max_delay: int, quantized: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two taps of a linearly interpolated delay ``d``: ``(base, frac)``, the delay
    ``d`` feeding tap ``base`` with weight ``1 - frac`` and tap ``base + 1`` with ``frac``.

    Float: ``base = floor(d)`` clamped to ``0..max_delay`` (no gradient), ``frac = d - base``.
    Quantized: ``base = round(d)`` clamped, ``frac = d - d.detach()``: 0 in the forward pass
    (the integer delay alone), gradient 1 (the finite difference at ``round(d)``, straight
    through). ``base`` is a float tensor holding integers, of ``delay``'s dtype.
    """
    if quantized:
        base = torch.round(delay.detach()).clamp(0, max_delay)
        frac = delay - delay.detach()  # 0 forward, gradient 1: the finite difference at round(d)
    else:
        base = torch.floor(delay.detach()).clamp(0, max_delay)
        frac = delay - base
    return base, frac


def dcls_weights(delay: torch.Tensor, max_delay: int, sigma: float) -> torch.Tensor:
    """DCLS taps of delays ``d`` ``(...)``: a Gaussian of width ``sigma`` over the taps
    ``0..max_delay`` centred on ``d``, normalised to sum 1, shape ``(..., max_delay + 1)``."""
    taps = torch.arange(max_delay + 1, device=delay.device, dtype=delay.dtype)
    # normalised Gaussian over the taps, as a softmax: no underflow for tiny sigma
    return torch.softmax(-0.5 * ((taps - delay.unsqueeze(-1)) / sigma) ** 2, dim=-1)


@dataclass
class Taps:
    """A delayed synapse matrix ``(n_out, n_in)`` as tap pairs in the time domain:
    ``a[j, t] = sum_p sum_i coeff[p, j, i] * x[i, t - 1 - index[p, j, i]]``.

    ``index`` ``(P, n_out, n_in)`` (int64, 0..max_delay + 1) carries no gradient; ``coeff``
    ``(P, n_out, n_in)`` carries the weight's and the delay's. ``uniform``: tap p is delay p
    for every synapse (``index[p] == p``; DCLS), so the sum is one product per tap.
    """

    index: torch.Tensor
    coeff: torch.Tensor
    uniform: bool = False

    @property
    def reach(self) -> int:
        """Past spikes the taps read: ``x[t - 1 - k]`` for ``k < reach``."""
        return int(self.index.max()) + 1 if self.index.numel() else 1


def delay_taps(
    weight: torch.Tensor,
    delay: torch.Tensor | None,
    *,
    mode: str,
    max_delay: int,
    sigma: float = 0.5,
    quantized: bool = False,
) -> Taps:
    """The synapses ``weight``/``delay`` ``(n_out, n_in)`` as time-domain :class:`Taps`, by
    the same rules as :func:`delay_kernel` builds their frequency response: no delay, one
    pair ``(0, W)``; ``interp`` (and every quantized mode), two pairs ``(base, W (1 - frac))``
    and ``(base + 1, W frac)`` of :func:`interp_base_frac` (quantized: the second is 0 in the
    forward pass, the straight-through delay gradient in the backward pass); ``dcls``,
    ``max_delay + 1`` pairs ``(p, W g_p)`` with the Gaussian :func:`dcls_weights`."""
    if delay is None or mode == "none":
        return Taps(
            torch.zeros((1, *weight.shape), dtype=torch.long, device=weight.device),
            weight.unsqueeze(0),
            uniform=True,
        )
    d = delay.to(weight.dtype)
    if mode == "dcls" and not quantized:
        g = dcls_weights(d, max_delay, sigma)  # (n_out, n_in, D+1)
        coeff = g.permute(2, 0, 1) * weight  # (D+1, n_out, n_in)
        index = torch.arange(max_delay + 1, device=weight.device).view(-1, 1, 1)
        return Taps(index.expand(coeff.shape), coeff, uniform=True)
    base, frac = interp_base_frac(d, max_delay, quantized)
    index = torch.stack((base, base + 1)).long()
    coeff = torch.stack((weight * (1 - frac), weight * frac))
    return Taps(index, coeff)


def delay_kernel(
    weight: torch.Tensor,
    delay: torch.Tensor | None,
    size: int,
    *,
    mode: str,
    max_delay: int,
    sigma: float = 0.5,
    quantized: bool = False,
) -> torch.Tensor:
    """Frequency response ``K[f, i, j]`` of each synapse (input i, output j), ``(F, n_in, n_out)``.

    ``weight`` and ``delay`` are ``(n_out, n_in)``; the response includes the one step of
    synaptic latency. Complex64 for float32 weights, complex128 for float64.
    """
    cdtype = torch.complex128 if weight.dtype == torch.float64 else torch.complex64
    if delay is not None and mode != "none" and (mode != "dcls" or quantized):
        d = delay.t().to(weight.dtype)  # (n_in, n_out)
        return _interp_kernel(weight.t(), d, size, max_delay, quantized, cdtype)
    phase = _phases(size, weight.device)
    w = weight.t().to(cdtype)  # (n_in, n_out)
    if delay is None or mode == "none":
        return _shift_spectrum(phase, torch.ones(1, 1, device=weight.device), cdtype) * w
    d = delay.t()  # (n_in, n_out)
    taps = torch.arange(max_delay + 1, device=d.device, dtype=d.dtype)
    g = dcls_weights(d, max_delay, sigma)
    tap_spec = _shift_spectrum(phase, 1 + taps, cdtype)  # (F, D+1)
    flat = g.reshape(-1, max_delay + 1).to(cdtype) @ tap_spec.t()  # (n_in*n_out, F)
    return flat.t().reshape(-1, *d.shape) * w


def _interp_kernel(
    w: torch.Tensor,
    d: torch.Tensor,
    size: int,
    max_delay: int,
    quantized: bool,
    cdtype: torch.dtype,
) -> torch.Tensor:
    """:func:`delay_kernel` of mode ``interp`` (and the quantized modes) for real weights and
    delays ``w``, ``d`` ``(n_in, n_out)``: ``K = w ((1 - frac) E[1 + base] + frac E[2 + base])``
    with the phasor rows ``E`` of :func:`_phasor_table`, gathered per synapse.

    The work runs on the real view laid out per synapse ``(n_in * n_out, F, 2)``, where each
    synapse's scalars ``w (1 - frac)`` and ``w frac`` scale one contiguous row (fast forward,
    and their gradients are row sums), then one transposing copy gives ``(F, n_in, n_out)``
    for the per-frequency product. Quantized, ``frac`` is 0 in the forward pass, so the kernel
    is ``w E[1 + base]`` exactly, as before.
    """
    base, frac = interp_base_frac(d, max_delay, quantized)
    table = _phasor_table(size, max_delay + 2, cdtype, d.device)  # (D + 3, F, 2)
    index = (1 + base).long().reshape(-1)  # the near tap's row: x[t - 1 - base]
    near = table.index_select(0, index)  # (n_in * n_out, F, 2)
    far = table.index_select(0, index + 1)
    w_far = (w * frac).reshape(-1, 1, 1)
    rows = torch.addcmul(near * (w.reshape(-1, 1, 1) - w_far), far, w_far)
    kernel = torch.view_as_complex(rows).view(*w.shape, -1)  # (n_in, n_out, F)
    return kernel.permute(2, 0, 1).contiguous()


def _onesided_weights(size: int, like: torch.Tensor) -> torch.Tensor:
    """Per rfft bin of a length-``size`` signal: 1 for the bins without a conjugate partner
    (0, and ``size / 2`` for even ``size``), 2 for the others (they stand for two bins)."""
    weights = torch.ones(size // 2 + 1, dtype=like.real.dtype, device=like.device)
    weights[1 : (size - 1) // 2 + 1] = 2.0
    return weights


class _PaddedRfft(torch.autograd.Function):
    """``rfft(x, n=size)`` over the last axis, with a backward of half the work of torch's.

    torch's backward of a one-sided FFT rebuilds the full spectrum and runs a complex FFT of
    length ``size``; the same gradient is an inverse real FFT of the one-sided gradient with
    its partnered bins halved: ``gx_t = Re(sum_f g_f e^{2 pi i f t / size})``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, size: int) -> torch.Tensor:
        ctx.size, ctx.steps = size, x.shape[-1]
        return torch.fft.rfft(x, n=size, dim=-1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        half = torch.empty(grad.shape, dtype=grad.dtype, device=grad.device)  # contiguous
        torch.div(grad, _onesided_weights(ctx.size, grad), out=half)
        gx = torch.fft.irfft(half, n=ctx.size, dim=-1, norm="forward")
        return gx[..., : ctx.steps], None


class _LeadingIrfft(torch.autograd.Function):
    """The first ``steps`` samples ``(B, n, steps)`` of ``irfft(spec, n=size)`` for a
    spectrum laid out ``(F, B, n)`` (the per-frequency product's output).

    Backward: ``rfft`` of the gradient zero-padded to ``size`` (the FFT pads it; no full-size
    zeros are filled and copied), partnered bins doubled, divided by ``size``, returned
    contiguous ``(F, B, n)``: a permuted gradient sends the product's backward (two complex
    ``bmm`` with conjugate-transposed operands) to one small product and copy per frequency,
    as fast on one thread but many times slower with two threads on a busy machine.
    """

    @staticmethod
    def forward(ctx, spec: torch.Tensor, size: int, steps: int) -> torch.Tensor:
        ctx.size = size
        return torch.fft.irfft(spec.permute(1, 2, 0), n=size, dim=-1)[..., :steps]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        spec = torch.fft.rfft(grad, n=ctx.size, dim=-1).permute(2, 0, 1)  # (F, B, n)
        scale = (_onesided_weights(ctx.size, spec) / ctx.size).view(-1, 1, 1)
        out = torch.empty(spec.shape, dtype=spec.dtype, device=spec.device)  # contiguous
        return torch.mul(spec, scale, out=out), None, None


def delayed_dense(
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor | None,
    *,
    mode: str = "interp",
    max_delay: int = 0,
    sigma: float = 0.5,
    quantized: bool = False,
    check: bool = True,
) -> torch.Tensor:
    """Synaptic input ``(B, n_out, T)`` of spikes ``x`` ``(B, n_in, T)`` through delayed synapses.

    ``a[b, j, t] = sum_i sum_k K[j, i, k] x[b, i, t - 1 - k]`` with the taps K of ``mode``
    (module docstring). With ``quantized`` the weights must hold integers and the result is
    the exact integer input (float64), rounded; with ``check`` a sum that is not within 1/8
    of an integer raises DelayPrecisionError (off while training with dropout, whose scaled
    spikes are not integers).
    """
    t_steps = x.shape[-1]
    reach = max_delay + 2 if delay is not None and mode != "none" else 1
    size = t_steps + reach
    dtype = torch.float64 if quantized else x.dtype if x.is_floating_point() else torch.float32
    kernel = delay_kernel(
        weight.to(dtype),
        None if delay is None else delay.to(dtype),
        size,
        mode=mode,
        max_delay=max_delay,
        sigma=sigma,
        quantized=quantized,
    )
    spec = _PaddedRfft.apply(x.to(dtype), size)  # (B, n_in, F)
    # contiguous (F, B, n_in): a strided complex bmm is much slower, worst with busy cores;
    # and so is its backward unless its gradient is contiguous too (_LeadingIrfft's is)
    out_spec = torch.matmul(spec.permute(2, 0, 1).contiguous(), kernel)  # (F, B, n_out)
    out = _LeadingIrfft.apply(out_spec, size, t_steps)
    if not quantized:
        return out
    exact = torch.round(out.detach())
    residue = float((out.detach() - exact).abs().max()) if out.numel() else 0.0
    if check and residue >= 0.125:
        raise DelayPrecisionError(
            f"synaptic sum is {residue:.3f} away from an integer; the layer is too large "
            "for float64 frequency-domain sums"
        )
    return out + (exact - out).detach()
