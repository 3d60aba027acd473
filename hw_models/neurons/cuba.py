"""CUBA LIF neurons as lava-nc 0.10.0's ``PyLifModelBitAcc`` runs them (netx ``CUBA``/``LOIHI``).

Per time step, in lava's order (``AbstractPyLifModelFixed.subthr_dynamics``, ``run_spk``)::

    u = wrap24(wrap32(decay(u, i_decay) + (a_in << 6)))
    v = sat24(wrap32(decay(v, v_decay) + u + (bias_mant << bias_exp)))
    s = v > vth_mant << 6
    v = 0 where s

``i_decay`` and ``v_decay`` are the effective 12-bit decay constants (out of 4096), named
after the netx/SLAYER fields ``iDecay`` and ``vDecay``: lava's register ``du`` holds
``iDecay - 1`` and adds 1 back (``ds_offset``), ``dv`` holds ``vDecay``. A group whose every
``vth_mant << 6`` lies above ``2**23 - 1`` never spikes: a non-spiking read-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..fixed_point import (
    DECAY_REG_MAX,
    DECAY_SHIFT,
    DECAY_UNITY,
    DS_OFFSET,
    INT32_LIMIT,
    STATE_BITS,
    STATE_HALF_RANGE,
    VTH_BITS,
    VTH_MANT_MAX,
    decay,
    decay_constant,
    saturate_voltage,
    scale_activation,
    scale_bias,
    scale_threshold,
    wrap_current,
    wrap_int32,
)
from ..kernels import Drive, OverflowPasses, carried, current_voltage_step, peak
from ..synapses.base import Feedback
from .base import Field, NeuronGroup, outside

#: Fields shared by the LIF family (CUBA and ALIF): the current and voltage decays.
I_DECAY = Field(
    "i_decay", "iDecay", 0, DECAY_UNITY, DECAY_SHIFT, "1/4096 per step", lava="du",
    model="current_decay", checked=True,
)  # fmt: skip
V_DECAY = Field(
    "v_decay", "vDecay", 0, DECAY_UNITY, DECAY_SHIFT, "1/4096 per step", lava="dv",
    model="voltage_decay", checked=True,
)  # fmt: skip
REF_DELAY = Field(
    "ref_delay", "refDelay", 0, INT32_LIMIT - 1, 0, "steps (unused)", scalar=True, default=1
)


def cuba_step(
    u: np.ndarray,
    v: np.ndarray,
    a_in: np.ndarray,
    *,
    i_decay: np.ndarray | int,
    v_decay: np.ndarray | int,
    bias: np.ndarray | int,
    vth: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One CUBA neuron step in plain integers, in lava-nc's order (PyLifModelBitAcc.run_spk).

    ``bias`` and ``vth`` are the effective (already shifted) values. lava holds u, v and the
    input in int32 arrays, so each sum wraps at 32 bits before the 24-bit fold of u or the
    saturation of v (this matters only for inputs beyond 2**18 per step). Returns the new
    ``(u, v, spikes)``. This is the definition the vectorised kernel is tested against.
    """
    u = wrap_current(wrap_int32(decay(u, i_decay) + scale_activation(a_in)))
    v = saturate_voltage(wrap_int32(decay(v, v_decay) + u + np.asarray(bias, dtype=np.int64)))
    spikes = v > np.asarray(vth, dtype=np.int64)
    return u, np.where(spikes, 0, v), spikes


def _state_bounds(
    neurons: CubaNeurons, per_step: np.ndarray, t_steps: int, start: tuple[float, float]
) -> tuple[float, float]:
    """Upper bounds on |u| and |v| over a run, from bounds on each step's input ``per_step``
    (``Drive.per_step_bound``; decay only shrinks).

    With per-step input at most A and decay factor (4096 - d)/4096 (truncated toward zero),
    |u| <= A * 4096 / d, and never more than the sum of the inputs; likewise for v with u and
    the bias as its input. Used to skip the wrap and saturation passes when they cannot fire.
    ``start`` holds the largest |u| and |v| the run starts from (a previous chunk's), which
    decay only shrinks, so they add to the bounds.
    """
    bound_u = float(per_step.sum())
    if neurons.i_decay.min() > 0:
        bound_u = min(bound_u, float(per_step.max()) * DECAY_UNITY / neurons.i_decay.min())
    drive = (
        bound_u + start[0] + float(np.abs(scale_bias(neurons.bias_mant, neurons.bias_exp)).max())
    )
    bound_v = drive * t_steps
    if neurons.v_decay.min() > 0:
        bound_v = min(bound_v, drive * DECAY_UNITY / neurons.v_decay.min())
    return bound_u + start[0], bound_v + start[1]


