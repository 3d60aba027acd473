"""Energy model: profiles, TOML errors, and the energy identities on real simulator runs.

Networks come from ``ranvier.testing.random_netx`` (written as netx files and read back, as users'
files are), run on ``hw_models.simulate``; every expected value is recomputed here with explicit
loops over neurons and synapses, independent of the vectorised code under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ranvier.convert.netx_hdf5 import read_netx
from ranvier.hw_models import simulate
from ranvier.hw_models.calibration import PILOTNET_LIF
from ranvier.hw_models.energy import (
    COST_FIELDS,
    LOIHI1,
    LOIHI2,
    LOIHI2_UPPER,
    OPERATIONS,
    PROFILES,
    CostProfile,
    ProfileError,
    energy_breakdown,
    load_profile,
)
from ranvier.hw_models.resources import LOIHI2_LIMITS, estimate_resources
from ranvier.testing.random_netx import (
    random_recurrent_case,
    random_spec,
    random_spikes,
    write_spec,
)

REL = 1e-12


def build_run(tmp: Path, seed: int, samples: int = 2, timesteps: int = 25):
    """A small random network (read back from its netx file), its input and its run."""
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(2, 12))
    sizes = [int(rng.integers(1, 9)) for _ in range(int(rng.integers(1, 4)))]
    x = random_spikes(rng, n_in, timesteps, float(rng.choice([0.1, 0.3, 0.6])), samples)
    spec = random_spec(
        rng,
        n_in=n_in,
        sizes=sizes,
        weight_style=str(rng.choice(["slayer", "sparse", "excitatory"])),
        regime="normal",
        calibrate=x,
    )
    path = tmp / f"net_{seed}.net"
    write_spec(spec, path)
    network = read_netx(path)
    return network, x, simulate(network, x)


def loop_synaptic_events(network, x) -> list[int]:
    """Per layer, over all samples: sum over spikes of the sender's non-zero fan-out (loops)."""
    out = []
    current = (np.asarray(x) != 0).astype(np.uint8)
    result = simulate(network, x)
    for block, layer in zip(network.blocks, result.layers, strict=True):
        # a recurrent layer: its feed-forward synapses see the input, its recurrent ones its
        # own spikes
        syn = block.synapse
        pairs = [(getattr(syn, "forward", syn).effective_weight, current)]
        if hasattr(syn, "recurrent"):
            pairs.append((syn.recurrent.effective_weight, np.asarray(layer.spikes)))
        total = 0
        for w, senders in pairs:
            for s in range(senders.shape[0]):
                for i in range(senders.shape[1]):
                    fan_out = sum(1 for j in range(w.shape[0]) if w[j, i] != 0)
                    for t in range(senders.shape[2]):
                        if senders[s, i, t]:
                            total += fan_out
        out.append(total)
        current = np.asarray(layer.spikes)
    return out


def build_recurrent_run(tmp: Path, seed: int):
    """A random network with recurrent (dense_rec) layers, its input and its run."""
    spec, x = random_recurrent_case(np.random.default_rng(seed), "CUBA", "normal")
    path = tmp / f"rec_{seed}.net"
    write_spec(spec, path)
    network = read_netx(path)
    return network, x, simulate(network, x)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("energy_nets")
    return [build_run(tmp, seed) for seed in range(6)] + [
        build_recurrent_run(tmp, seed) for seed in range(3)
    ]


def test_some_runs_are_lively(runs):
    """The identities below are not checked on silent networks only."""
    events = sum(int(layer.synaptic_events.sum()) for _, _, r in runs for layer in r.layers[1:])
    spikes = sum(int(layer.spike_counts.sum()) for _, _, r in runs for layer in r.layers)
    assert events > 0 and spikes > 0


def test_synaptic_events_match_explicit_loops(runs):
    for network, x, result in runs:
        expected = loop_synaptic_events(network, x)
        got = [int(layer.synaptic_events.sum()) for layer in result.layers]
        assert got == expected


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(100, 10_000))
def test_synaptic_events_match_loops_hypothesis(tmp_path, seed):
    network, x, result = build_run(tmp_path, seed, samples=1, timesteps=12)
    assert [int(layer.synaptic_events.sum()) for layer in result.layers] == (
        loop_synaptic_events(network, x)
    )


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_totals_are_sums_of_parts(runs, profile):
    for network, _, result in runs:
        rep = energy_breakdown(network, result, profile)
        layer_sum = math.fsum([*(layer.total_j for layer in rep.layers), rep.idle_static_j])
        op_sum = math.fsum(rep.by_operation.values())
        assert math.isclose(rep.total_j, layer_sum, rel_tol=REL)
        assert (rep.idle_static_j > 0) == (profile.static_chip_w is not None)
        assert math.isclose(rep.total_j, op_sum, rel_tol=REL)
        for layer in rep.layers:
            assert math.isclose(layer.total_j, math.fsum(layer.energy_j.values()), rel_tol=REL)
        # per-neuron shares + the input's synaptic energy + static energy = total
        parts = rep.neurons_j + rep.input_synaptic_j + rep.static_j
        assert math.isclose(rep.total_j, parts, rel_tol=REL, abs_tol=1e-30)


