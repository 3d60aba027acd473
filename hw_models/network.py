"""The network IR: what a Loihi 2 network is, in integers.

A :class:`Network` is an ordered list of :class:`Block` s. Each block is a synapse (a class of
:mod:`~ranvier.hw_models.synapses`, today the dense synapse with optional per-synapse delays)
feeding a group of neurons (a unit of :mod:`~ranvier.hw_models.neurons`: a neuron type and its
integer parameters, one value per neuron). Training exports to it, the netx writer serializes
it and the reader builds it, the simulator and the lava backend execute it, the report
describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .neurons import NeuronGroup
from .synapses import DenseSynapse, Synapse


@dataclass
class Block:
    """A synapse feeding a neuron group: one netx layer (``dense`` today)."""

    synapse: Synapse
    neurons: NeuronGroup
    name: str = ""

    def __post_init__(self) -> None:
        if self.synapse.n_out != self.neurons.n:
            raise ValueError(
                f"synapse feeds {self.synapse.n_out} neurons but the group has {self.neurons.n}"
            )

    def same_as(self, other: Block) -> bool:
        """Same synapse and neurons (names aside)."""
        return self.synapse.same_as(other.synapse) and self.neurons.same_as(other.neurons)


@dataclass
class Network:
    """An ordered stack of dense blocks fed by ``n_in`` input channels."""

    n_in: int
    blocks: list[Block]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
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
            and self.readout == other.readout
            and len(self.blocks) == len(other.blocks)
            and all(a.same_as(b) for a, b in zip(self.blocks, other.blocks, strict=True))
        )


__all__ = ["Block", "DenseSynapse", "Network"]
