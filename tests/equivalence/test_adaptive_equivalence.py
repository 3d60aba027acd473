"""ranvier's simulator against lava-nc on whole ALIF and ADLIF networks, spike for spike.

Runs only in the lava reference environment (.venv-lava). Each case is a netx file that goes
through ``ranvier`` (read_netx + simulate) and through lava-dl netx + lava-nc
``Loihi2SimCfg(select_tag='fixed_pt')`` with RingBuffer source and sinks (deploy/lava/,
docs/lava_backend.md): netx builds the synapses as for CUBA, ALIF layers run on lava-nc's own
``ATRLIF`` (``PyATRLIFModelFixed``), ADLIF layers on ``AdLIFPlus``
(deploy/lava/adlif_process.py, written from docs/neurons.md independently of hw_models). Zero
mismatching spike bins on every layer is the only pass; membrane traces (v for CUBA and ALIF,
u for ADLIF, at the end of each step) must agree entry for entry where they are compared.

The sweep size is ``RANVIER_ADAPTIVE_CASES`` per neuron type (default 100 in CI; 150 and
more by hand). A summary line per type is printed (``-s``) and written to
``tests/equivalence/last_run_adaptive.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.convert.netx_hdf5 import LayerSpec, NetSpec, write_spec
from ranvier.deploy import lava as lava_backend
from ranvier.deploy.lava import samples as lava_samples
from ranvier.hw_models import fixed_point as fp
from ranvier.hw_models import simulate
from ranvier.hw_models.synapses import synaptic_input
from ranvier.testing.random_netx import (
    ADAPTIVE_REGIMES,
    random_adaptive_spec,
    random_case,
    random_spikes,
)
from typer.testing import CliRunner

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: use .venv-lava", allow_module_level=True)

HERE = Path(__file__).parent
N_CASES = int(os.environ.get("RANVIER_ADAPTIVE_CASES", "100"))
N_BLOCKS = 5
KINDS = ("ALIF", "ADLIF")
SEEDS = {"ALIF": 50_000, "ADLIF": 60_000}
# None: every layer draws its own layout (random_netx.DELAY_LAYOUTS); the others fix it.
DELAY_CYCLE = (None, "none", "per_synapse", None, "scalar", "per_output", "per_input")
MEMBRANE_EVERY = 4  # the lava side probes every layer's membrane in every 4th case
SAT = (1 << 23) - 1  # the 24-bit state bound (v of CUBA/ALIF, u of ADLIF)
SUMMARY: dict[str, dict] = {}
KEYS = (
    "cases",
    "samples",
    "layers",
    "active_layers",
    "spikes",
    "mismatches",
    "membrane_cases",
    "membrane_entries",
    "membrane_mismatches",
    "cases_saturated",
    "cases_current_wrapped",
    "cases_input_wrapped",
    "cases_bias_wrapped",
    "cases_heterogeneous",
    "cases_with_readout",
)


def _case(kind: str, k: int) -> tuple[str, str | None]:
    """Regime and delay layout of case k: all 5 x 7 combinations within 35 seeds."""
    regimes = ADAPTIVE_REGIMES
    return regimes[k % len(regimes)], DELAY_CYCLE[(k // len(regimes)) % len(DELAY_CYCLE)]


def _heterogeneous(network) -> bool:
    """Some layer holds neuron parameters (bias aside) that differ between its neurons."""
    for block in network.blocks:
        for name, value in vars(block.neurons).items():
            arr = np.asarray(value).reshape(-1)
            if name not in ("bias_mant", "bias_exp") and arr.size > 1 and np.ptp(arr) > 0:
                return True
    return False


def _edges(network, x: np.ndarray, ours) -> dict[str, bool]:
    """Which edge rules fired in this case, from the simulator's run and the integer rules of
    hw_models.fixed_point: a state at the 24-bit bound (v of CUBA/ALIF, u or w of ADLIF);
    a CUBA/ALIF current that wrapped at 24 bits (the loop of test_lava_equivalence's
    _overflow_events); a synaptic input whose ``<< 6`` left int32; a bias beyond the int16
    register. Evidence that the sweep reaches the edge arithmetic; the values compared come
    from lava and the simulator, not from here."""
    flags = dict.fromkeys(("saturated", "current_wrapped", "input_wrapped", "bias_wrapped"), False)
    current = (np.asarray(x) != 0).astype(np.uint8)
    if current.ndim == 2:
        current = current[None]
    for block, layer in zip(network.blocks, ours.layers, strict=True):
        neu = block.neurons
        flags["saturated"] |= bool(np.any(np.abs(layer.membrane) == SAT))
        if neu.neuron_type == "ADLIF" and not flags["saturated"]:
            flags["saturated"] |= _adlif_w_saturates(neu, layer)
        flags["bias_wrapped"] |= bool(np.any(np.abs(neu.bias_mant) > (1 << 15) - 1))
        a_in = synaptic_input(block.synapse, current)
        flags["input_wrapped"] |= bool(a_in.size and np.abs(a_in).max() >= 1 << 25)
        if neu.neuron_type in ("CUBA", "LOIHI", "ALIF") and not flags["current_wrapped"]:
            i = np.zeros(a_in.shape[1:], dtype=np.int64)
            for t in range(a_in.shape[0]):
                pre = fp.wrap_int32(fp.decay(i, neu.i_decay) + fp.scale_activation(a_in[t]))
                if np.any((pre > 2**23) | (pre <= -(2**23))):
                    flags["current_wrapped"] = True
                    break
                i = fp.wrap_current(pre)
        spikes = np.asarray(layer.spikes)
        current = spikes[None] if spikes.ndim == 2 else spikes
    return flags


def _adlif_w_saturates(neu, layer) -> bool:
    """Whether ADLIF's adaptation state w reached the 24-bit bound: w is not probed, so it is
    rebuilt from the simulator's u trace and spikes with the spec's w rule,
    ``w' = sat24(decay(w, w_decay) + frac(a_mant, u) + s * (b_mant << 6))``."""
    u = np.asarray(layer.membrane, dtype=np.int64)
    spikes = np.asarray(layer.spikes, dtype=np.int64)
    if u.ndim == 2:
        u, spikes = u[None], spikes[None]
    w = np.zeros(u.shape[:2], dtype=np.int64)
    u_prev = np.zeros_like(w)
    s_prev = np.zeros_like(w)
    for t in range(u.shape[2]):
        w = fp.decay(w, neu.w_decay) + fp.mul_frac(neu.a_mant, u_prev) + s_prev * (neu.b_mant << 6)
        w = np.clip(w, -SAT, SAT)
        if np.any(np.abs(w) == SAT):
            return True
        u_prev, s_prev = u[:, :, t], spikes[:, :, t]
    return False


