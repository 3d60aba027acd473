"""What every neuron type shares: the field schema and the base class of a neuron group.

A neuron type is one unit (a module in this package, registered in ``__init__``): a dataclass
of its integer parameters (one int64 value per neuron) whose ``FIELDS`` schema names each
parameter in every vocabulary at once (IR, netx file, lava register, the float model's name
in training and reports), its range and register bits; the equations in its docstring; the
integer reference step; the batched kernel the simulator runs; its Loihi 2 register checks;
and its float <-> integer parameter map. Everything generic (building a group, the file
reader and writer, the limits, the resource estimate, the report) works through this schema,
so no code outside the unit branches on the type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from ..fixed_point import (
    BIAS_MANT_MAX,
    BIAS_MANT_MIN,
    DECAY_UNITY,
    NETX_BIAS_EXP,
    NON_SPIKING_VTH_MANT,
    VTH_MANT_MAX,
)
from ..synapses.base import Feedback

#: Bits of a bias as stored per neuron: the signed 13-bit mantissa and a 3-bit exponent (an
#: assumption: netx fixes the exponent at 6).
BIAS_BITS = int(BIAS_MANT_MAX).bit_length() + 1 + 3


@dataclass(frozen=True)
class Field:
    """One integer parameter of a neuron type, in every vocabulary ranvier meets.

    ``name`` is the IR name (canonical, used in code and docs); ``netx`` the field in the
    file's ``layer/<i>/neuron`` group; ``lava`` the register or constructor argument of the
    lava process that runs it; ``model`` the float quantity training learns and the report
    shows (empty when there is none). ``lo..hi`` is the range a file may hold; ``checked``
    says whether :meth:`NeuronGroup.create` enforces it too (the kernels assume it), else the
    IR accepts any integer (the simulator runs what lava would). ``bits`` is the register
    width on Loihi 2, for the memory estimate. ``scalar`` marks a field netx holds as one
    value per layer (``refDelay``).
    """

    name: str
    netx: str
    lo: int
    hi: int
    bits: int
    unit: str
    lava: str = ""
    model: str = ""
    checked: bool = False
    scalar: bool = False
    #: the value ``create`` takes when the parameter is not given (None: required)
    default: int | None = None


class ParameterRangeError(ValueError):
    """A parameter outside its field's range; ``field`` says which (for file errors)."""

    def __init__(self, field: Field, value: int):
        self.field = field
        self.value = value
        super().__init__(f"{field.name} must be within {field.lo}..{field.hi}")


def per_neuron(value: Any, n: int, name: str) -> np.ndarray:
    """Broadcast a scalar or per-neuron parameter to an int64 vector of length n."""
    arr = np.asarray(value, dtype=np.int64).reshape(-1)
    if arr.size == 1:
        return np.full(n, int(arr[0]), dtype=np.int64)
    if arr.size != n:
        raise ValueError(f"{name}: expected 1 or {n} values, got {arr.size}")
    return arr.copy()


def check_range(field: Field, value: Any) -> None:
    """:class:`ParameterRangeError` unless every value lies within ``field.lo..field.hi``."""
    arr = np.asarray(value)
    if arr.size and (arr.min() < field.lo or arr.max() > field.hi):
        raise ParameterRangeError(field, int(arr.min() if arr.min() < field.lo else arr.max()))


def outside(values: np.ndarray, lo: int, hi: int) -> bool:
    """True when some value lies outside ``lo..hi``."""
    return bool(values.size and (values.min() < lo or values.max() > hi))


