"""ranvier's sigma-delta kernels against lava-nc 0.10.0's fixed-point SDNN process models.

Runs only in the lava reference environment (.venv-lava). The processes are built as netx
builds them (lava-dl 0.6.0 ``Network.get_neuron_params`` on an SDNN neuron group, then the
block's ``_neuron``: ``bias.astype(np.int32)`` under the key ``bias``), and run under
``Loihi2SimCfg(select_tag='fixed_pt')``. One lava run holds one fixed-point
``io.source.RingBuffer`` (C channels of random int32 input, straight into ``a_in``) fanned
out to K processes of one kind (Delta, SigmaDelta or Sigma), each one case with its own
parameters, each read by an ``io.sink.RingBuffer`` on ``s_out``; every fourth case also has an
``io.sink.Read`` probe of its membrane Var (sigma, or Delta's act), and every case's final
sigma/act/residue/error are read after the run. A process receives input column t and sends
its payload on the same step, so the kernel gets the source's array unshifted.

Cases labelled ``netx`` use exactly netx's arguments (state_exp 6, RELU, no cumulative
error); the others add lava options netx does not pass (another state_exp, ``act_mode=UNIT``,
``cum_error=True``). Zero differing entries (payloads, probed membranes, final states) is
the only pass; a summary line gives the cases, entries, non-zero payloads, mismatches and
how often each wrap/saturation regime was reached. ``RANVIER_SDNN_CASES`` sets the number of
cases (default 240: 1.5 minutes on 2 cores here, about 3 under heavy load).
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models.fixed_point import wrap_int32
from ranvier.hw_models.neurons.sdnn import (
    DeltaNeurons,
    SigmaDeltaNeurons,
    SigmaNeurons,
    abs32,
    scale_exp,
)

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():
    pytest.skip("lava-nc / lava-dl not installed: use .venv-lava", allow_module_level=True)

N_CASES = int(os.environ.get("RANVIER_SDNN_CASES", "240"))
PER_RUN = 30  # processes (cases) fed by one source in one lava run
CHANNELS = 16  # neurons per process
I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
EDGES = [0, 1, -1, 2, -3, 1 << 30, -(1 << 30), I32_MAX, I32_MIN, I32_MAX - 1, I32_MIN + 1]
INPUT_REGIMES = ["normal", "sparse", "steady", "large", "huge", "edge"]
#: the fixed-point model each process must run under Loihi2SimCfg(select_tag='fixed_pt')
MODELS = {
    "SigmaDelta": "PySigmaDeltaModelFixed",
    "Delta": "PyDeltaModelFixed",
    "Sigma": "PySigmaModelFixed",
}
SUMMARY: Counter = Counter()
REACHED: Counter = Counter()
SELECTED: Counter = Counter()


def _lava():
    lava = lava_backend.import_lava()  # lava's fork start-method handling
    from lava.proc.sdn.process import ActivationMode

    return lava, ActivationMode


# --- cases ---------------------------------------------------------------------------------
def _column(rng: np.random.Generator, regime: str, t_steps: int) -> np.ndarray:
    """One neuron's input ``(T,)`` int64 within int32, in one input regime."""
    if regime == "edge":
        return rng.choice(np.array(EDGES, np.int64), t_steps)
    if regime == "steady":  # piecewise constant: zero deltas, residues that build up
        levels = rng.integers(-(1 << 12), 1 << 12, t_steps)
        hold = rng.random(t_steps) < 0.8
        for t in range(1, t_steps):
            levels[t] = levels[t - 1] if hold[t] else levels[t]
        return levels
    amp = {"normal": 1 << 10, "sparse": 1 << 14, "large": 1 << 20, "huge": 1 << 31}[regime]
    a = rng.integers(-amp, amp, t_steps, dtype=np.int64)
    if regime == "sparse":
        a[rng.random(t_steps) < 0.85] = 0
    return np.clip(a, I32_MIN, I32_MAX)


def _input(rng: np.random.Generator, t_steps: int) -> np.ndarray:
    """``(T, C)``: what the source sends (and ``a_in.recv()`` returns); the channels cycle
    through the input regimes, so every case meets all of them."""
    offset = int(rng.integers(len(INPUT_REGIMES)))
    regimes = [INPUT_REGIMES[(ch + offset) % len(INPUT_REGIMES)] for ch in range(CHANNELS)]
    return np.stack([_column(rng, r, t_steps) for r in regimes], axis=1)


