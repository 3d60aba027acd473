"""Loihi 2 fixed-point rules, written once.

Every bit width, rounding and overflow rule that ranvier uses lives here. The rules reproduce
lava-nc 0.10.0's bit-accurate process models and lava-dl 0.6.0's netx loader; each function
names the source it matches (see docs/fixed_point.md for the full list with line references).
The simulator executes these rules, the file reader uses them to turn netx weights into
synapse registers, and the training layers emulate them.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

# --- bit widths (lava-nc 0.10.0 proc/lif/models.py, AbstractPyLifModelFixed.__init__) -------
#: Width of the current (u) and voltage (v) state registers.
STATE_BITS = 24
#: 2**23: the wrap point of u and the saturation bound of v.
STATE_HALF_RANGE = 1 << (STATE_BITS - 1)
#: Decays are 12-bit fractions of 4096.
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
#: Threshold and synaptic input are MSB-aligned by 6 bits before they meet u and v.
VTH_SHIFT = 6
ACT_SHIFT = 6
#: netx fixes the bias exponent of CUBA neurons at 6 (lava-dl netx/hdf5.py get_neuron_params).
NETX_BIAS_EXP = 6
#: Loihi 2 synaptic delays are 6-bit; netx clamps to 62, DelayDense refuses > 63.
MAX_DELAY = 62
#: Bits a stored synaptic delay takes: delays 0..MAX_DELAY need 6 bits.
DELAY_BITS = MAX_DELAY.bit_length()
#: 2**31: the first value beyond lava's int32 registers and ports.
INT32_LIMIT = 1 << 31
#: Synaptic weights are at most 8 bits (plus sign in MIXED mode).
MAX_WEIGHT_BITS = 8
#: netx's file-weight range for mixed-sign layers: an 8-bit signed mantissa times 2 (SLAYER's
#: ``quantize_8bit`` exports even integers in it; netx clips mixed weights into it).
NETX_WEIGHT_MIN, NETX_WEIGHT_MAX = -256, 254

# --- hardware register ranges, for validation and `ranvier inspect` --------------------------
#: vth mantissa: unsigned 17 bits (PyLifModelBitAcc docstring).
VTH_MANT_MAX = (1 << 17) - 1
VTH_BITS = VTH_MANT_MAX.bit_length()
#: lava's current-decay register holds ``iDecay - 1`` and adds this back (``ds_offset``; netx's
#: get_neuron_params writes ``du = iDecay - 1``, ATRLIF adds 1 to ``delta_i * 4096``).
DS_OFFSET = 1
#: bias mantissa: signed 13 bits.
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << 12), (1 << 12) - 1
#: du, dv registers: unsigned 12 bits.
DECAY_REG_MAX = DECAY_UNITY - 1
#: The smallest threshold mantissa that can never be reached: ``(1 << 17) << 6 = 2**23`` lies
#: above the largest voltage ``2**23 - 1``. netx's default neuron uses it; ranvier's
#: non-spiking read-out layers ("infinite threshold") are layers with ``vth_mant >= this``.
NON_SPIKING_VTH_MANT = 1 << 17


class SignMode(IntEnum):
    """Synapse sign mode, numbered as lava-nc's ``lava.utils.weightutils.SignMode``."""

    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3


def right_shift_toward_zero(x: np.ndarray, bits: int) -> np.ndarray:
    """``sign(x) * (|x| >> bits)``: the decay rounding of PyLifModelBitAcc (truncation toward 0)."""
    x = np.asarray(x, dtype=np.int64)
    return np.sign(x) * (np.abs(x) >> bits)


def decay(state: np.ndarray, decay_const: np.ndarray | int) -> np.ndarray:
    """One 12-bit decay step: ``state * (4096 - decay_const) >> 12`` rounded toward zero.

    ``decay_const`` is the effective decay constant (lava's ``du + ds_offset`` for the current,
    ``dv + dm_offset`` for the voltage), i.e. the file's ``iDecay``/``vDecay``. Returns int64.
    Matches AbstractPyLifModelFixed.subthr_dynamics (lava-nc 0.10.0).
    """
    prod = np.asarray(state, dtype=np.int64) * (DECAY_UNITY - np.asarray(decay_const, np.int64))
    return right_shift_toward_zero(prod, DECAY_SHIFT)


def decay_constant(keep, round_fn=np.rint, clip_fn=np.clip):
    """The 12-bit decay constant of a retention factor ``keep`` in [0, 1] (one step's
    ``x -> keep * x``): ``round(4096 * (1 - keep))`` within 0..4096, the file's
    iDecay/vDecay/uDecay. The hardware then applies ``(4096 - decay) / 4096``. Training passes
    its straight-through ``round_fn`` and ``torch.clamp``; the expression is the same.
    """
    return clip_fn(round_fn(DECAY_UNITY * (1.0 - keep)), 0, DECAY_UNITY)


