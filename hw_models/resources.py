"""Loihi 2 resource estimate: how many neurocores each layer takes, as Intel's compiler splits it.

A pure function of the IR (:class:`~ranvier.hw_models.network.Network`): no simulation, no
placement. Each layer gets cores of its own (lava's compiler maps each process onto its own
cores), and the layer is split by the rules the compiler's per-core table shows in the only
public record of it, the outputs of lava-dl's PilotNet LIF and SDNN benchmark notebooks
(docs/energy.md, "Resources", has the table, the rules and which constants they pin):

- a layer with an image shape (conv and input layers) is tiled: every core holds a tile of
  ``w x H x C`` neurons, the tile width ``w`` a power of two, halved from the first power of
  two not below the layer's width until the tile fits (then the height, then the channels);
- any other layer splits its neurons into ``p`` slices of ``ceil(n / p)``; ``p`` starts at 1
  and is multiplied by the ceiling of the worst ratio of demand to limit until every slice
  fits (the compiler's ``max_ratio`` loop: 1 -> 6 -> 12 cores for PilotNet's 2560 x 100 layer);
- a tile or slice fits when it holds at most ``neurons_per_core`` neurons and its synapse lists
  at most ``synapse_words_per_core`` 64-bit words (``SynMem``).

Synapse memory per list (:class:`~ranvier.hw_models.synapses.SynapseStorage`): a dense list
over ``s`` neurons of ``b``-bit weights (``d`` delay bits) takes
``ceil((s * (b + d + 12) + 12) / 64)`` words; a conv list over ``c`` output channels
``ceil((c * (b + 10) + 368) / 256)`` words. Both are fits to the notebooks' tables (every
entry reproduced), not Intel's documented encodings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .fixed_point import DELAY_BITS, MAX_WEIGHT_BITS
from .network import Block, Network
from .synapses import SynapseStorage

#: Bits stored per synaptic weight at most: Loihi 2 weights as netx emits them (8 bits).
WEIGHT_BITS = MAX_WEIGHT_BITS

__all__ = [
    "DELAY_BITS",
    "LOIHI2_LIMITS",
    "WEIGHT_BITS",
    "CoreLimits",
    "LayerResources",
    "NetworkResources",
    "estimate_resources",
    "layer_resources",
]


@dataclass(frozen=True)
class CoreLimits:
    """Per-core capacities and the synapse-memory encoding of :func:`estimate_resources`.

    Defaults are Loihi 2 as lava's compiler budgets it (docs/energy.md, "Resources"):
    ``synapse_words_per_core`` is the compiler's ``SynMem`` register budget printed in the
    notebooks (12000); ``neurons_per_core`` is pinned by the tiles the compiler chose (3168
    neurons accepted, 4096 refused: any value in [3168, 4095] gives the same tables);
    ``cores_per_chip`` is Intel's published 128. The ``dense_*`` and ``conv_*`` constants are
    the fitted list encodings of the module docstring.
    """

    name: str = "loihi2"
    cores_per_chip: int = 128
    neurons_per_core: int = 4095
    synapse_words_per_core: int = 12000
    word_bits: int = 64
    dense_bits_per_synapse: int = 12  # beside the weight and delay bits (fit: exactly 12)
    dense_list_bits: int = 12  # per list (fit: any value in [2, 22])
    conv_unit_bits: int = 256  # a conv list is counted in 256-bit units (fit)
    conv_bits_per_synapse: int = 10  # beside the weight bits (fit: 9, 10 or 11)
    conv_list_bits: int = 368  # per list (fit: [353, 384] with 10 bits per synapse)

    def __post_init__(self) -> None:
        for key in ("cores_per_chip", "neurons_per_core", "synapse_words_per_core", "word_bits"):
            if getattr(self, key) <= 0:
                raise ValueError(f"CoreLimits.{key} must be positive")

    def list_words(self, storage: SynapseStorage, neurons: int) -> int:
        """Synapse-memory words of one core holding ``neurons`` neurons of a layer whose
        synapse is ``storage`` (conv lists span their output channels whatever the tile)."""
        words = 0
        for count, weight_bits, delay_bits in storage.lists:
            if storage.layout == "conv":
                c = int(storage.list_length or 0)
                bits = c * (weight_bits + self.conv_bits_per_synapse) + self.conv_list_bits
                per_list = -(-bits // self.conv_unit_bits)
            else:
                bits = neurons * (weight_bits + delay_bits + self.dense_bits_per_synapse)
                per_list = -(-(bits + self.dense_list_bits) // self.word_bits) if neurons else 0
            words += count * per_list
        return words


LOIHI2_LIMITS = CoreLimits()


@dataclass(frozen=True)
class LayerResources:
    """What one layer takes on Loihi 2, in the columns of the compiler's per-core table.

    ``axons_in``, ``neuron_groups``, ``neurons_per_core``, ``synapse_words``, ``axon_map`` are
    per core as the compiler prints them: for a tiled layer ``neurons_per_core`` is the tile
    (``tile``, ``(w, h, c)``) and ``synapse_words`` the words of one tile; for a sliced layer
    both are the mean over its cores, rounded down. ``axon_map``: output axons per core, one
    per neuron when the next layer is dense (or this is the last), else (a fit) ``axons_in``
    times the layer's pixels per core. ``axon_mem``: 0 where the next layer is dense; not
    modelled (None) before a conv layer (the notebooks do not show enough of it to fit).
    ``cores``: the cores the layer takes; ``limited_by``: what split it
    (``"neurons"``, ``"synapse memory"``, or ``"-"`` on one core). ``neurons``, ``synapses``
    (stored non-zero synapses) and ``max_delay`` describe the whole layer.
    """

    name: str
    neurons: int
    synapses: int
    max_delay: int
    axons_in: int
    neuron_groups: int
    neurons_per_core: int
    synapse_words: int
    axon_map: int
    axon_mem: int | None
    cores: int
    limited_by: str
    tile: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class NetworkResources:
    """Per-layer resources, total cores and chips (``ceil(cores / cores_per_chip)``)."""

    layers: tuple[LayerResources, ...]
    cores: int
    chips: int
    limits: CoreLimits

    def as_dict(self) -> dict:
        layers = []
        for layer in self.layers:
            row = asdict(layer)
            row["tile"] = None if layer.tile is None else list(layer.tile)
            layers.append(row)
        return {
            "limits": self.limits.name,
            "cores": self.cores,
            "chips": self.chips,
            "layers": layers,
        }


def _tiled(block: Block, storage: SynapseStorage) -> bool:
    """Image-shaped layers (conv, and input neurons of an image) are tiled over columns."""
    return storage.layout != "dense" and len(block.shape) == 3


def _pow2_at_least(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _tile(
    shape: tuple[int, ...], storage: SynapseStorage, limits: CoreLimits
) -> tuple[tuple[int, int, int], str]:
    """The compiler's tile ``(w, h, c)``: the width a power of two, halved first, then the
    height and then the channels halved (rounding up), until the tile's neurons and synapse
    words fit."""
    size = [_pow2_at_least(shape[0]), int(shape[1]), int(shape[2])]
    limited_by = "-"
    for axis in range(3):
        while size[axis] > 1:
            neurons = size[0] * size[1] * size[2]
            sub = storage
            if axis == 2 and storage.layout == "conv":  # splitting channels shortens lists
                sub = SynapseStorage(
                    storage.layout, storage.axons_in, storage.lists, min(size[2], shape[2])
                )
            words = limits.list_words(sub, neurons)
            if neurons > limits.neurons_per_core:
                limited_by = "neurons"
            elif words > limits.synapse_words_per_core:
                limited_by = "synapse memory"
            else:
                return (size[0], size[1], size[2]), limited_by
            size[axis] = size[axis] // 2 if axis == 0 else -(-size[axis] // 2)
    return (size[0], size[1], size[2]), limited_by


def _slices(n: int, storage: SynapseStorage, limits: CoreLimits) -> tuple[int, str]:
    """Slices of ``ceil(n / p)`` neurons: ``p`` grows by the ceiling of the worst
    demand-to-limit ratio until each slice fits; returns (cores used, what split it)."""
    p, limited_by = 1, "-"
    while True:
        size = -(-n // p)
        ratios = {
            "neurons": size / limits.neurons_per_core,
            "synapse memory": limits.list_words(storage, size) / limits.synapse_words_per_core,
        }
        worst = max(ratios, key=lambda k: ratios[k])
        if ratios[worst] <= 1 or size <= 1:
            return -(-n // size), limited_by
        limited_by = worst
        p *= math.ceil(ratios[worst])


def layer_resources(
    block: Block,
    limits: CoreLimits = LOIHI2_LIMITS,
    next_block: Block | None = None,
) -> LayerResources:
    """Resources of one block; ``next_block`` (the layer it feeds, None for the last) sets its
    output axons."""
    syn = block.synapse
    storage = syn.storage()
    n = int(block.neurons.n)
    next_tiled = next_block is not None and _tiled(next_block, next_block.synapse.storage())
    if _tiled(block, storage):
        tile, limited_by = _tile(block.shape, storage, limits)
        cores = math.prod(-(-s // t) for s, t in zip(block.shape, tile, strict=True))
        per_core = math.prod(tile)
        words = limits.list_words(storage, per_core)
        pixels = block.shape[0] * block.shape[1]
        axon_map = storage.axons_in * pixels // cores if next_tiled else n // cores
    else:
        tile = None
        cores, limited_by = _slices(n, storage, limits) if n else (0, "-")
        size = -(-n // cores) if cores else 0
        full, rest = divmod(n, size) if size else (0, 0)
        total = full * limits.list_words(storage, size) + (
            limits.list_words(storage, rest) if rest else 0
        )
        per_core = n // cores if cores else 0
        words = total // cores if cores else 0
        axon_map = per_core
    return LayerResources(
        name=block.name,
        neurons=n,
        synapses=syn.synapse_count,
        max_delay=syn.max_delay,
        axons_in=storage.axons_in,
        neuron_groups=1,
        neurons_per_core=per_core,
        synapse_words=words,
        axon_map=axon_map,
        axon_mem=0 if not next_tiled else None,
        cores=cores,
        limited_by=limited_by if cores > 1 else "-",
        tile=tile,
    )


def estimate_resources(
    network: Network, limits: CoreLimits = LOIHI2_LIMITS, skip_layers: int = 0
) -> NetworkResources:
    """Loihi 2 cores of every layer of ``network``, total cores and chips. ``skip_layers``
    leaves out the first layers (netx's ``skip_layers``: run elsewhere, e.g. an input encoder
    on the host), as the SDNN notebook does with its input layer."""
    blocks = network.blocks
    layers = tuple(
        layer_resources(blocks[i], limits, blocks[i + 1] if i + 1 < len(blocks) else None)
        for i in range(skip_layers, len(blocks))
    )
    cores = sum(layer.cores for layer in layers)
    return NetworkResources(
        layers=layers, cores=cores, chips=-(-cores // limits.cores_per_chip), limits=limits
    )