def _compare(path: Path, x: np.ndarray, *, membranes: bool) -> dict:
    """Run both backends on one file; counts, first mismatches, and the edge flags."""
    network = read_netx(path)
    every = list(range(len(network.blocks)))
    ours = simulate(network, x, record=every)
    if membranes:
        theirs, mems = lava_backend.run_lava(path, x, membrane_layers=every)
    else:
        theirs, mems = lava_backend.run_lava(path, x), {}
    assert len(theirs) == len(ours.layers)
    stats = dict.fromkeys(KEYS, 0)
    details = []
    for i, (mine, ref) in enumerate(zip(ours.layers, theirs, strict=True)):
        assert mine.spikes.shape == ref.shape, (i, mine.spikes.shape, ref.shape)
        diff = int(np.count_nonzero(mine.spikes != ref))
        stats["layers"] += 1
        stats["active_layers"] += int(ref.any())
        stats["spikes"] += int(ref.sum())
        stats["mismatches"] += diff
        if diff:
            where = np.argwhere(mine.spikes != ref)[:5].tolist()
            details.append(f"layer {i}: {diff} spike bins differ, first at {where}")
        if i in mems:
            assert mine.membrane.shape == mems[i].shape, (i, mine.membrane.shape, mems[i].shape)
            mdiff = int(np.count_nonzero(mine.membrane != mems[i]))
            stats["membrane_entries"] += int(mems[i].size)
            stats["membrane_mismatches"] += mdiff
            if mdiff:
                where = np.argwhere(mine.membrane != mems[i])[:5].tolist()
                details.append(f"layer {i}: {mdiff} membrane entries differ, first at {where}")
    if membranes:
        assert sorted(mems) == every
    flags = _edges(network, x, ours)
    stats.update(
        cases=1,
        samples=1 if np.ndim(x) == 2 else int(np.shape(x)[0]),
        membrane_cases=int(membranes),
        details=details,
        **{f"cases_{key}": int(hit) for key, hit in flags.items()},
    )
    return stats


