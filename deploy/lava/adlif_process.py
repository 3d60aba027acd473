"""AdLIF+ as a lava-nc Process with a fixed-point ProcessModel: the lava-side reference for ADLIF.

This module is the independent reference that ranvier's own AdLIF+ kernel is checked against
(``tests/equivalence/test_adaptive_equivalence.py``). It is written from the specification in
docs/neurons.md ("The Loihi 2 fixed-point form"), in the style of lava-nc 0.10.0's bit-accurate
LIF (``lava/proc/lif/models.py``, ``AbstractPyLifModelFixed`` / ``PyLifModelBitAcc``), and
deliberately takes no arithmetic from ``ranvier.hw_models``: a rule shared by both sides would
check nothing. The one thing it shares is the parameter ranges the constructor validates
(``AdlifNeurons.FIELDS``), which take no part in a step. It imports lava at module level, so
only ``runtime.import_lava`` (lazily, under the package's lock) and the lava equivalence tests
import it.

One step of ``PyAdLIFPlusModelFixed.run_spk`` (states u, w signed 24-bit saturating, s one
bit; ``u``, ``w``, ``s`` on the right are the previous step's values)::

    act = wrap32(wrap32(a_in) << 6)                    int32 (LIF models.py:155 shifts int32)
    bias = wrap32(int16(bias_mant) << bias_exp)        int32 (LIF scale_bias, models.py:110-122)
    I  = act + bias                                    int64, not wrapped
    w' = sat24( decay(w, w_decay) + frac(a_mant, u) + s * (b_mant << 6) )
    u' = sat24( decay(u - s * (vth_mant << 6), u_decay) + frac(u_decay, I - w') )
    s' = u' > vth_mant << 6

with ``decay(x, d) = frac(4096 - d, x)`` and ``frac(m, x) = sign(p) * (|p| >> 12)``,
``p = x * m`` in int64: the magnitude is shifted and the sign restored (round toward zero),
exactly as LIF decays its current and voltage (models.py:149-153 and 180-184). ``sat24``
clips to ``[-(2**23 - 1), 2**23 - 1]`` as LIF clips its voltage (models.py:176-186). The
largest intermediate, ``(I - w') * u_decay``, is below 2**45, so int64 never wraps.

Port and type behaviour matched to lava:

* ``a_in``: lava builds a channel with the *sender's* dtype (``channel_builder.py:148``,
  ``src_port_initializer.d_type``), so LIF's declared ``np.int16`` (models.py:78) receives the
  int32 that a bit-accurate Dense sends (``proc/dense/models.py:64``). The port is declared
  int32 here (what really arrives) and the value is wrapped to int32 explicitly before use.
* ``bias_mant`` is an ``np.int16`` array like LIF's (models.py:84): the builder assigns the
  init into an int16 array (``py_builder.py:401-402``, ``var[:] = value``), so a mantissa
  beyond 16 bits wraps; netx hands it over as int32 (``netx/blocks/process.py``, ``_neuron``).
  ``bias_exp`` is int16, and the bias is rescaled every step as LIF does (models.py:202).
* ``s_out`` sends an int32 0/1 vector (LIF: ``np.int32`` out port, models.py:261); netx's
  Dense synapses with ``num_message_bits=0`` treat any non-zero value as one spike.

The model keeps no hidden state: after construction everything it updates is in the Vars
``u``, ``w`` and ``s``, so zeroing those three (``Var.set``) restarts a neuron exactly; the
lava backend relies on that to reuse one runtime for many samples.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from ranvier.hw_models.neurons import AdlifNeurons

__all__ = ["AdLIFPlus", "PyAdLIFPlusModelFixed"]

# Parameter ranges of docs/neurons.md ("The Loihi 2 fixed-point form"), inclusive, by the
# process's argument names: u_decay, w_decay, a_mant 0..4096, b_mant 0..2**17 - 1,
# vth_mant 0..2**17.
_RANGES = {f.lava: (f.lo, f.hi) for f in AdlifNeurons.FIELDS}


def _per_neuron(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """A scalar or per-neuron array as an int64 array of ``shape`` (integers only)."""
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"AdLIFPlus: {name} must hold integers")
    elif arr.dtype.kind not in "biu":
        raise ValueError(f"AdLIFPlus: {name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size == int(np.prod(shape)) and arr.shape != shape:
        arr = arr.reshape(shape)
    try:
        return np.broadcast_to(arr, shape).copy()
    except ValueError:
        raise ValueError(
            f"AdLIFPlus: {name} has shape {arr.shape}, expected a scalar or {shape}"
        ) from None


class AdLIFPlus(AbstractProcess):
    """AdLIF+ neurons (ranvier's ``ADLIF``): adaptive LIF with subtractive reset.

    Parameters (each a scalar or one value per neuron; unsigned integers):
    ``u_decay``, ``w_decay`` (0..4096, multiply the state by ``1 - d/4096``), ``a_mant``
    (0..4096, sub-threshold coupling ``a_mant/4096``), ``b_mant`` (0..2**17 - 1, spike-triggered
    adaptation in threshold-mantissa units), ``vth_mant`` (0..2**17; ``2**17`` never spikes),
    ``bias_mant`` / ``bias_exp`` (bias ``bias_mant << bias_exp``; netx passes exponent 6).
    Initial states ``u``, ``w``, ``s`` default to 0.

    Vars: ``u``, ``w`` (int32 arrays, 24-bit saturating), ``s`` (the previous step's spike,
    int32 0/1), the parameters above (per-neuron arrays). Ports: ``a_in`` (InPort),
    ``s_out`` (OutPort).
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        u_decay: int | np.ndarray = 0,
        w_decay: int | np.ndarray = 0,
        a_mant: int | np.ndarray = 0,
        b_mant: int | np.ndarray = 0,
        vth_mant: int | np.ndarray = 1 << 17,
        bias_mant: int | np.ndarray = 0,
        bias_exp: int | np.ndarray = 0,
        u: int | np.ndarray = 0,
        w: int | np.ndarray = 0,
        s: int | np.ndarray = 0,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        shape = tuple(int(d) for d in np.atleast_1d(shape))
        params = {
            "u_decay": _per_neuron("u_decay", u_decay, shape),
            "w_decay": _per_neuron("w_decay", w_decay, shape),
            "a_mant": _per_neuron("a_mant", a_mant, shape),
            "b_mant": _per_neuron("b_mant", b_mant, shape),
            "vth_mant": _per_neuron("vth_mant", vth_mant, shape),
        }
        for key, arr in params.items():
            lo, hi = _RANGES[key]
            if arr.size and (arr.min() < lo or arr.max() > hi):
                bad = arr.min() if arr.min() < lo else arr.max()
                raise ValueError(f"AdLIFPlus: {key} = {bad} is outside {lo}..{hi}")
        super().__init__(shape=shape, name=name, log_config=log_config, **params)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=_per_neuron("u", u, shape))
        self.w = Var(shape=shape, init=_per_neuron("w", w, shape))
        self.s = Var(shape=shape, init=_per_neuron("s", s, shape))
        for key, arr in params.items():
            setattr(self, key, Var(shape=shape, init=arr))
        self.bias_mant = Var(shape=shape, init=_per_neuron("bias_mant", bias_mant, shape))
        self.bias_exp = Var(shape=shape, init=_per_neuron("bias_exp", bias_exp, shape))


