"""The input port of an input layer with neurons (netx ``input`` with a ``neuron`` group).

netx's ``Input`` block (lava-dl ``netx/blocks/process.py``) is a neuron group with no synapse
in front: the host's values reach the neurons' ``a_in`` in the step they are sent (Intel's
tests and tutorials connect the source to ``net.in_layer.neuron.a_in``), graded signed
integers as they are -- a CUBA input layer integrates them (``a_in << 6``), a sigma-delta one
encodes their changes. There is no synaptic latency and no synaptic operation: this class
stands where a block's synapse is so that an input layer is a block like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import SynapseStorage


@dataclass
class InputPort:
    """``n`` values per step passed to ``n`` neurons unchanged, in the same step."""

    layer_type: ClassVar[str] = "input"
    delivers: ClassVar[str] = "real"

    n: int

    @property
    def n_in(self) -> int:
        return self.n

    @property
    def n_out(self) -> int:
        return self.n

    #: the host's values are taken as they are (graded)
    @property
    def message_bits(self) -> int:
        return 32

    @property
    def parts(self) -> tuple:
        return ()

    def label(self) -> str:
        return self.layer_type

    @property
    def max_delay(self) -> int:
        return 0

    @property
    def has_delays(self) -> bool:
        return False

    @property
    def synapse_count(self) -> int:
        return 0

    @property
    def entries(self) -> int:
        return 0

    def fan_out(self) -> np.ndarray:
        """No synapse: an input value causes no synaptic operation."""
        return np.zeros(self.n, dtype=np.int64)

    def recurrent_fan_out(self) -> None:
        return None

    def feedback(self, samples: int, steps: int) -> None:
        return None

    def synaptic_input(self, spikes: np.ndarray, method: str = "auto") -> np.ndarray:
        """The values themselves, time-major ``(T, N, n)`` float64, in the step they are sent."""
        return np.asarray(spikes).transpose(2, 0, 1).astype(np.float64)

    def input_stream(self, chunk: int | None = None, method: str = "auto") -> Callable:
        return self.synaptic_input

    def delay_histogram(self) -> np.ndarray:
        return np.zeros(1, dtype=np.int64)

    def storage(self) -> SynapseStorage:
        """No synapses; one input axon (the host's)."""
        return SynapseStorage("none", 1)

    def violations(self, name: str) -> list[str]:
        return []

    def describe(self) -> dict:
        return {"fan_in": 0, "synapses": 0, "weight": None, "delay": None}

    def same_as(self, other: object) -> bool:
        return isinstance(other, InputPort) and other.n == self.n
