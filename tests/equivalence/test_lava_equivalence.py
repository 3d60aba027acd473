"""ranvier's simulator against lava-nc itself, spike for spike, on every layer.

Runs only in the lava reference environment (``make equivalence``; ``make test`` calls it when
.venv-lava exists). Each case is a netx file: the same file goes through ``ranvier`` (read_netx
+ simulate) and through lava-dl netx + lava-nc ``Loihi2SimCfg(select_tag='fixed_pt')`` with
RingBuffer source and sinks (deploy/lava/, docs/lava_backend.md). Zero mismatching spike bins
is the only pass. The sweep size is ``RANVIER_EQ_CASES`` (default 200 in CI); a summary line with
the case, layer and spike counts is printed and written to ``tests/equivalence/last_run.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models import fixed_point as fp
from ranvier.hw_models import simulate
from ranvier.hw_models.neurons.cuba import cuba_step
from ranvier.hw_models.synapses import synaptic_input
from ranvier.testing.random_netx import random_case, random_spikes, shd_like_spec, write_spec

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: run `make equivalence`", allow_module_level=True)

HERE = Path(__file__).parent
INTEL = HERE / "data"
N_CASES = int(os.environ.get("RANVIER_EQ_CASES", "200"))
SUMMARY: dict[str, dict] = {}


def _compare(net_path: Path, spikes: np.ndarray) -> dict:
    """Run both backends; return counts and the first mismatches per layer."""
    network = read_netx(net_path)
    ours = simulate(network, spikes)
    theirs = lava_backend.run_lava(net_path, spikes)
    assert len(theirs) == len(ours.layers)
    layers, active, mismatches, spikes_total, details = 0, 0, 0, 0, []
    for i, (mine, ref) in enumerate(zip(ours.layers, theirs, strict=True)):
        assert mine.spikes.shape == ref.shape, (i, mine.spikes.shape, ref.shape)
        diff = int(np.count_nonzero(mine.spikes != ref))
        layers += 1
        active += int(ref.any())
        mismatches += diff
        spikes_total += int(ref.sum())
        if diff:
            where = np.argwhere(mine.spikes != ref)[:5].tolist()
            details.append(f"layer {i}: {diff} bins differ, first at {where}")
    return {
        "layers": layers,
        "active_layers": active,
        "mismatches": mismatches,
        "spikes": spikes_total,
        "details": details,
    }


def _overflow_events(network, x: np.ndarray) -> tuple[int, int]:
    """How often u wrapped and v saturated in this case (integer rules of fixed_point).

    Evidence that the sweep exercises the edge arithmetic; the spikes compared come from
    lava and the simulator, not from this loop.
    """
    wraps = sats = 0
    current = (np.asarray(x) != 0).astype(np.uint8)
    for block in network.blocks:
        neu = block.neurons
        a_in = synaptic_input(block.synapse, current).astype(np.int64)
        u = np.zeros(a_in.shape[1:], dtype=np.int64)
        v = np.zeros_like(u)
        bias = fp.scale_bias(neu.bias_mant, neu.bias_exp)
        vth = fp.scale_threshold(neu.vth_mant)
        out = np.zeros(a_in.shape, dtype=np.uint8)
        for t in range(a_in.shape[0]):
            pre = fp.wrap_int32(fp.decay(u, neu.i_decay) + fp.scale_activation(a_in[t]))
            wraps += int(np.count_nonzero((pre > 2**23) | (pre <= -(2**23))))
            u, v, s = cuba_step(
                u, v, a_in[t], i_decay=neu.i_decay, v_decay=neu.v_decay, bias=bias, vth=vth
            )
            sats += int(np.count_nonzero(np.abs(v) == 2**23 - 1))
            out[t] = s
        current = out.transpose(1, 2, 0)
    return wraps, sats


def _record(name: str, stats: dict) -> None:
    keys = ("layers", "active_layers", "spikes", "mismatches")
    extra = ("cases_with_wrap", "cases_with_saturation")
    agg = SUMMARY.setdefault(name, {"cases": 0, **dict.fromkeys(keys + extra, 0)})
    agg["cases"] += 1
    for key in keys + extra:
        agg[key] += stats.get(key, 0)


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    lines = [
        f"equivalence[{k}]: {v['cases']} cases, {v['layers']} layers "
        f"({v['active_layers']} spiking), {v['spikes']} lava spikes, "
        f"{v['mismatches']} mismatching spike bins; cases where u wrapped: "
        f"{v['cases_with_wrap']}, where v saturated: {v['cases_with_saturation']}"
        for k, v in SUMMARY.items()
    ]
    print("\n" + "\n".join(lines))
    (HERE / "last_run.json").write_text(json.dumps(SUMMARY, indent=2) + "\n")


REGIMES = ["normal", "wrap", "saturate", "bias", "normal", "huge"]


@pytest.mark.parametrize("block", range(10))
def test_random_cuba_networks_match_lava(tmp_path, block):
    """A seeded sweep over random CUBA networks with and without delays (N_CASES in total).

    Cases rotate through the regimes (normal activity, wrapping currents, saturating voltages,
    large biases) and weight styles; each runs 1-3 samples of 8-48 steps.
    """
    failures = []
    active = total = 0
    per_block = -(-N_CASES // 10)
    for k in range(block * per_block, min(N_CASES, (block + 1) * per_block)):
        rng = np.random.default_rng(10_000 + k)
        spec, x = random_case(
            rng, REGIMES[k % len(REGIMES)], delay_layout="none" if k % 5 == 0 else None
        )
        path = tmp_path / f"case{k}.net"
        write_spec(spec, path)
        stats = _compare(path, x)
        wraps, sats = _overflow_events(read_netx(path), x)
        stats["cases_with_wrap"] = int(wraps > 0)
        stats["cases_with_saturation"] = int(sats > 0)
        _record("random", stats)
        active += stats["active_layers"]
        total += stats["layers"]
        if stats["mismatches"]:
            failures.append(f"case {k} ({path.name}): " + "; ".join(stats["details"]))
    assert not failures, "\n".join(failures)
    # A block of silent networks would prove nothing (the whole sweep is checked below).
    assert active >= 0.25 * total, f"only {active} of {total} layers spiked"


def test_random_sweep_exercised_the_edges():
    """Runs after the sweep: most layers spiked, and currents wrapped and voltages saturated
    in a fair share of the cases (counted with the integer rules in _overflow_events)."""
    agg = SUMMARY.get("random")
    if not agg or agg["cases"] < N_CASES:
        pytest.skip("the random sweep did not run in full in this session")
    assert agg["active_layers"] >= 0.6 * agg["layers"], agg
    assert agg["cases_with_wrap"] >= 0.1 * agg["cases"], agg
    assert agg["cases_with_saturation"] >= 0.1 * agg["cases"], agg


def test_shd_size_network_matches_lava(tmp_path):
    """The benchmark network (140-128-128-20, per-synapse delays 0..25, T=125)."""
    rng = np.random.default_rng(7)
    spec, _ = shd_like_spec(rng)
    path = tmp_path / "shd.net"
    write_spec(spec, path)
    x = random_spikes(rng, 140, 125, 0.03, samples=2)
    stats = _compare(path, x)
    _record("shd_size", stats)
    assert stats["spikes"] > 0
    assert stats["mismatches"] == 0, stats["details"]


def test_shipped_example_matches_lava():
    root = HERE.parents[1] / "examples"
    x = np.load(root / "shd_like_input.npy")[:2]
    stats = _compare(root / "shd_like.net", x)
    _record("example", stats)
    assert stats["mismatches"] == 0, stats["details"]


#: Intel's dense-only files, run here with random spikes; every Intel file (conv, input
#: neurons, sigma-delta ones included) runs with its own inputs in test_netx_files_lava.py.
INTEL_FILES = [INTEL / "intel_mnist.net", INTEL / "intel_oxford.net"]


@pytest.mark.parametrize("path", INTEL_FILES, ids=[p.stem for p in INTEL_FILES])
def test_intel_trained_networks_match_lava(path):
    """Intel's own trained netx files from the lava-dl repository (see data/README.md)."""
    network = read_netx(path)
    rng = np.random.default_rng(3)
    x = random_spikes(rng, network.n_in, 100, 0.05, samples=2)
    stats = _compare(path, x)
    _record(f"intel:{path.stem}", stats)
    assert stats["mismatches"] == 0, stats["details"]
