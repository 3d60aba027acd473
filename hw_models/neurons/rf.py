"""Resonate-and-fire neurons as lava-nc 0.10.0 runs them: ``RF`` (netx ``RF_PHASE``) and
``RF_IZ`` (netx ``RF_IZHIKEVICH``), fed by netx's complex dense block.

The references are ``PyRFModelFixed`` (lava/proc/rf/models.py) and ``PyRF_IZModelFixed``
(lava/proc/rf_iz/models.py), with the parameters lava-dl 0.6.0's netx hands them
(netx/hdf5.py ``get_neuron_params``, branch ``"RF" in neuron_type``: ``RF if "PHASE" in
neuron_type else RF_IZ``, ``vth = vThMant``, ``state_exp = 6``, ``decay_bits = 12``, period and
alpha from ``slayer.neuron.rf.neuron_params``). Each neuron has a real and an imaginary
state; its synapse delivers a real and an imaginary input (``a_real_in``, ``a_imag_in``; the
kernel takes them as one complex array, ``INPUT = "complex"``).

Per time step, in lava's order (``PyRFModelFixed.run_spk``, ``resonator_dynamics``)::

    ar = wrap32(a_real << 6) ;  ai = wrap32(a_imag << 6)
    re' = sat24(frac(cos, re) - frac(sin, im) + ar)
    im' = sat24(frac(sin, re) + frac(cos, im) + ai)
    RF:     s = re' >= vth and im' >= 0 and im < 0        (im: the previous step's imag)
    RF_IZ:  s = im' >= vth ;  re' = 0 where s ;  im' = wrap32(vth - 1) where s
    re, im = re', im'

with ``frac(d, x) = sign(d x) * (|d x| >> 12)`` (lava's ``scale_volt``: the product rounded
toward zero), ``sat24`` the clip to ``[-(2**23 - 1), 2**23 - 1]`` (``ri_bitwidth = 2 *
sin_decay.precision = 24``), ``vth = wrap32(vThMant << 6)`` and ``sin``, ``cos`` the decays
lava ends up with (:func:`lava_rf_decays`): the file's ``sinDecay``/``cosDecay`` go through
netx's float period/alpha and back (``RF.__init__``: ``np.int32((1 - alpha) *
sin(2 pi / period) * 4096)``), which can make an integer one smaller in magnitude. Real
and imag start at 0.

Measured in .venv-lava (tests/equivalence/test_rf_lava.py):

- the input ports are declared int16 but ``recv()`` returns int32: ``PyInPortVectorDense``
  adds the int32 message (a RingBuffer's or a Dense's ``a_out``) to ``np.zeros(shape,
  int16)``, which numpy promotes; nothing wraps at 16 bits. ``np.left_shift`` on that int32
  wraps at 32 bits (an input of ``2**26`` arrives intact and shifts to 0);
- per-neuron ``sinDecay``/``cosDecay`` work (the ``(1,)``-shaped Vars hold the arrays, the
  arithmetic broadcasts; only ``Var.get()`` of them fails), so they are per-neuron fields here;
- ``vth`` must be one value: ``RF.__init__`` does ``int(vth * 64)``, a TypeError for an array
  of more than one value (even equal ones), so a group refuses thresholds that differ
  between neurons;
- ``vth`` is stored in an int32 array: ``vThMant << 6`` beyond int32 wraps (numpy 1.26 warns
  and wraps), and RF_IZ's ``vth - 1`` is int32 arithmetic too;
- there is no bias: the process takes none and netx's ``ComplexDense`` builds the neuron
  without one (a ``bias`` in the file is ignored, as is a ``delay``);
- netx ignores ``reset_interval`` for RF layers (``NETX_RESET = False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..fixed_point import (
    DECAY_SHIFT,
    DECAY_UNITY,
    STATE_BITS,
    STATE_HALF_RANGE,
    VTH_MANT_MAX,
    right_shift_toward_zero,
    scale_activation,
    scale_threshold_int32,
    wrap_int32,
)
from ..kernels import carried, scaled_activation
from ..synapses.base import Feedback
from .base import Field, NeuronGroup, outside

#: netx's fixed RF parameters (lava-dl netx/hdf5.py get_neuron_params): inputs and the
#: threshold are shifted left by ``state_exp``, decays are ``decay_bits``-bit fractions.
RF_STATE_EXP = 6
RF_DECAY_BITS = DECAY_SHIFT
#: real and imag saturate at +-(2**23 - 1): ``ri_bitwidth = 2 * sin_decay.precision`` (24)
RI_LIMIT = STATE_HALF_RANGE - 1
#: lava declares the decays ``LavaPyType(int, np.uint16, precision=12)``
DECAY_REG_MAX = (1 << RF_DECAY_BITS) - 1

VTH_MANT = Field(
    "vth_mant", "vThMant", -(1 << 31), (1 << 31) - 1, STATE_BITS, "2**6", lava="vth",
    model="threshold",
)  # fmt: skip
SIN_DECAY = Field(
    "sin_decay", "sinDecay", -DECAY_UNITY, DECAY_UNITY, RF_DECAY_BITS, "1/4096 per step",
    lava="sin_decay", checked=True,
)  # fmt: skip
COS_DECAY = Field(
    "cos_decay", "cosDecay", -DECAY_UNITY, DECAY_UNITY, RF_DECAY_BITS, "1/4096 per step",
    lava="cos_decay", checked=True,
)  # fmt: skip


# --- parameters as lava ends up with them -------------------------------------------------
def netx_rf_params(sin_decay: Any, cos_decay: Any) -> tuple[np.ndarray, np.ndarray]:
    """netx's float ``(period, alpha)`` of file decays, as ``slayer.neuron.rf.neuron_params``
    computes them (lava-dl 0.6.0; ``get_neuron_params`` passes ``decay`` as alpha)::

        sin_decay = device_params['sinDecay'] / p_scale       # p_scale = 1 << 12
        cos_decay = device_params['cosDecay'] / p_scale
        decay = 1 - np.sqrt(sin_decay ** 2 + cos_decay ** 2)
        frequency = np.arctan2(sin_decay, cos_decay) / 2 / np.pi
        'period': 1 / frequency,

    The same numpy operations in the same order (``1 / 0`` is ``inf``: ``sinDecay = 0``).
    """
    p_scale = 1 << RF_DECAY_BITS
    sin = np.asarray(sin_decay, dtype=np.int64) / p_scale
    cos = np.asarray(cos_decay, dtype=np.int64) / p_scale
    decay = 1 - np.sqrt(sin**2 + cos**2)
    frequency = np.arctan2(sin, cos) / 2 / np.pi
    with np.errstate(divide="ignore"):
        period = 1 / frequency
    return period, decay


def lava_rf_decays(sin_decay: Any, cos_decay: Any) -> tuple[np.ndarray, np.ndarray]:
    """The integer decays lava's RF process holds for file decays ``sinDecay``/``cosDecay``.

    netx turns them into float ``period``/``alpha`` (:func:`netx_rf_params`) and lava-nc's
    ``RF.__init__`` (proc/rf/process.py) back::

        sin_decay = (1 - alpha) * np.sin(np.pi * 2 * 1 / period)
        cos_decay = (1 - alpha) * np.cos(np.pi * 2 * 1 / period)
        sin_decay = np.int32(sin_decay * (1 << decay_bits))     # decay_bits = 12

    ``np.int32`` truncates toward zero, and the floats land a rounding error above or below
    the integer they came from, so an integer can come back one smaller in magnitude:
    ``(sinDecay, cosDecay) = (155, 666)`` runs as ``(154, 665)``, ``(1, 4000)`` as
    ``(0, 4000)`` (no rotation left). Measured over -4096..4096 in both: no value moves by
    more than 1, and 42 % of the pairs SLAYER can export (``sinDecay >= 1``,
    ``cosDecay >= 0``, inside the circle of radius 4095) change at least one of the two.
    Returns int64 arrays of the input's shape. The same numpy expressions in the same order;
    equal to lava's own functions over the whole range (tests/equivalence/test_rf_lava.py).
    """
    period, alpha = netx_rf_params(sin_decay, cos_decay)
    angle = np.pi * 2 * 1 / period
    sin = (1 - alpha) * np.sin(angle)
    cos = (1 - alpha) * np.cos(angle)
    scale = 1 << RF_DECAY_BITS
    return (
        np.asarray(np.int32(sin * scale), dtype=np.int64),
        np.asarray(np.int32(cos * scale), dtype=np.int64),
    )


def rf_threshold(vth_mant: Any) -> np.ndarray:
    """``vth`` as lava's RF holds it: ``int(vThMant * 64)`` stored in an int32 array (wraps)."""
    return scale_threshold_int32(vth_mant)


