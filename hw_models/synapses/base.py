"""What a synapse is to the rest of ranvier: the protocol every synapse class implements.

A block is a synapse feeding a neuron group. The simulator, the op counters, the energy and
resource estimates, the report and ``ranvier inspect`` see a synapse only through this
protocol, so a new connection type (conv, recurrent) is a new class here, not edits across
the tree. Implementations: :class:`~.dense.DenseSynapse` (netx ``dense``) and
:class:`~.recurrent.RecurrentDenseSynapse` (``dense_rec``: a dense synapse plus one from the
layer's own neurons back onto them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np


class Feedback(Protocol):
    """What a recurrent synapse delivers back to its own layer, step by step: the neuron
    kernel reads the arrivals of the current step, then hands it the step's spikes, which
    moves it to the next step. One object lasts a whole run, chunks included."""

    #: an upper bound on the input it can add to one neuron in one step
    bound: float

    def arriving(self) -> np.ndarray:
        """The input arriving at the current step, ``(N, n_out)`` float64 holding integers."""
        ...

    def send(self, fired: np.ndarray) -> None:
        """The layer's spikes ``(N, n_out)`` of the current step; the next step begins."""
        ...


@dataclass(frozen=True)
class SynapseStorage:
    """How a synapse sits in Loihi 2's synapse memory: what the core estimate
    (``hw_models/resources.py``, docs/energy.md "Resources") needs to know of it.

    ``layout``: ``"dense"``, one synapse list per input axon over the neurons of the core
    (every core of the layer receives every input axon and holds a slice of its neurons);
    ``"conv"``, one list per (input channel, kernel tap) over ``list_length`` output channels,
    shared by every position (the layer is tiled over its columns); ``"none"``, no synapses
    (input neurons). ``lists`` holds one ``(count, weight_bits, delay_bits)`` per stored part
    (a recurrent layer: its input's lists and its own neurons' lists). ``axons_in``: input
    axons per core.
    """

    layout: Literal["dense", "conv", "none"]
    axons_in: int
    lists: tuple[tuple[int, int, int], ...] = ()
    list_length: int | None = None


@runtime_checkable
class Synapse(Protocol):
    """The operations every synapse class provides (shapes are flat neuron counts)."""

    #: the layer type it is in netx files (``layer/<i>/type``; ranvier's IR names where the
    #: file's type alone does not say: ``dense_complex`` for ``weight/real`` + ``weight/imag``,
    #: ``flatten`` for a dense layer behind a flatten)
    layer_type: str
    #: what it delivers to its neurons: ``"real"`` integers, or ``"complex"`` (real and
    #: imaginary parts for resonate-and-fire), matched against ``NeuronGroup.INPUT``
    delivers: str

    @property
    def message_bits(self) -> int:
        """Bits of the messages it takes: 0 for unary spikes (any non-zero value is one
        spike), more for graded payloads that multiply its weights (netx's
        ``input_message_bits``, the layer before's ``NeuronGroup.message_bits``)."""
        ...

    def label(self) -> str:
        """The synapse in words for tables (``ranvier inspect``): its kind and geometry."""
        ...

    @property
    def n_in(self) -> int:
        """Neurons (or channels) it receives spikes from."""
        ...

    @property
    def n_out(self) -> int:
        """Neurons it delivers input to."""
        ...

    @property
    def max_delay(self) -> int:
        """Largest synaptic delay in steps (0 without delays)."""
        ...

    @property
    def has_delays(self) -> bool:
        """True when the synapse holds per-synapse delays (stored per synapse on the chip)."""
        ...

    @property
    def synapse_count(self) -> int:
        """Synapses that are stored: non-zero effective weights."""
        ...

    @property
    def entries(self) -> int:
        """Weight entries, zeros included (what NeuroBench counts as parameters and as dense
        operations per step)."""
        ...

    @property
    def parts(self) -> tuple:
        """The plain synapses it is made of, each stored on its own (a dense synapse: itself;
        a recurrent one: its feed-forward and its recurrent synapse), for memory estimates."""
        ...

    def fan_out(self) -> np.ndarray:
        """Non-zero synapses leaving each sender, ``(n_in,)``: the synaptic events one spike
        causes."""
        ...

    def recurrent_fan_out(self) -> np.ndarray | None:
        """Non-zero synapses from each of the layer's own neurons back onto the layer,
        ``(n_out,)``; None for a feed-forward synapse."""
        ...

    def input_stream(self, chunk: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
        """A fresh stream of its whole-sequence input for a run in chunks of ``chunk`` steps
        (None: one piece): called with each chunk's binary spikes ``(N, n_in, K)`` in turn, it
        returns ``(K, N, n_out)``, exactly :meth:`synaptic_input` of the whole run cut at those
        steps (it keeps the delay line)."""
        ...

    def feedback(self, samples: int, steps: int) -> Feedback | None:
        """A fresh :class:`Feedback` for a run of ``samples`` x ``steps`` (None for a
        feed-forward synapse): the part of the input that depends on the layer's own spikes."""
        ...

    def synaptic_input(self, spikes: np.ndarray, method: str = "auto") -> np.ndarray:
        """The input arriving at each neuron at each step from the layer before, time-major
        ``(T, N, n_out)`` float64 holding integers (complex128 for ``delivers == "complex"``),
        from spikes or graded payloads ``(N, n_in, T)``."""
        ...

    def delay_histogram(self) -> np.ndarray:
        """Stored synapses per delay value, ``(max_delay + 1,)``."""
        ...

    def storage(self) -> SynapseStorage:
        """How its synapses occupy synapse memory (the core estimate's input)."""
        ...

    def violations(self, name: str) -> list[str]:
        """One line per value a Loihi 2 register cannot hold."""
        ...

    def describe(self) -> dict:
        """Ranges of its integer parameters, for ``ranvier inspect`` tables and JSON."""
        ...

    def same_as(self, other: object) -> bool:
        """True when ``other`` is the same synapse (class, shapes and values)."""
        ...
