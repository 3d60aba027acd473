"""Neuron types: one unit (module) per type, and the registry that maps type tags to units.

To add a neuron type: write its unit (a :class:`~.base.NeuronGroup` subclass with its
``FIELDS`` schema, kernel, checks and float map) in a module here and register it below;
docs/architecture.md lists the other files (the torch forward, the lava mapping, the docs).
"""

from __future__ import annotations

from .adlif import AdlifNeurons
from .alif import AlifNeurons
from .base import Field, NeuronGroup, ParameterRangeError
from .cuba import CubaNeurons
from .rf import RfIzNeurons, RfNeurons
from .sdnn import DeltaNeurons, SigmaDeltaNeurons, SigmaNeurons, sdnn_unit

#: The units, one line per neuron type.
UNITS: tuple[type[NeuronGroup], ...] = (CubaNeurons, AlifNeurons, AdlifNeurons, SigmaDeltaNeurons)
UNITS += (RfNeurons, RfIzNeurons)  # resonate-and-fire (rf.py)
#: Every neuron type by its tag in netx files (``layer/<i>/neuron/type``), and by the other
#: tags a unit answers to (netx's ``LOIHI`` is CUBA).
NEURON_TYPES: dict[str, type[NeuronGroup]] = {unit.neuron_type: unit for unit in UNITS} | {
    alias: unit for unit in UNITS for alias in unit.aliases
}


def neuron_unit(neuron_type: str) -> type[NeuronGroup]:
    """The unit of a type tag; KeyError listing the known tags."""
    try:
        return NEURON_TYPES[neuron_type]
    except KeyError:
        known = ", ".join(NEURON_TYPES)
        raise KeyError(f"unknown neuron type {neuron_type!r} (supported: {known})") from None


__all__ = [
    "NEURON_TYPES",
    "UNITS",
    "AdlifNeurons",
    "AlifNeurons",
    "CubaNeurons",
    "DeltaNeurons",
    "Field",
    "NeuronGroup",
    "ParameterRangeError",
    "RfIzNeurons",
    "RfNeurons",
    "SigmaDeltaNeurons",
    "SigmaNeurons",
    "neuron_unit",
    "sdnn_unit",
]
