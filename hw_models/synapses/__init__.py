"""Synapse classes: the :class:`~.base.Synapse` protocol and its implementations."""

from .base import Feedback, Synapse, SynapseStorage
from .complex_dense import ComplexDenseSynapse
from .conv import ConvSynapse
from .dense import DenseSynapse, InputStream, synaptic_input
from .flatten import Flattened, flatten_order
from .input import InputPort
from .recurrent import RecurrentDenseSynapse, RecurrentInput

__all__ = [
    "ComplexDenseSynapse",
    "ConvSynapse",
    "DenseSynapse",
    "Feedback",
    "Flattened",
    "InputPort",
    "InputStream",
    "RecurrentDenseSynapse",
    "RecurrentInput",
    "Synapse",
    "SynapseStorage",
    "flatten_order",
    "synaptic_input",
]
