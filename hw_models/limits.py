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
    DECAY_UNITY,
    MAX_DELAY,
    MAX_WEIGHT_BITS,
    NON_SPIKING_VTH_MANT,
    VTH_MANT_MAX,
)
from .network import Network, Neurons


def _neuron_violations(name: str, neu: Neurons) -> list[str]:
    """Register-width problems of one neuron group, by type."""
    out: list[str] = []

    def outside(values: np.ndarray, lo: int, hi: int) -> bool:
        return bool(values.size and (values.min() < lo or values.max() > hi))

    readout = not neu.spiking
    if neu.kind in ("CUBA", "ALIF"):
        # lava's du register holds iDecay - 1 (netx/ATRLIF ds_offset): 12-bit unsigned.
        if outside(neu.i_decay - 1, 0, DECAY_REG_MAX):
            out.append(f"{name}: iDecay must be 1..4096 (register du = iDecay - 1 is 12-bit)")
        decays = [("vDecay", neu.v_decay)]
        if neu.kind == "ALIF":
            decays += [("thDecay", neu.theta_decay), ("refDecay", neu.ref_decay)]
        for key, values in decays:
            if readout and key == "vDecay":
                continue  # see loihi2_notes
            if outside(values, 0, DECAY_REG_MAX):
                out.append(f"{name}: {key} must be 0..{DECAY_REG_MAX} (12-bit register)")
    else:  # ADLIF: multiplier constants 0..4096 (13 bits), checked by the IR already
        for key, values in (("uDecay", neu.u_decay), ("wDecay", neu.w_decay)):
            if outside(values, 0, DECAY_UNITY):
                out.append(f"{name}: {key} must be 0..{DECAY_UNITY}")
    spiking_vth = neu.vth_mant[neu.vth_mant < NON_SPIKING_VTH_MANT]
    if neu.kind == "CUBA" and not readout and neu.vth_mant.max() > VTH_MANT_MAX:
        out.append(f"{name}: vThMant {neu.vth_mant.max()} exceeds 17 bits ({VTH_MANT_MAX})")
    elif neu.kind != "CUBA" and outside(spiking_vth, 0, VTH_MANT_MAX):
        out.append(f"{name}: vThMant exceeds 17 bits ({VTH_MANT_MAX})")
    increments = {"ALIF": ("vThStep", "vth_step"), "ADLIF": ("bMant", "b_mant")}
    if neu.kind in increments:
        key, attr = increments[neu.kind]
        if outside(getattr(neu, attr), 0, VTH_MANT_MAX):
            out.append(f"{name}: {key} outside 0..{VTH_MANT_MAX} (17 bits)")
    if outside(neu.bias_mant, BIAS_MANT_MIN, BIAS_MANT_MAX):
        out.append(f"{name}: bias outside the 13-bit mantissa {BIAS_MANT_MIN}..{BIAS_MANT_MAX}")
    return out


def loihi2_notes(network: Network) -> list[str]:
    """Things that are not errors but change how a layer maps to Loihi 2 (read-out layers)."""
    return [
        f"{block.name}: non-spiking read-out (vThMant >= 2^17): Loihi 2's LIF registers cannot "
        "hold that threshold (17 bits) nor vDecay 4096 (12 bits); on the chip such a layer is a "
        "non-spiking neuron program whose state the host reads. lava and ranvier run it as given."
        for block in network.blocks
        if not block.neurons.spiking
    ]


def loihi2_violations(network: Network) -> list[str]:
    """One line per (layer, field) whose values a Loihi 2 register cannot hold."""
    out: list[str] = []
    for block in network.blocks:
        syn, name = block.synapse, block.name
        out += _neuron_violations(name, block.neurons)
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


#: IR parameter names shown per neuron type (besides vth_mant and bias_mant).
SHOWN_PARAMETERS = {
    "CUBA": ("i_decay", "v_decay"),
    "ALIF": ("i_decay", "v_decay", "theta_decay", "ref_decay", "vth_step"),
    "ADLIF": ("u_decay", "w_decay", "a_mant", "b_mant"),
}


def parameter_ranges(network: Network) -> list[dict]:
    """Per-layer min/max of the integer parameters, for tables and JSON.

    Every layer has ``neuron`` (its type), ``vth_mant`` and ``bias_mant``; the other
    parameters of its type follow under their IR names (``SHOWN_PARAMETERS``).
    """
    rows = []
    for block in network.blocks:
        syn, neu = block.synapse, block.neurons
        w = syn.effective_weight
        row = {
            "name": block.name,
            "neuron": neu.kind,
            "spiking": neu.spiking,
            "neurons": neu.n,
            "fan_in": syn.n_in,
            "synapses": int(np.count_nonzero(w)),
            "weight": [int(w.min()), int(w.max())],
            "weight_exp": syn.weight_exp,
            "num_weight_bits": syn.num_weight_bits,
            "sign_mode": syn.sign_mode.name.lower(),
            "delay": None if syn.delay is None else [int(syn.delay.min()), syn.max_delay],
            "vth_mant": [int(neu.vth_mant.min()), int(neu.vth_mant.max())],
            "bias_mant": [int(neu.bias_mant.min()), int(neu.bias_mant.max())],
        }
        for key in SHOWN_PARAMETERS[neu.kind]:
            values = getattr(neu, key)
            row[key] = [int(values.min()), int(values.max())]
        rows.append(row)
    return rows