def _params(rng: np.random.Generator, kind: str) -> dict:
    """One process's parameters: netx's arguments, sometimes with lava's other options."""
    spike_exp = int(rng.integers(0, 8))
    netx = rng.random() < 0.4
    state_exp = 6 if netx or rng.random() < 0.3 else int(rng.integers(0, 8))
    e = spike_exp + state_exp
    pick = rng.random()
    if pick < 0.15:
        vth = 0
    elif pick < 0.5:
        vth = int(rng.integers(1, 64))
    elif pick < 0.75:
        vth = int(rng.integers(64, 1 << 12))
    elif pick < 0.9:
        vth = int(rng.integers(1 << 12, 1 << 22))  # scaled: beyond int32 for large e
    else:
        vth = (1 << (31 - e)) * int(rng.integers(1, 4))  # scaled: exactly 2**31 * k, wraps
    pick = rng.random()
    if pick < 0.25:
        bias = None  # a layer without bias: netx passes none
    elif pick < 0.7:
        bias = rng.integers(-64, 64, CHANNELS)
    else:
        bias = rng.integers(-(1 << 20), 1 << 20, CHANNELS)  # scaled: wraps int32
    return {
        "netx": netx,
        "vth_mant": vth,
        "spike_exp": spike_exp,
        "state_exp": state_exp,
        "bias": bias if kind == "SigmaDelta" else None,
        "relu": netx or rng.random() < 0.6,
        "cum_error": (not netx) and rng.random() < 0.5,
        "message_bits": None if rng.random() < 0.7 else int(rng.integers(1, 25)),
    }


def _process(lava, act_mode_enum, kind: str, p: dict):
    """The lava process netx builds for this case (hdf5.py get_neuron_params, then
    blocks/process.py AbstractBlock._neuron), with the extra lava options of non-netx
    cases."""
    config = {"type": "SDNN", "vThMant": np.int64(p["vth_mant"])}
    if kind == "Sigma":
        config["sigma_output"] = True
    if p["message_bits"] is not None:
        config["messageBits"] = p["message_bits"]
    params = lava.Network.get_neuron_params(config, input=kind == "Delta", spike_exp=p["spike_exp"])
    proc_cls = params.pop("neuron_proc")
    assert proc_cls.__name__ == kind
    assert params.pop("num_message_bits") == (p["message_bits"] or 16)
    if kind != "Sigma":
        assert params["state_exp"] == 6 and params["spike_exp"] == p["spike_exp"]
        params["state_exp"] = p["state_exp"]
        if p["cum_error"]:
            params["cum_error"] = True
    if kind == "SigmaDelta":
        if not p["relu"]:
            params["act_mode"] = act_mode_enum.UNIT
        if p["bias"] is not None:
            params["bias"] = np.asarray(p["bias"]).astype(np.int32)  # AbstractBlock._neuron
    return proc_cls(shape=(CHANNELS,), **params)


def _group(kind: str, p: dict):
    if kind == "Sigma":
        return SigmaNeurons.create(CHANNELS, vth_mant=p["vth_mant"])
    common = {
        "vth_mant": p["vth_mant"],
        "spike_exp": p["spike_exp"],
        "state_exp": p["state_exp"],
        "cum_error": p["cum_error"],
        "message_bits": p["message_bits"] or 16,
    }
    if kind == "Delta":
        return DeltaNeurons.create(CHANNELS, **common)
    return SigmaDeltaNeurons.create(
        CHANNELS,
        **common,
        bias_mant=0 if p["bias"] is None else p["bias"],
        activation="relu" if p["relu"] else "unit",
    )


