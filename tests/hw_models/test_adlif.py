"""AdLIF+ in fixed point: the batched kernel against the integer rule, the order of operations
by hand, and how closely the fixed-point neuron tracks the float one (docs/neurons.md)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models import fixed_point as fp
from ranvier.hw_models.neurons import AdlifNeurons
from ranvier.hw_models.neurons.adlif import (
    AdlifFloat,
    adlif_init,
    adlif_step,
    run_adlif,
    run_adlif_float,
)


def _loop(neurons: AdlifNeurons, a_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    state = adlif_init(a_in.shape[1:])
    spikes, membrane = [], []
    for t in range(a_in.shape[0]):
        state, s = adlif_step(state, a_in[t], neurons)
        spikes.append(s)
        membrane.append(state.u)
    return np.array(spikes, dtype=np.uint8), np.array(membrane)


@settings(max_examples=120, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    regime=st.sampled_from(["normal", "saturate", "int32_input", "per_neuron"]),
)
def test_kernel_equals_integer_rule(seed, regime):
    """run_adlif == adlif_step step by step: spikes and u, incl. saturation and input wrap."""
    rng = np.random.default_rng(seed)
    n, c, t_steps = int(rng.integers(1, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 60))
    hi = {"normal": 2000, "saturate": 1 << 18, "int32_input": 1 << 27, "per_neuron": 3000}[regime]
    a_in = rng.integers(-hi // 3, hi, size=(t_steps, c, n))

    def param(lo, top):
        if regime == "per_neuron" or rng.random() < 0.3:
            return rng.integers(lo, top + 1, n)
        return int(rng.integers(lo, top + 1))

    neurons = AdlifNeurons.create(
        n,
        vth_mant=param(1, fp.NON_SPIKING_VTH_MANT),
        u_decay=param(0, 4096),
        w_decay=param(0, 4096) if regime != "saturate" else 0,
        a_mant=param(0, 4096),
        b_mant=param(0, fp.VTH_MANT_MAX),
        bias_mant=param(-40000, 40000),
    )
    membrane = np.empty(a_in.shape)
    spikes = run_adlif(neurons, a_in, membrane_out=membrane)
    ref_spikes, ref_u = _loop(neurons, a_in)
    np.testing.assert_array_equal(spikes, ref_spikes)
    np.testing.assert_array_equal(membrane.astype(np.int64), ref_u)


def test_order_of_operations_by_hand():
    """vThMant 10 (threshold 640), uDecay 2048 (alpha 1/2), wDecay 0, a 0, bMant 5 (320).

    t0: w = 0, u = 0 + (1280 - 0)/2 = 640, not > 640;  t1: u = 320 + 640 = 960: spike;
    t2: w = 0 + 320, u = (960 - 640)/2 + (0 - 320)/2 = 0;  t3: u = 0 + (0 - 320)/2 = -160;
    t4: u = -80 + trunc((64 - 320) / 2) = -80 - 128 = -208 (a_in 1 -> act 64).
    """
    neurons = AdlifNeurons.create(1, vth_mant=10, u_decay=2048, w_decay=0, a_mant=0, b_mant=5)
    a_in = np.array([20, 20, 0, 0, 1]).reshape(-1, 1, 1)
    membrane = np.empty(a_in.shape)
    spikes = run_adlif(neurons, a_in, membrane_out=membrane)
    assert spikes.ravel().tolist() == [0, 1, 0, 0, 0]
    assert membrane.ravel().tolist() == [640, 960, 0, -160, -208]


def test_rounding_is_toward_zero_on_both_products():
    """frac(a, u) and frac(uDecay, I - w) truncate toward zero for negative values too."""
    assert fp.mul_frac(2048, np.array([-321, 321])).tolist() == [-160, 160]
    assert fp.mul_frac(1, np.array([-4095, 4095])).tolist() == [0, 0]
    neurons = AdlifNeurons.create(1, vth_mant=1000, u_decay=4096, w_decay=0, a_mant=1, b_mant=0)
    state = adlif_init((1,))
    state.u = np.array([-4095])
    state, _ = adlif_step(state, np.zeros(1, dtype=np.int64), neurons)
    assert state.w.tolist() == [0]  # -4095 / 4096 -> 0, not -1


def test_create_rejects_out_of_range():
    with pytest.raises(ValueError, match="a_mant"):
        AdlifNeurons.create(2, vth_mant=10, u_decay=1, w_decay=1, a_mant=-1, b_mant=0)
    with pytest.raises(ValueError, match="vth_mant"):
        AdlifNeurons.create(2, vth_mant=1 << 18, u_decay=1, w_decay=1, a_mant=0, b_mant=0)


def tracking(vth_mant: int, exact_input: bool, drive: float, seed: int = 0) -> dict[str, float]:
    """Fixed-point AdLIF+ against the float model on the same random input.

    512 neurons with the seed's parameter ranges (alpha in [e^-1/3, e^-1/25], beta in
    [e^-1/30, e^-1/120], a in [0, 1], b in [0, 2]), 64 Bernoulli(0.1) inputs, 4 samples of
    100 steps. Float weights W; the fixed-point synapse adds ``round(W * vth_mant)``.
    ``exact_input``: the float model gets the quantized input too (the neuron's own error
    only); else the float weights (weight rounding included). Membrane error in threshold
    units, over the steps before a neuron's first spike mismatch.
    """
    rng = np.random.default_rng(seed)
    n, t_steps, c, samples = 512, 100, 64, 4
    params = AdlifFloat(
        alpha=rng.uniform(np.exp(-1 / 3), np.exp(-1 / 25), n),
        beta=rng.uniform(np.exp(-1 / 30), np.exp(-1 / 120), n),
        a=rng.uniform(0, 1, n),
        b=rng.uniform(0, 2, n),
    )
    x = (rng.random((t_steps, samples, c)) < 0.1).astype(np.float64)
    w = drive * rng.uniform(-0.5, 1.5, (c, n)) * (rng.random((c, n)) < 0.5)
    a_in = x @ np.rint(w * vth_mant)
    current = a_in / vth_mant if exact_input else x @ w
    mem_q, mem_f = np.empty(a_in.shape), np.empty(a_in.shape)
    s_q = run_adlif(params.quantize(vth_mant), a_in, membrane_out=mem_q).astype(np.int64)
    s_f = run_adlif_float(params, current, membrane_out=mem_f).astype(np.int64)
    count_q, count_f = s_q.sum(axis=0), s_f.sum(axis=0)
    mismatch = s_q != s_f
    first = np.where(mismatch.any(axis=0), mismatch.argmax(axis=0), t_steps)
    before = np.arange(t_steps)[:, None, None] < first
    err = np.abs(mem_q / (vth_mant << fp.VTH_SHIFT) - mem_f)[before]
    return {
        "rate": float(s_f.mean()),
        "count_agree": float((count_q == count_f).mean()),
        "count_error": float(np.abs(count_q - count_f).sum() / max(count_f.sum(), 1)),
        "bin_agree": float(1 - mismatch.mean()),
        "membrane_mean": float(err.mean()),
        "membrane_max": float(err.max()),
    }


@pytest.mark.parametrize("drive", [1.0, 3.0])
@pytest.mark.parametrize("vth_mant", [64, 256, 1024])
@pytest.mark.parametrize("exact_input", [True, False])
def test_fixed_point_tracks_float(vth_mant, exact_input, drive):
    """The figures in docs/neurons.md come from this test (pytest -s prints them)."""
    r = tracking(vth_mant, exact_input, drive)
    print(
        f"\nADLIF track vth_mant={vth_mant} exact_input={exact_input} drive={drive}: "
        + " ".join(f"{k}={v:.5f}" for k, v in r.items())
    )
    assert r["rate"] > 0.005  # the comparison means something only if neurons fire
    # bounds a little below the measured figures (docs/neurons.md): a regression in the
    # fixed-point form (order, rounding, scaling) moves them by far more
    assert r["count_agree"] >= (0.96 if vth_mant == 64 else 0.98)
    assert r["bin_agree"] >= 0.997
    assert r["membrane_mean"] < (4e-3 if vth_mant == 64 else 2e-3)
