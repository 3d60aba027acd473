"""Synapse classes: the :class:`~.base.Synapse` protocol and its implementations."""

from .base import Feedback, Synapse
from .dense import DenseSynapse, InputStream, synaptic_input
from .recurrent import RecurrentDenseSynapse, RecurrentInput

__all__ = [
    "DenseSynapse",
    "Feedback",
    "InputStream",
    "RecurrentDenseSynapse",
    "RecurrentInput",
    "Synapse",
    "synaptic_input",
]
