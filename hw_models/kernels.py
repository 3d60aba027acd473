"""Vectorised pieces shared by the neuron kernels (``neurons/cuba.py``, ``alif.py``,
``adlif.py``): the activation each step (:class:`Drive`, with a recurrent synapse's
feedback), the overflow-pass decisions and the LIF family's sub-threshold step.

They run lava's integer arithmetic on float64 arrays holding integers, which is exact in the
ranges involved (docs/fixed_point.md); each is tested, through the kernels that use it,
against the integer rules of ``fixed_point`` step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .fixed_point import (
    ACT_SHIFT,
    STATE_HALF_RANGE,
    saturate_voltage,
    scale_activation,
    wrap_current,
    wrap_int32,
)
from .fixed_point import INT32_LIMIT as _INT32_LIMIT
from .synapses.base import Feedback

INT32_LIMIT = float(_INT32_LIMIT)


def scaled_activation(a_in: np.ndarray) -> np.ndarray:
    """``a_in << 6`` as float64, with lava's int32 wraps (of the port and of the shift).

    One exact multiplication when no wrap can happen (the usual case).
    """
    a_in = np.asarray(a_in, dtype=np.float64)
    if a_in.size and max(a_in.max(), -a_in.min()) >= 1 << (31 - ACT_SHIFT):
        return scale_activation(a_in.astype(np.int64)).astype(np.float64)
    return a_in * float(1 << ACT_SHIFT)


@dataclass(frozen=True)
class OverflowPasses:
    """Which wrap/saturation passes a run needs, decided once from bounds on its input."""

    current_int32: bool
    current_wrap: bool
    voltage_int32: bool
    voltage_clip: bool

    @classmethod
    def from_bounds(
        cls, bound_current: float, bound_voltage: float, max_abs_bias: float
    ) -> OverflowPasses:
        """``bound_current``/``bound_voltage``: upper bounds on |u| (before the fold), |v|."""
        return cls(
            current_int32=bound_current >= INT32_LIMIT,
            current_wrap=bound_current >= STATE_HALF_RANGE,
            voltage_int32=min(bound_current, INT32_LIMIT) + STATE_HALF_RANGE + max_abs_bias
            >= INT32_LIMIT,
            voltage_clip=bound_voltage >= STATE_HALF_RANGE - 1,
        )


def current_voltage_step(
    u: np.ndarray,
    v: np.ndarray,
    activation_t: np.ndarray,
    u_factor: np.ndarray,
    v_factor: np.ndarray,
    bias: np.ndarray,
    passes: OverflowPasses,
) -> None:
    """One sub-threshold step in place, in lava's order (shared by LIF and ATRLIF):

    ``u = wrap24(wrap32(decay(u) + act))``, ``v = sat24(wrap32(decay(v) + u + bias))``, where
    ``decay(x) = trunc(x * factor)`` with ``factor = (4096 - d) / 4096``.
    """
    if u_factor.any():
        np.multiply(u, u_factor, out=u)
        np.trunc(u, out=u)
        u += activation_t
    else:  # iDecay 4096 everywhere: the current is this step's input alone
        u[...] = activation_t
    if passes.current_int32:
        u[:] = wrap_int32(u)
    if passes.current_wrap:
        u[:] = wrap_current(u)
    if not (v_factor == 1.0).all():  # vDecay 0 everywhere keeps v as it is
        np.multiply(v, v_factor, out=v)
        np.trunc(v, out=v)
    v += u
    if bias.any():
        v += bias
    if passes.voltage_int32:
        v[:] = wrap_int32(v)
    if passes.voltage_clip:
        v[:] = saturate_voltage(v)


class Drive:
    """The activation ``a_in << 6`` a neuron kernel integrates, step by step.

    A feed-forward layer's input is known for the whole run before its neurons start
    (``a_in``, ``(T, N, C)``), and is scaled once. With a ``feedback`` (a recurrent synapse's
    :class:`~ranvier.hw_models.synapses.recurrent.RecurrentInput`) step t's input also holds
    what the layer's own earlier spikes deliver: it is assembled when step t comes, summed and
    wrapped at 32 bits as lava's InPort sums its two int32 channels, and the kernel hands each
    step's spikes back with :meth:`send`.
    """

    def __init__(self, a_in: np.ndarray, feedback: Feedback | None = None):
        self.a_in = a_in
        self.feedback = feedback
        self.activation = scaled_activation(a_in) if feedback is None else None

    def per_step_bound(self) -> np.ndarray:
        """An upper bound on ``|activation|`` at each step, ``(T,)`` (``(1,)`` of 0 when
        empty)."""
        source = self.a_in if self.activation is None else self.activation
        if not source.size:
            return np.zeros(1)
        flat = source.reshape(source.shape[0], -1)
        bound = np.maximum(flat.max(axis=1), -flat.min(axis=1))
        if self.feedback is not None:
            bound = (bound + self.feedback.bound) * float(1 << ACT_SHIFT)
        return bound

    def __getitem__(self, t: int) -> np.ndarray:
        if self.activation is not None:
            return self.activation[t]
        a_t = self.a_in[t] + self.feedback.arriving()
        if a_t.size and max(a_t.max(), -a_t.min()) >= INT32_LIMIT:
            a_t = wrap_int32(a_t).astype(np.float64)
        return scaled_activation(a_t)

    def send(self, fired: np.ndarray) -> None:
        """The spikes of the current step, for the feedback (nothing without one)."""
        if self.feedback is not None:
            self.feedback.send(fired)


def carried(
    state: dict[str, np.ndarray] | None, name: str, shape: tuple[int, ...], start: Any = 0.0
) -> np.ndarray:
    """A neuron state variable at the start of a run: a float64 copy of ``state[name]`` when a
    previous chunk of the run left it there, else ``start`` (0, or the type's initial value)
    broadcast to ``shape``. The kernels write their final values back into ``state``, so a long
    run split into chunks is exactly the run in one piece."""
    if state is not None and name in state:
        return np.array(state[name], dtype=np.float64)
    return np.broadcast_to(np.asarray(start, dtype=np.float64), shape).copy()


def peak(state: dict[str, np.ndarray] | None, *names: str) -> float:
    """Largest magnitude of the carried ``names`` (0 when there is no state): what a chunk's
    overflow bounds add for the state it starts from."""
    if not state:
        return 0.0
    return max((float(np.abs(state[k]).max(initial=0.0)) for k in names if k in state), default=0.0)
