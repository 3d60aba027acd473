"""Loihi 2 resource estimate: neurons, synapses, delay slots and cores per layer.

A pure function of the IR (:class:`~ranvier.hw_models.network.Network`): no simulation, no
placement. Each layer is assumed to get cores of its own (lava's compiler places each process
on its own cores; layers do not share a core), and a layer needs as many cores as its most
demanding resource asks for. Every limit below is listed in docs/energy.md with its source;
the public figures are chip-level (Intel's Loihi 2 brief) and the per-core figures derived
from them or assumed, as marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .fixed_point import MAX_DELAY, MAX_WEIGHT_BITS
from .network import Block, Network

#: Bits stored per synaptic weight: Loihi 2 weights as netx emits them (at most 8 bits).
WEIGHT_BITS = MAX_WEIGHT_BITS
#: Bits stored per synaptic delay: delays 0..62 need 6 bits.
DELAY_BITS = int(MAX_DELAY).bit_length()
#: Neuron parameter and state bits come from each neuron type's unit
#: (``NeuronGroup.param_bits``: every register of its FIELDS schema and the 13-bit bias with
#: a 3-bit exponent; ``NeuronGroup.state_bits``: CUBA u, v; ALIF i, v, theta, r, 24 bits each,
#: an assumption for theta and r, which lava holds in int32; AdLIF+ u, w and the last spike).


@dataclass(frozen=True)
class CoreLimits:
    """Per-core and per-chip capacities used by :func:`estimate_resources`.

    Defaults are Loihi 2 (see docs/energy.md, "Resources"): ``cores_per_chip`` and the chip
    totals are Intel's published figures; ``neurons_per_core`` and ``synapses_per_core`` are
    those totals divided by 128 cores; ``memory_bytes_per_core`` is the brief's 192 KB of
    flexibly allocated core memory; ``accumulator_bits`` is an assumption.
    """

    name: str = "loihi2"
    cores_per_chip: int = 128
    neurons_per_core: int = 8192  # 1,048,576 neurons per chip / 128 cores
    synapses_per_core: int = 937_500  # 120 M synapses per chip / 128 cores
    memory_bytes_per_core: int = 192 * 1024
    weight_bits: int = WEIGHT_BITS
    delay_bits: int = DELAY_BITS
    accumulator_bits: int = 24  # assumption: one 24-bit dendritic accumulator per delay slot

    def __post_init__(self) -> None:
        for key in (
            "cores_per_chip",
            "neurons_per_core",
            "synapses_per_core",
            "memory_bytes_per_core",
        ):
            if getattr(self, key) <= 0:
                raise ValueError(f"CoreLimits.{key} must be positive")


LOIHI2_LIMITS = CoreLimits()


@dataclass(frozen=True)
class LayerResources:
    """What one dense layer needs on Loihi 2.

    ``synapses`` counts non-zero effective weights (the synapses a sparse synapse memory
    stores; a recurrent layer's feed-forward and recurrent ones together); ``delay_slots`` the
    dendritic accumulator slots, ``neurons * (max_delay + 1)``
    (each neuron accumulates input for every step a pending spike can still arrive in);
    ``memory_bytes`` = synapse + neuron parameter/state + accumulator bytes; ``cores`` the
    largest of the four ceilings; ``limited_by`` names the resource that set it.
    """

    name: str
    neurons: int
    synapses: int
    max_delay: int
    delay_slots: int
    synapse_bytes: int
    neuron_bytes: int
    accumulator_bytes: int
    memory_bytes: int
    cores: int
    limited_by: str


@dataclass(frozen=True)
class NetworkResources:
    """Per-layer resources, total cores and chips (``ceil(cores / cores_per_chip)``)."""

    layers: tuple[LayerResources, ...]
    cores: int
    chips: int
    limits: CoreLimits

    def as_dict(self) -> dict:
        return {
            "limits": self.limits.name,
            "cores": self.cores,
            "chips": self.chips,
            "layers": [vars(layer).copy() for layer in self.layers],
        }


def _bytes(bits: int) -> int:
    return -(-bits // 8)


def layer_resources(block: Block, limits: CoreLimits = LOIHI2_LIMITS) -> LayerResources:
    """Resources of one block (see :class:`LayerResources` for each field)."""
    syn = block.synapse
    neurons = int(block.neurons.n)
    synapses = syn.synapse_count
    max_delay = syn.max_delay
    slots = neurons * (max_delay + 1)
    # each stored synapse: its weight, and its delay where its part (feed-forward or
    # recurrent) holds delays
    synapse_bytes = _bytes(
        sum(
            part.synapse_count
            * (limits.weight_bits + (limits.delay_bits if part.has_delays else 0))
            for part in syn.parts
        )
    )
    per_neuron = block.neurons.param_bits() + block.neurons.state_bits()
    neuron_bytes = _bytes(neurons * per_neuron)
    accumulator_bytes = _bytes(slots * limits.accumulator_bits)
    memory = synapse_bytes + neuron_bytes + accumulator_bytes
    needs = {
        "neurons": math.ceil(neurons / limits.neurons_per_core),
        "synapses": math.ceil(synapses / limits.synapses_per_core),
        "memory": math.ceil(memory / limits.memory_bytes_per_core),
    }
    limited_by = max(needs, key=lambda k: needs[k])  # first of the largest, in order
    cores = max(needs.values())
    if neurons > 0:
        cores = max(cores, 1)
    return LayerResources(
        name=block.name,
        neurons=neurons,
        synapses=synapses,
        max_delay=max_delay,
        delay_slots=slots,
        synapse_bytes=synapse_bytes,
        neuron_bytes=neuron_bytes,
        accumulator_bytes=accumulator_bytes,
        memory_bytes=memory,
        cores=cores,
        limited_by=limited_by,
    )


def estimate_resources(network: Network, limits: CoreLimits = LOIHI2_LIMITS) -> NetworkResources:
    """Loihi 2 resources of every layer of ``network``, total cores and chips."""
    layers = tuple(layer_resources(block, limits) for block in network.blocks)
    cores = sum(layer.cores for layer in layers)
    return NetworkResources(
        layers=layers, cores=cores, chips=-(-cores // limits.cores_per_chip), limits=limits
    )