def mul_frac(frac_mant: np.ndarray | int, x: np.ndarray) -> np.ndarray:
    """``x * frac_mant / 4096`` rounded toward zero, for ``frac_mant >= 0`` (AdLIF+).

    The same multiply, 12-bit shift of the magnitude and sign restore as :func:`decay`, with
    the fraction given directly (AdLIF+'s ``1 - alpha`` on its input and its coupling ``a``).
    """
    prod = np.asarray(x, dtype=np.int64) * np.asarray(frac_mant, dtype=np.int64)
    return right_shift_toward_zero(prod, DECAY_SHIFT)


def wrap_current(u: np.ndarray) -> np.ndarray:
    """Wrap the current register as lava does: one fold of 2**24, asymmetric bounds.

    ``u > 2**23`` becomes ``u - 2**24``; ``u <= -2**23`` becomes ``u + 2**24``; so 2**23 itself
    stays, and a value beyond one fold is folded once only (AbstractPyLifModelFixed). Works on
    integer arrays and on float arrays holding integers, keeping the dtype.
    """
    u = np.asarray(u)
    out = np.where(u > STATE_HALF_RANGE, u - 2 * STATE_HALF_RANGE, u)
    return np.where(u <= -STATE_HALF_RANGE, u + 2 * STATE_HALF_RANGE, out)


def saturate_voltage(v: np.ndarray) -> np.ndarray:
    """Clip the voltage register to ``[-(2**23 - 1), 2**23 - 1]`` (AbstractPyLifModelFixed)."""
    return np.clip(v, -STATE_HALF_RANGE + 1, STATE_HALF_RANGE - 1)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to 32 bits, as numpy's int32 arithmetic inside lava does."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def wrap_int16(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to 16 bits (lava stores ``bias_mant`` in an int16 array)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def scale_bias(bias_mant: np.ndarray, bias_exp: np.ndarray | int) -> np.ndarray:
    """Effective bias ``bias_mant << bias_exp`` (right shift for negative exponents).

    Matches AbstractPyLifModelFixed.scale_bias: the mantissa as lava holds it (an int16 array,
    so a file bias of 40000 is -25536), promoted to int32, shifted (arithmetic right shift
    for negative exponents), in int32.
    """
    mant = wrap_int16(bias_mant)
    exp = np.asarray(bias_exp, dtype=np.int64)
    shifted = np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))
    return wrap_int32(shifted)


def scale_activation(a_in: np.ndarray) -> np.ndarray:
    """Synaptic input as the neuron adds it: ``a_in << 6`` on int32, wrapping at 32 bits.

    The port into the neuron is int32 (lava's channel takes the sender's dtype and wraps on
    ``arr[:] = data``), and ``np.left_shift`` on that int32 array wraps too
    (AbstractPyLifModelFixed.subthr_dynamics).
    """
    a = np.asarray(a_in, dtype=np.int64)
    if a.size == 0 or np.abs(a).max() < 1 << (31 - ACT_SHIFT):
        return a << ACT_SHIFT  # no wrap possible: skip the two masking passes
    return wrap_int32(wrap_int32(a) << ACT_SHIFT)


def scale_threshold(vth_mant: np.ndarray) -> np.ndarray:
    """Effective threshold ``vth_mant << 6`` (PyLifModelBitAcc.scale_threshold)."""
    return np.asarray(vth_mant, dtype=np.int64) << VTH_SHIFT


def scale_threshold_int32(vth_mant: np.ndarray) -> np.ndarray:
    """``np.int32(vth_mant << 6)``: the threshold as ATRLIF holds its theta (int32, wraps).

    PyATRLIFModelFixed.scale_threshold casts the scaled theta_0 and theta_step to int32.
    """
    return wrap_int32(scale_threshold(vth_mant))


def shift_activation(a_accum: np.ndarray, weight_exp: int) -> np.ndarray:
    """Apply the weight exponent to an accumulated dendritic sum.

    lava-nc's PyDenseModelBitAcc/PyDelayDenseModelBitAcc shift the *sum* of the weights of
    the spikes that arrived in one step (per delay slot), not each weight: a left shift for a
    positive exponent, an arithmetic (floor) right shift otherwise.
    """
    a = np.asarray(a_accum, dtype=np.int64)
    return a << weight_exp if weight_exp > 0 else a >> (-weight_exp)


# --- weights ---------------------------------------------------------------------------------


def determine_sign_mode(weight: np.ndarray) -> SignMode:
    """Sign mode as lava-nc's process models pick it (weightutils.determine_sign_mode).

    All >= 0 (all-zero included) is EXCITATORY, else all <= 0 is INHIBITORY, else MIXED.
    """
    if weight.size == 0 or np.min(weight) >= 0:
        return SignMode.EXCITATORY
    if np.max(weight) <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