def _record(name: str, stats: dict) -> None:
    agg = SUMMARY.setdefault(name, dict.fromkeys(KEYS, 0))
    for key in KEYS:
        agg[key] += int(stats.get(key, 0))


@pytest.fixture(scope="module", autouse=True)
def _summary():
    start = time.monotonic()
    yield
    lines = [
        f"adaptive equivalence[{k}]: {v['cases']} cases ({v['samples']} samples), "
        f"{v['layers']} layers ({v['active_layers']} spiking), {v['spikes']} lava spikes, "
        f"{v['mismatches']} mismatching spike bins; membranes compared in "
        f"{v['membrane_cases']} cases: {v['membrane_entries']} entries, "
        f"{v['membrane_mismatches']} differing; cases where a state saturated: "
        f"{v['cases_saturated']}, a current wrapped at 24 bits: {v['cases_current_wrapped']}, "
        f"a_in << 6 left int32: {v['cases_input_wrapped']}, a bias wrapped int16: "
        f"{v['cases_bias_wrapped']}, "
        f"with per-neuron parameters: {v['cases_heterogeneous']}, "
        f"with a read-out layer: {v['cases_with_readout']}"
        for k, v in SUMMARY.items()
    ]
    print("\n" + "\n".join(lines) + f"\nadaptive equivalence: {time.monotonic() - start:.0f} s")
    out = {"cases_per_type": N_CASES, "seconds": round(time.monotonic() - start, 1), **SUMMARY}
    (HERE / "last_run_adaptive.json").write_text(json.dumps(out, indent=2) + "\n")


