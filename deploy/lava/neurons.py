"""The parameter mapping, written once: an IR neuron group -> its lava process's arguments.

:data:`LAVA_NEURONS` has one entry per neuron type tag of ``hw_models.neurons.NEURON_TYPES``:
the name of the lava process that runs the type (looked up lazily in
``runtime.import_lava()``'s namespace: no lava import here) and a function from an IR group
(:class:`~ranvier.hw_models.neurons.NeuronGroup`) to that process's constructor keywords,
numbers only. The keywords are the ``lava`` names of the unit's ``FIELDS``, plus the bias.
netx_patch.py answers netx with it; the lava equivalence tests wire processes by hand with
it (:func:`lava_kwargs`). docs/lava_backend.md ("Neuron types") describes each mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ranvier.hw_models.fixed_point import DECAY_UNITY
from ranvier.hw_models.neurons import (
    NEURON_TYPES,
    AdlifNeurons,
    AlifNeurons,
    CubaNeurons,
    DeltaNeurons,
    NeuronGroup,
    RfIzNeurons,
    RfNeurons,
    SigmaDeltaNeurons,
    SigmaNeurons,
)

#: lava adds 1 back to the current-decay register (``ds_offset``, lif/models.py and
#: atrlif/models.py:120,144), so it is given ``iDecay - 1``, as netx does for LIF.
DS_OFFSET = 1


def shared_int(values: Any) -> int | np.ndarray:
    """A parameter lava keeps as the raw constructor object (``LavaPyType(int, ...)``, e.g.
    LIF's vth/du/dv, py_builder.py:403-404): a Python int when the group shares one value
    (int64 arithmetic inside lava, no float or unsigned surprises), else an int64 array."""
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    return int(arr[0]) if arr.size == 1 or np.all(arr == arr[0]) else arr


def decay_fraction(values: Any) -> float | np.ndarray:
    """An ATRLIF decay: the fraction ``k / 4096`` as float (exact in binary). ATRLIF multiplies
    it back by 4096 (atrlif/models.py:144,175,188,199); a Python int there would turn
    ``self.i * (4096 - decay)`` (models.py:149) into an int32 product that wraps."""
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size == 1 or np.all(arr == arr[0]):
        return float(arr[0]) / DECAY_UNITY
    return arr.astype(np.float64) / DECAY_UNITY


def _by_lava_name(neurons: NeuronGroup, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (by IR name) keyed by each field's ``lava`` name, plus the bias: the
    mantissa per neuron, the exponent as :func:`shared_int` (netx's 6 for a file's layer)."""
    out = {neurons.field(name).lava: value for name, value in values.items()}
    out["bias_mant"] = np.asarray(neurons.bias_mant, dtype=np.int64).copy()
    out["bias_exp"] = shared_int(neurons.bias_exp)
    return out


def lif_kwargs(neurons: CubaNeurons, where: str = "neuron") -> dict[str, Any]:
    """CUBA -> lava-nc's ``LIF``: ``vth = vThMant``, ``du = iDecay - 1``, ``dv = vDecay``
    (what netx's own get_neuron_params gives, as Python ints)."""
    return _by_lava_name(
        neurons,
        {
            "vth_mant": shared_int(neurons.vth_mant),
            "i_decay": shared_int(neurons.i_decay - DS_OFFSET),
            "v_decay": shared_int(neurons.v_decay),
        },
    )


def _layer(where: str) -> str:
    """'layer 1' for 'layer/1/neuron', else ``where`` itself."""
    parts = where.split("/")
    return f"layer {parts[1]}" if len(parts) > 2 and parts[0] == "layer" else where


def atrlif_kwargs(neurons: AlifNeurons, where: str = "neuron") -> dict[str, Any]:
    """ALIF (SLAYER's fields) -> lava-nc's ``ATRLIF`` (docs/neurons_research.md, sections 1
    and 4): ``delta_i = (iDecay - 1)/4096``, ``delta_v = vDecay/4096``, ``delta_theta =
    thDecay/4096``, ``delta_r = refDecay/4096`` (floats), ``theta_0 = vThMant``,
    ``theta_step = vThStep``.

    ``theta_step`` must be one value for the group: a per-neuron one crashes ATRLIF's
    post_spike (atrlif/models.py:245: theta indexed by the spike mask plus the full-length
    step array), so it raises ValueError naming the layer of ``where`` ('layer/<i>/neuron').
    """
    steps = np.unique(neurons.vth_step)
    if steps.size > 1:
        key = f"{where}/{neurons.field('vth_step').netx}"
        raise ValueError(
            f"lava's ATRLIF needs one vThStep per layer: {_layer(where)} has "
            f"{steps.size} values ({key})"
        )
    return _by_lava_name(
        neurons,
        {
            "i_decay": decay_fraction(neurons.i_decay - DS_OFFSET),
            "v_decay": decay_fraction(neurons.v_decay),
            "theta_decay": decay_fraction(neurons.theta_decay),
            "ref_decay": decay_fraction(neurons.ref_decay),
            "vth_mant": shared_int(neurons.vth_mant),
            "vth_step": int(steps[0]),
        },
    )


def adlif_kwargs(neurons: AdlifNeurons, where: str = "neuron") -> dict[str, Any]:
    """ADLIF -> ranvier's ``AdLIFPlus`` (adlif_process.py): every field per neuron, under its
    own name (``u_decay``, ``w_decay``, ``a_mant``, ``b_mant``, ``vth_mant``)."""
    return _by_lava_name(
        neurons, {f.name: np.asarray(getattr(neurons, f.name)).copy() for f in neurons.FIELDS}
    )


@dataclass(frozen=True)
class LavaNeuron:
    """How lava runs one neuron type: the process (by its name in ``runtime.import_lava()``'s
    namespace) and the function from an IR group (and its location, for messages) to the
    process's keyword arguments."""

    process: str
    kwargs: Callable[[Any, str], dict[str, Any]]
    #: the Var a membrane probe reads (the unit's ``membrane``: lava names its state alike)
    membrane: str = "v"
    #: the neuron Vars that hold its whole state, zeroed between samples when one runtime
    #: serves several; None: the process has state that does not start at zero, so every
    #: sample gets a fresh network
    state: tuple[str, ...] | None = None


def process_entry(lava, process: object) -> LavaNeuron | None:
    """The entry whose lava process ``process`` is an instance of (None for others)."""
    for entry in LAVA_PROCESSES.values():
        cls = getattr(lava, entry.process, None)
        if cls is not None and type(process) is cls:
            return entry
    for entry in LAVA_PROCESSES.values():  # a subclass: netx's LIFReset is a LIF
        cls = getattr(lava, entry.process, None)
        if cls is not None and isinstance(process, cls):
            return entry
    return None


#: How lava runs each neuron unit: one line per unit.
LAVA_PROCESSES: dict[type[NeuronGroup], LavaNeuron] = {
    CubaNeurons: LavaNeuron("LIF", lif_kwargs, CubaNeurons.membrane, ("u", "v")),
    # ATRLIF's theta starts at theta_0 and is overwritten on its first step only
    # (atrlif/models.py:229-232, 260-261): no reuse
    AlifNeurons: LavaNeuron("ATRLIF", atrlif_kwargs, AlifNeurons.membrane, None),
    # adlif_process.py keeps nothing but u, w, s
    AdlifNeurons: LavaNeuron("AdLIFPlus", adlif_kwargs, AdlifNeurons.membrane, ("u", "w", "s")),
}
#: Every neuron type by its tag (``hw_models.neurons.NEURON_TYPES``, aliases included).
LAVA_NEURONS: dict[str, LavaNeuron] = {
    tag: LAVA_PROCESSES[unit] for tag, unit in NEURON_TYPES.items() if unit in LAVA_PROCESSES
}


#: The types netx builds itself (``get_neuron_params``' SDNN and RF branches), by the class
#: name of the lava process it builds: the unit that runs it (its ``membrane`` names the Var a
#: probe reads). netx_patch leaves them to netx.
NETX_BUILT: dict[str, type[NeuronGroup]] = {
    "SigmaDelta": SigmaDeltaNeurons,
    "Delta": DeltaNeurons,
    "Sigma": SigmaNeurons,
    "RF": RfNeurons,
    "RF_IZ": RfIzNeurons,
}


def lava_neuron(neuron_type: str) -> LavaNeuron:
    """The entry of a type tag; KeyError listing the known tags."""
    try:
        return LAVA_NEURONS[neuron_type]
    except KeyError:
        known = ", ".join(LAVA_NEURONS)
        raise KeyError(f"no lava process for neuron type {neuron_type!r} ({known})") from None


def lava_kwargs(neurons: NeuronGroup, where: str = "neuron") -> dict[str, Any]:
    """The constructor keywords of the lava process that runs ``neurons`` (bias included;
    ``shape`` is the caller's)."""
    return lava_neuron(neurons.neuron_type).kwargs(neurons, where)
