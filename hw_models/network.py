"""The network IR: what a Loihi 2 network is, in integers.

A :class:`Network` is an ordered list of :class:`DenseBlock` s. Each block is a synapse (integer
weight mantissas, a weight exponent, the synapse's weight bits, integer per-synapse delays)
feeding a group of neurons (a neuron type and its integer parameters, one value per neuron).
The netx reader builds it, the simulator and the lava backend execute it, the exporter writes
it, and the training code exports to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fixed_point import (
    DECAY_UNITY,
    MAX_DELAY,
    NETX_BIAS_EXP,
    NON_SPIKING_VTH_MANT,
    VTH_MANT_MAX,
    SignMode,
    determine_sign_mode,
    synapse_weights,
)


def _per_neuron(value: np.ndarray | int, n: int, name: str) -> np.ndarray:
    """Broadcast a scalar or per-neuron parameter to an int64 vector of length n."""
    arr = np.asarray(value, dtype=np.int64).reshape(-1)
    if arr.size == 1:
        return np.full(n, int(arr[0]), dtype=np.int64)
    if arr.size != n:
        raise ValueError(f"{name}: expected 1 or {n} values, got {arr.size}")
    return arr.copy()


def _check_ranges(params) -> None:
    """ValueError unless every ``(name, value, hi)`` value lies within ``0..hi``."""
    for name, value, hi in params:
        arr = np.asarray(value)
        if arr.size and (arr.min() < 0 or arr.max() > hi):
            raise ValueError(f"{name} must be within 0..{hi}")


@dataclass
class CubaNeurons:
    """Current-based LIF neurons in Loihi fixed point (lava-nc PyLifModelBitAcc).

    Per time step: ``u = wrap24(decay(u, i_decay) + (a_in << 6))``,
    ``v = sat24(decay(v, v_decay) + u + (bias_mant << bias_exp))``, spike when
    ``v > vth_mant << 6``, then ``v = 0`` for the neurons that spiked.

    ``i_decay`` and ``v_decay`` are the effective 12-bit decay constants (out of 4096), named
    after the netx/SLAYER fields ``iDecay`` and ``vDecay``: lava's register ``du`` holds
    ``iDecay - 1`` and adds 1 back (``ds_offset``), ``dv`` holds ``vDecay``.
    """

    n: int
    vth_mant: np.ndarray
    i_decay: np.ndarray
    v_decay: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    ref_delay: int = 1

    kind = "CUBA"
    #: the state the read-out and the membrane probes report
    membrane = "v"

    @classmethod
    def create(
        cls,
        n: int,
        vth_mant: np.ndarray | int,
        i_decay: np.ndarray | int,
        v_decay: np.ndarray | int,
        bias_mant: np.ndarray | int = 0,
        bias_exp: np.ndarray | int = NETX_BIAS_EXP,
        ref_delay: int = 1,
    ) -> CubaNeurons:
        """Build a group, broadcasting scalar parameters to one value per neuron.

        Decays are effective constants out of 4096 and must lie in 0..4096 (the simulator's
        bounds and lava's arithmetic assume a factor in [0, 1]).
        """
        _check_ranges((("i_decay", i_decay, DECAY_UNITY), ("v_decay", v_decay, DECAY_UNITY)))
        return cls(
            n=n,
            vth_mant=_per_neuron(vth_mant, n, "vth_mant"),
            i_decay=_per_neuron(i_decay, n, "i_decay"),
            v_decay=_per_neuron(v_decay, n, "v_decay"),
            bias_mant=_per_neuron(bias_mant, n, "bias_mant"),
            bias_exp=_per_neuron(bias_exp, n, "bias_exp"),
            ref_delay=int(ref_delay),
        )

    @property
    def spiking(self) -> bool:
        """False when no neuron can ever spike: every ``vth_mant << 6`` is above ``2**23 - 1``."""
        return bool(np.any(self.vth_mant < NON_SPIKING_VTH_MANT))


@dataclass
class DenseSynapse:
    """All-to-all synapse from ``n_in`` to ``n_out`` neurons (lava-nc Dense / DelayDense).

    ``weight`` holds the mantissas as the lava process model receives them (after netx's
    weight-bit optimisation), shape ``(n_out, n_in)``; the synapse adds
    ``synapse_weights(weight, num_weight_bits)`` and shifts each step's sum by
    ``weight_exp``. ``delay`` is ``None`` (no delay: lava's Dense) or an integer array of the
    weight's shape, each 0..62 (lava's DelayDense): a spike sent at step t reaches the neuron at
    step ``t + 1 + delay``.
    """

    weight: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = 8
    delay: np.ndarray | None = None
    _effective: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.int64)
        if self.weight.ndim != 2:
            raise ValueError(f"weight must be 2-D (n_out, n_in), got shape {self.weight.shape}")
        if self.delay is not None:
            self.delay = np.asarray(self.delay, dtype=np.int64)
            if self.delay.shape != self.weight.shape:
                raise ValueError(
                    f"delay shape {self.delay.shape} does not match weight {self.weight.shape}"
                )
            if self.delay.size and (self.delay.min() < 0 or self.delay.max() > MAX_DELAY):
                raise ValueError(f"delays must be within 0..{MAX_DELAY}")

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def sign_mode(self) -> SignMode:
        """The sign mode the process model derives from the mantissas."""
        return determine_sign_mode(self.weight)

    @property
    def effective_weight(self) -> np.ndarray:
        """The integer each synapse adds per spike, before the weight exponent."""
        if self._effective is None:
            self._effective = synapse_weights(self.weight, self.num_weight_bits)
        return self._effective

    @property
    def values(self) -> np.ndarray:
        """What each synapse adds per spike, ``effective_weight * 2**weight_exp`` (float64, exact).

        A step's input is ``floor`` of the sum of these over the synapses whose input spiked
        (lava shifts the sum, not each weight), so equal values mean equal behaviour.
        """
        return np.ldexp(self.effective_weight.astype(np.float64), self.weight_exp)

    @property
    def values_are_integers(self) -> bool:
        """True when every synapse value is an integer, so the floor never rounds.

        True for almost every file; not for all: all-non-positive weights with a zero (file
        ``[[-4, -3, -3], [0, -3, -4]]``) are MIXED to netx but INHIBITORY to lava's synapse,
        whose clip and truncation leave fractions (-4 acts as -3.5). The simulator then takes
        the per-delay path with lava's floor of each step's sum.
        """
        return self.weight_exp >= 0 or not np.any(self.effective_weight % (1 << -self.weight_exp))

    @property
    def max_delay(self) -> int:
        return 0 if self.delay is None or self.delay.size == 0 else int(self.delay.max())

    def fan_out(self) -> np.ndarray:
        """Number of non-zero synapses leaving each input neuron, shape ``(n_in,)``."""
        return np.count_nonzero(self.effective_weight, axis=0)


@dataclass
class AlifNeurons:
    """Adaptive-threshold LIF neurons in Loihi fixed point (lava-nc PyATRLIFModelFixed).

    Parameters are per neuron, int64, named after SLAYER's ALIF device parameters:

    - ``i_decay`` (``iDecay``): effective 12-bit current decay (out of 4096). ATRLIF adds 1 to
      ``delta_i * 4096`` (``ds_offset``), so lava gets ``delta_i = (iDecay - 1) / 4096``.
    - ``v_decay`` (``vDecay``), ``theta_decay`` (``thDecay``), ``ref_decay`` (``refDecay``):
      effective decays, lava gets ``delta_v/theta/r = decay / 4096`` (no offset).
    - ``vth_mant`` (``vThMant``): baseline threshold; lava's ``theta_0``, scaled ``<< 6``.
    - ``vth_step`` (``vThStep``): threshold increment per spike; ``theta_step``, ``<< 6``.
    - ``bias_mant``/``bias_exp``: as for CUBA (SLAYER's ALIF has no bias; 0 by default).
    - ``ref_delay`` (``refDelay``): exported by SLAYER (always 1) and used by neither model.
    """

    n: int
    i_decay: np.ndarray
    v_decay: np.ndarray
    theta_decay: np.ndarray
    ref_decay: np.ndarray
    vth_mant: np.ndarray
    vth_step: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    ref_delay: int = 1

    kind = "ALIF"
    membrane = "v"

    @classmethod
    def create(
        cls,
        n: int,
        vth_mant: np.ndarray | int,
        vth_step: np.ndarray | int,
        i_decay: np.ndarray | int,
        v_decay: np.ndarray | int,
        theta_decay: np.ndarray | int,
        ref_decay: np.ndarray | int,
        bias_mant: np.ndarray | int = 0,
        bias_exp: np.ndarray | int = NETX_BIAS_EXP,
        ref_delay: int = 1,
    ) -> AlifNeurons:
        """Build a group, broadcasting scalar parameters to one value per neuron."""
        return cls(
            n=n,
            i_decay=_per_neuron(i_decay, n, "i_decay"),
            v_decay=_per_neuron(v_decay, n, "v_decay"),
            theta_decay=_per_neuron(theta_decay, n, "theta_decay"),
            ref_decay=_per_neuron(ref_decay, n, "ref_decay"),
            vth_mant=_per_neuron(vth_mant, n, "vth_mant"),
            vth_step=_per_neuron(vth_step, n, "vth_step"),
            bias_mant=_per_neuron(bias_mant, n, "bias_mant"),
            bias_exp=_per_neuron(bias_exp, n, "bias_exp"),
            ref_delay=int(ref_delay),
        )

    def atrlif_kwargs(self) -> dict:
        """Constructor arguments of lava-nc's ``ATRLIF`` that run this group bit-exactly.

        ATRLIF takes one value of each decay, ``theta_0`` and ``theta_step`` per process
        (``Var(shape=(1,))``), so the group must be homogeneous in those; bias is per neuron.
        Decays go in as *floats* ``k / 4096`` (exact in binary): the model multiplies them by
        4096 again, and a Python int there would switch its current decay product to int32.
        """
        shared = {}
        for name in ("i_decay", "v_decay", "theta_decay", "ref_decay", "vth_mant", "vth_step"):
            values = np.unique(getattr(self, name))
            if values.size > 1:
                raise ValueError(f"ATRLIF needs one {name} per process, group has {values.size}")
            shared[name] = int(values[0]) if values.size else 0
        return {
            "delta_i": (shared["i_decay"] - 1) / DECAY_UNITY,
            "delta_v": shared["v_decay"] / DECAY_UNITY,
            "delta_theta": shared["theta_decay"] / DECAY_UNITY,
            "delta_r": shared["ref_decay"] / DECAY_UNITY,
            "theta_0": shared["vth_mant"],
            "theta_step": shared["vth_step"],
            "bias_mant": self.bias_mant.copy(),
            "bias_exp": self.bias_exp.copy(),
        }

    @property
    def spiking(self) -> bool:
        """ALIF has no voltage bound on its threshold test (int32 theta): always True."""
        return True


@dataclass
class AdlifNeurons:
    """AdLIF+ neurons (adaptation current) in ranvier's Loihi 2 fixed-point form.

    One step (docs/neurons.md, "The Loihi 2 fixed-point form"; ``hw_models/adlif.py``)::

        I  = act + bias
        w' = sat24(decay(w, w_decay) + mul_frac(a_mant, u) + s * (b_mant << 6))
        u' = sat24(decay(u - s * (vth_mant << 6), u_decay) + mul_frac(u_decay, I - w'))
        s' = u' > vth_mant << 6

    Parameters are per neuron, int64: ``u_decay`` (``uDecay``, alpha = 1 - u_decay/4096),
    ``w_decay`` (``wDecay``, beta), ``a_mant`` (``aMant``, a = a_mant/4096), ``b_mant``
    (``bMant``, the spike-triggered increment in threshold-mantissa units), ``vth_mant``,
    ``bias_mant``/``bias_exp``.
    """

    n: int
    u_decay: np.ndarray
    w_decay: np.ndarray
    a_mant: np.ndarray
    b_mant: np.ndarray
    vth_mant: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray

    kind = "ADLIF"
    #: the state the read-out and the membrane probes report
    membrane = "u"

    @classmethod
    def create(
        cls,
        n: int,
        vth_mant: np.ndarray | int,
        u_decay: np.ndarray | int,
        w_decay: np.ndarray | int,
        a_mant: np.ndarray | int,
        b_mant: np.ndarray | int,
        bias_mant: np.ndarray | int = 0,
        bias_exp: np.ndarray | int = NETX_BIAS_EXP,
    ) -> AdlifNeurons:
        """Build a group, broadcasting scalars; checks the ranges of docs/neurons.md."""
        _check_ranges(
            (
                ("u_decay", u_decay, DECAY_UNITY),
                ("w_decay", w_decay, DECAY_UNITY),
                ("a_mant", a_mant, DECAY_UNITY),
                ("b_mant", b_mant, VTH_MANT_MAX),
                ("vth_mant", vth_mant, NON_SPIKING_VTH_MANT),
            )
        )
        return cls(
            n=n,
            u_decay=_per_neuron(u_decay, n, "u_decay"),
            w_decay=_per_neuron(w_decay, n, "w_decay"),
            a_mant=_per_neuron(a_mant, n, "a_mant"),
            b_mant=_per_neuron(b_mant, n, "b_mant"),
            vth_mant=_per_neuron(vth_mant, n, "vth_mant"),
            bias_mant=_per_neuron(bias_mant, n, "bias_mant"),
            bias_exp=_per_neuron(bias_exp, n, "bias_exp"),
        )

    @property
    def spiking(self) -> bool:
        """False when no neuron of the group can ever reach its threshold."""
        return bool(np.any(self.vth_mant < NON_SPIKING_VTH_MANT))


Neurons = CubaNeurons | AlifNeurons | AdlifNeurons


@dataclass
class DenseBlock:
    """A synapse feeding a neuron group: one netx ``dense`` layer."""

    synapse: DenseSynapse
    neurons: Neurons
    name: str = ""

    def __post_init__(self) -> None:
        if self.synapse.n_out != self.neurons.n:
            raise ValueError(
                f"synapse feeds {self.synapse.n_out} neurons but the group has {self.neurons.n}"
            )


@dataclass
class Network:
    """An ordered stack of dense blocks fed by ``n_in`` input channels."""

    n_in: int
    blocks: list[DenseBlock]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        width = self.n_in
        for i, block in enumerate(self.blocks):
            if not block.name:
                block.name = f"layer_{i}"
            if block.synapse.n_in != width:
                raise ValueError(
                    f"{block.name}: synapse expects {block.synapse.n_in} inputs, "
                    f"the layer before has {width}"
                )
            width = block.neurons.n

    @property
    def n_out(self) -> int:
        return self.blocks[-1].neurons.n if self.blocks else self.n_in

    @property
    def layer_sizes(self) -> list[int]:
        return [b.neurons.n for b in self.blocks]