def test_per_neuron_parts_sum_to_layer_counts(runs):
    for network, _, result in runs:
        rep = energy_breakdown(network, result, LOIHI1)
        for i, layer in enumerate(rep.layers):
            assert int(layer.neuron_spikes.sum()) == layer.counts["spike"]
            assert int(layer.neuron_updates.sum()) == layer.counts["neuron"]
            # the events a layer's neurons cause are the next layer's synaptic events and,
            # in a recurrent layer, its own recurrent ones
            caused = _recurrent_events(network, result, i)
            if i + 1 < len(rep.layers):
                nxt = rep.layers[i + 1].counts["synaptic"]
                caused += nxt - _recurrent_events(network, result, i + 1)
            assert int(layer.events_caused.sum()) == caused


def _recurrent_events(network, result, i: int) -> int:
    """Events layer i's own spikes cause through its recurrent synapse (0 without one)."""
    own = network.blocks[i].synapse.recurrent_fan_out()
    return 0 if own is None else int(result.layers[i].spike_counts.sum(axis=0) @ own)


def test_per_neuron_energy_by_loops(runs):
    p = LOIHI2
    for network, _, result in runs:
        rep = energy_breakdown(network, result, p)
        for li, (block, layer) in enumerate(zip(network.blocks, result.layers, strict=True)):
            targets = []  # weights (target, source) this layer's neurons send through
            if li + 1 < len(network.blocks):
                nxt = network.blocks[li + 1].synapse
                targets.append(getattr(nxt, "forward", nxt).effective_weight)
            if hasattr(block.synapse, "recurrent"):
                targets.append(block.synapse.recurrent.effective_weight)
            for i in range(block.neurons.n):
                spikes = int(sum(layer.spike_counts.reshape(-1, block.neurons.n)[:, i]))
                updates = result.samples * result.timesteps
                fan = sum(1 for w in targets for j in range(w.shape[0]) if w[j, i] != 0)
                want = (
                    spikes * p.spike_j
                    + updates * p.neuron_update_j
                    + spikes * fan * p.synaptic_event_j
                )
                assert math.isclose(
                    rep.layers[li].neuron_energy_j[i], want, rel_tol=REL, abs_tol=1e-30
                )


cost = st.floats(min_value=0.0, max_value=1e-6, allow_nan=False, allow_infinity=False)


@settings(max_examples=30, deadline=None)
@given(syn=cost, neu=cost, spk=cost, sta=cost, steps=st.integers(0, 200))
def test_energy_is_counts_times_costs(runs, syn, neu, spk, sta, steps):
    p = CostProfile("h", syn, neu, spk, sta)
    network, _, result = runs[0]
    rep = energy_breakdown(network, result, p, timesteps=steps)
    res = estimate_resources(network)
    want_total = 0.0
    for block, layer, lres, e in zip(
        network.blocks, result.layers, res.layers, rep.layers, strict=True
    ):
        want = {
            "synaptic": int(layer.synaptic_events.sum()) * syn,
            "neuron": block.neurons.n * result.timesteps * result.samples * neu,
            "spike": int(np.asarray(layer.spikes).sum()) * spk,
            "static": lres.cores * steps * result.samples * sta,
        }
        for op in OPERATIONS:
            assert math.isclose(e.energy_j[op], want[op], rel_tol=REL, abs_tol=1e-300)
        want_total += sum(want.values())
    assert math.isclose(rep.total_j, want_total, rel_tol=1e-9, abs_tol=1e-300)


def test_energy_grows_with_each_cost(runs):
    network, _, result = runs[1]
    base = energy_breakdown(network, result, LOIHI1).total_j
    for key in COST_FIELDS:
        kwargs = LOIHI1.costs()
        kwargs[key] *= 2
        more = energy_breakdown(network, result, CostProfile("x", **kwargs)).total_j
        assert more >= base


def test_builtin_profiles_are_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "energy.md").read_text()
    for p in PROFILES.values():
        assert p.source and p.notes
        assert p.name in doc
        for key in COST_FIELDS:
            if key != "static_core_step_j" or p.static_chip_w is None:
                assert getattr(p, key) > 0
    # the calibrated profile: measured static power, fitted time and dynamic scales
    assert LOIHI2.static_chip_w == PILOTNET_LIF.static_power_w and LOIHI2.timed
    assert set(LOIHI2.estimated) == {"synaptic_event_j", "neuron_update_j", "spike_j"}
    assert set(LOIHI2_UPPER.estimated) == set(COST_FIELDS)
    assert math.isclose(LOIHI1.synaptic_event_j, 23.6e-12)
    assert math.isclose(LOIHI1.neuron_update_j, 81e-12)


