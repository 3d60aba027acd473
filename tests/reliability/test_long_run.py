"""A long run in bounded memory: the simulator's working memory depends on its chunk, not on
the number of steps (issue 12; bench/long_run.py measures up to 10**6 steps)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
from ranvier.convert import read_netx
from ranvier.hw_models import simulate

NET = Path(__file__).resolve().parents[2] / "examples" / "shd_like.net"


def _peak(network, x: np.ndarray) -> tuple[int, list[int]]:
    """Peak bytes numpy allocated during a counters-only run (input excluded), and the
    spike counts per layer."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = simulate(network, x, keep_spikes=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, [int(layer.spike_counts.sum()) for layer in result.layers]


def test_ten_times_the_steps_needs_no_more_memory():
    network = read_netx(NET)
    rng = np.random.default_rng(0)
    short = (rng.random((1, network.n_in, 3_000)) < 0.05).astype(np.uint8)
    long = (rng.random((1, network.n_in, 30_000)) < 0.05).astype(np.uint8)
    peak_short, spikes_short = _peak(network, short)
    peak_long, spikes_long = _peak(network, long)
    assert min(spikes_short) > 0 and min(spikes_long) > 0
    # before streaming, 10,000 steps took 2.9 GB; now both runs stay well under 200 MB and
    # the long one within 10% of the short one
    assert peak_long < 200 << 20, peak_long
    assert peak_long < 1.1 * peak_short, (peak_short, peak_long)
