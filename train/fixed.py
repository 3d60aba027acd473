"""Torch emulation of the ``hw_models.fixed_point`` rules, with straight-through gradients.

The rules themselves (bit widths, rounding toward zero, the 24-bit fold of the current,
the saturation of the voltage, the weight and delay ranges) are defined once in
``ranvier.hw_models.fixed_point``; the constants below are imported from there. What this
module adds is their torch form for the quantization-aware forward: each op returns the
exact integer result in the forward pass (on float64 tensors holding integers) and passes
the gradient straight through (identity) in the backward pass. tests/train checks every op
against the numpy rule it emulates.
"""

from __future__ import annotations

import torch
from ranvier.hw_models.fixed_point import (
    ACT_SHIFT,
    DECAY_UNITY,
    NETX_WEIGHT_MAX,
    NETX_WEIGHT_MIN,
    STATE_HALF_RANGE,
    VTH_SHIFT,
    decay_constant,
)

#: ``a_in << 6`` and ``vth_mant << 6`` as multipliers.
ACT_SCALE = float(1 << ACT_SHIFT)
VTH_SCALE = float(1 << VTH_SHIFT)
#: Trained weights are what SLAYER's ``quantize_8bit`` exports: even integers in
#: [-256, 254] (an 8-bit signed mantissa times 2), the values netx maps onto a MIXED
#: 8-bit synapse without loss (fixed_point.netx_optimize_weight_bits).
WEIGHT_MIN, WEIGHT_MAX, WEIGHT_STEP = NETX_WEIGHT_MIN, NETX_WEIGHT_MAX, 2
#: Largest layer scale ``vth_mant``: keeps 2**17 / vth_mant = 64 thresholds of headroom below
#: the 24-bit saturation of u and v, so the quantized dynamics saturate only where the float
#: ones are far outside their normal range; and stays below 4096, from where lava-dl SLAYER's
#: float32 threshold test ties (docs/training.md, "SLAYER cross-check").
MAX_SCALE = 1 << 11

__all__ = [
    "ACT_SCALE",
    "DECAY_UNITY",
    "MAX_SCALE",
    "STATE_HALF_RANGE",
    "VTH_SCALE",
    "WEIGHT_MAX",
    "WEIGHT_MIN",
    "WEIGHT_STEP",
    "decay_const",
    "quantize_delay",
    "quantize_weight",
    "round_ste",
    "saturate_ste",
    "trunc_ste",
    "wrap_current_ste",
]


def _straight_through(x: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """``exact`` in the forward pass, the gradient of ``x`` in the backward pass."""
    return x + (exact - x).detach()


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even (``torch.round`` = ``np.rint``), straight-through gradient."""
    return _straight_through(x, torch.round(x))


def trunc_ste(x: torch.Tensor) -> torch.Tensor:
    """Round toward zero, as ``fixed_point.right_shift_toward_zero`` after a 12-bit product."""
    return _straight_through(x, torch.trunc(x))


def saturate_ste(x: torch.Tensor) -> torch.Tensor:
    """``fixed_point.saturate_voltage``: clip to ``±(2**23 - 1)``, straight-through gradient."""
    bound = float(STATE_HALF_RANGE - 1)
    return _straight_through(x, x.clamp(-bound, bound))


def wrap_current_ste(x: torch.Tensor) -> torch.Tensor:
    """``fixed_point.wrap_current``: one asymmetric fold of 2**24 (``> 2**23``, ``<= -2**23``)."""
    half = float(STATE_HALF_RANGE)
    folded = torch.where(x > half, x - 2 * half, x)
    folded = torch.where(x <= -half, x + 2 * half, folded)
    return _straight_through(x, folded)


def decay_const(keep: torch.Tensor) -> torch.Tensor:
    """``fixed_point.decay_constant`` with a straight-through gradient: the 12-bit decay
    constant ``round(4096 * (1 - keep))`` of a retention factor ``keep`` in [0, 1]."""
    return decay_constant(keep, round_ste, torch.clamp)


def quantize_weight(weight: torch.Tensor, scale: float) -> torch.Tensor:
    """File weights of float weights in threshold units: ``2 * round(w * scale / 2)`` clipped
    to [-256, 254], straight-through (the clip passes no gradient, as a clamp)."""
    q = WEIGHT_STEP * round_ste(weight * (scale / WEIGHT_STEP))
    return q.clamp(WEIGHT_MIN, WEIGHT_MAX)


def quantize_delay(delay: torch.Tensor, max_delay: int) -> torch.Tensor:
    """Integer delays ``round(d)`` within ``0..max_delay`` (forward only; no gradient)."""
    return torch.round(delay.detach()).clamp(0, max_delay)
