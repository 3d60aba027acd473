"""ALIF neurons (adaptive threshold + refractory state) as lava-nc 0.10.0's ATRLIF runs them.

The reference is ``PyATRLIFModelFixed`` (lava/proc/atrlif/models.py), the fixed-point process
model of lava-nc's ``ATRLIF`` process, which implements the dynamics of SLAYER's
``slayer.neuron.alif`` (lava-dl 0.6.0). docs/neurons_research.md lists every rule with its
source line and the mapping between SLAYER's device parameters and ATRLIF's constructor.

Per time step, on int32 states (every ``wrap32`` is numpy's int32 arithmetic inside lava)::

    i     = wrap24(wrap32(decay(i, i_decay) + wrap32(a_in << 6)))
    v     = sat24(wrap32(decay(v, v_decay) + i + (bias_mant << bias_exp)))
    theta = wrap32(wrap32(decay(wrap32(theta - theta0), theta_decay)) + theta0)
    r     = wrap32(decay(r, ref_decay))
    s     = wrap32(v - r) >= theta
    r     = wrap32(r + wrap32(2 * theta))    where s
    theta = wrap32(theta + vth_step << 6)    where s

with ``theta0 = vth_mant << 6`` (also theta's initial value) and i, v, r starting at 0. There
is no voltage reset: the refractory state r (2 * theta per spike, decaying with
``ref_decay``) is subtracted from v in the spike test instead.

The neuron's input ``a_in`` at step t is what its synapse delivers on that step, exactly the
array the synapse's ``synaptic_input`` returns (measured: an ATRLIF fed
directly by a RingBuffer responds in the same column, through a Dense synapse one column
later, as the CUBA pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from ..fixed_point import (
    DECAY_SHIFT,
    DECAY_UNITY,
    NON_SPIKING_VTH_MANT,
    STATE_BITS,
    STATE_HALF_RANGE,
    VTH_BITS,
    VTH_MANT_MAX,
    decay,
    decay_constant,
    saturate_voltage,
    scale_activation,
    scale_bias,
    scale_threshold_int32,
    wrap_current,
    wrap_int32,
)
from ..kernels import INT32_LIMIT, Drive, OverflowPasses, carried, current_voltage_step, peak
from ..synapses.base import Feedback
from .base import Field, NeuronGroup
from .cuba import I_DECAY, REF_DELAY, V_DECAY, lif_decay_violations

TH_DECAY = Field(
    "theta_decay", "thDecay", 0, DECAY_UNITY, DECAY_SHIFT, "1/4096 per step",
    lava="delta_theta", model="threshold_decay",
)  # fmt: skip
REF_DECAY = Field(
    "ref_decay", "refDecay", 0, DECAY_UNITY, DECAY_SHIFT, "1/4096 per step",
    lava="delta_r", model="refractory_decay",
)  # fmt: skip


@dataclass
class AlifState:
    """Integer state of ALIF neurons (int64 arrays holding lava's int32 values)."""

    i: np.ndarray
    v: np.ndarray
    theta: np.ndarray
    r: np.ndarray


def alif_init(neurons: AlifNeurons, shape: tuple[int, ...]) -> AlifState:
    """Initial state for ``shape`` (last axis = neurons): i = v = r = 0, theta = theta_0.

    ATRLIF's ``scale_threshold`` overwrites theta with ``np.full(shape, theta_0)`` on the
    first step, so the process's own ``theta`` argument is ignored.
    """
    zeros = np.zeros(shape, dtype=np.int64)
    theta = np.broadcast_to(scale_threshold_int32(neurons.vth_mant), shape).astype(np.int64)
    return AlifState(i=zeros.copy(), v=zeros.copy(), theta=theta, r=zeros.copy())


def alif_step(
    state: AlifState, a_in: np.ndarray, params: AlifNeurons
) -> tuple[AlifState, np.ndarray]:
    """One ALIF step in plain integers, in PyATRLIFModelFixed.run_spk's order.

    ``a_in`` is the int32 synaptic input of this step (any shape whose last axis is the
    neurons). Returns the new state and the boolean spikes. This is the definition that
    :func:`run_alif` is tested against.
    """
    a = wrap_int32(a_in)  # the port is int32 (the sender's dtype)
    i = wrap_current(wrap_int32(decay(state.i, params.i_decay) + scale_activation(a)))
    bias = scale_bias(params.bias_mant, params.bias_exp)
    v = saturate_voltage(wrap_int32(decay(state.v, params.v_decay) + i + bias))
    theta0 = scale_threshold_int32(params.vth_mant)
    diff = decay(wrap_int32(state.theta - theta0), params.theta_decay)
    theta = wrap_int32(wrap_int32(diff) + theta0)
    r = wrap_int32(decay(state.r, params.ref_decay))
    spikes = wrap_int32(v - r) >= theta
    step = scale_threshold_int32(params.vth_step)
    r = np.where(spikes, wrap_int32(r + wrap_int32(2 * theta)), r)
    theta = np.where(spikes, wrap_int32(theta + step), theta)
    return AlifState(i=i, v=v, theta=theta, r=r), spikes


def _factor(d: np.ndarray) -> np.ndarray:
    """Decay factor ``(4096 - d) / 4096`` (exact in float64)."""
    return (DECAY_UNITY - np.asarray(d, dtype=np.float64)) / DECAY_UNITY


def _growth(d: np.ndarray) -> float:
    """Bound on ``sum_k |f|^k`` for the decay factor f of ``d``: inf unless |f| < 1."""
    f = np.abs(_factor(d))
    return float(np.inf) if f.size == 0 or f.max() >= 1 else float(1 / (1 - f.max()))


def _bounds(
    neurons: AlifNeurons, per_step: np.ndarray, t_steps: int, start: tuple[float, float, float]
) -> tuple[float, float, float]:
    """Upper bounds on |i|, |v| and on |theta|, |r| over a run, from bounds on each step's
    input ``per_step`` (``Drive.per_step_bound``).

    Used to skip wrap and saturation passes that cannot trigger. A factor of magnitude above
    1 (decays < 0 or > 8192) gives an infinite bound, i.e. every pass runs. ``start`` holds the
    largest |i|, |v| and |theta|, |r| the run starts from (a previous chunk's); they add.
    """
    inf = float(np.inf)

    def leaky(drive_max: float, drive_sum: float, d: np.ndarray) -> float:
        f = np.abs(_factor(d))
        if f.size and f.max() > 1:
            return inf
        return min(drive_sum, drive_max * _growth(d))

    bound_i = leaky(float(per_step.max()), float(per_step.sum()), neurons.i_decay) + start[0]
    drive = bound_i + float(np.abs(scale_bias(neurons.bias_mant, neurons.bias_exp)).max())
    bound_v = leaky(drive, drive * t_steps, neurons.v_decay) + start[1]
    tr_factors = np.abs(_factor(np.concatenate([neurons.theta_decay, neurons.ref_decay])))
    if tr_factors.size and tr_factors.max() > 1:
        return bound_i, bound_v, inf
    theta_max = float(
        np.abs(scale_threshold_int32(neurons.vth_mant)).max()
        + t_steps * np.abs(scale_threshold_int32(neurons.vth_step)).max()
    )
    return bound_i, bound_v, (theta_max + start[2]) * (2 * t_steps + 1)


def run_alif(
    neurons: AlifNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Advance ALIF neurons through time on activation ``a_in`` ``(T, N, C)``; spikes ``(T, N, C)``.

    ``a_in`` holds integers (int64, or float64 as ``synaptic_input`` returns them), the input
    each neuron receives at each step. Same order and arithmetic as :func:`alif_step`, on
    float64 arrays holding integers, as ``run_cuba`` does: states stay within int32, products
    with a decay factor below 2**44, and ``trunc(x * (k / 4096))`` is lava's rounding toward
    zero. The int32 wrap, 24-bit fold and saturation passes run only where a bound computed
    from the input says they can trigger. Returns uint8. ``membrane_out`` (``(T, N, C)``,
    optional) receives v at the end of each step; ``feedback`` (a recurrent synapse's
    :class:`~ranvier.hw_models.synapses.Feedback`, read through
    :class:`~ranvier.hw_models.kernels.Drive`) adds what the group's own spikes deliver;
    ``state`` (optional) carries i, v, theta and r between the chunks of a long run.
    """
    t_steps, n, c = a_in.shape
    if a_in.size == 0:
        return np.zeros(a_in.shape, dtype=np.uint8)
    drive = Drive(a_in, feedback)
    i_fac = _factor(neurons.i_decay)
    v_fac = _factor(neurons.v_decay)
    th_fac = _factor(neurons.theta_decay)
    r_fac = _factor(neurons.ref_decay)
    bias = scale_bias(neurons.bias_mant, neurons.bias_exp).astype(np.float64)
    theta0 = scale_threshold_int32(neurons.vth_mant).astype(np.float64)
    step = scale_threshold_int32(neurons.vth_step).astype(np.float64)
    start = (peak(state, "i"), peak(state, "v"), peak(state, "theta", "r"))
    bound_i, bound_v, bound_tr = _bounds(neurons, drive.per_step_bound(), t_steps, start)
    passes = OverflowPasses.from_bounds(bound_i, bound_v, float(np.abs(bias).max()))
    if float(np.abs(v_fac).max()) > 1.0:  # |decay(v)| may exceed 2**23: keep the int32 pass
        passes = replace(passes, voltage_int32=True)
    # theta, r, v - r, 2 * theta: all below 2**31 unless thresholds/steps are huge
    need_tr32 = bound_tr + STATE_HALF_RANGE >= INT32_LIMIT / 2
    i = carried(state, "i", (n, c))
    v = carried(state, "v", (n, c))
    r = carried(state, "r", (n, c))
    theta = carried(state, "theta", (n, c), theta0)
    spikes = np.empty((t_steps, n, c), dtype=np.bool_)
    for t in range(t_steps):
        current_voltage_step(i, v, drive[t], i_fac, v_fac, bias, passes)
        theta -= theta0
        if need_tr32:
            theta[:] = wrap_int32(theta)
        np.multiply(theta, th_fac, out=theta)
        np.trunc(theta, out=theta)
        theta += theta0
        np.multiply(r, r_fac, out=r)
        np.trunc(r, out=r)
        if need_tr32:
            theta[:] = wrap_int32(theta)
            r[:] = wrap_int32(r)
            gap = wrap_int32(v - r)
        else:
            gap = v - r
        fired = spikes[t]
        np.greater_equal(gap, theta, out=fired)
        if fired.any():
            r += np.where(fired, 2 * theta if not need_tr32 else wrap_int32(2 * theta), 0.0)
            theta += np.where(fired, step, 0.0)
            if need_tr32:
                r[:] = wrap_int32(r)
                theta[:] = wrap_int32(theta)
        drive.send(fired)
        if membrane_out is not None:
            membrane_out[t] = v
    if state is not None:
        state.update(i=i, v=v, theta=theta, r=r)
    return spikes.view(np.uint8)


@dataclass(kw_only=True)
class AlifNeurons(NeuronGroup):
    """Adaptive-threshold LIF neurons in Loihi fixed point (lava-nc PyATRLIFModelFixed); the
    equations are in the module docstring.

    Parameters are per neuron, int64, named after SLAYER's ALIF device parameters:

    - ``i_decay`` (``iDecay``): effective 12-bit current decay (out of 4096). ATRLIF adds 1 to
      ``delta_i * 4096`` (``ds_offset``), so lava gets ``delta_i = (iDecay - 1) / 4096``.
    - ``v_decay`` (``vDecay``), ``theta_decay`` (``thDecay``), ``ref_decay`` (``refDecay``):
      effective decays, lava gets ``delta_v/theta/r = decay / 4096`` (no offset).
    - ``vth_mant`` (``vThMant``): baseline threshold; lava's ``theta_0``, scaled ``<< 6``.
    - ``vth_step`` (``vThStep``): threshold increment per spike; ``theta_step``, ``<< 6``.
    - ``bias_mant``/``bias_exp``: as for CUBA (SLAYER's ALIF has no bias; 0 by default).
    - ``ref_delay`` (``refDelay``): exported by SLAYER (always 1) and used by neither model.

    ``create(n, vth_mant, vth_step, i_decay, v_decay, theta_decay, ref_decay, bias_mant=0,
    bias_exp=6, ref_delay=1)``. The IR accepts any integers here (the kernel follows lava's
    int32 arithmetic wherever they lead); the file reader and :meth:`violations` hold them to
    their ranges.
    """

    neuron_type: ClassVar[str] = "ALIF"
    FIELDS: ClassVar[tuple[Field, ...]] = (
        replace(I_DECAY, lava="delta_i", checked=False),
        replace(V_DECAY, lava="delta_v", checked=False),
        TH_DECAY,
        REF_DECAY,
        Field("vth_mant", "vThMant", 0, NON_SPIKING_VTH_MANT, VTH_BITS, "2**6", lava="theta_0"),
        Field(
            "vth_step",
            "vThStep",
            0,
            VTH_MANT_MAX,
            VTH_BITS,
            "2**6",
            lava="theta_step",
            model="threshold_step",
        ),
        REF_DELAY,
    )
    ARGS: ClassVar[tuple[str, ...]] = (
        "vth_mant",
        "vth_step",
        "i_decay",
        "v_decay",
        "theta_decay",
        "ref_decay",
    )
    KERNEL = staticmethod(run_alif)
    membrane: ClassVar[str] = "v"
    STATE_BITS: ClassVar[int] = 4 * STATE_BITS  # i, v, theta, r (lava: int32, no width)

    vth_mant: np.ndarray
    vth_step: np.ndarray
    i_decay: np.ndarray
    v_decay: np.ndarray
    theta_decay: np.ndarray
    ref_decay: np.ndarray
    ref_delay: int = 1

    def violations(self, name: str) -> list[str]:
        out = lif_decay_violations(
            name,
            [
                (I_DECAY, self.i_decay),
                (V_DECAY, self.v_decay),
                (TH_DECAY, self.theta_decay),
                (REF_DECAY, self.ref_decay),
            ],
        )
        out += self.threshold_violations(name, (self.field("vth_step"),))
        return out + super().violations(name)

    @property
    def spiking(self) -> bool:
        """ALIF has no voltage bound on its threshold test (int32 theta): always True."""
        return True

    def model_parameters(self) -> dict[str, np.ndarray]:
        """The four decays as fractions per step and ``vth_step / vth_mant``."""
        out = {f.model: self.per_step(f.name) for f in (I_DECAY, V_DECAY, TH_DECAY, REF_DECAY)}
        out["threshold_step"] = self.per_threshold("vth_step")
        return out

    @staticmethod
    def from_model(
        decays: dict[str, Any],
        threshold_step: float,
        vth_mant: int,
        round_fn: Any = np.rint,
        clip_fn: Any = np.clip,
    ) -> dict[str, Any]:
        """Integer parameters of the float model: each decay fraction (by its ``model``
        name) to its 12-bit constant, ``vth_step = round(threshold_step * vth_mant)``."""
        out = {
            f.name: decay_constant(1.0 - decays[f.model], round_fn, clip_fn)
            for f in (I_DECAY, V_DECAY, TH_DECAY, REF_DECAY)
        }
        out["vth_step"] = threshold_step_mant(threshold_step, vth_mant)
        return out


def threshold_step_mant(threshold_step: float, vth_mant: int) -> int:
    """The file's vThStep of a threshold step in threshold units: ``round(step * vth_mant)``."""
    return round(threshold_step * vth_mant)