def clip_weights(weight: np.ndarray, sign_mode: SignMode, num_bits: int = 8) -> np.ndarray:
    """Clip to the 8-bit synapse range of the sign mode (weightutils.clip_weights)."""
    w = np.asarray(weight).astype(np.int64)
    mixed = int(sign_mode == SignMode.MIXED)
    if sign_mode == SignMode.INHIBITORY:
        w = -w
    w = np.clip(w, (-(2**num_bits)) * mixed, 2**num_bits - 1)
    return -w if sign_mode == SignMode.INHIBITORY else w


def truncate_weights(weight: np.ndarray, sign_mode: SignMode, num_weight_bits: int) -> np.ndarray:
    """Drop the low bits a ``num_weight_bits`` synapse cannot hold (weightutils.truncate_weights).

    The shift is arithmetic (floor) on the magnitude's sign-mode view: INHIBITORY weights are
    negated first, MIXED spends one extra bit on the sign.
    """
    w = np.asarray(weight).astype(np.int64)
    if sign_mode == SignMode.INHIBITORY:
        w = -w
    bits = MAX_WEIGHT_BITS - num_weight_bits + int(sign_mode == SignMode.MIXED)
    if bits < 0:
        # netx can hand over num_weight_bits = 9 (weights all <= 0 that it calls MIXED, while
        # the model calls them INHIBITORY). numpy's ``(w >> -1) << -1`` is 0 for every w: a
        # negative left-shift count yields 0. lava-nc thus runs the layer with zero weights.
        return np.zeros_like(w)
    w = (w >> bits) << bits
    return -w if sign_mode == SignMode.INHIBITORY else w


def synapse_weights(
    weight: np.ndarray, num_weight_bits: int, sign_mode: SignMode | None = None
) -> np.ndarray:
    """The weights a bit-accurate Dense synapse actually adds: clip then truncate.

    lava-nc's PyDenseModelBitAcc.run_spk applies clip_weights(num_bits=8) and then
    truncate_weights(num_weight_bits) on its first step, with the sign mode it determines from
    the weights when the process was given none (netx gives none).
    """
    mode = determine_sign_mode(weight) if sign_mode is None else sign_mode
    return truncate_weights(clip_weights(weight, mode, 8), mode, num_weight_bits)


class WeightFormatError(ValueError):
    """A weight matrix that netx cannot map onto a Loihi synapse."""


def netx_optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Map a netx file's integer weights onto synapse registers as lava-dl 0.6.0 netx does.

    Reproduces ``lava.lib.dl.netx.utils.optimize_weight_bits``: pick the sign mode (netx's own
    rule: max < 0 is INHIBITORY, min >= 0 EXCITATORY, else MIXED), clip to [-256, 254] when
    the range cannot be represented, scale into 8 bits by a power of two, and count the
    trailing zero bits shared by all weights. Returns ``(weight_mant, num_weight_bits,
    weight_exp)``; the process model later re-derives its own sign mode from ``weight_mant``.
    Raises WeightFormatError where netx would fail (an all-zero matrix has no finite scale).
    """
    w = np.asarray(weight).astype(np.int64)
    max_w, min_w = int(np.max(w)), int(np.min(w))
    if (max_w > NETX_WEIGHT_MAX and min_w < 0) or (min_w < NETX_WEIGHT_MIN and max_w > 0):
        w = np.clip(w, NETX_WEIGHT_MIN, NETX_WEIGHT_MAX)
        max_w, min_w = int(np.max(w)), int(np.min(w))
    if max_w < 0:
        is_signed, scale = 0, NETX_WEIGHT_MIN / min_w
    elif min_w >= 0:
        if max_w == 0:
            raise WeightFormatError("all weights are zero: netx cannot scale this matrix")
        is_signed, scale = 0, 255 / max_w
    else:
        is_signed = 1
        scale = min(127 / max_w, -128 / min_w) if max_w > 0 else -128 / min_w
    scale_bits = int(np.floor(np.log2(scale))) + is_signed
    # Largest n <= 8 such that every weight is a multiple of 2**n (netx's rounding-error test).
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    n -= is_signed
    num_weight_bits = 8 - scale_bits - n
    weight_exp = -scale_bits
    mant = _shift_left_int32(w, scale_bits)
    return mant, int(num_weight_bits), int(weight_exp)


def _shift_left_int32(w: np.ndarray, bits: int) -> np.ndarray:
    """``np.left_shift(w.astype(int32), bits)`` with numpy's semantics for negative counts."""
    w32 = w.astype(np.int32)
    if bits >= 0:
        return wrap_int32(w32.astype(np.int64) << bits)
    # netx would call np.left_shift with a negative count (undefined in C; numpy returns 0).
    # It happens only for one-signed weights beyond 8 bits (> 255 or < -256). Refuse.
    raise WeightFormatError(
        f"weights between {int(w.min())} and {int(w.max())} do not fit an 8-bit synapse "
        "(excitatory weights must be <= 255, inhibitory >= -256)"
    )
