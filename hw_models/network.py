"""The network IR: what a Loihi 2 network is, in integers.

A :class:`Network` is an ordered list of :class:`Block` s. Each block is a synapse (a class of
:mod:`~ranvier.hw_models.synapses`: the dense synapse with optional per-synapse delays, or the
recurrent one that adds a synapse from the block's own neurons back onto them) feeding a group
of neurons (a unit of :mod:`~ranvier.hw_models.neurons`: a neuron type and its
integer parameters, one value per neuron). Training exports to it, the netx writer serializes
it and the reader builds it, the simulator and the lava backend execute it, the report
describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .neurons import NeuronGroup
from .synapses import (
    ComplexDenseSynapse,
    ConvSynapse,
    DenseSynapse,
    Flattened,
    InputPort,
    RecurrentDenseSynapse,
    Synapse,
)


@dataclass
class Block:
    """A synapse feeding a neuron group: one netx layer (``dense``, ``dense_rec``, ``conv``,
    an ``input`` layer with neurons, a ``dense`` after a ``flatten``).

    ``shape`` is the neurons' shape as lava holds it: ``(n,)``, or ``(W, H, C)`` for a conv or
    an image input layer, whose neurons ranvier numbers in that order flattened (C fastest).
    ``default_neurons`` marks a dense layer without a neuron group in its file (netx's
    non-leaky, non-spiking default), which a writer leaves out again.
    """

    synapse: Synapse
    neurons: NeuronGroup
    name: str = ""
    shape: tuple[int, ...] | None = None
    default_neurons: bool = False

    def __post_init__(self) -> None:
        if self.synapse.n_out != self.neurons.n:
            raise ValueError(
                f"synapse feeds {self.synapse.n_out} neurons but the group has {self.neurons.n}"
            )
        if self.shape is None:
            self.shape = (self.neurons.n,)
        self.shape = tuple(int(v) for v in self.shape)
        if int(np.prod(self.shape)) != self.neurons.n:
            raise ValueError(f"shape {self.shape} does not hold {self.neurons.n} neurons")

    def same_as(self, other: Block) -> bool:
        """Same synapse, neurons and shape (names aside)."""
        return (
            self.shape == other.shape
            and self.synapse.same_as(other.synapse)
            and self.neurons.same_as(other.neurons)
        )


@dataclass
class Network:
    """An ordered stack of blocks fed by ``n_in`` input channels (of ``input_shape``: ``(n_in,)``
    or lava's ``(W, H, C)`` for an image input)."""

    n_in: int
    blocks: list[Block]
    meta: dict = field(default_factory=dict)
    input_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.input_shape is None:
            self.input_shape = (self.n_in,)
        self.input_shape = tuple(int(v) for v in self.input_shape)
        if int(np.prod(self.input_shape)) != self.n_in:
            raise ValueError(f"input shape {self.input_shape} does not hold {self.n_in} channels")
        width = self.n_in
        for i, block in enumerate(self.blocks):
            if not block.name:
                block.name = f"layer_{i}"
            if block.synapse.n_in != width:
                raise ValueError(
                    f"{block.name}: synapse expects {block.synapse.n_in} inputs, "
                    f"the layer before has {width}"
                )
            width = block.neurons.n

    @property
    def n_out(self) -> int:
        return self.blocks[-1].neurons.n if self.blocks else self.n_in

    @property
    def layer_sizes(self) -> list[int]:
        return [b.neurons.n for b in self.blocks]

    def fan_out(self, index: int) -> np.ndarray:
        """Synapses each neuron of block ``index`` drives, ``(n,)``: its non-zero synapses
        into the next block and, in a recurrent block, back into its own. The synaptic
        events one of its spikes causes (energy shares, the report's per-neuron table)."""
        block = self.blocks[index]
        out = np.zeros(block.neurons.n, dtype=np.int64)
        if index + 1 < len(self.blocks):
            out += self.blocks[index + 1].synapse.fan_out()
        recurrent = block.synapse.recurrent_fan_out()
        if recurrent is not None:
            out += recurrent
        return out

    @property
    def readout(self) -> str:
        """The read-out: the one ``meta`` declares (a file's ``readout/mode``), else
        ``spike_count`` when the last layer can spike and ``membrane_sum`` when it cannot."""
        mode = self.meta.get("readout")
        if mode is not None:
            return str(mode)
        return "spike_count" if self.blocks[-1].neurons.spiking else "membrane_sum"

    def same_as(self, other: Network) -> bool:
        """True when ``other`` behaves the same: input size, blocks (in order) and read-out.
        Timing meta data (``Ts``, ``tSample``) changes no spike and is not compared."""
        return (
            self.n_in == other.n_in
            and self.input_shape == other.input_shape
            and self.readout == other.readout
            and len(self.blocks) == len(other.blocks)
            and all(a.same_as(b) for a, b in zip(self.blocks, other.blocks, strict=True))
        )


__all__ = [
    "Block",
    "ComplexDenseSynapse",
    "ConvSynapse",
    "DenseSynapse",
    "Flattened",
    "InputPort",
    "Network",
    "RecurrentDenseSynapse",
]
