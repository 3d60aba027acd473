"""ranvier's simulator against lava-nc itself, spike for spike, on every layer.

Runs only in the lava reference environment (``make equivalence``; ``make test`` calls it when
.venv-lava exists). Each case is a netx file: the same file goes through ``ranvier`` (read_netx
+ simulate) and through lava-dl netx + lava-nc ``Loihi2SimCfg(select_tag='fixed_pt')`` with
RingBuffer source and sinks (deploy/lava_backend.py). Zero mismatching spike bins is the only
pass. The sweep size is ``RANVIER_EQ_CASES`` (default 300); a summary line with the case, layer
and spike counts is printed and written to ``tests/equivalence/last_run.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.convert.random_netx import random_spec, random_spikes, shd_like_spec, write_spec
from ranvier.deploy import lava_backend
from ranvier.hw_models import simulate

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: run `make equivalence`", allow_module_level=True)

HERE = Path(__file__).parent
INTEL = HERE / "data"
N_CASES = int(os.environ.get("RANVIER_EQ_CASES", "300"))
SUMMARY: dict[str, dict] = {}


def _compare(net_path: Path, spikes: np.ndarray) -> dict:
    """Run both backends; return counts and the first mismatches per layer."""
    network = read_netx(net_path)
    ours = simulate(network, spikes)
    theirs = lava_backend.run_lava(net_path, spikes)
    assert len(theirs) == len(ours.layers)
    layers, mismatches, spikes_total, details = 0, 0, 0, []
    for i, (mine, ref) in enumerate(zip(ours.layers, theirs, strict=True)):
        assert mine.spikes.shape == ref.shape, (i, mine.spikes.shape, ref.shape)
        diff = int(np.count_nonzero(mine.spikes != ref))
        layers += 1
        mismatches += diff
        spikes_total += int(ref.sum())
        if diff:
            where = np.argwhere(mine.spikes != ref)[:5].tolist()
            details.append(f"layer {i}: {diff} bins differ, first at {where}")
    return {"layers": layers, "mismatches": mismatches, "spikes": spikes_total, "details": details}


def _record(name: str, stats: dict) -> None:
    agg = SUMMARY.setdefault(name, {"cases": 0, "layers": 0, "spikes": 0, "mismatches": 0})
    agg["cases"] += 1
    for key in ("layers", "spikes", "mismatches"):
        agg[key] += stats[key]


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    lines = [
        f"equivalence[{k}]: {v['cases']} cases, {v['layers']} layers, {v['spikes']} lava spikes, "
        f"{v['mismatches']} mismatching spike bins"
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
    per_block = -(-N_CASES // 10)
    for k in range(block * per_block, min(N_CASES, (block + 1) * per_block)):
        rng = np.random.default_rng(10_000 + k)
        spec = random_spec(
            rng,
            regime=REGIMES[k % len(REGIMES)],
            delay_layout="none" if k % 5 == 0 else None,
        )
        path = tmp_path / f"case{k}.net"
        write_spec(spec, path)
        t_steps = int(rng.integers(8, 49))
        x = random_spikes(
            rng,
            spec.n_in,
            t_steps,
            float(rng.choice([0.05, 0.2, 0.5])),
            samples=int(rng.integers(1, 4)),
        )
        stats = _compare(path, x)
        _record("random", stats)
        if stats["mismatches"]:
            failures.append(f"case {k} ({path.name}): " + "; ".join(stats["details"]))
    assert not failures, "\n".join(failures)


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


INTEL_FILES = sorted(INTEL.glob("*.net")) if INTEL.exists() else []


@pytest.mark.parametrize("path", INTEL_FILES, ids=[p.stem for p in INTEL_FILES])
def test_intel_trained_networks_match_lava(path):
    """Intel's own trained netx files from the lava-dl repository (see data/README.md)."""
    network = read_netx(path)
    rng = np.random.default_rng(3)
    x = random_spikes(rng, network.n_in, 100, 0.05, samples=2)
    stats = _compare(path, x)
    _record(f"intel:{path.stem}", stats)
    assert stats["mismatches"] == 0, stats["details"]
