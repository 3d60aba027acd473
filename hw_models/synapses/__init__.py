"""Synapse classes: the :class:`~.base.Synapse` protocol and its implementations."""

from .base import Synapse
from .dense import DenseSynapse, synaptic_input

__all__ = ["DenseSynapse", "Synapse", "synaptic_input"]
