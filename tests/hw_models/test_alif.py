"""ALIF (lava-nc ATRLIF fixed point): the vectorised kernel against the integer step rule.

``alif_step`` is the plain-integer transcription of PyATRLIFModelFixed.run_spk (checked against
lava itself in tests/equivalence/test_alif_lava.py); ``run_alif`` must equal looping it, in
every regime: ordinary inputs, 24-bit current wrap, voltage saturation, int32 wrap of the
input and the sums, huge thresholds (int32 wrap of theta, r and v - r) and decays whose factor
exceeds 1 in magnitude.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models.neurons.alif import AlifNeurons, alif_init, alif_step, run_alif

REGIMES = ["normal", "wrap", "saturate", "huge", "big_theta", "odd_decays"]


def _case(seed: int, regime: str) -> tuple[AlifNeurons, np.ndarray]:
    rng = np.random.default_rng(seed)
    t_steps = int(rng.integers(1, 40))
    n = int(rng.integers(1, 4))
    c = int(rng.integers(1, 7))
    lo_d, hi_d = (-300, 9000) if regime == "odd_decays" else (0, 4097)
    # big_theta: vth_mant, vth_step << 6 beyond 2**31 (lava's np.int32 cast wraps them
    # negative), so theta, r, 2 * theta and v - r wrap at 32 bits
    big = regime == "big_theta"
    vth_hi = 1 << 26 if big else 1 << 14
    step_lo, step_hi = (1 << 24, 1 << 26) if big else (0, 1 << 12)
    neurons = AlifNeurons.create(
        c,
        vth_mant=rng.integers(0, vth_hi, c),
        vth_step=rng.integers(step_lo, step_hi, c),
        i_decay=rng.integers(lo_d, hi_d, c),
        v_decay=rng.integers(lo_d, hi_d, c),
        theta_decay=rng.integers(lo_d, hi_d, c),
        ref_decay=rng.integers(lo_d, hi_d, c),
        bias_mant=rng.integers(-(1 << 15), 1 << 15, c),
        bias_exp=rng.integers(0, 8, c),
    )
    amp = {
        "normal": 1 << 10,
        "wrap": 1 << 17,
        "saturate": 1 << 15,
        "huge": 1 << 31,
        "big_theta": 1 << 16,
        "odd_decays": 1 << 8,
    }[regime]
    a_in = rng.integers(-amp, amp, (t_steps, n, c))
    if regime in ("saturate", "big_theta"):
        a_in = np.abs(a_in)
    if regime == "normal":
        a_in[rng.random(a_in.shape) < 0.5] = 0  # sparse input: decays get to act
    return neurons, a_in


def _loop(neurons: AlifNeurons, a_in: np.ndarray) -> np.ndarray:
    state = alif_init(neurons, a_in.shape[1:])
    out = np.zeros(a_in.shape, dtype=np.uint8)
    for t in range(a_in.shape[0]):
        state, spikes = alif_step(state, a_in[t], neurons)
        out[t] = spikes
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(REGIMES))
def test_run_alif_equals_integer_steps(seed, regime):
    neurons, a_in = _case(seed, regime)
    ref = _loop(neurons, a_in)
    assert np.array_equal(run_alif(neurons, a_in), ref)
    # float64 input, as synaptic_input hands it over
    assert np.array_equal(run_alif(neurons, a_in.astype(np.float64)), ref)


def test_hand_trace_matches_lava_run():
    """Measured in .venv-lava: ATRLIF(delta_i=0, delta_v=0, delta_theta=0, delta_r=0,
    theta_0=10, theta_step=0) fed 1000 at step 3 only: v = 64000, 127984, 191952 and a spike
    on every step from 3 on, r growing by 2 * 640 per spike (no voltage reset)."""
    neurons = AlifNeurons.create(
        1, vth_mant=10, vth_step=0, i_decay=1, v_decay=0, theta_decay=0, ref_decay=0, bias_exp=0
    )
    state = alif_init(neurons, (1,))
    vs, rs, fired = [], [], []
    for a in [0, 0, 1000, 0, 0, 0, 0, 0]:
        state, s = alif_step(state, np.array([a]), neurons)
        vs.append(int(state.v[0]))
        rs.append(int(state.r[0]))
        fired.append(int(s[0]))
    assert vs == [0, 0, 64000, 127984, 191952, 255904, 319840, 383760]
    assert rs == [0, 0, 1280, 2560, 3840, 5120, 6400, 7680]
    assert fired == [0, 0, 1, 1, 1, 1, 1, 1]
    a_in = np.array([0, 0, 1000, 0, 0, 0, 0, 0]).reshape(8, 1, 1)
    assert run_alif(neurons, a_in)[:, 0, 0].tolist() == fired


def test_threshold_adapts_and_refractory_decays():
    neurons = AlifNeurons.create(
        1,
        vth_mant=100,
        vth_step=50,
        i_decay=4096,
        v_decay=0,
        theta_decay=0,
        ref_decay=4096,
        bias_exp=0,
    )
    state = alif_init(neurons, (1,))
    assert int(state.theta[0]) == 6400
    state, s = alif_step(state, np.array([101]), neurons)  # v = 6464 >= 6400: spike
    assert bool(s[0]) and int(state.theta[0]) == 6400 + 3200 and int(state.r[0]) == 2 * 6400
    state, s = alif_step(state, np.array([0]), neurons)  # r decays to 0 at once (4096)
    assert int(state.r[0]) == 0 and int(state.v[0]) == 6464 and not bool(s[0])
