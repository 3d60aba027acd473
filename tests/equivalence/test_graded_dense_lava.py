"""Dense and DelayDense synapses fed graded payloads: ranvier against lava-nc's processes.

Each case: a RingBuffer source of int32 payloads (up to 2**30, so sums and products leave
int32) -> lava-nc ``Dense`` or ``DelayDense`` (bit-accurate, ``num_message_bits=24``, the
mantissas, bits and exponent netx derives from the file weights) -> a sink on ``a_out``.
Column t of the sink is what the synapse delivers to its neurons at step t, which is
``DenseSynapse.synaptic_input``'s row t. ``RANVIER_GRADED_CASES`` cases (default 20); zero
differing entries is the only pass.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models.synapses import DenseSynapse

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: run `make equivalence`", allow_module_level=True)

N_CASES = int(os.environ.get("RANVIER_GRADED_CASES", "20"))


def _run_lava(syn: DenseSynapse, x: np.ndarray) -> np.ndarray:
    lava = lava_backend.import_lava()
    t_steps = x.shape[1]
    kwargs = {
        "weights": syn.weight.astype(np.int32),
        "weight_exp": syn.weight_exp,
        "num_weight_bits": syn.num_weight_bits,
        "num_message_bits": 24,
    }
    if syn.delay is None:
        proc = lava.Dense(**kwargs)
    else:
        proc = lava.DelayDense(**kwargs, delays=syn.delay.astype(int), max_delay=62)
    source = lava.Source(data=x.astype(np.int32))
    sink = lava.Sink(shape=(syn.n_out,), buffer=t_steps)
    source.s_out.connect(proc.s_in)
    proc.a_out.connect(sink.a_in)
    try:
        proc.create_runtime(run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"))
        proc.runtime.start(lava.RunSteps(num_steps=t_steps, blocking=False))
        lava_backend.wait_for_run(proc.runtime, timeout=120)
        return np.asarray(sink.data.get()).astype(np.int64)
    finally:
        lava_backend.shutdown(proc)


def test_graded_dense_and_delay_dense_match_lava():
    rng = np.random.default_rng(31)
    stats = {"cases": 0, "entries": 0, "differing": 0, "beyond_int32": 0, "delayed": 0}
    for case in range(N_CASES):
        n_in, n_out, t_steps = int(rng.integers(1, 10)), int(rng.integers(1, 6)), 10
        weight = 2 * rng.integers(-128, 127, size=(n_out, n_in))
        if case % 3 == 0:
            weight = rng.integers(-255, 255, size=(n_out, n_in))
        if not weight.any():
            weight[0, 0] = 2
        delayed = case % 2 == 1
        delay = rng.integers(0, 4, size=weight.shape) if delayed else None
        syn = DenseSynapse.from_file_weights(weight, delay)
        syn.message_bits = 24
        peak = 1 << int(rng.choice([8, 20, 30]))
        x = rng.integers(-peak, peak, size=(n_in, t_steps))
        theirs = _run_lava(syn, x)
        ours = syn.synaptic_input(x[None].astype(np.int64))[:, 0].T
        stats["differing"] += int(np.count_nonzero(ours != theirs))
        stats["entries"] += theirs.size
        big = np.abs(syn.effective_weight).sum(axis=1).max() * peak >= 2**31
        stats["beyond_int32"] += int(big)
        stats["delayed"] += int(delayed)
        stats["cases"] += 1
    print(f"\ngraded dense: {stats}")
    assert stats["differing"] == 0, stats
    assert stats["beyond_int32"] > 0