# --------------------------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("block", range(N_BLOCKS))
@pytest.mark.parametrize("kind", KINDS)
def test_random_adaptive_networks_match_lava(tmp_path, kind, block):
    """A seeded sweep over random ALIF / ADLIF networks (N_CASES per type).

    Cases rotate through the regimes of ``random_netx.ADAPTIVE_REGIMES`` (normal activity,
    large biases, wrapping currents, saturating states, fan-in above 1024 with int32 input
    wrap and biases beyond int16) and through the delay layouts; parameters are per neuron
    half the time and a quarter of the networks end in a non-spiking CUBA read-out. Every
    MEMBRANE_EVERY-th case also compares every layer's membrane trace.
    """
    failures = []
    per_block = -(-N_CASES // N_BLOCKS)
    for k in range(block * per_block, min(N_CASES, (block + 1) * per_block)):
        regime, layout = _case(kind, k)
        rng = np.random.default_rng(SEEDS[kind] + k)
        spec, x = random_case(rng, regime, delay_layout=layout, neuron=kind)
        assert {layer.neuron_type for layer in spec.layers} <= {kind, "CUBA"}
        path = tmp_path / f"{kind.lower()}{k}.net"
        write_spec(spec, path)
        stats = _compare(path, x, membranes=k % MEMBRANE_EVERY == 0)
        stats["cases_heterogeneous"] = int(_heterogeneous(read_netx(path)))
        stats["cases_with_readout"] = int(spec.readout is not None)
        _record(kind, stats)
        if stats["mismatches"] or stats["membrane_mismatches"]:
            label = f"{kind} case {k} ({regime}, delays {layout})"
            failures.append(f"{label}: " + "; ".join(stats["details"]))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", KINDS)
def test_adaptive_sweep_exercised_the_edges(kind):
    """Runs after the sweep: most layers spiked, and states saturated, biases wrapped int16,
    ALIF currents wrapped, and per-neuron parameters and read-out layers occurred in a fair
    share of the cases."""
    agg = SUMMARY.get(kind)
    if not agg or agg["cases"] < N_CASES:
        pytest.skip("the sweep did not run in full in this session")
    if N_CASES < 100:  # the shares below are statistical: a handful of cases may miss them
        pytest.skip(
            f"coverage shares need >= 100 cases per type (RANVIER_ADAPTIVE_CASES={N_CASES})"
        )
    assert agg["mismatches"] == 0 and agg["membrane_mismatches"] == 0, agg
    assert agg["active_layers"] >= 0.5 * agg["layers"], agg
    assert agg["membrane_entries"] > 0, agg
    assert agg["cases_saturated"] >= 0.1 * agg["cases"], agg
    # only the 'huge' regime (a fifth of the cases) draws biases of +-40000, on 1-4 neurons
    assert agg["cases_bias_wrapped"] >= 0.02 * agg["cases"], agg
    if kind == "ALIF":
        assert agg["cases_current_wrapped"] >= 0.1 * agg["cases"], agg
    # a_in << 6 leaving int32 is counted but not required: random_netx's 8-bit weights with
    # weight exponent 0 and fan-in <= 1400 stay below 2**25 (reported in the summary line)
    assert agg["cases_heterogeneous"] >= 0.25 * agg["cases"], agg
    assert agg["cases_with_readout"] >= 0.1 * agg["cases"], agg


# --------------------------------------------------------------------------------------------
# membrane traces
# --------------------------------------------------------------------------------------------
def _one_neuron_readout(path: Path) -> None:
    """1 input -> 1 memoryless non-spiking CUBA neuron, weight 200: v[t] = a_in[t] * 64."""
    spec = NetSpec(
        n_in=1, layers=[LayerSpec(weight=np.array([[200]]), vth_mant=1 << 17)], input_layer=True
    )
    write_spec(spec, path)


def test_membrane_columns_line_up_with_spike_columns(tmp_path):
    """Hand-computed: an input spike in column t reaches the neuron on the next step, so
    v = 200 << 6 = 12800 in column t + 1 and 0 elsewhere (iDecay = vDecay = 4096 forget
    everything each step). A spiking neuron's v is read after its reset (0 in its spike
    column); a non-spiking integrator (vDecay 0) keeps its sum."""
    path = tmp_path / "one.net"
    _one_neuron_readout(path)
    x = np.zeros((1, 10), np.uint8)
    x[0, [2, 5, 9]] = 1
    spikes, mems = lava_backend.run_lava(path, x, membrane_layers=[0])
    expected = np.zeros(10, np.int64)
    expected[[3, 6]] = 200 * 64  # the spike in column 9 would arrive in column 10: not run
    assert mems[0].dtype == np.int64 and mems[0].shape == (1, 10)
    assert mems[0][0].tolist() == expected.tolist()
    assert not spikes[0].any()
    assert isinstance(lava_backend.run_lava(path, x), list)  # no probes: the old return value

    # two neurons: a spiking one (threshold 100 << 6 = 6400 < 12800) and an integrator
    spec = NetSpec(
        n_in=1,
        layers=[
            LayerSpec(
                weight=np.array([[200], [50]]),
                i_decay=4096,
                v_decay=np.array([4096, 0]),
                vth_mant=np.array([100, 1 << 17]),
            )
        ],
    )
    write_spec(spec, path)
    spikes, mems = lava_backend.run_lava(path, x[None], membrane_layers=[-1])
    assert spikes[0][0, 0].tolist() == [0, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    assert mems[0][0, 0].tolist() == [0] * 10  # reset in the same column as its spike
    assert mems[0][0, 1].tolist() == [0, 0, 0] + [3200] * 3 + [6400] * 4


def _spec_adlif_trace(a_in: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """docs/neurons.md "The Loihi 2 fixed-point form", transcribed with Python ints, one neuron
    at a time (a third reading of the text, independent of hw_models and of adlif_process)."""

    def frac(m: int, x: int) -> int:
        mag = (abs(x) * m) >> 12
        return mag if x >= 0 else -mag

    def wrap32(x: int) -> int:
        return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)

    def sat24(x: int) -> int:
        return max(-SAT, min(SAT, x))

    c, t_steps = a_in.shape
    spikes = np.zeros((c, t_steps), np.uint8)
    u_trace = np.zeros((c, t_steps), np.int64)
    for j in range(c):
        keys = ("u_decay", "w_decay", "a_mant", "b_mant", "vth")
        ud, wd, am, bm, vt = (int(p[key][j]) for key in keys)
        bias_mant = ((int(p["bias_mant"][j]) + (1 << 15)) % (1 << 16)) - (1 << 15)  # int16
        bias = wrap32(bias_mant << 6)
        u = w = s = 0
        for t in range(t_steps):
            total = wrap32(wrap32(int(a_in[j, t])) << 6) + bias
            w = sat24(frac(4096 - wd, w) + frac(am, u) + s * (bm << 6))
            u = sat24(frac(4096 - ud, u - s * (vt << 6)) + frac(ud, total - w))
            s = int(u > vt << 6)
            spikes[j, t], u_trace[j, t] = s, u
    return spikes, u_trace


@pytest.mark.parametrize("seed", range(4))
def test_adlif_process_follows_the_spec_text(seed):
    """RingBuffer -> AdLIFPlus.a_in directly (no synapse: column t acts on step t) with random
    int32 activations, large ones included (a_in << 6 wraps int32, u and w saturate), and an
    int16-wrapping bias; spikes and u against the spec transcribed in _spec_adlif_trace."""
    lava = lava_backend.import_lava()
    rng = np.random.default_rng(70_000 + seed)
    c, t_steps = 6, 40
    amp = [1 << 10, 1 << 16, 1 << 26, 1 << 31][seed]
    a_in = rng.integers(-amp, amp, (c, t_steps), dtype=np.int64)
    a_in[rng.random(a_in.shape) < 0.4] = 0
    p = {
        "u_decay": rng.choice([0, 1, 300, 2048, 4095, 4096], c),
        "w_decay": rng.choice([0, 1, 100, 4096], c),
        "a_mant": rng.choice([0, 500, 4096], c),
        "b_mant": rng.integers(0, 1 << 17, c),
        "vth": rng.choice([0, 50, 5000, (1 << 17) - 1, 1 << 17], c),
        "bias_mant": rng.integers(-40_000, 40_000, c),
    }
    source = lava.Source(data=a_in.astype(np.int32))
    neuron = lava.AdLIFPlus(
        shape=(c,),
        u_decay=p["u_decay"],
        w_decay=p["w_decay"],
        a_mant=p["a_mant"],
        b_mant=p["b_mant"],
        vth_mant=p["vth"],
        bias_mant=p["bias_mant"].astype(np.int32),  # as netx hands a bias over
        bias_exp=6,
    )
    source.s_out.connect(neuron.a_in)
    sink = lava.Sink(shape=(c,), buffer=t_steps)
    neuron.s_out.connect(sink.a_in)
    probe = lava.VarReader(buffer=t_steps)
    probe.connect_var(neuron.u)
    try:
        neuron.create_runtime(run_cfg=lava_backend.fixed_pt_run_cfg([neuron]))
        neuron.runtime.start(lava.RunSteps(num_steps=t_steps, blocking=False))
        lava_backend.wait_for_run(neuron.runtime, timeout=120)
        spikes = np.asarray(sink.data.get()).reshape(c, t_steps)
        u = np.asarray(probe.data.get()).reshape(c, t_steps)
    finally:
        lava_backend.shutdown(neuron)
    want_spikes, want_u = _spec_adlif_trace(a_in, p)
    assert np.array_equal(spikes, want_spikes), np.argwhere(spikes != want_spikes)[:5]
    assert np.array_equal(u.astype(np.int64), want_u), np.argwhere(u != want_u)[:5]
    if seed >= 2:
        assert np.any(np.abs(want_u) == SAT)  # the large inputs did reach the bound


@pytest.mark.parametrize("kind", KINDS)
def test_readout_network_membranes_match_lava(tmp_path, kind):
    """ALIF/ADLIF layers followed by the seed's non-spiking memoryless CUBA read-out
    (iDecay = vDecay = 4096, vThMant = 2**17): every layer's membrane, entry for entry.

    Some random networks never drive their read-out (an inhibitory-only first layer, a layer
    that stays silent); a silent read-out would compare zeros with zeros, so seeds are drawn
    in order until 3 networks have a driven read-out (the draw count is bounded)."""
    failures, driven, draws = [], 0, 0
    while driven < 3:
        draws += 1
        assert draws <= 15, f"only {driven} of {draws - 1} random networks drove the read-out"
        rng = np.random.default_rng(80_000 + 100 * KINDS.index(kind) + draws)
        # long enough for the largest delays (62) to deliver within the run
        x = random_spikes(rng, int(rng.integers(4, 20)), int(rng.integers(80, 120)), 0.3, samples=2)
        layout = DELAY_CYCLE[draws % len(DELAY_CYCLE)]
        spec = random_adaptive_spec(rng, kind, x, delay_layout=layout, readout=True)
        last = spec.layers[-1]
        assert (last.neuron_type, last.i_decay, last.v_decay) == ("CUBA", 4096, 4096)
        assert np.all(np.asarray(last.vth_mant) == 1 << 17)
        path = tmp_path / f"readout{draws}.net"
        write_spec(spec, path)
        readout = simulate(read_netx(path), x, record=[-1]).layers[-1]
        assert not readout.spikes.any()
        if not np.any(readout.membrane != 0):
            continue
        driven += 1
        stats = _compare(path, x, membranes=True)
        stats["cases_with_readout"] = 1
        stats["cases_heterogeneous"] = int(_heterogeneous(read_netx(path)))
        _record(f"readout:{kind}", stats)
        if stats["mismatches"] or stats["membrane_mismatches"]:
            failures.append(f"{kind} read-out draw {draws}: " + "; ".join(stats["details"]))
    assert not failures, "\n".join(failures)


def test_shared_adaptive_fixture_membranes_match_lava(adaptive_net):
    """tests/conftest.py's ALIF -> ADLIF -> read-out file (delays, per-neuron parameters)."""
    rng = np.random.default_rng(11)
    x = random_spikes(rng, read_netx(adaptive_net).n_in, 60, 0.4, samples=3)
    stats = _compare(adaptive_net, x, membranes=True)
    stats["cases_heterogeneous"] = int(_heterogeneous(read_netx(adaptive_net)))
    stats["cases_with_readout"] = 1
    _record("fixture", stats)
    assert stats["active_layers"] >= 2, stats
    assert stats["mismatches"] == 0 and stats["membrane_mismatches"] == 0, stats["details"]


# --------------------------------------------------------------------------------------------
# runtime reuse, refusals, CLI
# --------------------------------------------------------------------------------------------
def test_adlif_runtime_reuse_equals_fresh_networks(tmp_path, monkeypatch):
    """ADLIF networks share one runtime between samples (u, w, s and the synapse buffers are
    zeroed); that must equal a fresh network per sample, spikes and membranes alike."""
    rng = np.random.default_rng(90_000)
    x = random_spikes(rng, 12, 30, 0.3, samples=4)
    spec = random_adaptive_spec(rng, "ADLIF", x, delay_layout="per_synapse", readout=False)
    path = tmp_path / "reuse.net"
    write_spec(spec, path)
    layers = list(range(len(spec.layers)))
    builds = []
    original = lava_samples.Built.__init__

    def counting_init(self, *args, **kwargs):
        builds.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(lava_samples.Built, "__init__", counting_init)
    shared, shared_mem = lava_backend.run_lava(path, x, reuse=True, membrane_layers=layers)
    assert len(builds) == 1
    fresh, fresh_mem = lava_backend.run_lava(path, x, reuse=False, membrane_layers=layers)
    assert len(builds) == 1 + x.shape[0]
    assert sum(int(s.sum()) for s in shared) > 0
    for a, b in zip(shared, fresh, strict=True):
        assert np.array_equal(a, b)
    for i in layers:
        assert np.array_equal(shared_mem[i], fresh_mem[i])
    ours = simulate(read_netx(path), x, record=layers)
    for i in layers:
        assert np.array_equal(ours.layers[i].spikes, shared[i])
        assert np.array_equal(ours.layers[i].membrane, shared_mem[i])


def test_alif_layer_with_several_vthstep_values_is_refused(tmp_path):
    """lava's ATRLIF crashes on a per-neuron theta_step (atrlif/models.py:245): refused early."""
    spec = NetSpec(
        n_in=2,
        layers=[
            LayerSpec(
                weight=np.array([[100, 20], [50, 60], [10, 90]]),
                i_decay=1024,
                v_decay=128,
                vth_mant=40,
                neuron_type="ALIF",
                neuron_fields={"thDecay": 10, "refDecay": 100, "vThStep": np.array([1, 2, 2])},
            )
        ],
    )
    path = tmp_path / "steps.net"
    write_spec(spec, path)
    x = np.ones((2, 5), np.uint8)
    # the message names the file's layer group (layer/0 is the input layer)
    with pytest.raises(ValueError, match="one vThStep per layer: layer 1 has 2 values"):
        lava_backend.run_lava(path, x)
    read_netx(path)  # ranvier itself runs it
    simulate(read_netx(path), x)


def _cli_json(*args: str) -> dict:
    from ranvier.cli import app

    result = CliRunner().invoke(app, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", KINDS)
def test_cli_lava_backend_matches_default_backend(tmp_path, kind):
    """``ranvier run NET --input X --backend lava --json`` reports the same per-layer spike
    counts as the default backend, and ``--record`` membranes saved by both are equal."""
    rng = np.random.default_rng(95_000 + KINDS.index(kind))
    x = random_spikes(rng, 10, 40, 0.3, samples=2)
    spec = random_adaptive_spec(rng, kind, x, delay_layout="per_synapse", readout=True)
    path = tmp_path / f"{kind.lower()}.net"
    write_spec(spec, path)
    inp = tmp_path / "x.npy"
    np.save(inp, x)
    runs = {}
    for backend in ("ranvier", "lava"):
        mem = tmp_path / f"mem_{backend}.npz"
        common = (str(path), "--input", str(inp), "--save-membrane", str(mem), "--record", "0,-1")
        runs[backend] = (_cli_json(*common, "--backend", backend), dict(np.load(mem)))
    (ours, our_mem), (theirs, their_mem) = runs["ranvier"], runs["lava"]
    assert theirs["backend"] == "lava" and ours["backend"] == "ranvier"
    counts = [[layer["spikes"] for layer in run["layers"]] for run in (ours, theirs)]
    assert counts[0] == counts[1]
    assert sum(counts[1]) > 0
    assert sorted(our_mem) == sorted(their_mem) == ["layer_0", f"layer_{len(spec.layers) - 1}"]
    for key in our_mem:
        assert np.array_equal(our_mem[key], their_mem[key]), key
