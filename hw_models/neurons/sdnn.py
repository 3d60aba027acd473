"""Sigma-delta (SDNN) neurons as lava-nc 0.10.0's fixed-point process models run them.

netx (lava-dl 0.6.0, ``Network.get_neuron_params``, hdf5.py:164-188) builds a layer whose
``neuron/type`` is ``SDNN`` as one of three lava processes (lava/proc/sdn/process.py):

- an ``input`` layer: ``Delta(vth=vThMant, spike_exp, state_exp=6)``, the encoder
  (:class:`DeltaNeurons`, tag ``SDNN_DELTA``);
- a layer whose neuron group holds ``sigma_output``: ``Sigma()``, the decoder
  (:class:`SigmaNeurons`, tag ``SDNN_SIGMA``);
- any other layer: ``SigmaDelta(vth=vThMant, spike_exp, state_exp=6, bias=<layer bias>)``
  (:class:`SigmaDeltaNeurons`, the file's tag ``SDNN``), activation left at lava's default
  ``RELU``: netx ignores the file's ``neuron/activation``.

``spike_exp`` is netx's ``Network(spike_exp=)`` argument (default 6), not a file field;
``state_exp`` is fixed at 6 by netx. ``num_message_bits`` is the file's ``messageBits``,
else 16. The process constructors scale the threshold, and SigmaDelta's bias, by
``1 << (spike_exp + state_exp)`` (process.py:99, 179-180); netx hands the bias over as
``bias.astype(np.int32)`` (blocks/process.py:71), so the scaled bias is an int32 product and
wraps. ``Sigma`` takes no threshold and no bias.

lava-nc 0.10.0 has one fixed-point model per process, and ``Loihi2SimCfg(select_tag=
'fixed_pt')`` selects it: ``PyDeltaModelFixed``, ``PySigmaModelFixed``,
``PySigmaDeltaModelFixed`` (measured: tests/equivalence/test_sdnn_lava.py lists the models
lava's compiler finds and asserts the compiled model class of every process it runs).
lava-nc's main branch adds a second fixed-point SigmaDelta model after 0.10.0,
``PySigmaDeltaModelFixedCorrected`` (commit 36bb33e, 2024-10-29: ``act += (s_out >>
state_exp) << state_exp``, no residue, no cumulative error). It is defined after
``PySigmaDeltaModelFixed`` in the same module, and lava's compiler lists a module's models
in definition order while ``RunConfig.select`` takes the first with the tag, so by that code
the same configuration would still pick ``PySigmaDeltaModelFixed`` (read, not measured:
ranvier's reference is 0.10.0). ranvier reproduces ``PySigmaDeltaModelFixed``.

Every state and port is a numpy int32 array in lava, so every sum below wraps at 32 bits
(``wrap32``); shifts are numpy's on int32 (``<<`` wraps, ``>>`` is arithmetic, i.e. floor);
``abs32(x)`` is ``np.abs`` on int32, for which ``abs32(-2**31) = -2**31``. With
``e = spike_exp + state_exp``, ``vth = wrap32(vth_mant << e)`` and ``bias = wrap32(bias_mant
<< e)`` as lava's Vars hold them, per step, in lava's order:

Delta (``PyDeltaModelFixed.run_spk``, models.py:223-231, ``delta_dynamics`` 72-100)::

    x       = wrap32(a_in << e)
    delta   = wrap32(x - act + residue)
    [cum_error: error = wrap32(error + delta)]
    fire    = abs32(error if cum_error else delta) >= vth
    s       = delta where fire else 0
    [cum_error: error = 0 where abs32(s) > 0]
    residue = wrap32(delta - s)
    act     = x
    payload = s >> state_exp

SigmaDelta (``PySigmaDeltaModelFixed.run_spk``, models.py:279-284, ``dynamics`` 150-156)::

    sigma   = wrap32(a_in + sigma)                       # a_in is NOT shifted
    y       = wrap32(sigma + bias), then max(y, 0) for RELU (UNIT: as is)
    delta   = wrap32(y - act + residue), then as Delta from ``fire`` on, with ``act = y``

Sigma (``PySigmaModelFixed``, ``AbstractSigmaModel.run_spk``, models.py:54-57)::

    sigma   = wrap32(a_in + sigma)
    payload = sigma

A payload of 0 is no message. SigmaDelta takes the residue *before* dropping the
``state_exp`` low bits of the message, so those bits are lost for good (Delta's messages are
multiples of ``2**e`` and lose nothing; the Corrected model changes this). Because
``abs32(-2**31) < 0``, a delta of ``-2**31`` never passes a threshold >= 0, and a message of
``-2**31`` (possible when the scaled threshold wrapped negative: then every step fires) does
not reset the cumulative error. These are lava's behaviour, reproduced as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..fixed_point import INT32_LIMIT, STATE_BITS, wrap_int32
from ..synapses.base import Feedback
from .base import Field, NeuronGroup, outside

# --- lava's register widths (LavaPyType precisions of the fixed-point models, models.py) ----
#: sigma, act, residue, error, vth, a_in and s_out: ``np.int32, precision=24``.
SDNN_STATE_BITS = STATE_BITS
#: SigmaDelta's ``bias``: ``np.int32, precision=16`` (the scaled bias lava's Var holds).
SDNN_BIAS_BITS = 16
#: spike_exp, state_exp: ``np.int32, precision=3``.
SDNN_EXP_BITS = 3
EXP_MAX = (1 << SDNN_EXP_BITS) - 1
#: the largest payload width the 24-bit ``s_out`` port holds.
MESSAGE_BITS_MAX = SDNN_STATE_BITS
#: netx's defaults: ``Network(spike_exp=6)``, ``state_exp=6``, ``num_message_bits = 16``.
NETX_SPIKE_EXP = 6
NETX_STATE_EXP = 6
NETX_MESSAGE_BITS = 16

#: lava's ``ActivationMode`` (process.py): the values of the ``activation`` field.
ACTIVATION_UNIT = 0
ACTIVATION_RELU = 1
ACTIVATIONS = {"unit": ACTIVATION_UNIT, "identity": ACTIVATION_UNIT, "relu": ACTIVATION_RELU}

# --- the field schema ---------------------------------------------------------------------
# Fields with an empty ``netx`` name are not read from the file by netx: spike_exp is netx's
# Network argument, state_exp its constant 6, act_mode and cum_error lava's defaults.
VTH_MANT = Field(
    "vth_mant", "vThMant", 0, INT32_LIMIT - 1, SDNN_STATE_BITS, "2**(spike_exp+state_exp)",
    lava="vth",
)  # fmt: skip
SPIKE_EXP = Field(
    "spike_exp", "", 0, EXP_MAX, SDNN_EXP_BITS, "bits", lava="spike_exp", checked=True,
    scalar=True, default=NETX_SPIKE_EXP,
)  # fmt: skip
STATE_EXP = Field(
    "state_exp", "", 0, EXP_MAX, SDNN_EXP_BITS, "bits", lava="state_exp", checked=True,
    scalar=True, default=NETX_STATE_EXP,
)  # fmt: skip
MESSAGE_BITS = Field(
    "message_bits", "messageBits", 0, 32, 0, "bits", lava="num_message_bits", scalar=True,
    default=NETX_MESSAGE_BITS,
)  # fmt: skip
ACTIVATION = Field(
    "activation", "", ACTIVATION_UNIT, ACTIVATION_RELU, 0, "0 UNIT, 1 RELU", lava="act_mode",
    checked=True, scalar=True, default=ACTIVATION_RELU,
)  # fmt: skip
CUM_ERROR = Field(
    "cum_error", "", 0, 1, 0, "flag", lava="cum_error", checked=True, scalar=True, default=0
)


# --- integer rules --------------------------------------------------------------------------
def scale_exp(values: Any, spike_exp: int, state_exp: int) -> np.ndarray:
    """``wrap32(values << (spike_exp + state_exp))``: a threshold or bias as the SigmaDelta and
    Delta constructors scale it (``x * (1 << (spike_exp + state_exp))``, process.py:99,
    179-180) and lava's int32 Var holds it (the builder's ``var[:] = value`` wraps, as netx's
    int32 bias product does)."""
    return wrap_int32(wrap_int32(values) << (int(spike_exp) + int(state_exp)))


def abs32(x: np.ndarray) -> np.ndarray:
    """``np.abs`` of an int32 value: ``|x|``, except that ``-2**31`` stays ``-2**31``."""
    return wrap_int32(np.abs(np.asarray(x, dtype=np.int64)))


def delta_encode(
    act: np.ndarray,
    residue: np.ndarray,
    error: np.ndarray,
    act_new: np.ndarray,
    *,
    vth: np.ndarray | int,
    cum_error: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lava's ``AbstractDeltaModel.delta_dynamics`` (models.py:72-100) in plain integers.

    Returns ``(residue, error, s_scaled)``: the new residue and error and the payload before
    the ``state_exp`` shift. The caller sets ``act = act_new``.
    """
    delta = wrap_int32(np.asarray(act_new, np.int64) - act + residue)
    if cum_error:
        error = wrap_int32(error + delta)
        s = np.where(abs32(error) >= vth, delta, 0)
        error = np.where(abs32(s) > 0, 0, error)  # error *= 1 - (|s| > 0)
    else:
        s = np.where(abs32(delta) >= vth, delta, 0)
    return wrap_int32(delta - s), np.asarray(error, np.int64), s.astype(np.int64)


