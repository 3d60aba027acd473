"""AdLIF+ neurons in ranvier's Loihi 2 fixed-point form.

The model (docs/neurons.md, "AdLIF+"): Bittar & Garner's adaptive LIF with Deckers et al.'s
AdLIF+ bounds, in integers a Loihi 2 microcode neuron can compute. Per step, in this order::

    I  = act + bias                        act = wrap32(wrap32(a_in) << 6), bias as for CUBA
    w' = sat24(decay(w, w_decay) + mul_frac(a_mant, u) + s * (b_mant << 6))
    u' = sat24(decay(u - s * (vth_mant << 6), u_decay) + mul_frac(u_decay, I - w'))
    s' = u' > vth_mant << 6

with u, w, s the previous step's values and everything starting at 0. :func:`adlif_step` is
the definition in plain integers (every rule from ``fixed_point``); :func:`run_adlif` is the
batched kernel the simulator uses, tested against it step by step, and checked against the
independent lava process model (deploy/lava/adlif_process.py) in tests/equivalence.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    mul_frac,
    saturate_voltage,
    scale_activation,
    scale_bias,
    scale_threshold,
)
from ..kernels import Drive, carried
from ..synapses.base import Feedback
from .base import Field, NeuronGroup, outside

_STATE_MAX = float(STATE_HALF_RANGE - 1)


#: 0..4096 includes 4096: the multiplier constants take 13 bits.
_MULT_BITS = DECAY_SHIFT + 1


@dataclass
class AdlifState:
    """Integer state of AdLIF+ neurons: membrane u, adaptation current w, last spike s."""

    u: np.ndarray
    w: np.ndarray
    s: np.ndarray


def adlif_init(shape: tuple[int, ...]) -> AdlifState:
    """The deployed initial state: u = w = 0, no spike (the seed's random initial state is
    a training device; a deployed network starts every sample from rest)."""
    zeros = np.zeros(shape, dtype=np.int64)
    return AdlifState(u=zeros, w=zeros.copy(), s=np.zeros(shape, dtype=np.bool_))


def adlif_step(
    state: AdlifState, a_in: np.ndarray, params: AdlifNeurons
) -> tuple[AdlifState, np.ndarray]:
    """One AdLIF+ step in plain integers; returns the new state and the boolean spikes."""
    current = scale_activation(a_in) + scale_bias(params.bias_mant, params.bias_exp)
    vth = scale_threshold(params.vth_mant)
    spiked = state.s.astype(np.int64)
    w = saturate_voltage(
        decay(state.w, params.w_decay)
        + mul_frac(params.a_mant, state.u)
        + spiked * scale_threshold(params.b_mant)
    )
    u = saturate_voltage(
        decay(state.u - spiked * vth, params.u_decay) + mul_frac(params.u_decay, current - w)
    )
    s = u > vth
    return AdlifState(u=u, w=w, s=s), s


def run_adlif(
    neurons: AdlifNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Advance AdLIF+ neurons on activation ``a_in`` ``(T, N, C)``; spikes ``(T, N, C)`` uint8.

    Same order and arithmetic as :func:`adlif_step`, on float64 arrays holding integers: the
    states stay within 24 bits, ``I - w`` within 2**33, every product below 2**46, and
    ``trunc(x * (k / 4096))`` is the exact round-toward-zero of ``decay``/``mul_frac``.
    ``membrane_out`` (``(T, N, C)``, optional) receives u at the end of each step;
    ``feedback`` (a recurrent synapse's
    :class:`~ranvier.hw_models.synapses.Feedback`, read through
    :class:`~ranvier.hw_models.kernels.Drive`) adds what the group's own spikes deliver;
    ``state`` (optional) carries u, w and s between the chunks of a long run.
    """
    t_steps, n, c = a_in.shape
    drive = Drive(a_in, feedback)
    bias = scale_bias(neurons.bias_mant, neurons.bias_exp).astype(np.float64)
    vth = scale_threshold(neurons.vth_mant).astype(np.float64)
    b_step = scale_threshold(neurons.b_mant).astype(np.float64)
    u_keep = (DECAY_UNITY - neurons.u_decay) / DECAY_UNITY  # alpha
    u_take = neurons.u_decay / DECAY_UNITY  # 1 - alpha, applied to the input
    w_keep = (DECAY_UNITY - neurons.w_decay) / DECAY_UNITY  # beta
    coupling = neurons.a_mant / DECAY_UNITY  # a
    u = carried(state, "u", (n, c))
    w = carried(state, "w", (n, c))
    s = carried(state, "s", (n, c)).astype(np.bool_)
    tmp = np.empty((n, c))
    spikes = np.empty((t_steps, n, c), dtype=np.bool_)
    for t in range(t_steps):
        # w' = sat(decay(w) + frac(a, u) + s * b)
        np.multiply(w, w_keep, out=w)
        np.trunc(w, out=w)
        np.multiply(u, coupling, out=tmp)
        np.trunc(tmp, out=tmp)
        w += tmp
        w += np.where(s, b_step, 0.0)
        np.clip(w, -_STATE_MAX, _STATE_MAX, out=w)
        # u' = sat(decay(u - s * vth) + frac(u_decay, I - w'))
        u -= np.where(s, vth, 0.0)
        np.multiply(u, u_keep, out=u)
        np.trunc(u, out=u)
        np.add(drive[t], bias, out=tmp)
        tmp -= w
        np.multiply(tmp, u_take, out=tmp)
        np.trunc(tmp, out=tmp)
        u += tmp
        np.clip(u, -_STATE_MAX, _STATE_MAX, out=u)
        np.greater(u, vth, out=s)
        spikes[t] = s
        drive.send(s)
        if membrane_out is not None:
            membrane_out[t] = u
    if state is not None:
        state.update(u=u, w=w, s=s.copy())
    return spikes.view(np.uint8)


