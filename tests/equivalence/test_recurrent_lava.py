"""Recurrent (``dense_rec``) networks: ranvier's simulator against lava-nc, spike for spike and
membrane for membrane, on every layer.

Runs only in the lava reference environment (.venv-lava). Each case is a netx file with
recurrent layers (``weight_rec``, per-synapse ``delay`` and ``delay_rec`` up to 62 steps, any
weight style; CUBA, ALIF and ADLIF neurons; normal, wrap, saturate, bias and huge regimes). The
lava side is lava-dl netx with its ``dense_rec`` layers built as the chip runs them
(deploy/lava/recurrent_block.py: lava-nc's own Dense/DelayDense for the feed-forward and the
recurrent synapse, the latter from the neuron's s_out into the same a_in, with netx's own
weight mapping), under ``Loihi2SimCfg(select_tag='fixed_pt')``. Zero differing entries is the
only pass.

netx's own build of such a file differs from the chip (it ignores ``delay_rec``); the last
tests show exactly how, as a documented fact about netx, not as a failure of ranvier.

The sweep size is ``RANVIER_REC_CASES`` (default 240, a third per neuron type); the summary is
printed (``-s``) and written to ``tests/equivalence/last_run_recurrent.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import netx_differences, read_netx
from ranvier.convert.netx_hdf5 import LayerSpec, NetSpec, write_spec
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models import Network, RecurrentDenseSynapse, simulate
from ranvier.testing.random_netx import random_recurrent_case, random_spikes
from typer.testing import CliRunner

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: use .venv-lava", allow_module_level=True)

HERE = Path(__file__).parent
N_CASES = int(os.environ.get("RANVIER_REC_CASES", "240"))
N_BLOCKS = 6
KINDS = ("CUBA", "ALIF", "ADLIF")
REGIMES = ("normal", "wrap", "saturate", "bias", "normal", "huge")
# (feed-forward, recurrent) delay layouts; None: each layer draws its own
DELAYS = ((None, None), ("none", "none"), ("per_synapse", "per_synapse"), ("none", None))
MEMBRANE_EVERY = 3
SAT = (1 << 23) - 1
SUMMARY: dict[str, int] = {}


def _case(k: int) -> dict:
    """Neuron type, regime, delay layouts and recurrent delay range of case k."""
    ff, rec = DELAYS[(k // 3) % len(DELAYS)]
    return {
        "neuron": KINDS[k % 3],
        "regime": REGIMES[(k // 3) % len(REGIMES)],
        "delay_layout": ff,
        "rec_delay_layout": rec,
        "max_delay": 62 if k % 7 == 0 else None,
    }


def _compare(path: Path, x: np.ndarray, membranes: bool) -> dict:
    network = read_netx(path)
    layers = list(range(len(network.blocks))) if membranes else []
    ours = simulate(network, x, record=layers)
    theirs, their_mem = lava_backend.run_lava(path, x, membrane_layers=layers)
    stats = {
        "layers": 0,
        "recurrent_layers": 0,
        "active_layers": 0,
        "spikes": 0,
        "mismatches": 0,
        "membrane_entries": 0,
        "membrane_mismatches": 0,
        "saturated": 0,
        "details": [],
    }
    for i, (mine, ref) in enumerate(zip(ours.layers, theirs, strict=True)):
        diff = int(np.count_nonzero(mine.spikes != ref))
        stats["layers"] += 1
        stats["recurrent_layers"] += isinstance(network.blocks[i].synapse, RecurrentDenseSynapse)
        stats["active_layers"] += int(ref.any())
        stats["spikes"] += int(ref.sum())
        stats["mismatches"] += diff
        if diff:
            stats["details"].append(f"layer {i}: {diff} spike bins differ")
        if i in their_mem:
            mem_diff = int(np.count_nonzero(mine.membrane != their_mem[i]))
            stats["membrane_entries"] += their_mem[i].size
            stats["membrane_mismatches"] += mem_diff
            stats["saturated"] += int(np.any(np.abs(their_mem[i]) == SAT))
            if mem_diff:
                stats["details"].append(f"layer {i}: {mem_diff} membrane entries differ")
    return stats


def _record(case: dict, network: Network, stats: dict) -> None:
    recs = [b.synapse.recurrent for b in network.blocks if hasattr(b.synapse, "recurrent")]
    rec_delays = [r.max_delay for r in recs if r.has_delays]
    row = {
        "cases": 1,
        "layers": stats["layers"],
        "recurrent_layers": stats["recurrent_layers"],
        "active_layers": stats["active_layers"],
        "lava_spikes": stats["spikes"],
        "mismatches": stats["mismatches"],
        "membrane_entries": stats["membrane_entries"],
        "membrane_mismatches": stats["membrane_mismatches"],
        "cases_saturated": int(stats["saturated"] > 0),
        "cases_with_rec_delays": int(bool(rec_delays)),
        "cases_rec_delay_over_50": int(any(d > 50 for d in rec_delays)),
        "cases_without_delays": int(all(not b.synapse.has_delays for b in network.blocks)),
        f"cases_{case['neuron']}": 1,
        f"cases_{case['regime']}": 1,
    }
    for key, value in row.items():
        SUMMARY[key] = SUMMARY.get(key, 0) + int(value)


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    if SUMMARY:
        print(f"\nequivalence[recurrent]: {json.dumps(SUMMARY)}")
        (HERE / "last_run_recurrent.json").write_text(json.dumps(SUMMARY, indent=2) + "\n")


@pytest.mark.parametrize("block", range(N_BLOCKS))
def test_random_recurrent_networks_match_lava(tmp_path, block):
    """A seeded sweep of ``N_CASES`` recurrent networks: every layer's spikes (and, every
    third case, every layer's membrane at every step) equal lava's."""
    failures = []
    per_block = -(-N_CASES // N_BLOCKS)
    for k in range(block * per_block, min(N_CASES, (block + 1) * per_block)):
        case = _case(k)
        rng = np.random.default_rng(70_000 + k)
        spec, x = random_recurrent_case(rng, **case)
        path = tmp_path / f"rec{k}.net"
        write_spec(spec, path)
        stats = _compare(path, x, membranes=k % MEMBRANE_EVERY == 0)
        _record(case, read_netx(path), stats)
        if stats["mismatches"] or stats["membrane_mismatches"]:
            failures.append(f"case {k} {case}: " + "; ".join(stats["details"]))
    assert not failures, "\n".join(failures)


def test_recurrent_sweep_exercised_the_edges():
    """Runs after the sweep: most layers spiked; recurrent delays, long ones included, and
    cases without any delay were there; states saturated in a fair share of the cases."""
    if SUMMARY.get("cases", 0) < N_CASES:
        pytest.skip("the recurrent sweep did not run in full in this session")
    s = SUMMARY
    assert s["mismatches"] == 0 and s["membrane_mismatches"] == 0, s
    assert s["active_layers"] >= 0.5 * s["layers"], s
    assert s["recurrent_layers"] >= s["cases"], s
    assert s["cases_with_rec_delays"] >= 0.4 * s["cases"], s
    assert s["cases_rec_delay_over_50"] >= 0.1 * s["cases"], s
    assert s["cases_without_delays"] >= 0.1 * s["cases"], s
    assert s["cases_saturated"] >= 0.05 * s["cases"], s


# --------------------------------------------------------------------------------------------
# reuse, the CLI
# --------------------------------------------------------------------------------------------
def test_recurrent_runtime_reuse_equals_fresh_networks(tmp_path):
    """A CUBA recurrent network shares one runtime between samples (both synapses' buffers
    and u, v zeroed): equal to a fresh network per sample, and to ranvier."""
    rng = np.random.default_rng(77_000)
    spec, x = random_recurrent_case(
        rng, "CUBA", "normal", delay_layout="per_synapse", rec_delay_layout="per_synapse"
    )
    x = np.concatenate([x, random_spikes(rng, x.shape[1], x.shape[2], 0.3, samples=3)])
    path = tmp_path / "reuse.net"
    write_spec(spec, path)
    shared = lava_backend.run_lava(path, x, reuse=True)
    fresh = lava_backend.run_lava(path, x, reuse=False)
    ours = simulate(read_netx(path), x)
    assert sum(int(s.sum()) for s in shared) > 0
    for a, b, mine in zip(shared, fresh, ours.layers, strict=True):
        assert np.array_equal(a, b)
        assert np.array_equal(mine.spikes, a)


def test_cli_lava_backend_runs_recurrent_files(tmp_path):
    """``ranvier run --backend lava`` on a dense_rec file reports what the default backend
    reports (spikes and synaptic events per layer)."""
    from ranvier.cli import app

    rng = np.random.default_rng(78_000)
    spec, x = random_recurrent_case(rng, "ADLIF", "normal", rec_delay_layout="per_synapse")
    path = tmp_path / "rec.net"
    write_spec(spec, path)
    inp = tmp_path / "x.npy"
    np.save(inp, x)
    runs = {}
    for backend in ("ranvier", "lava"):
        result = CliRunner().invoke(
            app, ["run", str(path), "--input", str(inp), "--backend", backend, "--json"]
        )
        assert result.exit_code == 0, result.output
        runs[backend] = json.loads(result.stdout)
    keys = ("spikes", "synaptic_events")
    counts = {b: [[layer[k] for k in keys] for layer in r["layers"]] for b, r in runs.items()}
    assert counts["ranvier"] == counts["lava"]
    assert sum(c[0] for c in counts["lava"]) > 0


# --------------------------------------------------------------------------------------------
# netx's own build of a dense_rec file
# --------------------------------------------------------------------------------------------
def _netx_own_run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    """The file through lava-dl netx exactly as it ships (no ranvier patch): netx's
    RecurrentDense block, a RingBuffer source and one sink per layer; one sample ``(C, T)``."""
    lava = lava_backend.import_lava()
    net = lava.Network(net_config=str(path))
    t_steps = x.shape[1]
    try:
        source = lava.Source(data=x.astype(np.int32))
        source.s_out.connect(net.layers[0].inp)
        sinks = []
        for layer in net.layers:
            sink = lava.Sink(shape=tuple(layer.out.shape), buffer=t_steps)
            layer.out.connect(sink.a_in)
            sinks.append(sink)
        net.run(
            condition=lava.RunSteps(num_steps=t_steps),
            run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"),
        )
        return [np.asarray(s.data.get()).astype(np.uint8) for s in sinks]
    finally:
        lava_backend.shutdown(net)


def _square_recurrent_file(path: Path, *, delays: bool) -> np.ndarray:
    """A CUBA dense_rec file with as many inputs as neurons (so netx can build it), small
    weights (a non-zero weight exponent) and, with ``delays``, per-synapse ``delay`` and a
    different ``delay_rec``. Returns its input."""
    rng = np.random.default_rng(79_000 + delays)
    n = 12
    x = random_spikes(rng, n, 80, 0.15)[0]
    layer = LayerSpec(
        weight=rng.integers(-20, 60, size=(n, n)),
        i_decay=1024,
        v_decay=256,
        vth_mant=90,
        weight_rec=rng.integers(-30, 40, size=(n, n)),
        delay=rng.integers(0, 20, size=(n, n)) if delays else None,
        delay_rec=rng.integers(20, 40, size=(n, n)) if delays else None,
    )
    write_spec(NetSpec(n_in=n, layers=[layer]), path)
    return x


def _as_netx_reads_it(network: Network) -> Network:
    """The network netx 0.6.0 builds from a dense_rec file with feed-forward delays: the
    recurrent synapse gets the feed-forward delays, both lose the weight exponent."""
    blocks = []
    for block in network.blocks:
        syn = block.synapse
        fwd = replace(syn.forward, weight_exp=0)
        rec = replace(syn.recurrent, weight_exp=0, delay=syn.forward.delay.copy())
        blocks.append(replace(block, synapse=RecurrentDenseSynapse(fwd, rec)))
    return Network(n_in=network.n_in, blocks=blocks, meta=network.meta)


def test_netx_own_build_equals_the_chip_without_delays(tmp_path):
    """Without delays netx's RecurrentDense is wired as the chip runs it: identical spikes."""
    path = tmp_path / "plain.net"
    x = _square_recurrent_file(path, delays=False)
    network = read_netx(path)
    assert netx_differences(network) == []
    ours = simulate(network, x).layers[0].spikes
    assert ours.any()
    assert np.array_equal(_netx_own_run(path, x)[0], ours)
    assert np.array_equal(lava_backend.run_lava(path, x)[0], ours)


def test_netx_own_build_ignores_delay_rec_and_the_weight_exponent(tmp_path):
    """With delays, netx's own build differs from the chip, and exactly as documented
    (``netx_differences``, docs/file_format.md): it is ranvier's simulation of the same file
    with the feed-forward delays on the recurrent synapse and no weight exponent. ranvier and
    the lava reference (run_lava) agree with each other."""
    path = tmp_path / "delays.net"
    x = _square_recurrent_file(path, delays=True)
    network = read_netx(path)
    assert network.blocks[0].synapse.forward.weight_exp != 0
    notes = netx_differences(network)
    assert len(notes) == 1 and "feed-forward delays instead of delay_rec" in notes[0]
    assert "drops the weight exponent" in notes[0]
    chip = simulate(network, x).layers[0].spikes
    netx_reading = simulate(_as_netx_reads_it(network), x).layers[0].spikes
    netx_own = _netx_own_run(path, x)[0]
    assert chip.any() and netx_own.any()
    assert not np.array_equal(netx_own, chip)
    assert np.array_equal(netx_own, netx_reading)
    assert np.array_equal(lava_backend.run_lava(path, x)[0], chip)