def delta_step(
    act: np.ndarray,
    residue: np.ndarray,
    error: np.ndarray,
    a_in: np.ndarray,
    *,
    vth: np.ndarray | int,
    spike_exp: int,
    state_exp: int,
    cum_error: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One Delta encoder step in plain integers (``PyDeltaModelFixed.run_spk``).

    ``vth`` is the scaled threshold (:func:`scale_exp`). Returns the new ``(act, residue,
    error, payload)``. The definition :func:`run_delta` is tested against.
    """
    x = wrap_int32(wrap_int32(a_in) << (int(spike_exp) + int(state_exp)))
    residue, error, s = delta_encode(act, residue, error, x, vth=vth, cum_error=cum_error)
    return x, residue, error, s >> int(state_exp)


def sigma_delta_step(
    sigma: np.ndarray,
    act: np.ndarray,
    residue: np.ndarray,
    error: np.ndarray,
    a_in: np.ndarray,
    *,
    vth: np.ndarray | int,
    bias: np.ndarray | int,
    state_exp: int,
    relu: bool = True,
    cum_error: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One SigmaDelta step in plain integers (``PySigmaDeltaModelFixed.run_spk``).

    ``vth`` and ``bias`` are the scaled values (:func:`scale_exp`). Returns the new ``(sigma,
    act, residue, error, payload)``. The definition :func:`run_sigma_delta` is tested against.
    """
    sigma = wrap_int32(np.asarray(sigma, np.int64) + wrap_int32(a_in))
    y = wrap_int32(sigma + np.asarray(bias, np.int64))
    if relu:
        y = np.maximum(y, 0)
    residue, error, s = delta_encode(act, residue, error, y, vth=vth, cum_error=cum_error)
    return sigma, y, residue, error, s >> int(state_exp)


def sigma_step(sigma: np.ndarray, a_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Sigma decoder step in plain integers (``PySigmaModelFixed``): ``(sigma, payload)``,
    both the new sigma."""
    sigma = wrap_int32(np.asarray(sigma, np.int64) + wrap_int32(a_in))
    return sigma, sigma.copy()


# --- batched kernels ------------------------------------------------------------------------
def _int32_input(a_in: np.ndarray) -> np.ndarray:
    """The synaptic input as lava's int32 ``a_in`` port holds it (float64 or int64 holding
    integers; values beyond int32 wrap as the port's ``arr[:] = data`` does)."""
    a = np.asarray(a_in)
    if a.dtype == np.int32:
        return a
    if a.dtype.kind == "f" and (not a.size or max(a.max(), -a.min()) < INT32_LIMIT):
        return a.astype(np.int32)  # exact: integers within int32
    return a.astype(np.int64).astype(np.int32)  # the int64 -> int32 cast wraps


def _no_feedback(feedback: Feedback | None) -> None:
    if feedback is not None:
        raise ValueError("sigma-delta neurons are never recurrent in netx: no feedback")


def _state32(state: dict[str, np.ndarray] | None, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A carried state variable as lava's int32 Var (0 at the start of a run)."""
    if state is not None and name in state:
        return np.asarray(state[name], dtype=np.int64).astype(np.int32).reshape(shape)
    return np.zeros(shape, dtype=np.int32)


def _encode(
    y: np.ndarray,
    state: dict[str, np.ndarray] | None,
    vth: np.ndarray,
    state_exp: int,
    cum_error: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The delta encoder over a whole run on int32 arrays (numpy's int32 arithmetic wraps as
    lava's does). ``y`` ``(T, N, C)`` int32 is the value encoded each step (Delta's ``x``,
    SigmaDelta's activation). Returns the payloads ``(T, N, C)`` int64 and the final act,
    residue, error.

    The encoder is run on ``ref = act - residue``: the residue is 0 after a message and the
    whole delta otherwise, so ``delta = y - ref`` and ``ref`` becomes ``y`` exactly where a
    message goes out (the identity holds modulo 2**32, i.e. in int32).
    """
    t_steps, n, c = y.shape
    act = _state32(state, "act", (n, c))
    ref = act - _state32(state, "residue", (n, c))
    error = _state32(state, "error", (n, c))
    vth32 = vth.astype(np.int32)
    zero = np.int32(0)
    out = np.empty((t_steps, n, c), dtype=np.int64)
    for t in range(t_steps):
        delta = y[t] - ref
        if cum_error:
            error += delta
            fire = np.abs(error) >= vth32
        else:
            fire = np.abs(delta) >= vth32
        s = np.where(fire, delta, zero)
        if cum_error:
            np.copyto(error, zero, where=np.abs(s) > zero)
        np.copyto(ref, y[t], where=fire)
        out[t] = np.right_shift(s, np.int32(state_exp))
    if t_steps:
        act = y[-1].copy()
    final = {
        "act": act.astype(np.int64),
        "residue": (act - ref).astype(np.int64),
        "error": error.astype(np.int64),
    }
    return out, final


def run_delta(
    neurons: DeltaNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Delta encoders through time on input ``a_in`` ``(T, N, C)``; int64 payloads
    ``(T, N, C)`` (0: no message), as ``PyDeltaModelFixed`` sends them.

    ``membrane_out`` receives ``act`` (lava's Var: ``wrap32(a_in << e)`` of the step);
    ``state`` carries act, residue and error between chunks (read at the start, written at
    the end). tests/hw_models/test_sdnn.py checks this kernel against :func:`delta_step`.
    """
    _no_feedback(feedback)
    e = int(neurons.spike_exp) + int(neurons.state_exp)
    x = np.left_shift(_int32_input(a_in), np.int32(e))
    vth = scale_exp(neurons.vth_mant, neurons.spike_exp, neurons.state_exp)
    out, final = _encode(x, state, vth, int(neurons.state_exp), bool(neurons.cum_error))
    if membrane_out is not None:
        membrane_out[...] = x
    if state is not None:
        state.update(final)
    return out


def _sigma(a_in: np.ndarray, state: dict[str, np.ndarray] | None) -> np.ndarray:
    """``sigma`` after every step ``(T, N, C)`` int32: the running sum of the input on int32,
    which wraps step by step as lava's ``a_in + sigma`` does."""
    sigma = _int32_input(a_in)
    if np.may_share_memory(sigma, a_in):
        sigma = sigma.copy()  # summed in place below
    if sigma.shape[0]:
        sigma[0] += _state32(state, "sigma", sigma.shape[1:])
    for t in range(1, sigma.shape[0]):  # np.cumsum along axis 0 is several times slower
        np.add(sigma[t - 1], sigma[t], out=sigma[t])
    return sigma


def run_sigma_delta(
    neurons: SigmaDeltaNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """SigmaDelta neurons through time on synaptic input ``a_in`` ``(T, N, C)``; int64
    payloads ``(T, N, C)`` (0: no message), as ``PySigmaDeltaModelFixed`` sends them.

    ``membrane_out`` receives ``sigma`` (lava's Var at the end of each step); ``state``
    carries sigma, act, residue and error between chunks. tests/hw_models/test_sdnn.py checks
    this kernel against :func:`sigma_delta_step`.
    """
    _no_feedback(feedback)
    sigma = _sigma(a_in, state)
    bias = scale_exp(neurons.bias_mant, neurons.spike_exp, neurons.state_exp).astype(np.int32)
    y = sigma + bias  # int32: wraps
    if neurons.activation == ACTIVATION_RELU:
        np.maximum(y, np.int32(0), out=y)
    vth = scale_exp(neurons.vth_mant, neurons.spike_exp, neurons.state_exp)
    out, final = _encode(y, state, vth, int(neurons.state_exp), bool(neurons.cum_error))
    if membrane_out is not None:
        membrane_out[...] = sigma
    if state is not None:
        state.update(final)
        if sigma.shape[0]:
            state["sigma"] = sigma[-1].astype(np.int64)
    return out


def run_sigma(
    neurons: SigmaNeurons,
    a_in: np.ndarray,
    membrane_out: np.ndarray | None = None,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Sigma decoders through time: the payload of every step is the new sigma (int64
    ``(T, N, C)``), as ``PySigmaModelFixed`` sends it; ``membrane_out`` receives the same."""
    _no_feedback(feedback)
    sigma = _sigma(a_in, state)
    if membrane_out is not None:
        membrane_out[...] = sigma
    if state is not None and sigma.shape[0]:
        state["sigma"] = sigma[-1].astype(np.int64)
    return sigma.astype(np.int64)


# --- the units ------------------------------------------------------------------------------
def _activation_code(value: Any) -> Any:
    """``"relu"``/``"unit"``/``"identity"`` (any case) to lava's ActivationMode value."""
    if isinstance(value, str):
        try:
            return ACTIVATIONS[value.lower()]
        except KeyError:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)} (lava's ActivationMode), "
                f"got {value!r}"
            ) from None
    return int(value)


@dataclass(kw_only=True)
class _SdnnNeurons(NeuronGroup):
    """What the three sigma-delta units share: graded output, netx's defaults, the lava
    register checks of the threshold and the message width."""

    #: graded (payload) output: the kernel returns int64 payloads
    graded_output: ClassVar[bool] = True
    #: netx warns and ignores a reset_interval for SDNN (hdf5.py:165-167)
    NETX_RESET: ClassVar[bool | None] = False
    ARGS: ClassVar[tuple[str, ...]] = ("vth_mant",)

    vth_mant: np.ndarray
    message_bits: int = NETX_MESSAGE_BITS  # shadows NeuronGroup.message_bits: graded output

    @classmethod
    def variant(cls, group: Any, *, input_layer: bool = False) -> type[NeuronGroup]:
        """The unit netx builds for a layer of type SDNN (see :func:`sdnn_unit`); ``group``
        is the file's ``layer/<i>/neuron`` group (any mapping)."""
        return sdnn_unit(input_layer=input_layer, sigma_output="sigma_output" in group)

    @classmethod
    def read_extra(cls, group: Any, where: str = "neuron") -> dict[str, Any]:
        """Nothing to pass on: netx reads only ``type``, ``vThMant``, ``messageBits`` and
        ``sigma_output`` of an SDNN group, and builds every SigmaDelta with lava's default
        RELU whatever the file's ``activation`` says. So the only activation a file may name
        is ``relu`` (what SLAYER writes); any other is refused (ValueError naming ``where``),
        since netx would silently run it as ReLU."""
        if "activation" in group:
            raw = group["activation"]
            if hasattr(raw, "dtype") and not isinstance(raw, (np.ndarray, np.generic)):
                raw = raw[()]  # an h5py dataset
            if isinstance(raw, np.ndarray):
                raw = raw.reshape(-1)[0] if raw.size else b""
            text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
            if text.lower() != "relu":
                raise ValueError(
                    f"{where}/activation: {text!r} is not an activation netx builds (every "
                    "SDNN layer runs lava's SigmaDelta with ReLU; use 'relu')"
                )
        return {}

    @property
    def file_type(self) -> str:
        """``SDNN``: netx's tag for all three variants (the layer tells them apart)."""
        return "SDNN"

    @property
    def spiking(self) -> bool:
        """The encoders always can send (True); the Sigma decoder overrides this."""
        return True

    def _threshold_violations(self, name: str) -> list[str]:
        vth = np.asarray(self.vth_mant, np.int64) << (int(self.spike_exp) + int(self.state_exp))
        if outside(vth, 0, (1 << SDNN_STATE_BITS) - 1):
            return [
                f"{name}: vThMant << (spike_exp + state_exp) = {int(vth.max())} exceeds the "
                f"{SDNN_STATE_BITS}-bit threshold (lava sdn/models.py: vth LavaPyType "
                "precision=24)"
            ]
        return []

    def _message_violations(self, name: str) -> list[str]:
        if not 0 <= int(self.message_bits) <= MESSAGE_BITS_MAX:
            return [
                f"{name}: messageBits {int(self.message_bits)} outside 0..{MESSAGE_BITS_MAX} "
                "(lava sdn/models.py: s_out LavaPyType precision=24)"
            ]
        return []

    @classmethod
    def shown_parameters(cls) -> tuple[str, ...]:
        return ()


@dataclass(kw_only=True)
class SigmaDeltaNeurons(_SdnnNeurons):
    """Sigma-delta neurons (lava ``SigmaDelta``, ``PySigmaDeltaModelFixed``): netx's SDNN
    layer that is neither the input nor a ``sigma_output``. See the module docstring.

    ``create(n, vth_mant, bias_mant=0, bias_exp=6, spike_exp=6, state_exp=6,
    message_bits=16, activation="relu", cum_error=False)``. ``bias_mant`` is the layer's
    ``bias`` as the file holds it (one value per neuron): lava adds
    ``wrap32(bias_mant << (spike_exp + state_exp))`` to sigma. ``bias_exp`` is not used (netx
    passes no exponent to SigmaDelta). ``activation``: ``"relu"`` (lava's default, which netx
    keeps) or ``"unit"``/``"identity"``, stored as lava's ActivationMode value (1, 0).
    """

    neuron_type: ClassVar[str] = "SDNN"
    FIELDS: ClassVar[tuple[Field, ...]] = (
        VTH_MANT,
        SPIKE_EXP,
        STATE_EXP,
        MESSAGE_BITS,
        ACTIVATION,
        CUM_ERROR,
    )
    KERNEL = staticmethod(run_sigma_delta)
    membrane: ClassVar[str] = "sigma"
    #: sigma, act, residue, error: lava holds all four (24-bit LavaPyType) for every neuron
    STATE_BITS: ClassVar[int] = 4 * SDNN_STATE_BITS

    spike_exp: int = NETX_SPIKE_EXP
    state_exp: int = NETX_STATE_EXP
    activation: int = ACTIVATION_RELU
    cum_error: int = 0

    @classmethod
    def create(cls, n: int, *args: Any, **kwargs: Any) -> NeuronGroup:
        if "activation" in kwargs:
            kwargs["activation"] = _activation_code(kwargs["activation"])
        return super().create(n, *args, **kwargs)

    @property
    def relu(self) -> bool:
        return self.activation == ACTIVATION_RELU

    def violations(self, name: str) -> list[str]:
        out = self._threshold_violations(name)
        bias = np.asarray(self.bias_mant, np.int64) << (int(self.spike_exp) + int(self.state_exp))
        lo, hi = -(1 << (SDNN_BIAS_BITS - 1)), (1 << (SDNN_BIAS_BITS - 1)) - 1
        if outside(bias, lo, hi):
            out.append(
                f"{name}: bias << (spike_exp + state_exp) outside the {SDNN_BIAS_BITS}-bit "
                f"bias {lo}..{hi} (lava sdn/models.py: bias LavaPyType precision=16)"
            )
        return out + self._message_violations(name)

    @classmethod
    def param_bits(cls) -> int:
        """The threshold (24 bits) and the bias (16 bits)."""
        return SDNN_STATE_BITS + SDNN_BIAS_BITS


@dataclass(kw_only=True)
class DeltaNeurons(_SdnnNeurons):
    """Delta encoders (lava ``Delta``, ``PyDeltaModelFixed``): netx's SDNN input layer. The
    input is shifted by ``spike_exp + state_exp`` before the encoder. No bias: netx's Input
    block never passes one (the file's input ``bias`` goes into an unused ``transform``), so
    ``bias_mant`` is ignored here as it is there.

    ``create(n, vth_mant, spike_exp=6, state_exp=6, message_bits=16, cum_error=False)``.
    """

    neuron_type: ClassVar[str] = "SDNN_DELTA"
    FIELDS: ClassVar[tuple[Field, ...]] = (
        VTH_MANT,
        SPIKE_EXP,
        STATE_EXP,
        MESSAGE_BITS,
        CUM_ERROR,
    )
    KERNEL = staticmethod(run_delta)
    membrane: ClassVar[str] = "act"
    #: act, residue, error (24-bit LavaPyType; Delta's sigma Var is never used)
    STATE_BITS: ClassVar[int] = 3 * SDNN_STATE_BITS

    spike_exp: int = NETX_SPIKE_EXP
    state_exp: int = NETX_STATE_EXP
    cum_error: int = 0

    def violations(self, name: str) -> list[str]:
        return self._threshold_violations(name) + self._message_violations(name)

    @classmethod
    def param_bits(cls) -> int:
        """The threshold (24 bits)."""
        return SDNN_STATE_BITS


@dataclass(kw_only=True)
class SigmaNeurons(_SdnnNeurons):
    """Sigma decoders (lava ``Sigma``, ``PySigmaModelFixed``): netx's SDNN layer with
    ``sigma_output``. Each step sends its running input sum sigma as the payload. lava's Sigma
    has no threshold (``vth_mant`` is the file's, kept for the file and ignored) and takes no
    bias: netx cannot build such a layer with a ``bias`` (``Sigma(bias=...)`` is a TypeError),
    which :meth:`violations` reports; the kernel ignores ``bias_mant``.

    ``create(n, vth_mant=0, message_bits=16)``.
    """

    neuron_type: ClassVar[str] = "SDNN_SIGMA"
    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("vth_mant", "vThMant", 0, INT32_LIMIT - 1, 0, "unused", default=0),
        MESSAGE_BITS,
    )
    KERNEL = staticmethod(run_sigma)
    membrane: ClassVar[str] = "sigma"
    STATE_BITS: ClassVar[int] = SDNN_STATE_BITS  # sigma

    @property
    def spiking(self) -> bool:
        """False: a decoder's output is its state sigma (a read-out), not activations."""
        return False

    def file_extra(self) -> dict[str, Any]:
        """``sigma_output``: what makes netx build a Sigma (SLAYER writes True)."""
        return {"sigma_output": True}

    def violations(self, name: str) -> list[str]:
        out = []
        if np.any(np.asarray(self.bias_mant) != 0):
            out.append(
                f"{name}: a sigma_output layer cannot have a bias (lava's Sigma takes none; "
                "netx's Sigma(bias=...) raises TypeError)"
            )
        return out + self._message_violations(name)

    @classmethod
    def param_bits(cls) -> int:
        """None: Sigma has no parameter per neuron."""
        return 0


def sdnn_unit(*, input_layer: bool, sigma_output: bool) -> type[NeuronGroup]:
    """The unit netx builds for an SDNN layer (hdf5.py:170-188): the Delta encoder for an
    ``input`` layer (checked first), the Sigma decoder for a neuron group holding
    ``sigma_output``, else SigmaDelta."""
    if input_layer:
        return DeltaNeurons
    if sigma_output:
        return SigmaNeurons
    return SigmaDeltaNeurons