def test_chip_static_and_step_time_model(runs):
    """A chip-static profile charges the chip's static power for the run's wall time (every
    core of its chips, idle ones included); the step time is the busiest core's work."""
    p = CostProfile(
        "timed", 1e-12, 2e-12, 3e-12, static_chip_w=0.5, synaptic_op_s=1e-9,
        neuron_update_s=2e-9, spike_s=3e-9, step_overhead_s=1e-7,
    )  # fmt: skip
    for network, _, result in runs:
        rep = energy_breakdown(network, result, p)
        res = estimate_resources(network)
        steps = result.timesteps * result.samples
        busiest = max(
            (
                int(lr.synaptic_events.sum()) * 1e-9
                + block.neurons.n * steps * 2e-9
                + int(np.asarray(lr.spikes).sum()) * 3e-9
            )
            / (layer.cores * steps)
            for block, lr, layer in zip(network.blocks, result.layers, res.layers, strict=True)
        )
        assert math.isclose(rep.step_s, 1e-7 + busiest, rel_tol=REL)
        wall = rep.step_s * steps
        assert math.isclose(rep.static_j, res.chips * 0.5 * wall, rel_tol=REL)
        idle = res.chips * LOIHI2_LIMITS.cores_per_chip - res.cores
        assert math.isclose(rep.idle_static_j, 0.5 / 128 * idle * wall, rel_tol=REL)
        assert math.isclose(rep.latency_s, wall, rel_tol=REL)


def test_chip_static_profile_from_toml(tmp_path):
    path = tmp_path / "cal.toml"
    path.write_text(
        "synaptic_event_j = 2e-11\nneuron_update_j = 7e-11\nspike_j = 1e-12\n"
        "static_chip_w = 0.25\nsynaptic_op_s = 2e-9\nneuron_update_s = 5e-9\n"
        "spike_s = 0\nstep_overhead_s = 0\n"
    )
    p = load_profile(path)
    assert (p.static_chip_w, p.synaptic_op_s, p.spike_s, p.timed) == (0.25, 2e-9, 0.0, True)
    path.write_text("synaptic_event_j = 1e-12\nneuron_update_j = 1e-12\nspike_j = 0\n")
    with pytest.raises(ProfileError, match="static_core_step_j"):
        load_profile(path)
    path.write_text(
        "synaptic_event_j = 1e-12\nneuron_update_j = 1e-12\nspike_j = 0\nstatic_chip_w = 1\n"
    )
    with pytest.raises(ProfileError, match="step time"):
        load_profile(path)


def test_load_builtin_and_valid_file(tmp_path):
    assert load_profile("loihi2") is LOIHI2
    path = tmp_path / "chip.toml"
    path.write_text(
        'name = "chip"\nsynaptic_event_j = 5e-12\nneuron_update_j = 1e-11\n'
        "spike_j = 0\nstatic_core_step_j = 2.5e-9\nstep_s = 1e-6\n"
    )
    p = load_profile(path)
    assert (p.name, p.synaptic_event_j, p.spike_j, p.step_s) == ("chip", 5e-12, 0.0, 1e-6)
    assert isinstance(load_profile(str(path)), CostProfile)


GOOD = {k: "1e-12" for k in COST_FIELDS}


def _toml(values: dict) -> str:
    return "".join(f"{k} = {v}\n" for k, v in values.items())


BAD_PROFILES = {
    "missing_field": (
        _toml({k: v for k, v in GOOD.items() if k != "spike_j"}),
        ["spike_j", "missing"],
    ),
    "negative": (_toml({**GOOD, "neuron_update_j": "-1e-12"}), ["neuron_update_j", "-1e-12"]),
    "nan": (_toml({**GOOD, "synaptic_event_j": "nan"}), ["synaptic_event_j", "nan"]),
    "inf": (_toml({**GOOD, "static_core_step_j": "inf"}), ["static_core_step_j"]),
    "string_cost": (_toml({**GOOD, "spike_j": '"cheap"'}), ["spike_j", "cheap"]),
    "bool_cost": (_toml({**GOOD, "spike_j": "true"}), ["spike_j"]),
    "unknown_field": (_toml({**GOOD, "spike_J": "1e-12"}), ["spike_J", "unknown"]),
    "bad_step": (_toml({**GOOD, "step_s": "0"}), ["step_s"]),
    "not_toml": ("synaptic_event_j = = 3\n[[[\n", ["not a TOML file"]),
    "binary": (b"\xff\xfe\x00garbage", ["not a TOML file"]),
}


@pytest.mark.parametrize("case", list(BAD_PROFILES), ids=list(BAD_PROFILES))
def test_bad_profile_one_line_error(tmp_path, case, one_line_error):
    text, expect = BAD_PROFILES[case]
    path = tmp_path / f"{case}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    one_line_error(str(info.value), path, expect)


def test_unreadable_paths(tmp_path, one_line_error):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError) as info:
        load_profile(missing)
    one_line_error(str(info.value), missing, ["cannot read"])
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path)
    one_line_error(str(info.value), tmp_path, ["directory"])
    with pytest.raises(ProfileError) as info:
        load_profile("loihi3")
    one_line_error(str(info.value), Path("loihi3"), ["loihi1", "loihi2"])


def test_costprofile_rejects_bad_values():
    with pytest.raises(ValueError):
        CostProfile("x", -1.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        CostProfile("x", float("nan"), 0.0, 0.0, 0.0)
