"""ranvier's ALIF kernel against lava-nc 0.10.0's ATRLIF (PyATRLIFModelFixed), spike for spike.

Runs only in the lava reference environment (.venv-lava). Each case is one ATRLIF process of C
neurons built from the lava mapping (``ranvier.deploy.lava.lava_kwargs``) and run under
``Loihi2SimCfg(select_tag='fixed_pt')``:

- direct cases: a fixed-point ``io.source.RingBuffer`` (int32 ``s_out``) writes random integer
  activations straight into ATRLIF's ``a_in``; the neuron receives column t on the step the
  source sends it, so ``run_alif`` gets the same array unshifted;
- pipeline cases: RingBuffer spikes -> ``Dense`` (bit-accurate, 8-bit weights) -> ATRLIF;
  ``run_alif`` gets ``synaptic_input`` of ranvier's ``DenseSynapse`` (input column t arrives
  at t + 1, as for CUBA).

Sinks record s_out in the column of the step. Zero mismatching spike bins is the only pass; a
summary line with cases, spikes and the regimes reached is printed. ``RANVIER_ALIF_CASES``
sets the number of direct cases (default 100).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models import fixed_point as fp
from ranvier.hw_models.network import DenseSynapse
from ranvier.hw_models.neurons.alif import AlifNeurons, alif_init, alif_step, run_alif
from ranvier.hw_models.synapses import synaptic_input

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available() or importlib.util.find_spec("lava.proc.atrlif") is None:
    pytest.skip("lava-nc (with ATRLIF) not installed: use .venv-lava", allow_module_level=True)

N_CASES = int(os.environ.get("RANVIER_ALIF_CASES", "100"))
N_PIPELINE = 12
REGIMES = ["normal", "wrap", "saturate", "huge", "big_theta", "sparse"]
SUMMARY = {
    "cases": 0,
    "neurons": 0,
    "bins": 0,
    "spikes": 0,
    "mismatches": 0,
    "current_wrapped": 0,
    "voltage_saturated": 0,
    "input_int32_wrapped": 0,
    "theta_or_r_wrapped": 0,
}


def _lava():
    lava = lava_backend.import_lava()  # lava's fork start-method handling
    from lava.proc.atrlif.process import ATRLIF

    return lava, ATRLIF


def _random_neurons(rng: np.random.Generator, regime: str, c: int) -> AlifNeurons:
    """One ATRLIF process worth of neurons: shared decays/thresholds, per-neuron bias."""
    big = regime == "big_theta"
    return AlifNeurons.create(
        c,
        # big_theta: theta_0 << 6 and theta_step << 6 beyond 2**31 (lava's np.int32 wraps)
        vth_mant=int(rng.integers(0, 1 << 26)) if big else int(rng.integers(0, 1 << 14)),
        vth_step=int(rng.integers(1 << 24, 1 << 26)) if big else int(rng.integers(0, 1 << 12)),
        i_decay=int(rng.integers(0, 4097)),
        v_decay=int(rng.integers(0, 4097)),
        theta_decay=int(rng.integers(0, 4097)),
        ref_decay=int(rng.integers(0, 4097)),
        bias_mant=rng.integers(-(1 << 15), 1 << 15, c) * (rng.random(c) < 0.5),
        bias_exp=rng.integers(0, 8, c),
    )


def _random_input(rng: np.random.Generator, regime: str, t_steps: int, c: int) -> np.ndarray:
    amp = {
        "normal": 1 << 10,
        "wrap": 1 << 17,
        "saturate": 1 << 15,
        "huge": 1 << 31,
        "big_theta": 1 << 16,
        "sparse": 1 << 12,
    }[regime]
    a = rng.integers(-amp, amp, (t_steps, c), dtype=np.int64)
    if regime in ("saturate", "big_theta"):
        a = np.abs(a)
    if regime in ("normal", "sparse"):
        a[rng.random(a.shape) < (0.9 if regime == "sparse" else 0.5)] = 0
    return np.clip(a, -(1 << 31), (1 << 31) - 1)


def _run_lava(neurons: AlifNeurons, data: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Run ATRLIF for ``data.shape[1]`` steps; spikes ``(C, T)`` as the sink recorded them.

    ``data`` is ``(channels, T)`` int32 sent by a fixed-point RingBuffer, into ``a_in``
    directly (``weights`` None) or through a bit-accurate Dense with ``weights``.
    """
    lava, atrlif_cls = _lava()
    t_steps = data.shape[1]
    source = lava.Source(data=data.astype(np.int32))
    neuron = atrlif_cls(shape=(neurons.n,), **lava_backend.lava_kwargs(neurons))
    if weights is None:
        source.s_out.connect(neuron.a_in)
    else:
        dense = lava.Dense(weights=weights, num_message_bits=0)
        source.s_out.connect(dense.s_in)
        dense.a_out.connect(neuron.a_in)
    sink = lava.Sink(shape=(neurons.n,), buffer=t_steps)
    neuron.s_out.connect(sink.a_in)
    try:
        neuron.create_runtime(run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"))
        neuron.runtime.start(lava.RunSteps(num_steps=t_steps, blocking=False))
        lava_backend.wait_for_run(neuron.runtime, timeout=120)
        out = np.asarray(sink.data.get()).reshape(neurons.n, t_steps)
    finally:
        lava_backend.shutdown(neuron)
    assert set(np.unique(out).tolist()) <= {0, 1}
    return out.astype(np.uint8)


def _edge_events(neurons: AlifNeurons, a_in: np.ndarray) -> dict[str, bool]:
    """Which wrap/saturation rules fired in this case (integer rules of alif_step)."""
    state = alif_init(neurons, a_in.shape[1:])
    ev = dict.fromkeys(
        ("current_wrapped", "voltage_saturated", "input_int32_wrapped", "theta_or_r_wrapped"),
        False,
    )
    theta0 = fp.wrap_int32(fp.scale_threshold(neurons.vth_mant))
    step = fp.wrap_int32(fp.scale_threshold(neurons.vth_step))
    ev["theta_or_r_wrapped"] |= bool(np.any(theta0 != neurons.vth_mant * 64))
    ev["theta_or_r_wrapped"] |= bool(np.any(step != neurons.vth_step * 64))
    for t in range(a_in.shape[0]):
        act = np.asarray(a_in[t], dtype=np.int64) << 6
        ev["input_int32_wrapped"] |= bool(np.any(fp.wrap_int32(act) != act))
        pre = fp.wrap_int32(fp.decay(state.i, neurons.i_decay) + fp.scale_activation(a_in[t]))
        ev["current_wrapped"] |= bool(np.any((pre > 2**23) | (pre <= -(2**23))))
        state, _ = alif_step(state, a_in[t], neurons)
        ev["voltage_saturated"] |= bool(np.any(np.abs(state.v) == 2**23 - 1))
        ev["theta_or_r_wrapped"] |= bool(np.any(state.r < 0) or np.any(state.theta < 0))
    return ev


def _check(neurons: AlifNeurons, a_in: np.ndarray, theirs: np.ndarray, label: str) -> list[str]:
    ours = run_alif(neurons, a_in[:, None, :].astype(np.float64))[:, 0, :].T  # (C, T)
    diff = int(np.count_nonzero(ours != theirs))
    SUMMARY["cases"] += 1
    SUMMARY["neurons"] += neurons.n
    SUMMARY["bins"] += theirs.size
    SUMMARY["spikes"] += int(theirs.sum())
    SUMMARY["mismatches"] += diff
    for key, hit in _edge_events(neurons, a_in[:, None, :]).items():
        SUMMARY[key] += int(hit)
    if diff:
        where = np.argwhere(ours != theirs)[:5].tolist()
        return [f"{label}: {diff} bins differ (neuron, step) first at {where}"]
    return []


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    print(
        f"\nalif equivalence: {SUMMARY['cases']} cases, {SUMMARY['neurons']} neurons, "
        f"{SUMMARY['bins']} spike bins, {SUMMARY['spikes']} lava spikes, "
        f"{SUMMARY['mismatches']} mismatching bins; cases where i wrapped: "
        f"{SUMMARY['current_wrapped']}, v saturated: {SUMMARY['voltage_saturated']}, "
        f"a_in << 6 wrapped int32: {SUMMARY['input_int32_wrapped']}, theta/r wrapped: "
        f"{SUMMARY['theta_or_r_wrapped']}"
    )


@pytest.mark.parametrize("block", range(4))
def test_atrlif_direct_input_matches_run_alif(block):
    """RingBuffer -> ATRLIF.a_in with random integer activations, N_CASES parameter sets."""
    failures = []
    per_block = -(-N_CASES // 4)
    for k in range(block * per_block, min(N_CASES, (block + 1) * per_block)):
        rng = np.random.default_rng(20_000 + k)
        regime = REGIMES[k % len(REGIMES)]
        c = int(rng.integers(1, 9))
        t_steps = int(rng.integers(10, 81))
        neurons = _random_neurons(rng, regime, c)
        a_in = _random_input(rng, regime, t_steps, c)
        theirs = _run_lava(neurons, a_in.T, None)
        failures += _check(neurons, a_in, theirs, f"case {k} ({regime})")
    assert not failures, "\n".join(failures)


def test_atrlif_behind_dense_synapse_is_one_step_later():
    """RingBuffer spikes -> Dense -> ATRLIF: run_alif on synaptic_input (arrival at t + 1)."""
    failures = []
    for k in range(N_PIPELINE):
        rng = np.random.default_rng(30_000 + k)
        n_in, c, t_steps = int(rng.integers(1, 12)), int(rng.integers(1, 9)), 60
        neurons = _random_neurons(rng, "normal", c)
        weights = rng.integers(-256, 256, (c, n_in))
        if k % 3 == 0:
            weights = np.abs(weights) % 256
        spikes = (rng.random((n_in, t_steps)) < 0.3).astype(np.int64)
        theirs = _run_lava(neurons, spikes, weights)
        a_in = synaptic_input(DenseSynapse(weight=weights), spikes[None].astype(np.uint8))
        failures += _check(neurons, a_in[:, 0, :].astype(np.int64), theirs, f"dense case {k}")
    assert not failures, "\n".join(failures)
    assert SUMMARY["spikes"] > 0
