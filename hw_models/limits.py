"""Which Loihi 2 register limits a network violates (for ``ranvier inspect``).

The simulator runs such networks exactly as lava-nc does (lava's Python models do not enforce
the register widths), but the hardware could not hold these values.
"""

from __future__ import annotations

import numpy as np

from .fixed_point import (
    BIAS_MANT_MAX,
    BIAS_MANT_MIN,
    DECAY_REG_MAX,
    MAX_DELAY,
    MAX_WEIGHT_BITS,
    VTH_MANT_MAX,
)
from .network import Network


def loihi2_violations(network: Network) -> list[str]:
    """One line per (layer, field) whose values a Loihi 2 register cannot hold."""
    out: list[str] = []
    for block in network.blocks:
        syn, neu, name = block.synapse, block.neurons, block.name
        # lava's du register holds iDecay - 1 (netx), dv holds vDecay: both 12-bit unsigned.
        du = neu.i_decay - 1
        if du.min() < 0 or du.max() > DECAY_REG_MAX:
            out.append(f"{name}: iDecay must be 1..4096 (register du = iDecay - 1 is 12-bit)")
        if neu.v_decay.min() < 0 or neu.v_decay.max() > DECAY_REG_MAX:
            out.append(f"{name}: vDecay must be 0..{DECAY_REG_MAX} (register dv is 12-bit)")
        if neu.vth_mant.max() > VTH_MANT_MAX:
            out.append(f"{name}: vThMant {neu.vth_mant.max()} exceeds 17 bits ({VTH_MANT_MAX})")
        if neu.bias_mant.min() < BIAS_MANT_MIN or neu.bias_mant.max() > BIAS_MANT_MAX:
            out.append(f"{name}: bias outside the 13-bit mantissa {BIAS_MANT_MIN}..{BIAS_MANT_MAX}")
        if not 1 <= syn.num_weight_bits <= MAX_WEIGHT_BITS:
            out.append(
                f"{name}: netx derives num_weight_bits={syn.num_weight_bits} "
                "(outside 1..8); lava-nc zeroes such weights"
            )
        if syn.weight.any() and not syn.effective_weight.any():
            out.append(f"{name}: every synapse weight truncates to 0")
        if syn.max_delay > MAX_DELAY:
            out.append(f"{name}: delay {syn.max_delay} exceeds {MAX_DELAY}")
    return out


def parameter_ranges(network: Network) -> list[dict]:
    """Per-layer min/max of the integer parameters, for tables and JSON."""
    rows = []
    for block in network.blocks:
        syn, neu = block.synapse, block.neurons
        w = syn.effective_weight
        rows.append(
            {
                "name": block.name,
                "neurons": neu.n,
                "fan_in": syn.n_in,
                "synapses": int(np.count_nonzero(w)),
                "weight": [int(w.min()), int(w.max())],
                "weight_exp": syn.weight_exp,
                "num_weight_bits": syn.num_weight_bits,
                "sign_mode": syn.sign_mode.name.lower(),
                "delay": None if syn.delay is None else [int(syn.delay.min()), syn.max_delay],
                "vth_mant": [int(neu.vth_mant.min()), int(neu.vth_mant.max())],
                "i_decay": [int(neu.i_decay.min()), int(neu.i_decay.max())],
                "v_decay": [int(neu.v_decay.min()), int(neu.v_decay.max())],
                "bias_mant": [int(neu.bias_mant.min()), int(neu.bias_mant.max())],
            }
        )
    return rows
