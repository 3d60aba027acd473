"""A run in chunks is the run in one piece: spikes, membranes and counters, for every neuron
type, feed-forward and recurrent, whatever the chunk length (overlap-save delay lines, carried
neuron states and ring buffers; hw_models/simulator.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ranvier.convert import read_netx
from ranvier.hw_models import simulate
from ranvier.hw_models.simulator import chunk_steps
from ranvier.testing.random_netx import (
    random_case,
    random_recurrent_case,
    random_spikes,
    write_spec,
)


def _case(tmp_path, seed: int, kind: str, recurrent: bool):
    rng = np.random.default_rng(seed)
    regime = ("normal", "wrap", "saturate", "bias")[seed % 4]
    if recurrent:
        spec, x = random_recurrent_case(rng, kind, regime)
    else:
        spec, x = random_case(rng, regime, neuron=kind)
    path = tmp_path / f"net_{seed}.net"
    write_spec(spec, path)
    return read_netx(path), x


def _same(a, b) -> None:
    assert a.samples == b.samples and a.timesteps == b.timesteps
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert np.array_equal(la.spikes, lb.spikes)
        assert np.array_equal(la.spike_counts, lb.spike_counts)
        assert np.array_equal(la.synaptic_events, lb.synaptic_events)
        assert np.array_equal(la.neuron_updates, lb.neuron_updates)
        assert (la.membrane is None) == (lb.membrane is None)
        if la.membrane is not None:
            assert np.array_equal(la.membrane, lb.membrane)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["CUBA", "ALIF", "ADLIF"]),
    recurrent=st.booleans(),
    fraction=st.floats(0.0, 0.95),
)
def test_chunks_give_the_run_in_one_piece(tmp_path, seed, kind, recurrent, fraction):
    network, x = _case(tmp_path, seed, kind, recurrent)
    every = list(range(len(network.blocks)))
    chunk = max(1, int(fraction * x.shape[2]))  # always shorter than the run
    assert chunk < x.shape[2]
    whole = simulate(network, x, record=every, chunk=x.shape[2])
    _same(simulate(network, x, record=every, chunk=chunk), whole)


@pytest.mark.parametrize("chunk", [1, 2, 7, 63, 64, 65, 200])
def test_chunks_across_the_longest_delays(chunk):
    """Delays of 62 steps (feed-forward and recurrent) cross many chunk borders."""
    rng = np.random.default_rng(11)
    spec, x = random_recurrent_case(
        rng,
        "CUBA",
        "normal",
        delay_layout="per_synapse",
        rec_delay_layout="per_synapse",
        max_delay=62,
    )
    x = np.concatenate([x, random_spikes(rng, x.shape[1], 260, 0.2, x.shape[0])], axis=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.net"
        write_spec(spec, path)
        network = read_netx(path)
    whole = simulate(network, x, chunk=x.shape[2])
    assert any(layer.spikes.any() for layer in whole.layers)
    _same(simulate(network, x, chunk=chunk), whole)


def test_the_default_chunk_keeps_memory_bounded():
    """The automatic chunk length follows the budgets, not T: a long single-sample run of the
    shipped SHD-size example is cut into chunks of at most MAX_CHUNK_STEPS, the same for any T."""
    from ranvier.hw_models.simulator import MAX_CHUNK_STEPS

    network = read_netx(Path(__file__).resolve().parents[2] / "examples" / "shd_like.net")
    assert chunk_steps(network, 1, 125) == 125  # a short run stays one piece
    long = chunk_steps(network, 1, 10**6)
    assert long <= MAX_CHUNK_STEPS and long == chunk_steps(network, 1, 10**8)  # not T's
    assert chunk_steps(network, 10_000, 10**6) < long  # many samples: shorter


def test_counters_only_run_keeps_no_spikes():
    """``keep_spikes=False``: the same counters, no spike arrays (a stream of any length)."""
    network = read_netx(Path(__file__).resolve().parents[2] / "examples" / "shd_like.net")
    x = random_spikes(np.random.default_rng(3), 140, 300, 0.05, 2)
    full = simulate(network, x, chunk=64)
    counts = simulate(network, x, chunk=64, keep_spikes=False)
    for a, b in zip(full.layers, counts.layers, strict=True):
        assert b.spikes.shape == (2, a.spikes.shape[1], 0)
        assert np.array_equal(a.spike_counts, b.spike_counts)
        assert np.array_equal(a.synaptic_events, b.synaptic_events)
    assert sum(int(layer.spike_counts.sum()) for layer in counts.layers) > 0
