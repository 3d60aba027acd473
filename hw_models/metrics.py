"""NeuroBench-style metrics from the simulator's counters and the IR.

Definitions follow NeuroBench 2.3.0 (``neurobench.metrics``; Yik et al., "The NeuroBench
framework for benchmarking neuromorphic computing algorithms and systems", Nature
Communications 16, 1545, 2025). docs/energy.md, "Metrics", gives each formula and where ranvier
departs from the torch implementation (it counts on the Loihi 2 IR, not on a torch model):

- ``synaptic_operations``: ``Effective_ACs`` = synaptic events per sample (a binary spike
  meeting a non-zero weight is one accumulate; NeuroBench counts a binary input times a
  non-zero weight), ``Effective_MACs`` = 0 (no layer receives non-binary input), ``Dense`` =
  ``sum(entries) * timesteps`` per sample (every weight with every input, every step; a
  layer's entries are ``n_in * n_out``, plus ``n_out**2`` for a recurrent one).
- ``activation_sparsity``: ``1 - spikes / (neurons * timesteps * samples)`` over the spiking
  layers (a non-spiking read-out's output is its membrane, not an activation).
- ``membrane_updates``: neuron updates per sample (Loihi updates every neuron every step).
- ``connection_sparsity``: zero effective weights / all weight entries, over all layers.
- ``footprint_bytes``: weights, delays and neuron parameters at their Loihi 2 widths.
"""

from __future__ import annotations

import numpy as np

from .network import Block, Network
from .resources import DELAY_BITS, WEIGHT_BITS
from .simulator import SimResult


def layer_footprint_bits(block: Block) -> int:
    """Bits of one layer as stored: every weight entry (zeros included, as NeuroBench counts
    parameters) at 8 bits, a 6-bit delay per entry of a synapse that has delays (a recurrent
    layer's feed-forward and recurrent synapses each), and the parameters of each neuron
    (``NeuronGroup.param_bits``)."""
    synapse_bits = sum(
        part.entries * (WEIGHT_BITS + (DELAY_BITS if part.has_delays else 0))
        for part in block.synapse.parts
    )
    return synapse_bits + block.neurons.param_bits() * block.neurons.n


def footprint_bytes(network: Network) -> int:
    """Bytes of weights, delays and neuron parameters (each layer rounded up to whole bytes)."""
    return sum(-(-layer_footprint_bits(b) // 8) for b in network.blocks)


def connection_sparsity(network: Network) -> float:
    """Fraction of weight entries whose effective weight is zero (0.0 = fully connected)."""
    total = sum(b.synapse.entries for b in network.blocks)
    nonzero = sum(b.synapse.synapse_count for b in network.blocks)
    return (total - nonzero) / total if total else 0.0


def activation_sparsity(network: Network, result: SimResult) -> float:
    """``1 - spikes / (neurons * timesteps * samples)``, summed over the spiking layers.

    A non-spiking read-out (``neurons.spiking`` False: no threshold it can reach) is left
    out: its output is a membrane, not an activation, as NeuroBench counts only the outputs
    of activation layers.
    """
    spiking = [
        (b, layer)
        for b, layer in zip(network.blocks, result.layers, strict=True)
        if b.neurons.spiking
    ]
    spikes = sum(int(np.sum(layer.spike_counts)) for _, layer in spiking)
    slots = sum(b.neurons.n for b, _ in spiking) * result.timesteps * result.samples
    return 1.0 - spikes / slots if slots else 0.0


def synaptic_operations(network: Network, result: SimResult) -> dict[str, float]:
    """NeuroBench's three synaptic-operation counts, per sample."""
    n = result.samples
    events = sum(int(np.sum(layer.synaptic_events)) for layer in result.layers)
    dense = sum(b.synapse.entries for b in network.blocks) * result.timesteps
    return {
        "Effective_MACs": 0.0,
        "Effective_ACs": events / n if n else 0.0,
        "Dense": float(dense),
    }


def membrane_updates(result: SimResult) -> float:
    """Neuron (membrane) updates per sample."""
    total = sum(int(np.sum(layer.neuron_updates)) for layer in result.layers)
    return total / result.samples if result.samples else 0.0


def compute_metrics(network: Network, result: SimResult) -> dict:
    """All metrics, network-wide and per layer (per-layer values use the same formulas)."""
    n, t = result.samples, result.timesteps
    layers = []
    for block, layer in zip(network.blocks, result.layers, strict=True):
        syn = block.synapse
        spikes = int(np.sum(layer.spike_counts))
        slots = block.neurons.n * t * n
        layers.append(
            {
                "name": layer.name,
                "effective_acs": int(np.sum(layer.synaptic_events)) / n if n else 0.0,
                "dense_ops": float(syn.entries * t),
                "activation_sparsity": 1.0 - spikes / slots if slots else 0.0,
                "membrane_updates": int(np.sum(layer.neuron_updates)) / n if n else 0.0,
                "connection_sparsity": (
                    float(1.0 - syn.synapse_count / syn.entries) if syn.entries else 0.0
                ),
                "footprint_bytes": -(-layer_footprint_bits(block) // 8),
            }
        )
    return {
        "synaptic_operations": synaptic_operations(network, result),
        "activation_sparsity": activation_sparsity(network, result),
        "membrane_updates": membrane_updates(result),
        "connection_sparsity": connection_sparsity(network),
        "footprint_bytes": footprint_bytes(network),
        "layers": layers,
    }