def run_cuba(
    neurons: CubaNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Advance CUBA neurons through time on activation ``a_in`` ``(T, N, C)``; spikes ``(T, N, C)``.

    ``a_in`` holds integers (int64, or float64 as the synapse returns them).

    The order inside a step is lava-nc's PyLifModelBitAcc.run_spk: decay u, add ``a_in << 6``,
    wrap u to 24 bits; decay v, add u and the bias, saturate v; spike where v exceeds
    ``vth_mant << 6``; reset v of the neurons that spiked to 0.

    The arithmetic runs on float64 holding integers, which is exact here: states stay within
    int32 as in lava, sums below 2**33, products with a decay factor below 2**44, and
    ``x * (k / 4096)`` with integer k is the exact value ``x * k / 4096`` (a power-of-two
    division), so ``trunc`` gives the same rounding toward zero as
    :func:`~ranvier.hw_models.fixed_point.decay`. tests/hw_models checks this kernel against
    :func:`cuba_step` step by step.

    ``membrane_out`` (``(T, N, C)``, optional) receives v at the end of each step (after the
    reset), as lava's ``v`` Var holds it. ``feedback`` (a recurrent synapse's
    :class:`~ranvier.hw_models.synapses.Feedback`, read through
    :class:`~ranvier.hw_models.kernels.Drive`) adds what the group's own spikes deliver.
    ``state`` (optional) carries u and v between the chunks of a long run: read at the start,
    written back at the end (:func:`~ranvier.hw_models.kernels.carried`).
    """
    t_steps, n, c = a_in.shape
    drive = Drive(a_in, feedback)
    u_factor = (DECAY_UNITY - neurons.i_decay) / DECAY_UNITY
    v_factor = (DECAY_UNITY - neurons.v_decay) / DECAY_UNITY
    bias = scale_bias(neurons.bias_mant, neurons.bias_exp).astype(np.float64)
    vth = scale_threshold(neurons.vth_mant).astype(np.float64)
    start = (peak(state, "u"), peak(state, "v"))
    bound_u, bound_v = _state_bounds(neurons, drive.per_step_bound(), t_steps, start)
    passes = OverflowPasses.from_bounds(bound_u, bound_v, float(np.abs(bias).max()))
    u = carried(state, "u", (n, c))
    v = carried(state, "v", (n, c))
    spikes = np.empty((t_steps, n, c), dtype=np.bool_)
    for t in range(t_steps):
        current_voltage_step(u, v, drive[t], u_factor, v_factor, bias, passes)
        fired = spikes[t]
        np.greater(v, vth, out=fired)
        v[fired] = 0.0
        drive.send(fired)
        if membrane_out is not None:
            membrane_out[t] = v
    if state is not None:
        state.update(u=u, v=v)
    return spikes.view(np.uint8)


def lif_decay_violations(name: str, decays: list[tuple[Field, np.ndarray]]) -> list[str]:
    """Register checks of the LIF family's decays: lava's ``du`` holds ``iDecay - 1`` (netx and
    ATRLIF add ``ds_offset`` 1 back), the other decays sit in 12-bit registers as they are."""
    out: list[str] = []
    for f, values in decays:
        if f.name == I_DECAY.name:
            if outside(values - DS_OFFSET, 0, DECAY_REG_MAX):
                out.append(f"{name}: iDecay must be 1..4096 (register du = iDecay - 1 is 12-bit)")
        elif outside(values, 0, DECAY_REG_MAX):
            out.append(f"{name}: {f.netx} must be 0..{DECAY_REG_MAX} (12-bit register)")
    return out


@dataclass(kw_only=True)
class CubaNeurons(NeuronGroup):
    """Current-based LIF neurons in Loihi fixed point (lava-nc PyLifModelBitAcc); see the
    module docstring for the equations. One int64 value per neuron of each parameter.

    ``create(n, vth_mant, i_decay, v_decay, bias_mant=0, bias_exp=6, ref_delay=1)``; decays
    must lie in 0..4096 (the kernel's bounds assume a factor in [0, 1]).
    """

    neuron_type: ClassVar[str] = "CUBA"
    aliases: ClassVar[tuple[str, ...]] = ("LOIHI",)  # netx's other name (lava-dl hdf5.py)
    FIELDS: ClassVar[tuple[Field, ...]] = (
        I_DECAY,
        V_DECAY,
        Field("vth_mant", "vThMant", 0, STATE_HALF_RANGE - 1, VTH_BITS, "2**6", lava="vth"),
        REF_DELAY,
    )
    ARGS: ClassVar[tuple[str, ...]] = ("vth_mant", "i_decay", "v_decay")
    KERNEL = staticmethod(run_cuba)
    NETX_RESET: ClassVar[bool | None] = True  # netx builds LIFReset
    membrane: ClassVar[str] = "v"
    STATE_BITS: ClassVar[int] = 2 * STATE_BITS  # u and v

    vth_mant: np.ndarray
    i_decay: np.ndarray
    v_decay: np.ndarray
    ref_delay: int = 1

    def violations(self, name: str) -> list[str]:
        out = lif_decay_violations(
            name, [(I_DECAY, self.i_decay)] + ([(V_DECAY, self.v_decay)] if self.spiking else [])
        )
        # a read-out's vDecay 4096 and huge threshold are noted, not errors (limits.loihi2_notes)
        if self.spiking and self.vth_mant.max() > VTH_MANT_MAX:
            out.append(f"{name}: vThMant {self.vth_mant.max()} exceeds 17 bits ({VTH_MANT_MAX})")
        return out + super().violations(name)

    @staticmethod
    def from_model(
        current_decay: Any, voltage_decay: Any, round_fn: Any = np.rint, clip_fn: Any = np.clip
    ) -> dict[str, Any]:
        """Integer decays of the float model's decay fractions: ``round(4096 * decay)``,
        written as the retention ``1 - decay`` the model applies (``decay_constant``).
        ``round_fn``/``clip_fn`` let training pass its straight-through ops."""
        return {
            "i_decay": decay_constant(1.0 - current_decay, round_fn, clip_fn),
            "v_decay": decay_constant(1.0 - voltage_decay, round_fn, clip_fn),
        }
