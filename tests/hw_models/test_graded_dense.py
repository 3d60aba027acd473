"""Dense synapses fed graded payloads (sigma-delta messages), lava's order of wraps and shifts.

The reference below is lava-nc 0.10.0's fixed_pt synapse code transcribed step by step on
numpy int32 arrays (``PyDenseModelBitAcc.run_spk``: ``weights.dot(s_in)`` on int32, then the
shift; ``PyDelayDenseModelBitAcc``: int32 products, ``np.sum`` per delay slot, the shift, the
int32 buffer). tests/equivalence/test_graded_dense_lava.py runs lava's processes themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models.synapses import DenseSynapse


def lava_dense(weights: np.ndarray, exp: int, x: np.ndarray) -> np.ndarray:
    """``x`` (T, n_in) int32 payloads -> what reaches the neurons, (T, n_out)."""
    w = weights.astype(np.int32)
    t_steps = x.shape[0]
    a_buff = np.zeros(w.shape[0], dtype=np.int32)
    out = np.zeros((t_steps, w.shape[0]), dtype=np.int64)
    for t in range(t_steps):
        out[t] = a_buff
        a_accum = w.dot(x[t].astype(np.int32))
        a_buff = np.left_shift(a_accum, exp) if exp > 0 else np.right_shift(a_accum, -exp)
    return out


def lava_delay_dense(weights: np.ndarray, delays: np.ndarray, exp: int, x: np.ndarray):
    w = weights.astype(np.int32)
    max_delay = int(delays.max())
    n_out = w.shape[0]
    a_buff = np.zeros((n_out, max_delay + 1), dtype=np.int32)
    wmat = np.vstack([np.where(delays == k, w, 0) for k in range(max_delay + 1)])
    out = np.zeros((x.shape[0], n_out), dtype=np.int64)
    for t in range(x.shape[0]):
        out[t] = a_buff[:, 0]
        s_in = x[t].astype(np.int32)
        a_accum = np.reshape(np.sum(wmat * s_in, axis=1), (max_delay + 1, n_out)).T
        a_buff[:, 0] = 0
        a_buff = np.roll(a_buff, -1)
        a_buff += np.left_shift(a_accum, exp) if exp > 0 else np.right_shift(a_accum, -exp)
    return out


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.sampled_from([4, 16, 24, 30]),
)
def test_graded_dense_follows_lavas_order(seed, delayed, payload_bits):
    rng = np.random.default_rng(seed)
    n_in, n_out, t_steps = int(rng.integers(1, 12)), int(rng.integers(1, 8)), 12
    weight = 2 * rng.integers(-128, 127, size=(n_out, n_in))
    if rng.random() < 0.3:  # odd weights: a negative exponent leaves fractions
        weight = rng.integers(-255, 255, size=(n_out, n_in))
    if not weight.any():
        weight[0, 0] = 2
    delay = rng.integers(0, 4, size=weight.shape) if delayed else None
    syn = DenseSynapse.from_file_weights(weight, delay)
    syn.message_bits = 24
    peak = 1 << payload_bits
    x = rng.integers(-peak, peak, size=(t_steps, n_in))
    x = np.clip(x, -(2**31), 2**31 - 1)
    ours = syn.synaptic_input(x.T[None].astype(np.int64))[:, 0]
    w = syn.effective_weight
    if delay is None:
        expected = lava_dense(w, syn.weight_exp, x)
    else:
        expected = lava_delay_dense(w, delay, syn.weight_exp, x)
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("delayed", [False, True])
def test_the_two_models_wrap_differently_and_both_are_followed(delayed):
    """Sum 2**31 + 2**10 with exponent -6: lava's Dense wraps the int32 sum before the shift
    (-2**25 + 16), its DelayDense sums the products in int64 and shifts first (2**25 + 16)."""
    weight = np.array([[2, 2]])  # SLAYER scale: mantissa 64, exponent -5 after netx
    syn = DenseSynapse.from_file_weights(weight, np.zeros((1, 2), np.int64) if delayed else None)
    syn.message_bits = 24
    w = int(syn.effective_weight[0, 0])
    payload = ((1 << 30) + (1 << 9)) // w
    x = np.array([[payload, payload], [0, 0]])
    ours = syn.synaptic_input(x.T[None])[1, 0, 0]
    total = 2 * w * payload
    assert total >= 2**31
    shifted = (total - 2**32 if not delayed else total) >> -syn.weight_exp
    assert ours == shifted
