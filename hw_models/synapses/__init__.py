"""Synapse classes: the :class:`~.base.Synapse` protocol and its implementations."""

from .base import Feedback, Synapse
from .dense import DenseSynapse, synaptic_input
from .recurrent import RecurrentDenseSynapse, RecurrentInput

__all__ = [
    "DenseSynapse",
    "Feedback",
    "RecurrentDenseSynapse",
    "RecurrentInput",
    "Synapse",
    "synaptic_input",
]