@dataclass(kw_only=True)
class AdlifNeurons(NeuronGroup):
    """AdLIF+ neurons (adaptation current) in ranvier's Loihi 2 fixed-point form; the
    equations are in the module docstring.

    Parameters are per neuron, int64: ``u_decay`` (``uDecay``, alpha = 1 - u_decay/4096),
    ``w_decay`` (``wDecay``, beta), ``a_mant`` (``aMant``, a = a_mant/4096), ``b_mant``
    (``bMant``, the spike-triggered increment in threshold-mantissa units), ``vth_mant``,
    ``bias_mant``/``bias_exp``. All five are range-checked (docs/neurons.md):
    ``create(n, vth_mant, u_decay, w_decay, a_mant, b_mant, bias_mant=0, bias_exp=6)``.
    """

    neuron_type: ClassVar[str] = "ADLIF"
    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field(
            "u_decay",
            "uDecay",
            0,
            DECAY_UNITY,
            _MULT_BITS,
            "1/4096 per step",
            lava="u_decay",
            model="alpha",
            checked=True,
        ),
        Field(
            "w_decay",
            "wDecay",
            0,
            DECAY_UNITY,
            _MULT_BITS,
            "1/4096 per step",
            lava="w_decay",
            model="beta",
            checked=True,
        ),
        Field(
            "a_mant",
            "aMant",
            0,
            DECAY_UNITY,
            _MULT_BITS,
            "1/4096",
            lava="a_mant",
            model="a",
            checked=True,
        ),
        Field(
            "b_mant",
            "bMant",
            0,
            VTH_MANT_MAX,
            VTH_BITS,
            "2**6",
            lava="b_mant",
            model="b",
            checked=True,
        ),
        Field(
            "vth_mant",
            "vThMant",
            0,
            NON_SPIKING_VTH_MANT,
            VTH_BITS,
            "2**6",
            lava="vth_mant",
            checked=True,
        ),
    )
    ARGS: ClassVar[tuple[str, ...]] = ("vth_mant", "u_decay", "w_decay", "a_mant", "b_mant")
    KERNEL = staticmethod(run_adlif)
    #: the state the read-out and the membrane probes report
    membrane: ClassVar[str] = "u"
    STATE_BITS: ClassVar[int] = 2 * STATE_BITS + 1  # u, w and the last spike

    vth_mant: np.ndarray
    u_decay: np.ndarray
    w_decay: np.ndarray
    a_mant: np.ndarray
    b_mant: np.ndarray

    def violations(self, name: str) -> list[str]:
        out: list[str] = []
        for f in map(self.field, ("u_decay", "w_decay")):  # multipliers 0..4096 (13 bits)
            if outside(getattr(self, f.name), 0, DECAY_UNITY):
                out.append(f"{name}: {f.netx} must be 0..{DECAY_UNITY}")
        out += self.threshold_violations(name, (self.field("b_mant"),))
        return out + super().violations(name)

    def model_parameters(self) -> dict[str, np.ndarray]:
        """The AdLIF+ quantities ``alpha``, ``beta``, ``a``, ``b`` (docs/neurons.md)."""
        return {
            "alpha": 1 - self.per_step("u_decay"),
            "beta": 1 - self.per_step("w_decay"),
            "a": self.per_step("a_mant"),
            "b": self.per_threshold("b_mant"),
        }

    @staticmethod
    def from_model(
        alpha: Any,
        beta: Any,
        a: Any,
        b: Any,
        vth_mant: int,
        round_fn: Any = np.rint,
        clip_fn: Any = np.clip,
    ) -> dict[str, Any]:
        """Integer parameters of the float AdLIF+ model: ``u_decay = round(4096 (1 - alpha))``,
        ``w_decay`` likewise from beta, ``a_mant = round(4096 a)``, ``b_mant = round(b
        vth_mant)``, each clipped to its range. Training passes its straight-through ops."""
        return {
            "u_decay": decay_constant(alpha, round_fn, clip_fn),
            "w_decay": decay_constant(beta, round_fn, clip_fn),
            "a_mant": clip_fn(round_fn(a * DECAY_UNITY), 0, DECAY_UNITY),
            "b_mant": clip_fn(round_fn(b * vth_mant), 0, None),
        }


