"""The IR: blocks, networks and their comparison."""

from __future__ import annotations

import numpy as np
from ranvier.hw_models.network import Block, DenseSynapse
from ranvier.hw_models.neurons import CubaNeurons


def test_same_as_compares_behaviour_not_representation():
    """A synapse built from file-scale weights and the one netx derives from them (other
    mantissas, exponent and bits) are the same synapse; other values or delays are not."""
    from ranvier.hw_models.fixed_point import netx_optimize_weight_bits

    w = 2 * np.arange(-3, 9).reshape(3, 4)
    mant, bits, exp = netx_optimize_weight_bits(w)
    raw, derived = DenseSynapse(w), DenseSynapse(mant, weight_exp=exp, num_weight_bits=bits)
    assert (raw.weight_exp, raw.num_weight_bits) != (derived.weight_exp, derived.num_weight_bits)
    assert raw.same_as(derived) and derived.same_as(raw)
    assert not raw.same_as(DenseSynapse(w + 2))
    assert not raw.same_as(DenseSynapse(w, delay=np.ones_like(w)))
    a = Block(raw, CubaNeurons.create(3, 100, 1024, 128))
    assert a.same_as(Block(derived, CubaNeurons.create(3, 100, 1024, 128)))
    assert not a.same_as(Block(derived, CubaNeurons.create(3, 101, 1024, 128)))
