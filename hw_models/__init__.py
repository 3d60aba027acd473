"""Loihi 2 fixed-point rules, the network IR and the batched bit-accurate simulator (numpy)."""

from .fixed_point import SignMode
from .network import CubaNeurons, DenseBlock, DenseSynapse, Network
from .simulator import LayerResult, SimResult, simulate

__all__ = [
    "CubaNeurons",
    "DenseBlock",
    "DenseSynapse",
    "LayerResult",
    "Network",
    "SignMode",
    "SimResult",
    "simulate",
]