@dataclass
class AdlifFloat:
    """The float AdLIF+ model (docs/neurons.md, "The float model"), threshold 1, per neuron.

    The reference the fixed-point form is measured against (tests/hw_models/test_adlif.py)
    and the forward that training quantizes.
    """

    alpha: np.ndarray
    beta: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def quantize(self, vth_mant: int) -> AdlifNeurons:
        """The fixed-point neurons of these parameters at threshold mantissa ``vth_mant``."""
        ints = AdlifNeurons.from_model(
            *(np.asarray(x, dtype=np.float64) for x in (self.alpha, self.beta, self.a, self.b)),
            vth_mant=vth_mant,
        )
        return AdlifNeurons.create(np.asarray(self.alpha).size, vth_mant=vth_mant, **ints)


def run_adlif_float(
    params: AdlifFloat, current: np.ndarray, membrane_out: np.ndarray | None = None
) -> np.ndarray:
    """Float AdLIF+ on input current ``(T, N, C)`` in threshold units; spikes ``(T, N, C)``."""
    t_steps, n, c = current.shape
    u = np.zeros((n, c))
    w = np.zeros((n, c))
    s = np.zeros((n, c))
    spikes = np.empty((t_steps, n, c), dtype=np.uint8)
    for t in range(t_steps):
        w = params.beta * w + params.a * u + params.b * s
        u = params.alpha * (u - s) + (1 - params.alpha) * (current[t] - w)
        s = (u > 1.0).astype(np.float64)
        spikes[t] = s
        if membrane_out is not None:
            membrane_out[t] = u
    return spikes
