"""ranvier's resonate-and-fire units against lava-nc 0.10.0's RF / RF_IZ (fixed_pt), and the
complex dense synapse against lava-dl 0.6.0 netx's ComplexDense, spike for spike and state
for state.

Runs only in the lava reference environment (.venv-lava). Three parts:

- the decay round trip: netx's ``neuron_params`` (lava-dl's own function) and lava's ``RF``
  constructor over every (sinDecay, cosDecay) in -4096..4096, array path and a sample of the
  scalar path, against :func:`lava_rf_decays`;
- direct cases: two fixed-point ``io.source.RingBuffer`` s write random integers into
  ``a_real_in`` and ``a_imag_in`` of several RF and RF_IZ processes at once (each built with
  netx's ``Network.get_neuron_params`` from a neuron config: one threshold per process,
  per-neuron or shared decays, per-neuron input scales from sparse small inputs to 2**31);
  the neuron receives column t on the step the source sends it, so the kernel gets the same
  array;
- netx files: a one- or two-layer network of complex dense layers written as SLAYER writes
  them (``weight/real``, ``weight/imag``, ``neuron/type`` RF_PHASE or RF_IZHIKEVICH) and
  loaded by netx's ``hdf5.Network`` (``ComplexDense`` blocks: two bit-accurate Dense
  synapses per layer), fed binary spikes; ranvier runs ``ComplexDenseSynapse`` and the
  kernels. Some files also hold a ``bias`` and a ``delay`` and some networks are built with
  netx's ``reset_interval``: netx's complex branch reads none of them, ranvier ignores them;
- two measurements: the int16-declared input ports deliver int32 (no 16-bit wrap), and RF
  takes one threshold only.

Sinks record the spikes, ``io.sink.Read`` probes record real and imag after every step.
Zero mismatching bins (spikes, real, imag) is the only pass; a summary line with the cases,
bins, spikes and regimes reached is printed. ``RANVIER_RF_CASES`` sets the number of direct
cases (processes; default 96, four per lava run), ``RANVIER_RF_NETX_CASES`` the netx networks
(default 12).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy import lava as lava_backend
from ranvier.deploy.lava.runtime import close_netx_file
from ranvier.hw_models import simulate
from ranvier.hw_models.neurons import neuron_unit
from ranvier.hw_models.neurons.rf import RI_LIMIT, ResonatorNeurons, lava_rf_decays
from ranvier.hw_models.synapses import ComplexDenseSynapse

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available() or importlib.util.find_spec("lava.proc.rf") is None:
    pytest.skip("lava-nc (with RF) not installed: use .venv-lava", allow_module_level=True)

N_CASES = int(os.environ.get("RANVIER_RF_CASES", "96"))
N_NETX = int(os.environ.get("RANVIER_RF_NETX_CASES", "12"))
PER_RUN = 4  # processes sharing one lava run (and its two sources)
TAGS = ("RF_PHASE", "RF_IZHIKEVICH")
VTH_REGIMES = ("small", "zero_or_negative", "large", "int32_wrap", "non_spiking")
DECAY_MIXES = ("slayer", "any", "unstable", "edges")
SUMMARY: dict[str, int] = dict.fromkeys(
    (
        "cases",
        "neurons",
        "bins",
        "spikes",
        "mismatches",
        "netx_networks",
        "netx_layers",
        "clipped",
        "shift_wrapped",
        "vth_wrapped",
        "decays_changed",
        "negative_decays",
        "gain_above_1",
        "per_neuron_decays",
        "shared_decays",
        "rf_spiking_cases",
        "rf_iz_spiking_cases",
    ),
    0,
)


def _lava():
    lava = lava_backend.import_lava()  # lava's fork start-method handling
    from lava.lib.dl.netx.hdf5 import Network
    from lava.lib.dl.slayer.neuron.rf import neuron_params
    from lava.proc.rf.process import RF

    return lava, Network, neuron_params, RF


# --- the decay round trip ----------------------------------------------------------------------
def test_decay_round_trip_equals_lava_over_the_whole_range():
    """Every (sinDecay, cosDecay) in -4096..4096: lava-dl's neuron_params, then lava-nc's RF
    constructor (arrays, as netx passes per-neuron decays), against lava_rf_decays; and 3000
    random pairs as numpy int64 scalars (netx's per-layer decays) through the same
    functions."""
    _, _, neuron_params, rf_cls = _lava()
    vals = np.arange(-4096, 4097, dtype=np.int64)
    rows = 512
    mismatches = changed = total = 0
    for a in range(0, vals.size, rows):
        s = np.repeat(vals[a : a + rows], vals.size)
        c = np.tile(vals, min(rows, vals.size - a))
        with np.errstate(divide="ignore"):
            p = neuron_params({"sinDecay": s, "cosDecay": c, "vThMant": np.int64(1)})
        rf = rf_cls(
            shape=(s.size,),
            period=p["period"],
            alpha=p["decay"],
            state_exp=6,
            decay_bits=12,
            vth=np.int64(1),
        )
        theirs = (np.asarray(rf.sin_decay.init), np.asarray(rf.cos_decay.init))
        ours = lava_rf_decays(s, c)
        mismatches += int(np.count_nonzero(ours[0] != theirs[0]))
        mismatches += int(np.count_nonzero(ours[1] != theirs[1]))
        changed += int(np.count_nonzero((theirs[0] != s) | (theirs[1] != c)))
        total += s.size
    rng = np.random.default_rng(7)
    for s, c in rng.integers(-4096, 4097, (3000, 2)):
        with np.errstate(divide="ignore"):
            p = neuron_params({"sinDecay": np.int64(s), "cosDecay": np.int64(c), "vThMant": 1})
        rf = rf_cls(
            shape=(1,),
            period=p["period"],
            alpha=p["decay"],
            state_exp=6,
            decay_bits=12,
            vth=np.int64(1),
        )
        ours = lava_rf_decays(np.int64(s), np.int64(c))
        if (int(ours[0]), int(ours[1])) != (int(rf.sin_decay.init), int(rf.cos_decay.init)):
            mismatches += 1
    print(
        f"\nrf decay round trip: {total} pairs + 3000 scalar pairs, {changed} pairs changed by "
        f"lava's float round trip, {mismatches} mismatches"
    )
    assert changed > 0  # the round trip does change integers: the check is not vacuous
    assert mismatches == 0


# --- the direct cases ----------------------------------------------------------------------
def _decays(rng: np.random.Generator, mix: str, c: int) -> tuple[np.ndarray, np.ndarray]:
    if mix == "slayer":  # SLAYER's first quadrant: period >= 4, gain below 1
        period = rng.uniform(4, 80, c)
        alpha = rng.uniform(0, 0.3, c)
        sin = np.rint(4096 * (1 - alpha) * np.sin(2 * np.pi / period))
        cos = np.rint(4096 * (1 - alpha) * np.cos(2 * np.pi / period))
        return np.maximum(sin, 1).astype(np.int64), cos.astype(np.int64)
    if mix == "unstable":  # gain above 1: states grow into the 24-bit clip
        return rng.integers(-4096, 4097, c), rng.choice([-1, 1], c) * (
            4096 - rng.integers(0, 200, c)
        )
    if mix == "edges":
        edge = np.array([-4096, -1, 0, 1, 2, 4095, 4096])
        return rng.choice(edge, c), rng.choice(edge, c)
    return rng.integers(-4096, 4097, c), rng.integers(-4096, 4097, c)


def _vth_mant(rng: np.random.Generator, regime: str) -> int:
    return int(
        {
            "small": rng.integers(1, 1 << 10),
            "zero_or_negative": rng.integers(-(1 << 12), 1),
            "large": rng.integers(1 << 12, 1 << 17),
            "int32_wrap": rng.choice([-(1 << 25), 1 << 25, (1 << 26) + 5, -(1 << 26) - 7]),
            "non_spiking": rng.integers(1 << 17, 1 << 20),
        }[regime]
    )


def _inputs(rng: np.random.Generator, c: int, t_steps: int) -> np.ndarray:
    """``(C, T)`` complex: per neuron an input scale from 2**2 to 2**31 and a sparsity."""
    scale = 2.0 ** rng.uniform(2, 31, (c, 1))
    keep = rng.uniform(0.05, 1.0, (c, 1))
    parts = []
    for _ in range(2):
        x = np.rint(rng.uniform(-1, 1, (c, t_steps)) * scale).astype(np.int64)
        x[rng.random((c, t_steps)) > keep] = 0
        parts.append(np.clip(x, -(1 << 31), (1 << 31) - 1))
    return parts[0] + 1j * parts[1]


def _probe(lava, neuron, t_steps: int) -> tuple:
    readers = []
    for var in (neuron.real, neuron.imag):
        reader = lava.VarReader(buffer=t_steps)
        reader.connect_var(var)
        readers.append(reader)
    sink = lava.Sink(shape=neuron.s_out.shape, buffer=t_steps)
    neuron.s_out.connect(sink.a_in)
    return sink, readers


def _collect(sink, readers, c: int, t_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spikes = np.asarray(sink.data.get()).reshape(c, t_steps)
    real, imag = (np.asarray(r.data.get()).reshape(c, t_steps) for r in readers)
    assert set(np.unique(spikes).tolist()) <= {0, 1}
    return spikes.astype(np.uint8), real.astype(np.int64), imag.astype(np.int64)


def _ours(group: ResonatorNeurons, a_in: np.ndarray) -> tuple[np.ndarray, ...]:
    """Spikes, real, imag ``(C, T)`` from the kernel for ``a_in`` ``(T, N=1, C)``: the whole
    run for spikes and imag, then one step per chunk (state carried) for real, which also
    checks the chunked run against the whole one."""
    membrane = np.zeros(a_in.shape)
    spikes = group.run(a_in, membrane)
    state: dict[str, np.ndarray] = {}
    real = np.zeros(a_in.shape)
    for t in range(a_in.shape[0]):
        again = group.run(a_in[t : t + 1], None, None, state)
        assert np.array_equal(again, spikes[t : t + 1]), "chunked run differs from one piece"
        real[t] = state["real"]
    return spikes[:, 0, :].T, real[:, 0, :].T.astype(np.int64), membrane[:, 0, :].T.astype(np.int64)


def _compare(label: str, group, a_in, theirs) -> list[str]:
    ours = _ours(group, a_in)
    bins = sum(int(np.count_nonzero(o != t)) for o, t in zip(ours, theirs, strict=True))
    SUMMARY["bins"] += 3 * theirs[0].size
    SUMMARY["spikes"] += int(theirs[0].sum())
    SUMMARY["mismatches"] += bins
    if not bins:
        return []
    where = {
        name: np.argwhere(o != t)[:3].tolist()
        for name, o, t in zip(("spikes", "real", "imag"), ours, theirs, strict=True)
        if np.any(o != t)
    }
    return [f"{label}: {bins} bins differ (neuron, step): {where}"]


def _regimes(group: ResonatorNeurons, a_in: np.ndarray, theirs) -> None:
    sin, cos = group.effective_decays
    SUMMARY["neurons"] += group.n
    # per neuron: real or imag reached the 24-bit clip; an input whose << 6 wrapped int32
    SUMMARY["clipped"] += int(
        np.any((np.abs(theirs[1]) == RI_LIMIT) | (np.abs(theirs[2]) == RI_LIMIT), axis=1).sum()
    )
    a = np.concatenate([a_in.real, a_in.imag]).astype(np.int64).reshape(-1, group.n)
    SUMMARY["shift_wrapped"] += int(np.any(np.abs(a << 6) >= 1 << 31, axis=0).sum())
    SUMMARY["vth_wrapped"] += int(np.any(group.vth != group.vth_mant * 64))
    SUMMARY["decays_changed"] += int(
        np.any(sin != group.sin_decay) or np.any(cos != group.cos_decay)
    )
    SUMMARY["negative_decays"] += int(np.any(sin < 0) or np.any(cos < 0))
    SUMMARY["gain_above_1"] += int(np.any(np.hypot(sin, cos) > 4096))
    key = "rf_spiking_cases" if group.neuron_type == "RF_PHASE" else "rf_iz_spiking_cases"
    SUMMARY[key] += int(theirs[0].any())


def _direct_run(run: int) -> list[str]:
    """One lava run: PER_RUN processes fed by the same two sources."""
    lava, network_cls, _, _ = _lava()
    rng = np.random.default_rng(60_000 + run)
    c = int(rng.integers(16, 65))
    t_steps = int(rng.integers(20, 81))
    a_in = _inputs(rng, c, t_steps)  # (C, T)
    re_src = lava.Source(data=a_in.real.astype(np.int32))
    im_src = lava.Source(data=a_in.imag.astype(np.int32))
    cases = []
    for k in range(PER_RUN):
        index = run * PER_RUN + k
        if index >= N_CASES:
            break
        tag = TAGS[index % 2]
        mix = DECAY_MIXES[(index // 2) % len(DECAY_MIXES)]
        vth_regime = VTH_REGIMES[(index // 8) % len(VTH_REGIMES)]
        sin, cos = _decays(rng, mix, c)
        shared = rng.random() < 0.25  # one decay pair for the process (netx's scalar path)
        if shared:
            sin, cos = np.int64(sin[0]), np.int64(cos[0])
        vth_mant = _vth_mant(rng, vth_regime)
        config = {"type": tag, "sinDecay": sin, "cosDecay": cos, "vThMant": np.int64(vth_mant)}
        with np.errstate(divide="ignore"):
            params = network_cls.get_neuron_params(config)
        proc_cls = params.pop("neuron_proc")
        neuron = proc_cls(shape=(c,), **params)
        re_src.s_out.connect(neuron.a_real_in)
        im_src.s_out.connect(neuron.a_imag_in)
        group = neuron_unit(tag).create(c, vth_mant=vth_mant, sin_decay=sin, cos_decay=cos)
        label = f"case {index} ({tag}, decays {mix}{' shared' if shared else ''}, vth {vth_regime})"
        cases.append((label, group, neuron, *_probe(lava, neuron, t_steps)))
        SUMMARY["shared_decays" if shared else "per_neuron_decays"] += 1
    if not cases:
        return []
    anchor = cases[0][2]
    try:
        anchor.create_runtime(run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"))
        anchor.runtime.start(lava.RunSteps(num_steps=t_steps, blocking=False))
        lava_backend.wait_for_run(anchor.runtime, timeout=180)
        results = [_collect(sink, readers, c, t_steps) for *_, sink, readers in cases]
    finally:
        lava_backend.shutdown(anchor)
    failures = []
    a_tm = a_in.T[:, None, :]  # (T, 1, C)
    for (label, group, *_), theirs in zip(cases, results, strict=True):
        SUMMARY["cases"] += 1
        _regimes(group, a_tm, theirs)
        failures += _compare(label, group, a_tm, theirs)
    return failures


@pytest.fixture(scope="module", autouse=True)
def _summary():
    start = time.monotonic()
    yield
    s = SUMMARY
    print(
        f"\nrf equivalence ({time.monotonic() - start:.0f} s): {s['cases']} direct cases "
        f"({s['per_neuron_decays']} per-neuron decays, {s['shared_decays']} shared) and "
        f"{s['netx_networks']} netx networks ({s['netx_layers']} layers), {s['neurons']} "
        f"neurons, {s['bins']} bins compared (spikes, real, imag), {s['spikes']} lava spikes, "
        f"{s['mismatches']} mismatching bins; cases with RF spikes: {s['rf_spiking_cases']}, "
        f"RF_IZ spikes: {s['rf_iz_spiking_cases']}, vth wrapped: {s['vth_wrapped']}, decays "
        f"changed by the round trip: {s['decays_changed']}, negative decays: "
        f"{s['negative_decays']}, gain above 1: {s['gain_above_1']}; neurons whose real/imag "
        f"reached the 24-bit clip: {s['clipped']}, whose input << 6 wrapped int32: "
        f"{s['shift_wrapped']}"
    )


BLOCKS = 4


@pytest.mark.parametrize("block", range(BLOCKS))
def test_direct_inputs_match_kernels(block):
    """RingBuffers -> a_real_in / a_imag_in of RF and RF_IZ processes built by netx's
    get_neuron_params: spikes, real and imag, every step."""
    runs = -(-N_CASES // PER_RUN)
    per_block = -(-runs // BLOCKS)
    failures = []
    for run in range(block * per_block, min(runs, (block + 1) * per_block)):
        failures += _direct_run(run)
    assert not failures, "\n".join(failures)


# --- netx files ----------------------------------------------------------------------------
def _write_layer(
    group, tag: str, w_re: np.ndarray, w_im: np.ndarray, neuron: dict, extra: dict
) -> None:
    """One complex dense layer as SLAYER's AbstractDense.export_hdf5 writes it (``extra``:
    a ``bias`` or ``delay`` SLAYER would add, which netx's complex branch never reads)."""
    group.create_dataset("type", (1,), "S10", [b"dense"])
    group.create_dataset("shape", data=np.array([w_re.shape[0]]))
    group.create_dataset("inFeatures", data=w_re.shape[1])
    group.create_dataset("outFeatures", data=w_re.shape[0])
    group.create_dataset("weight/real", data=w_re)
    group.create_dataset("weight/imag", data=w_im)
    group.create_dataset("neuron/type", data=tag)
    for key, value in neuron.items():
        group.create_dataset(f"neuron/{key}", data=value)
    group.create_dataset("neuron/gradedSpike", data=False)
    for key, value in extra.items():
        group.create_dataset(key, data=value)


def _file_weights(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Even integers in [-256, 254] as SLAYER's quantize_8bit exports them, or one sign."""
    kind = rng.integers(0, 3)
    w = 2 * rng.integers(-128, 128, shape)  # mixed: -256..254
    if kind == 1:  # excitatory: 0..254
        w = np.abs(np.maximum(w, -254))
    elif kind == 2:  # inhibitory: -254..0
        w = -np.abs(np.maximum(w, -254))
    w[rng.random(shape) < 0.3] = 0
    w.flat[0] = w.flat[0] or (2 if kind != 2 else -2)  # netx cannot map an all-zero matrix
    return w.astype(np.int64)


def _netx_case(case: int, tmp_path: Path) -> list[str]:
    import h5py

    lava, network_cls, _, _ = _lava()
    rng = np.random.default_rng(70_000 + case)
    n_in = int(rng.integers(2, 12))
    layers = 1 + int(case % 2)
    t_steps = int(rng.integers(40, 101))
    sizes = [n_in] + [int(rng.integers(2, 16)) for _ in range(layers)]
    spec = []
    path = tmp_path / f"rf_{case}.net"
    with h5py.File(path, "w") as f:
        for i in range(layers):
            tag = TAGS[(case // 2 + i) % 2]
            shape = (sizes[i + 1], sizes[i])
            w_re, w_im = _file_weights(rng, shape), _file_weights(rng, shape)
            c = sizes[i + 1]
            sin, cos = _decays(rng, ("slayer", "any", "edges")[(case + i) % 3], c)
            if rng.random() < 0.5:  # scalars when all neurons share them, as SLAYER writes
                sin, cos = np.int64(sin[0]), np.int64(cos[0])
            vth_mant = int(rng.integers(1, 1 << 9))
            extra = {}
            if case % 3 == 0:  # lava must ignore them, as ranvier does
                extra = {"bias": rng.integers(-500, 500, c), "delay": rng.integers(0, 63, c)}
            _write_layer(
                f.create_group(f"layer/{i}"),
                tag,
                w_re,
                w_im,
                {"sinDecay": sin, "cosDecay": cos, "vThMant": vth_mant},
                extra,
            )
            spec.append((tag, w_re, w_im, sin, cos, vth_mant))
    spikes = (rng.random((n_in, t_steps)) < rng.uniform(0.2, 0.8)).astype(np.int64)
    # netx ignores reset_interval for RF layers: every other network asks for a reset, and
    # ranvier's run (without reset) must still match
    reset = {"reset_interval": int(rng.integers(5, 20))} if case % 4 >= 2 else {}
    with np.errstate(divide="ignore"):
        net = network_cls(net_config=str(path), **reset)
    source = lava.Source(data=spikes.astype(np.int32))
    source.s_out.connect(net.inp)
    sink = lava.Sink(shape=net.out.shape, buffer=t_steps)
    net.out.connect(sink.a_in)
    probes = []
    for layer in net.layers:
        assert type(layer).__name__ == "ComplexDense"
        probes.append(_probe(lava, layer.neuron, t_steps))  # each layer's own spikes too
    try:
        net.create_runtime(run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"))
        net.runtime.start(lava.RunSteps(num_steps=t_steps, blocking=False))
        lava_backend.wait_for_run(net.runtime, timeout=180)
        out_spikes = np.asarray(sink.data.get()).reshape(-1, t_steps).astype(np.uint8)
        results = [
            _collect(sk, readers, size, t_steps)
            for (sk, readers), size in zip(probes, sizes[1:], strict=True)
        ]
    finally:
        lava_backend.shutdown(net)
        close_netx_file(net)
    failures = []
    x = spikes[None].astype(np.uint8)  # (N=1, n_in, T)
    for i, (tag, w_re, w_im, sin, cos, vth_mant) in enumerate(spec):
        synapse = ComplexDenseSynapse.from_file_weights(w_re, w_im)
        group = neuron_unit(tag).create(
            synapse.n_out, vth_mant=vth_mant, sin_decay=sin, cos_decay=cos
        )
        a_in = synapse.synaptic_input(x)  # (T, 1, n_out) complex
        theirs = results[i]
        SUMMARY["netx_layers"] += 1
        _regimes(group, a_in, theirs)
        failures += _compare(f"netx case {case} layer {i} ({tag})", group, a_in, theirs)
        x = theirs[0][None]  # (1, n_out, T): lava's spikes are the next layer's input
    if not np.array_equal(out_spikes, results[-1][0]):
        failures.append(f"netx case {case}: the network's output is not its last layer's")
    # the whole file through ranvier's reader and simulator, as `ranvier run` runs it
    simulated = simulate(read_netx(path), spikes[None])
    for i, layer in enumerate(simulated.layers):
        if not np.array_equal(layer.spikes[0], results[i][0]):
            failures.append(f"netx case {case} layer {i}: read_netx + simulate differ from lava")
    SUMMARY["netx_networks"] += 1
    return failures


def test_netx_complex_dense_networks_match(tmp_path):
    """netx hdf5.Network of complex dense layers (ComplexDense: two Dense synapses into
    RF / RF_IZ) against ComplexDenseSynapse and the kernels, layer after layer."""
    failures = []
    for case in range(N_NETX):
        failures += _netx_case(case, tmp_path)
    assert not failures, "\n".join(failures)
    assert SUMMARY["netx_layers"] > N_NETX  # two-layer networks did run


def test_input_ports_deliver_int32(tmp_path):
    """The RF ports are declared int16 (LavaPyType(..., np.int16, precision=24)); recv()
    returns int32 (the int16 zeros plus the int32 message, promoted) and passes 40000,
    2**20 and 2**30 unchanged: nothing wraps at 16 bits. Measured by wrapping
    PyInPortVectorDense.recv in the forked workers."""
    lava, network_cls, _, _ = _lava()
    from lava.magma.core.model.py import ports

    log = tmp_path / "recv.log"
    original = ports.PyInPortVectorDense.recv

    def recv(self):
        out = original(self)
        if type(self._process_model).__name__ == "PyRFModelFixed":
            with open(log, "a") as f:
                f.write(f"{np.dtype(self._d_type).name} {out.dtype.name} {out.tolist()}\n")
        return out

    real = np.array([[40000, 1 << 20, 1 << 30]])
    imag = np.array([[-40000, 5, -(1 << 30)]])
    params = network_cls.get_neuron_params(
        {
            "type": "RF_PHASE",
            "sinDecay": np.int64(100),
            "cosDecay": np.int64(4000),
            "vThMant": np.int64(1),
        }
    )
    neuron = params.pop("neuron_proc")(shape=(1,), **params)
    for data, port in ((real, neuron.a_real_in), (imag, neuron.a_imag_in)):
        source = lava.Source(data=data.astype(np.int32))
        source.s_out.connect(port)
    ports.PyInPortVectorDense.recv = recv
    try:
        neuron.create_runtime(run_cfg=lava.Loihi2SimCfg(select_tag="fixed_pt"))
        neuron.runtime.start(lava.RunSteps(num_steps=3, blocking=False))
        lava_backend.wait_for_run(neuron.runtime, timeout=120)
    finally:
        ports.PyInPortVectorDense.recv = original
        lava_backend.shutdown(neuron)
    lines = log.read_text().split("\n")[:-1]
    received = sorted(int(line.split(" ", 2)[2].strip("[]")) for line in lines)
    assert {tuple(line.split(" ")[:2]) for line in lines} == {("int16", "int32")}
    assert received == sorted([*real.ravel().tolist(), *imag.ravel().tolist()])


def test_rf_takes_one_threshold():
    """lava's RF constructor does ``int(vth * 64)``: an array of more than one threshold (even
    equal ones) is a TypeError, one value (scalar or length 1) works; ranvier's groups refuse
    thresholds that differ between neurons."""
    _, network_cls, _, _ = _lava()
    for vth, ok in ((np.int64(7), True), (np.array([7]), True), (np.array([7, 7]), False)):
        params = network_cls.get_neuron_params(
            {
                "type": "RF_PHASE",
                "sinDecay": np.int64(100),
                "cosDecay": np.int64(4000),
                "vThMant": vth,
            }
        )
        proc = params.pop("neuron_proc")
        if ok:
            assert int(proc(shape=(2,), **params).vth.init) == 7 * 64
        else:
            with pytest.raises(TypeError):
                proc(shape=(2,), **params)
    with pytest.raises(ValueError, match="vth_mant"):
        neuron_unit("RF_PHASE").create(2, vth_mant=[7, 8], sin_decay=100, cos_decay=4000)