@implements(proc=AdLIFPlus, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyAdLIFPlusModelFixed(PyLoihiProcessModel):
    """Fixed-point AdLIF+ (docs/neurons.md, "The Loihi 2 fixed-point form"), one step per
    ``run_spk``; see the module docstring for the rule and the lava lines it mirrors."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    w: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    s: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    u_decay: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    w_decay: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    a_mant: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    b_mant: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    vth_mant: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=18)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=3)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        # Same constants as AbstractPyLifModelFixed.__init__ (lif/models.py:99-108).
        self.uw_bitwidth = 24
        self.max_uw_val = 2 ** (self.uw_bitwidth - 1)
        self.decay_shift = 12
        self.decay_unity = 2**self.decay_shift
        self.vth_shift = 6
        self.act_shift = 6
        self.effective_bias = 0

    def scale_bias(self):
        """``wrap32(int16(bias_mant) << bias_exp)``, a right shift for a negative exponent, as
        ``AbstractPyLifModelFixed.scale_bias`` (lif/models.py:110-122). The shift is done in
        int64 and wrapped with ``astype(np.int32)`` (two's complement by definition)."""
        bias_mant = self.bias_mant.astype(np.int16).astype(np.int64)
        bias_exp = self.bias_exp.astype(np.int64)
        shifted = np.where(
            bias_exp >= 0,
            np.left_shift(bias_mant, np.maximum(bias_exp, 0)),
            np.right_shift(bias_mant, np.maximum(-bias_exp, 0)),
        )
        self.effective_bias = shifted.astype(np.int32)

    def mul_shift(self, x: np.ndarray, factor: np.ndarray) -> np.ndarray:
        """``x * factor / 4096`` rounded toward zero: the int64 product's magnitude shifted
        right by 12, sign restored (lif/models.py:149-152)."""
        prod = np.int64(x) * np.int64(factor)
        return np.sign(prod) * np.right_shift(np.abs(prod), self.decay_shift)

    def saturate(self, x: np.ndarray) -> np.ndarray:
        """Clip to the signed 24-bit range ``[-(2**23 - 1), 2**23 - 1]`` (lif/models.py:176-186)."""
        return np.clip(x, -self.max_uw_val + 1, self.max_uw_val - 1)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        """Update w, then u, from the previous step's u and s (docs/neurons.md order)."""
        # Synaptic input: wrap to int32, shift left by 6 and wrap again (what LIF's int32
        # np.left_shift does, lif/models.py:155).
        a_in = np.asarray(activation_in).astype(np.int64).astype(np.int32)
        act = np.left_shift(a_in.astype(np.int64), self.act_shift).astype(np.int32)
        total_in = act.astype(np.int64) + self.effective_bias.astype(np.int64)

        u_prev = np.int64(self.u)
        w_prev = np.int64(self.w)
        s_prev = np.int64(self.s)
        vth = np.left_shift(np.int64(self.vth_mant), self.vth_shift)
        b_inc = np.left_shift(np.int64(self.b_mant), self.vth_shift)

        w_new = self.saturate(
            self.mul_shift(w_prev, self.decay_unity - np.int64(self.w_decay))
            + self.mul_shift(u_prev, self.a_mant)
            + s_prev * b_inc
        )
        u_new = self.saturate(
            self.mul_shift(u_prev - s_prev * vth, self.decay_unity - np.int64(self.u_decay))
            + self.mul_shift(total_in - w_new, self.u_decay)
        )
        self.w[:] = w_new
        self.u[:] = u_new

    def spiking_activation(self) -> np.ndarray:
        """Spike where ``u > vth_mant << 6`` (strictly greater, as LIF, lif/models.py:278)."""
        return np.int64(self.u) > np.left_shift(np.int64(self.vth_mant), self.vth_shift)

    def run_spk(self) -> None:
        """One time step (LoihiProtocol spike phase), in the order of LIF's run_spk
        (lif/models.py:194-216): receive, scale bias, sub-threshold update, spike, send. The
        reset is subtractive and happens in the next step's decay, so nothing is reset here."""
        a_in_data = self.a_in.recv()
        self.scale_bias()
        self.subthr_dynamics(activation_in=a_in_data)
        self.s[:] = self.spiking_activation()
        self.s_out.send(self.s)