# --- one lava run ---------------------------------------------------------------------------
def _run_lava(kind: str, a_in: np.ndarray, cases: list[dict]) -> list[dict]:
    """One source fanned out to one process per case; each case's payloads ``(T, C)``,
    probed membrane (or None) and final Vars."""
    lava, act_mode_enum = _lava()
    t_steps = a_in.shape[0]
    source = lava.Source(data=a_in.T.astype(np.int32))
    procs, sinks, probes = [], [], []
    for k, p in enumerate(cases):
        proc = _process(lava, act_mode_enum, kind, p)
        sink = lava.Sink(shape=(CHANNELS,), buffer=t_steps)
        source.s_out.connect(proc.a_in)
        proc.s_out.connect(sink.a_in)
        probe = None
        if k % 4 == 0:
            probe = lava.VarReader(buffer=t_steps)
            probe.connect_var(proc.act if kind == "Delta" else proc.sigma)
        procs.append(proc)
        sinks.append(sink)
        probes.append(probe)
    names = ("sigma",) if kind == "Sigma" else ("act", "residue", "error")
    names += ("sigma",) if kind == "SigmaDelta" else ()
    try:
        source.create_runtime(run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"))
        for proc in procs:
            model = proc._model_class.__name__
            SELECTED[model] += 1
            assert model == MODELS[kind], f"{kind} ran {model}"
        source.runtime.start(lava.RunSteps(num_steps=t_steps, blocking=False))
        lava_backend.wait_for_run(source.runtime, timeout=300)
        out = []
        for proc, sink, probe in zip(procs, sinks, probes, strict=True):
            out.append(
                {
                    "payload": np.asarray(sink.data.get()).T,
                    "membrane": None if probe is None else np.asarray(probe.data.get()).T,
                    "state": {k: np.asarray(getattr(proc, k).get()) for k in names},
                }
            )
    finally:
        lava_backend.shutdown(source)
    return out


# --- regimes reached (the integer rules, unwrapped values compared with wrapped ones) -------
def _regimes(kind: str, p: dict, a_in: np.ndarray, payload: np.ndarray) -> set[str]:
    hit = set()
    sums = np.cumsum(a_in, axis=0)
    if np.any(wrap_int32(sums) != sums):
        hit.add("sigma_wrapped")
    if kind == "Sigma":
        return hit
    e = p["spike_exp"] + p["state_exp"]
    vth = scale_exp(p["vth_mant"], p["spike_exp"], p["state_exp"])
    if vth != p["vth_mant"] << e:
        hit.add("vth_wrapped" + ("_negative" if vth < 0 else ""))
    if kind == "Delta":
        x = a_in << e
        if np.any(wrap_int32(x) != x):
            hit.add("shift_wrapped")
        y = wrap_int32(x)
    else:
        bias = 0 if p["bias"] is None else np.asarray(p["bias"], np.int64)
        sbias = scale_exp(bias, p["spike_exp"], p["state_exp"])
        if np.any(sbias != bias * (1 << e)):
            hit.add("bias_wrapped")
        raw = wrap_int32(sums) + sbias
        if np.any(wrap_int32(raw) != raw):
            hit.add("sigma_plus_bias_wrapped")
        y = wrap_int32(raw)
        if p["relu"] and np.any(y < 0):
            hit.add("relu_clipped")
    # the encoder, step by step (the rule of delta_encode, with the raw sums kept)
    act = residue = error = np.zeros(CHANNELS, np.int64)
    for t in range(a_in.shape[0]):
        raw = y[t] - act + residue
        delta = wrap_int32(raw)
        if np.any(raw != delta):
            hit.add("delta_wrapped")
        if p["cum_error"]:
            error = wrap_int32(error + delta)
            fire = abs32(error) >= vth
            if np.any(error == I32_MIN):
                hit.add("error_at_int32_min")
        else:
            fire = abs32(delta) >= vth
        if np.any(delta == I32_MIN):
            hit.add("delta_at_int32_min")
        s = np.where(fire, delta, 0)
        if p["cum_error"]:
            if np.any(fire & (s == I32_MIN)):
                hit.add("error_kept_after_int32_min_message")
            error = np.where(abs32(s) > 0, 0, error)
        if np.any((s != 0) & (s >> p["state_exp"] << p["state_exp"] != s)):
            hit.add("low_bits_lost")
        residue = wrap_int32(delta - s)
        act = y[t]
    if np.any(payload != 0):
        hit.add("messages")
    return hit


def _check(kind: str, p: dict, a_in: np.ndarray, theirs: dict, label: str) -> list[str]:
    group = _group(kind, p)
    membrane = np.zeros((a_in.shape[0], 1, CHANNELS))
    state: dict = {}
    ours = group.run(a_in[:, None, :], membrane_out=membrane, state=state)[:, 0, :]
    failures = []
    diff = int(np.count_nonzero(ours != theirs["payload"]))
    compared = ours.size
    if theirs["membrane"] is not None:
        mdiff = np.count_nonzero(membrane[:, 0, :] != theirs["membrane"])
        compared += membrane.size
        if mdiff:
            failures.append(f"{label}: {mdiff} membrane entries differ")
        diff += int(mdiff)
    for name, value in theirs["state"].items():
        compared += value.size
        sdiff = int(np.count_nonzero(state[name][0] != value))
        if sdiff:
            failures.append(f"{label}: final {name} differs in {sdiff} neurons")
        diff += sdiff
    SUMMARY["cases"] += 1
    SUMMARY["netx_cases"] += int(p["netx"])
    SUMMARY["entries"] += compared
    SUMMARY["nonzero_payloads"] += int(np.count_nonzero(theirs["payload"]))
    SUMMARY["mismatches"] += diff
    if p.get("cum_error"):
        REACHED["cum_error"] += 1
    if kind == "SigmaDelta" and not p["relu"]:
        REACHED["act_mode_unit"] += 1
    for regime in _regimes(kind, p, a_in, theirs["payload"]):
        REACHED[regime] += 1
    if np.any(ours != theirs["payload"]):
        where = np.argwhere(ours != theirs["payload"])[:5].tolist()
        failures.append(f"{label}: payloads differ at (step, neuron) {where}")
    return failures


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    print(
        f"\nsdnn equivalence: {SUMMARY['cases']} cases ({SUMMARY['netx_cases']} with netx's "
        f"exact arguments), {SUMMARY['entries']} entries compared (payloads, probed "
        f"membranes, final states), {SUMMARY['nonzero_payloads']} non-zero lava payloads, "
        f"{SUMMARY['mismatches']} mismatches; models: {dict(SELECTED)}; regimes reached "
        f"(cases): {dict(sorted(REACHED.items()))}"
    )


def _share(kind: str) -> int:
    """Cases per kind: SigmaDelta 60 %, Delta 30 %, Sigma 10 % of N_CASES."""
    return {"SigmaDelta": N_CASES * 6 // 10, "Delta": N_CASES * 3 // 10}.get(
        kind, N_CASES - N_CASES * 6 // 10 - N_CASES * 3 // 10
    )


@pytest.mark.parametrize("kind", ["SigmaDelta", "Delta", "Sigma"])
def test_sdnn_processes_match_kernels(kind):
    """Random cases per process kind, PER_RUN of them per lava run."""
    failures: list[str] = []
    n_cases = _share(kind)
    seed0 = {"SigmaDelta": 70_000, "Delta": 80_000, "Sigma": 90_000}[kind]
    for run in range(-(-n_cases // PER_RUN)):
        rng = np.random.default_rng(seed0 + run)
        t_steps = int(rng.integers(30, 61))
        a_in = _input(rng, t_steps)
        cases = [_params(rng, kind) for _ in range(min(PER_RUN, n_cases - run * PER_RUN))]
        results = _run_lava(kind, a_in, cases)
        for k, (p, theirs) in enumerate(zip(cases, results, strict=True)):
            failures += _check(kind, p, a_in, theirs, f"{kind} run {run} case {k}")
    assert not failures, "\n".join(failures[:20])
    assert SUMMARY["nonzero_payloads"] > 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_model_selection_and_netx_mapping():
    """What lava-nc 0.10.0 offers for each SDNN process and what select_tag='fixed_pt'
    picks; netx's parameters for an SDNN group; Sigma and Delta take no bias."""
    lava, _ = _lava()
    from lava.magma.compiler.compiler_graphs import ProcGroupDiGraphs
    from lava.proc.sdn import models
    from lava.proc.sdn.process import Delta, Sigma, SigmaDelta

    cfg = lava.Loihi2SimCfg(select_tag="fixed_pt")
    procs = {
        "SigmaDelta": SigmaDelta(shape=(2,), vth=1, spike_exp=6, state_exp=6),
        "Delta": Delta(shape=(2,), vth=1, spike_exp=6, state_exp=6),
        "Sigma": Sigma(shape=(2,)),
    }
    for name, proc in procs.items():
        found = [m.__name__ for m in ProcGroupDiGraphs._find_proc_models(proc)]
        assert found == [f"Py{name}ModelFloat", MODELS[name]], found
        assert (
            cfg.select(proc, ProcGroupDiGraphs._find_proc_models(proc)).__name__ == (MODELS[name])
        )
    assert not hasattr(models, "PySigmaDeltaModelFixedCorrected")  # added after 0.10.0
    # netx: SDNN defaults (messageBits 16, state_exp 6, spike_exp = the Network argument)
    params = lava.Network.get_neuron_params({"type": "SDNN", "vThMant": 5}, spike_exp=3)
    assert params["neuron_proc"] is SigmaDelta
    assert {k: v for k, v in params.items() if k != "neuron_proc"} == {
        "vth": 5,
        "spike_exp": 3,
        "state_exp": 6,
        "num_message_bits": 16,
    }
    # the scaled Vars: vth * 2**(spike_exp + state_exp), bias likewise, as the kernels use
    proc = SigmaDelta(shape=(2,), vth=3, bias=np.array([2, -1], np.int32), spike_exp=1, state_exp=2)
    assert np.asarray(proc.vth.get()).reshape(-1).tolist() == [24]
    assert np.asarray(proc.bias.get()).reshape(-1).tolist() == [16, -8]
    with pytest.raises(TypeError):
        Sigma(shape=(2,), bias=np.zeros(2, np.int32))
    with pytest.raises(TypeError):
        Delta(shape=(2,), vth=1, bias=np.zeros(2, np.int32))
