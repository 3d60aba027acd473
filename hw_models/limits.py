"""Which Loihi 2 register limits a network violates (for ``ranvier inspect``).

The simulator runs such networks exactly as lava-nc does (lava's Python models do not enforce
the register widths), but the hardware could not hold these values.
"""

from __future__ import annotations

from .network import Network


def loihi2_notes(network: Network) -> list[str]:
    """Things that are not errors but change how a layer maps to Loihi 2 (read-out layers)."""
    return [
        f"{block.name}: non-spiking read-out (vThMant >= 2^17): Loihi 2's LIF registers cannot "
        "hold that threshold (17 bits) nor vDecay 4096 (12 bits); on the chip such a layer is a "
        "non-spiking neuron program whose state the host reads. lava and ranvier run it as given."
        for block in network.blocks
        if not block.neurons.spiking and not block.neurons.graded_output
    ]


def loihi2_violations(network: Network) -> list[str]:
    """One line per (layer, field) whose values a Loihi 2 register cannot hold."""
    out: list[str] = []
    for block in network.blocks:
        out += block.neurons.violations(block.name)
        out += block.synapse.violations(block.name)
    return out


def parameter_ranges(network: Network) -> list[dict]:
    """Per-layer min/max of the integer parameters, for tables and JSON.

    Every layer has ``neuron`` (its type), ``vth_mant`` and ``bias_mant``, its synapse's
    ranges (``Synapse.describe``); the other parameters of its type follow under their IR
    names (``NeuronGroup.shown_parameters``).
    """
    rows = []
    for block in network.blocks:
        neu = block.neurons
        row = {
            "name": block.name,
            "neuron": neu.neuron_type,
            "spiking": neu.spiking,
            "neurons": neu.n,
            "shape": list(block.shape),
            "synapse": synapse_kind(block.synapse),
            "message_bits": int(neu.message_bits),
            **block.synapse.describe(),
            "vth_mant": [int(neu.vth_mant.min()), int(neu.vth_mant.max())],
            "bias_mant": [int(neu.bias_mant.min()), int(neu.bias_mant.max())],
        }
        for key in neu.shown_parameters():
            values = getattr(neu, key)
            row[key] = [int(values.min()), int(values.max())]
        rows.append(row)
    return rows


def synapse_kind(synapse) -> str:
    """The synapse in words for tables: :meth:`Synapse.label`."""
    return synapse.label()