# --- the integer reference steps ------------------------------------------------------------
def _resonate(
    real: np.ndarray,
    imag: np.ndarray,
    a_real: np.ndarray,
    a_imag: np.ndarray,
    sin_decay: np.ndarray | int,
    cos_decay: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray]:
    """``resonator_dynamics`` of PyRFModelFixed on int64, then the 24-bit clip."""
    real = np.asarray(real, dtype=np.int64)
    imag = np.asarray(imag, dtype=np.int64)
    s = np.asarray(sin_decay, dtype=np.int64)
    c = np.asarray(cos_decay, dtype=np.int64)
    ar = scale_activation(wrap_int32(a_real))  # recv() is int32; left_shift wraps in int32
    ai = scale_activation(wrap_int32(a_imag))
    new_real = (
        right_shift_toward_zero(c * real, RF_DECAY_BITS)
        - right_shift_toward_zero(s * imag, RF_DECAY_BITS)
        + ar
    )
    new_imag = (
        right_shift_toward_zero(s * real, RF_DECAY_BITS)
        + right_shift_toward_zero(c * imag, RF_DECAY_BITS)
        + ai
    )
    return np.clip(new_real, -RI_LIMIT, RI_LIMIT), np.clip(new_imag, -RI_LIMIT, RI_LIMIT)