@dataclass(kw_only=True)
class NeuronGroup:
    """Base of every neuron group: ``n`` neurons, their bias, and the type's parameters.

    Subclasses are keyword-only dataclasses that add one int64 array per :class:`Field` of
    ``FIELDS`` (``bias_mant``/``bias_exp`` are common: netx writes the bias per layer, with
    exponent 6). Every type has a threshold mantissa ``vth_mant`` (``spiking``, the threshold
    checks and ``inspect`` read it).
    """

    #: the type's tag in files, the registry and reports (``layer/<i>/neuron/type``)
    neuron_type: ClassVar[str] = ""
    #: other tags files use for the same type
    aliases: ClassVar[tuple[str, ...]] = ()
    #: the type's parameters, in the order the netx reader reads (and reports) them
    FIELDS: ClassVar[tuple[Field, ...]] = ()
    #: the order ``create`` takes its positional arguments (FIELDS' order when empty); the
    #: bias mantissa and exponent follow them
    ARGS: ClassVar[tuple[str, ...]] = ()
    #: the state variable the read-out and membrane probes report (lava's Var name)
    membrane: ClassVar[str] = "v"
    #: bits of state stored per neuron (``state_bits``)
    STATE_BITS: ClassVar[int] = 0
    #: the batched kernel ``(group, a_in, membrane_out, feedback=None, state=None) -> spikes``
    #: that :meth:`run` calls
    KERNEL: ClassVar[Callable[..., np.ndarray]]
    #: the input the kernel takes: ``"real"`` (``a_in`` ``(T, N, C)`` of integers, float64 or
    #: int64) or ``"complex"`` (resonate-and-fire: the real and imaginary synaptic inputs as
    #: one complex128 array holding integers)
    INPUT: ClassVar[str] = "real"
    #: what netx does with its ``reset_interval`` for this type: True resets the state (CUBA:
    #: ``LIFReset``), False leaves the layer as it is (netx ignores it: SDNN, RF), None means
    #: netx cannot build the type with a reset
    NETX_RESET: ClassVar[bool | None] = None
    #: True for types whose spikes carry payloads (``message_bits`` > 0 is then allowed)
    graded_output: ClassVar[bool] = False

    n: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray

    # --- building ------------------------------------------------------------------------
    @classmethod
    def create(cls, n: int, *args: Any, **kwargs: Any) -> NeuronGroup:
        """Build a group, broadcasting scalars to one value per neuron.

        Positional arguments follow ``ARGS``, then ``bias_mant`` (default 0), ``bias_exp``
        (default 6, netx's) and the scalar fields (``ref_delay``, default 1). Fields marked
        ``checked`` must lie within their range (:class:`ParameterRangeError`).
        """
        per_neuron_names = cls.ARGS or tuple(f.name for f in cls.FIELDS if not f.scalar)
        scalars = tuple(f.name for f in cls.FIELDS if f.scalar)
        names = [*per_neuron_names, "bias_mant", "bias_exp", *scalars]
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}.create takes at most {len(names)} parameters")
        params = dict(zip(names, args, strict=False))
        for key in kwargs:
            if key in params:
                raise TypeError(f"{cls.__name__}.create: {key} given twice")
        params.update(kwargs)
        values: dict[str, Any] = {}
        for f in cls.FIELDS:
            if f.name not in params and f.default is None:
                raise TypeError(f"{cls.__name__}.create: missing parameter {f.name}")
            raw = params.pop(f.name, f.default)
            if f.checked:
                check_range(f, raw)
            values[f.name] = int(np.asarray(raw).reshape(-1)[0]) if f.scalar else raw
        values["bias_mant"] = params.pop("bias_mant", 0)
        values["bias_exp"] = params.pop("bias_exp", NETX_BIAS_EXP)
        extra = {k: params.pop(k) for k in list(params) if k in cls._extra_names()}
        if params:
            raise TypeError(f"{cls.__name__}.create: unknown parameters {sorted(params)}")
        arrays = {
            k: v if k in cls._scalar_names() else per_neuron(v, n, k) for k, v in values.items()
        }
        return cls(n=n, **arrays, **extra)

    @classmethod
    def variant(cls, group: Any, *, input_layer: bool = False) -> type[NeuronGroup]:
        """The unit that runs a file's neuron group of this type tag: itself, unless the type
        has variants netx picks by the layer (SDNN: the Delta encoder in an input layer, Sigma
        with ``sigma_output``). ``group`` maps the file's field names to datasets."""
        return cls

    @classmethod
    def read_extra(cls, group: Any, where: str = "neuron") -> dict[str, Any]:
        """Parameters of ``create`` a file holds other than numeric ``FIELDS`` (SDNN's
        ``activation`` string); ValueError naming ``where`` for a value the type cannot take."""
        return {}

    @property
    def file_type(self) -> str:
        """The type tag a writer puts in the file (a variant writes its family's tag)."""
        return self.neuron_type

    def file_extra(self) -> dict[str, Any]:
        """File datasets of the group beyond its numeric ``FIELDS`` (the inverse of
        :meth:`read_extra`)."""
        return {}

    @classmethod
    def _scalar_names(cls) -> set[str]:
        return {f.name for f in cls.FIELDS if f.scalar}

    @classmethod
    def _extra_names(cls) -> set[str]:
        """Dataclass fields that are neither ``n``, a FIELD nor the bias (defaults exist)."""
        known = {f.name for f in cls.FIELDS} | {"n", "bias_mant", "bias_exp"}
        return {f.name for f in fields(cls) if f.name not in known}

    @classmethod
    def field(cls, name: str) -> Field:
        """The schema entry of IR parameter ``name``."""
        for f in cls.FIELDS:
            if f.name == name:
                return f
        raise KeyError(f"{cls.neuron_type} has no parameter {name!r}")

    def same_as(self, other: NeuronGroup) -> bool:
        """True when ``other`` is the same type with equal parameters and bias."""
        if type(other) is not type(self) or other.n != self.n:
            return False
        names = [f.name for f in self.FIELDS] + ["bias_mant", "bias_exp"]
        names += sorted(self._extra_names())
        return all(np.array_equal(getattr(self, k), getattr(other, k)) for k in names)

    # --- what the group does -------------------------------------------------------------
    @property
    def message_bits(self) -> int:
        """Bits of payload each output spike carries: 0 for unary spikes (the kernel returns
        ``(T, N, C)`` uint8 of 0/1), more for graded spikes (sigma-delta: the kernel returns
        int64 payloads; the next synapse multiplies its weights by them)."""
        return 0

    @property
    def spiking(self) -> bool:
        """False when no neuron can ever spike (a non-spiking read-out): every
        ``vth_mant << 6`` lies above the largest state ``2**23 - 1``."""
        return bool(np.any(self.vth_mant < NON_SPIKING_VTH_MANT))

    def run(
        self,
        a_in: np.ndarray,
        membrane_out: np.ndarray | None = None,
        feedback: Feedback | None = None,
        state: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Advance through time on synaptic input ``(T, N, C)``; spikes ``(T, N, C)`` uint8.

        ``membrane_out`` (``(T, N, C)``, optional) receives the ``membrane`` state at the end
        of every step. ``feedback`` (a recurrent synapse's ``Synapse.feedback``) adds, step by
        step, what the group's own spikes deliver back to it. ``state`` (a dict, optional)
        carries the group's state from one chunk of a long run to the next: the kernel starts
        from what it holds and leaves its final state there.
        """
        if feedback is None and state is None:
            return type(self).KERNEL(self, a_in, membrane_out)
        return type(self).KERNEL(self, a_in, membrane_out, feedback, state)

    # --- Loihi 2 -------------------------------------------------------------------------
    def violations(self, name: str) -> list[str]:
        """One line per parameter a Loihi 2 register cannot hold (the type's own rules)."""
        out: list[str] = []
        if outside(self.bias_mant, BIAS_MANT_MIN, BIAS_MANT_MAX):
            out.append(f"{name}: bias outside the 13-bit mantissa {BIAS_MANT_MIN}..{BIAS_MANT_MAX}")
        return out

    def threshold_violations(self, name: str, increments: tuple[Field, ...] = ()) -> list[str]:
        """17-bit checks of the spiking thresholds and of threshold-sized increments (ALIF's
        vThStep, AdLIF+'s bMant)."""
        out: list[str] = []
        if outside(self.vth_mant[self.vth_mant < NON_SPIKING_VTH_MANT], 0, VTH_MANT_MAX):
            out.append(f"{name}: vThMant exceeds 17 bits ({VTH_MANT_MAX})")
        for f in increments:
            if outside(getattr(self, f.name), 0, VTH_MANT_MAX):
                out.append(f"{name}: {f.netx} outside 0..{VTH_MANT_MAX} (17 bits)")
        return out

    def per_step(self, name: str) -> np.ndarray:
        """A 12-bit constant as the fraction per step it stands for (``value / 4096``)."""
        return getattr(self, name) / float(DECAY_UNITY)

    def per_threshold(self, name: str) -> np.ndarray:
        """A threshold-sized parameter in threshold units (``value / max(vth_mant, 1)``)."""
        return getattr(self, name) / np.maximum(self.vth_mant, 1).astype(np.float64)

    @classmethod
    def param_bits(cls) -> int:
        """Bits of parameters stored per neuron: every FIELD's register, and the bias."""
        return sum(f.bits for f in cls.FIELDS if not f.scalar) + BIAS_BITS

    @classmethod
    def state_bits(cls) -> int:
        """Bits of state stored per neuron."""
        return cls.STATE_BITS

    # --- the float model -----------------------------------------------------------------
    def model_parameters(self) -> dict[str, np.ndarray]:
        """Per-neuron parameters in the float model's units, by their ``model`` names (what
        the report shows and the seed's appendix plots); empty where the type shows none."""
        return {}

    #: parameter ranges shown by ``ranvier inspect`` besides vth_mant and bias_mant
    @classmethod
    def shown_parameters(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.FIELDS if f.name != "vth_mant" and not f.scalar)
