"""`ranvier run` (in-process, with typer's CliRunner): table, --json, --save-spikes, -T."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy.inputs import events_to_dense
from ranvier.hw_models import simulate
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["run", *args, "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_run_example_prints_the_table(example_net, example_input):
    info = run_json(str(example_net), "--input", str(example_input))
    result = runner.invoke(app, ["run", str(example_net), "--input", str(example_input)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert str(example_net) in out and "4 sample(s) × 125 steps" in out
    for col in ("layer", "neurons", "spikes", "rate /step", "rate Hz", "synaptic events"):
        assert col in out
    lines = out.splitlines()
    for layer in info["layers"]:
        (row,) = [line for line in lines if f" {layer['name']} " in line]
        assert f"{layer['spikes']:,}" in row
        assert f"{layer['synaptic_events']:,}" in row
        assert f"{layer['spike_rate']:.4f}" in row
    (total,) = [line for line in lines if " total " in line]
    assert f"{info['totals']['spikes']:,}" in total
    assert f"{info['totals']['synaptic_events']:,}" in total


def test_run_json_matches_saved_spikes(tmp_path, example_net, example_input):
    out = tmp_path / "spikes.npz"
    info = run_json(str(example_net), "--input", str(example_input), "--save-spikes", str(out))
    assert info["samples"] == 4 and info["timesteps"] == 125
    assert info["backend"] == "ranvier"
    assert info["network"] == str(example_net) and info["spikes_file"] == str(out)
    assert [layer["name"] for layer in info["layers"]] == ["layer_0", "layer_1", "layer_2"]
    with np.load(out) as data:
        assert sorted(data.files) == ["layer_0", "layer_1", "layer_2"]
        for i, layer in enumerate(info["layers"]):
            arr = data[f"layer_{i}"]
            assert arr.shape == (4, layer["neurons"], 125)
            assert arr.dtype == np.uint8
            assert int(arr.sum()) == layer["spikes"]
    for key in ("spikes", "synaptic_events", "neuron_updates"):
        assert info["totals"][key] == sum(layer[key] for layer in info["layers"])
    assert info["totals"]["spikes"] > 0


def test_run_matches_the_simulator(tmp_path, example_net, example_input):
    out = tmp_path / "spikes.npz"
    run_json(str(example_net), "--input", str(example_input), "--save-spikes", str(out))
    expected = simulate(read_netx(example_net), np.load(example_input))
    with np.load(out) as data:
        for i, layer in enumerate(expected.layers):
            np.testing.assert_array_equal(data[f"layer_{i}"], layer.spikes)


def test_single_sample_input_gives_c_t_arrays(tmp_path, example_net, example_input):
    single = tmp_path / "one.npy"
    np.save(single, np.load(example_input)[2])
    out = tmp_path / "one.npz"
    info = run_json(str(example_net), "--input", str(single), "--save-spikes", str(out))
    assert info["samples"] == 1
    with np.load(out) as data:
        assert [data[f"layer_{i}"].shape for i in range(3)] == [(128, 125), (128, 125), (20, 125)]
        assert [int(data[f"layer_{i}"].sum()) for i in range(3)] == [
            layer["spikes"] for layer in info["layers"]
        ]


def test_npz_input(tmp_path, small_net):
    x = (np.random.default_rng(5).random((2, 6, 30)) < 0.4).astype(np.uint8)
    np.savez_compressed(tmp_path / "in.npz", spikes=x)
    info = run_json(str(small_net), "--input", str(tmp_path / "in.npz"))
    expected = simulate(read_netx(small_net), x)
    assert [layer["spikes"] for layer in info["layers"]] == [
        int(layer.spikes.sum()) for layer in expected.layers
    ]


@pytest.mark.parametrize("flag", ["--timesteps", "-T"])
def test_timesteps(tmp_path, example_net, example_input, flag):
    out = tmp_path / "spikes.npz"
    info = run_json(
        str(example_net), "--input", str(example_input), flag, "50", "--save-spikes", str(out)
    )
    assert info["timesteps"] == 50
    expected = simulate(read_netx(example_net), np.load(example_input)[..., :50])
    with np.load(out) as data:
        for i, layer in enumerate(expected.layers):
            assert data[f"layer_{i}"].shape[-1] == 50
            np.testing.assert_array_equal(data[f"layer_{i}"], layer.spikes)


def test_timesteps_must_be_positive(example_net, example_input):
    result = runner.invoke(app, ["run", str(example_net), "--input", str(example_input), "-T", "0"])
    assert result.exit_code == 2


@pytest.mark.parametrize("how", ["suffix", "flag"])
def test_event_input(tmp_path, small_net, how):
    events = np.array([[0, 0, 0.0], [3, 0, 1.2], [5, 0, 2.0], [1, 0, 7.6], [2, 0, 3.0]])
    path = tmp_path / ("in.events.npy" if how == "suffix" else "in.npy")
    np.save(path, events)
    args = [str(small_net), "--input", str(path)] + (["--events"] if how == "flag" else [])
    info = run_json(*args)
    dense = events_to_dense(events, path, 6)
    assert info["samples"] == 1 and info["timesteps"] == 9
    expected = simulate(read_netx(small_net), dense)
    assert [layer["spikes"] for layer in info["layers"]] == [
        int(layer.spikes.sum()) for layer in expected.layers
    ]


def test_unknown_backend_exits_2(tmp_path, example_net, example_input):
    out = tmp_path / "spikes.npz"
    args = ["run", str(example_net), "--input", str(example_input), "--save-spikes", str(out)]
    result = runner.invoke(app, [*args, "--backend", "loihi3"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "--backend" in lines[0] and "loihi3" in lines[0]
    assert not out.exists()


def test_lava_backend_without_lava_exits_1(tmp_path, example_net, example_input, monkeypatch):
    from ranvier.deploy import lava as lava_backend

    monkeypatch.setattr(lava_backend, "lava_available", lambda: False)
    out = tmp_path / "spikes.npz"
    args = ["run", str(example_net), "--input", str(example_input), "--save-spikes", str(out)]
    result = runner.invoke(app, [*args, "--backend", "lava"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "lava" in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "inspect"])
def test_help_has_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "examples/shd_like.net" in result.stdout


def test_top_level_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "run" in result.stdout and "inspect" in result.stdout


def test_run_recurrent_network_counts_recurrent_synaptic_events(
    tmp_path, recurrent_net, small_input
):
    """A dense_rec file runs (exit 0, the simulator's spikes) and a recurrent layer's synaptic
    events are its input's spikes times the forward fan-out plus its own spikes times its
    recurrent fan-out (non-zero synapses leaving each neuron, counted from the file)."""
    out = tmp_path / "spikes.npz"
    info = run_json(str(recurrent_net), "--input", str(small_input), "--save-spikes", str(out))
    x = np.load(small_input)
    with h5py.File(recurrent_net, "r") as f:
        w_ff, w_rec, w_2 = (
            f[k][()] for k in ("layer/1/weight", "layer/1/weight_rec", "layer/2/weight")
        )
    # fan-out of each sending neuron: non-zero entries of its column (even 8-bit file
    # weights with exponent 0: the synapse keeps every non-zero file weight)
    fwd, rec, nxt = (np.count_nonzero(w, axis=0) for w in (w_ff, w_rec, w_2))
    net = read_netx(recurrent_net)
    np.testing.assert_array_equal(net.blocks[0].synapse.fan_out(), fwd)
    np.testing.assert_array_equal(net.blocks[0].synapse.recurrent_fan_out(), rec)
    with np.load(out) as data:
        s0, s1 = data["layer_0"], data["layer_1"]
    expected = simulate(net, x)
    np.testing.assert_array_equal(s0, expected.layers[0].spikes)
    np.testing.assert_array_equal(s1, expected.layers[1].spikes)
    in_counts, counts0 = x.sum(axis=(0, 2)), s0.sum(axis=(0, 2))
    recurrent_events = int(counts0 @ rec)
    assert recurrent_events > 0 and (int(s0.sum()) > 0 and int(s1.sum()) > 0)
    layer0, layer1 = info["layers"]
    assert layer0["synaptic_events"] == int(in_counts @ fwd) + recurrent_events
    assert layer1["synaptic_events"] == int(counts0 @ nxt)
    assert layer0["spikes"] == int(s0.sum()) and layer1["spikes"] == int(s1.sum())
    assert (
        info["totals"]["synaptic_events"] == layer0["synaptic_events"] + layer1["synaptic_events"]
    )
    text = runner.invoke(app, ["run", str(recurrent_net), "--input", str(small_input)])
    assert text.exit_code == 0, text.output
    row = next(line for line in text.stdout.splitlines() if " layer_0 " in line)
    assert f"{layer0['synaptic_events']:,}" in row
