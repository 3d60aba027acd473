"""Loihi 2 fixed-point rules, the network IR (blocks of a synapse and a neuron unit), the
neuron and synapse units and the batched bit-accurate simulator (numpy only)."""

from .fixed_point import SignMode
from .network import Block, Network
from .neurons import NEURON_TYPES, AdlifNeurons, AlifNeurons, CubaNeurons, NeuronGroup
from .simulator import LayerResult, SimResult, simulate
from .synapses import DenseSynapse, RecurrentDenseSynapse, Synapse

__all__ = [
    "NEURON_TYPES",
    "AdlifNeurons",
    "AlifNeurons",
    "Block",
    "CubaNeurons",
    "DenseSynapse",
    "LayerResult",
    "Network",
    "NeuronGroup",
    "RecurrentDenseSynapse",
    "SignMode",
    "SimResult",
    "Synapse",
    "simulate",
]