def rf_step(
    real: np.ndarray,
    imag: np.ndarray,
    a_real: np.ndarray,
    a_imag: np.ndarray,
    *,
    sin_decay: np.ndarray | int,
    cos_decay: np.ndarray | int,
    vth: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RF neuron step in plain integers, in PyRFModelFixed.run_spk's order.

    ``sin_decay``/``cos_decay`` are the effective decays (:func:`lava_rf_decays`), ``vth``
    the effective threshold (:func:`rf_threshold`), ``a_real``/``a_imag`` the integer inputs
    of the step. Returns the new ``(real, imag, spikes)``; the spike needs the imag of the
    step before (``self.imag < 0``, read before the update). This is the definition the
    batched kernel is tested against.
    """
    new_real, new_imag = _resonate(real, imag, a_real, a_imag, sin_decay, cos_decay)
    vth = np.asarray(vth, dtype=np.int64)
    spikes = (new_real >= vth) & (new_imag >= 0) & (np.asarray(imag) < 0)
    return new_real, new_imag, spikes


def rf_iz_step(
    real: np.ndarray,
    imag: np.ndarray,
    a_real: np.ndarray,
    a_imag: np.ndarray,
    *,
    sin_decay: np.ndarray | int,
    cos_decay: np.ndarray | int,
    vth: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One RF_IZ neuron step in plain integers, in PyRF_IZModelFixed.run_spk's order:
    the same resonator, a spike where the new imag reaches ``vth``, then real reset to 0 and
    imag to ``vth - 1`` (int32 arithmetic on lava's int32 ``vth``)."""
    new_real, new_imag = _resonate(real, imag, a_real, a_imag, sin_decay, cos_decay)
    vth = np.asarray(vth, dtype=np.int64)
    spikes = new_imag >= vth
    new_real = np.where(spikes, 0, new_real)
    new_imag = np.where(spikes, wrap_int32(vth - 1), new_imag)
    return new_real, new_imag, spikes


# --- the batched kernel ---------------------------------------------------------------------
def _run_resonator(
    neurons: ResonatorNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None,
    feedback: Feedback | None,
    state: dict[str, np.ndarray] | None,
    izhikevich: bool,
) -> np.ndarray:
    if feedback is not None:
        raise ValueError(
            f"{neurons.neuron_type}: resonate-and-fire neurons take no recurrent feedback "
            "(netx builds no recurrent complex layer)"
        )
    a_in = np.asarray(a_in)
    if not np.iscomplexobj(a_in):
        raise TypeError(
            f"{neurons.neuron_type}: the kernel takes complex input (real and imaginary "
            f"synaptic inputs), got {a_in.dtype}"
        )
    t_steps, n, c = a_in.shape
    if c != neurons.n:
        raise ValueError(f"{neurons.neuron_type}: input has {c} neurons, the group {neurons.n}")
    act_re = scaled_activation(a_in.real)
    act_im = scaled_activation(a_in.imag)
    sin_i, cos_i = neurons.effective_decays
    sin = sin_i.astype(np.float64)
    cos = cos_i.astype(np.float64)
    vth = rf_threshold(neurons.vth_mant).astype(np.float64)
    reset_imag = wrap_int32(rf_threshold(neurons.vth_mant) - 1).astype(np.float64)
    real = carried(state, "real", (n, c))
    imag = carried(state, "imag", (n, c))
    new_real = np.empty((n, c))
    new_imag = np.empty((n, c))
    tmp = np.empty((n, c))
    inv = 1.0 / DECAY_UNITY
    spikes = np.empty((t_steps, n, c), dtype=np.bool_)

    def frac(d: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        # sign(d x) * (|d x| >> 12): |d x| < 2**45, so d * x and the power-of-two scaling
        # are exact in float64 and trunc rounds toward zero as lava's scale_volt
        np.multiply(x, d, out=out)
        out *= inv
        return np.trunc(out, out=out)

    for t in range(t_steps):
        frac(cos, real, new_real)
        new_real -= frac(sin, imag, tmp)
        new_real += act_re[t]
        frac(sin, real, new_imag)
        new_imag += frac(cos, imag, tmp)
        new_imag += act_im[t]
        np.clip(new_real, -RI_LIMIT, RI_LIMIT, out=new_real)
        np.clip(new_imag, -RI_LIMIT, RI_LIMIT, out=new_imag)
        fired = spikes[t]
        if izhikevich:
            np.greater_equal(new_imag, vth, out=fired)
            new_real[fired] = 0.0
            np.copyto(new_imag, np.broadcast_to(reset_imag, new_imag.shape), where=fired)
        else:
            np.greater_equal(new_real, vth, out=fired)
            fired &= new_imag >= 0
            fired &= imag < 0
        real, new_real = new_real, real
        imag, new_imag = new_imag, imag
        if membrane_out is not None:
            membrane_out[t] = imag
    if state is not None:
        state.update(real=real, imag=imag)
    return spikes.view(np.uint8)


def run_rf(
    neurons: RfNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Advance RF neurons through time on complex input ``a_in`` ``(T, N, C)`` (real part:
    the integers arriving on ``a_real_in``, imaginary part: on ``a_imag_in``); spikes
    ``(T, N, C)`` uint8 (0/1).

    The rule is :func:`rf_step` (lava's PyRFModelFixed), on float64 arrays holding integers,
    exact here: states within 2**31, products with a decay below 2**45, ``trunc(x / 4096)``
    is lava's rounding toward zero. ``membrane_out`` (``(T, N, C)``, optional) receives imag at
    the end of each step (the ``imag`` Var, :attr:`RfNeurons.membrane`). ``state`` (optional)
    carries real and imag between the chunks of a long run, so a run in chunks is exactly
    the run in one piece. ``feedback`` must be None (ValueError).
    """
    return _run_resonator(neurons, a_in, membrane_out, feedback, state, izhikevich=False)


def run_rf_iz(
    neurons: RfIzNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """As :func:`run_rf` for RF_IZ neurons (:func:`rf_iz_step`, lava's PyRF_IZModelFixed):
    spike where imag reaches vth, then real = 0 and imag = vth - 1. ``membrane_out``
    receives imag after that reset."""
    return _run_resonator(neurons, a_in, membrane_out, feedback, state, izhikevich=True)


# --- the units ------------------------------------------------------------------------------
@dataclass(kw_only=True)
class ResonatorNeurons(NeuronGroup):
    """What RF and RF_IZ share: file decays ``sin_decay``/``cos_decay`` (one int64 value per
    neuron, as the file holds them: ``effective_decays`` gives lava's integers), one
    threshold mantissa for the whole group, no bias. Not registered itself."""

    FIELDS: ClassVar[tuple[Field, ...]] = (VTH_MANT, SIN_DECAY, COS_DECAY)
    ARGS: ClassVar[tuple[str, ...]] = ("vth_mant", "sin_decay", "cos_decay")
    INPUT: ClassVar[str] = "complex"
    #: netx's get_neuron_params ignores reset_interval for RF types (its "RF" branch never
    #: reads it): the layer runs without reset (measured: tests/equivalence/test_rf_lava.py)
    NETX_RESET: ClassVar[bool | None] = False
    #: SLAYER's complex read-out reports the imaginary state (slayer/block/base.py:
    #: ``x = x[1]  # voltage or imag state``); lava's Var is ``imag``
    membrane: ClassVar[str] = "imag"
    #: real and imag, int32 registers of 24 bits (``LavaPyType(np.ndarray, np.int32,
    #: precision=24)``); RF's spike test reads the previous imag, which is the same register
    STATE_BITS: ClassVar[int] = 2 * STATE_BITS

    vth_mant: np.ndarray
    sin_decay: np.ndarray
    cos_decay: np.ndarray

    def __post_init__(self) -> None:
        if self.vth_mant.size and np.any(self.vth_mant != self.vth_mant[0]):
            raise ValueError(
                f"{self.neuron_type}: vth_mant (vThMant) must be one value for the whole "
                "layer: lava's RF takes a single threshold (RF.__init__ does "
                "int(vth * 64), a TypeError for an array)"
            )
        if np.any(np.asarray(self.bias_mant) != 0):
            raise ValueError(
                f"{self.neuron_type}: bias_mant must be 0: resonate-and-fire neurons have no "
                "bias (lava's RF takes none; netx's ComplexDense builds the neuron without one)"
            )

    @property
    def effective_decays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sin, cos)``: the integer decays lava's RF process holds (:func:`lava_rf_decays`
        of the file's ``sinDecay``/``cosDecay``), int64 per neuron."""
        return lava_rf_decays(self.sin_decay, self.cos_decay)

    @property
    def vth(self) -> np.ndarray:
        """The effective threshold ``wrap32(vThMant << 6)`` per neuron (int64)."""
        return rf_threshold(self.vth_mant)

    @property
    def spiking(self) -> bool:
        """False when no neuron can spike: ``vth`` above the largest state ``2**23 - 1``."""
        return bool(np.any(self.vth <= RI_LIMIT))

    def violations(self, name: str) -> list[str]:
        out: list[str] = []
        for f, values in zip((SIN_DECAY, COS_DECAY), self.effective_decays, strict=True):
            if outside(values, 0, DECAY_REG_MAX):
                out.append(
                    f"{name}: {f.netx} gives {int(values.min())}..{int(values.max())} in lava's "
                    f"{f.lava} register, outside the unsigned 12-bit 0..{DECAY_REG_MAX} "
                    "(LavaPyType(int, np.uint16, precision=12))"
                )
        if self.spiking and outside(self.vth_mant, 0, VTH_MANT_MAX):
            out.append(f"{name}: vThMant outside 0..{VTH_MANT_MAX} (17 bits)")
        return out + super().violations(name)

    @classmethod
    def param_bits(cls) -> int:
        """sin_decay and cos_decay (12 bits each, ``LavaPyType(int, np.uint16,
        precision=12)``) and vth (``LavaPyType(np.ndarray, np.int32, precision=24)``); no bias."""
        return sum(f.bits for f in cls.FIELDS)

    def model_parameters(self) -> dict[str, np.ndarray]:
        """SLAYER's float parameters, as netx computes them from the file
        (``slayer.neuron.rf.neuron_params``): ``period`` (steps per turn; inf without
        rotation), ``decay`` (alpha) and ``threshold`` (``vThMant / 64``)."""
        period, decay = netx_rf_params(self.sin_decay, self.cos_decay)
        return {
            "period": np.asarray(period, dtype=np.float64),
            "decay": np.asarray(decay, dtype=np.float64),
            "threshold": self.vth_mant / float(1 << RF_STATE_EXP),
        }


@dataclass(kw_only=True)
class RfNeurons(ResonatorNeurons):
    """Resonate-and-fire neurons that spike on the phase crossing (lava-nc ``RF``,
    PyRFModelFixed; SLAYER ``slayer.neuron.rf``, tag ``RF_PHASE``); the module docstring has
    the equations.

    ``create(n, vth_mant, sin_decay, cos_decay)``: decays as the file holds them, each within
    -4096..4096 (enforced), one ``vth_mant`` for the layer.
    """

    neuron_type: ClassVar[str] = "RF_PHASE"  # slayer/neuron/rf.py device_params
    KERNEL = staticmethod(run_rf)


@dataclass(kw_only=True)
class RfIzNeurons(ResonatorNeurons):
    """Resonate-and-fire Izhikevich neurons (lava-nc ``RF_IZ``, PyRF_IZModelFixed; SLAYER
    ``slayer.neuron.rf_iz``, tag ``RF_IZHIKEVICH``): spike when imag reaches the threshold,
    then real = 0 and imag = vth - 1.

    netx runs every tag containing ``RF`` without ``PHASE`` as RF_IZ, so the aliases include
    lava's class name ``RF_IZ`` and a bare ``RF``.
    """

    neuron_type: ClassVar[str] = "RF_IZHIKEVICH"  # slayer/neuron/rf_iz.py device_params
    aliases: ClassVar[tuple[str, ...]] = ("RF_IZ", "RF")
    KERNEL = staticmethod(run_rf_iz)
