"""netx files with input neurons, conv and flatten layers: reading, writing, bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from ranvier.convert import NetFileError, read_netx, write_netx
from ranvier.hw_models import simulate
from ranvier.hw_models.synapses import ConvSynapse, DenseSynapse, Flattened, InputPort
from ranvier.testing.random_netx import (
    CONV_REGIMES,
    random_conv_input,
    random_conv_spec,
    write_spec,
)
from typer.testing import CliRunner

from ranvier.cli import app

DATA = Path(__file__).parents[1] / "equivalence" / "data"


def test_pilotnet_lif_reads_as_lava_builds_it():
    net = read_netx(DATA / "intel_pilotnet_lif.net")
    assert net.input_shape == (200, 66, 3)
    kinds = [type(b.synapse) for b in net.blocks]
    assert kinds == [InputPort] + [ConvSynapse] * 5 + [Flattened] + [DenseSynapse] * 3
    shapes = [b.shape for b in net.blocks]
    # netx's own table for this file (pilotnet_snn/run.ipynb): W, H, C per layer
    assert shapes[:6] == [
        (200, 66, 3), (99, 32, 24), (49, 15, 36), (24, 7, 48), (22, 4, 64), (20, 2, 64)
    ]  # fmt: skip
    assert net.blocks[4].synapse.stride == (1, 2) and net.blocks[4].synapse.padding == (0, 1)
    assert net.meta["input_transform"] == {"weight": 40, "bias": 36}
    assert not net.blocks[0].neurons.bias_mant.any()  # netx gives input neurons no bias
    assert net.blocks[1].neurons.bias_mant.reshape(-1, 24).std(axis=0).max() == 0


@pytest.mark.parametrize("seed", range(12))
def test_random_conv_networks_round_trip(tmp_path, seed):
    spec, shape, graded = random_conv_spec(seed, CONV_REGIMES[seed % len(CONV_REGIMES)])
    write_spec(spec, tmp_path / "a.net")
    a = read_netx(tmp_path / "a.net")
    write_netx(a, tmp_path / "b.net")
    b = read_netx(tmp_path / "b.net")
    assert a.same_as(b) and b.input_shape == shape
    x = random_conv_input(np.random.default_rng(seed), shape, graded, 2, 8)
    for la, lb in zip(simulate(a, x).layers, simulate(b, x).layers, strict=True):
        assert np.array_equal(la.spikes, lb.spikes)


def _edit(src: Path, dst: Path, edit) -> Path:
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as f:
        edit(f)
    return dst


def _replace(f, key, value):
    del f[key]
    f[key] = value


@pytest.mark.parametrize(
    ("edit", "where", "words"),
    [
        (lambda f: _replace(f, "layer/1/weight", np.ones((24, 3, 9, 9))), "layer/1/shape", "gives"),
        (lambda f: _replace(f, "layer/2/weight", np.ones((36, 24, 40, 3))), "layer/2", "larger"),
        (lambda f: _replace(f, "layer/2/groups", 5), "layer/2", "groups=5"),
        (
            lambda f: _replace(f, "layer/1/stride", np.array([0, 2])),
            "layer/1",
            "stride (0, 2) (H, W)",
        ),
        (lambda f: _replace(f, "layer/6/type", [b"dense"]), "layer/6", "flatten"),
        (lambda f: _replace(f, "layer/1/shape", np.array([24, 32, 98])), "layer/1/shape", "gives"),
        (lambda f: _replace(f, "layer/3/weight", np.ones((48, 36, 3))), "layer/3/weight", "kH"),
    ],
)
def test_bad_conv_files_fail_on_one_line(tmp_path, edit, where, words):
    path = _edit(DATA / "intel_pilotnet_lif.net", tmp_path / "bad.net", edit)
    with pytest.raises(NetFileError) as exc:
        read_netx(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and where in msg and words in msg, msg


def test_dense_after_an_image_layer_needs_flatten(tmp_path):
    def edit(f):
        del f["layer/6"]  # the flatten
        for i in range(7, 11):
            f.move(f"layer/{i}", f"layer/{i - 1}")

    path = _edit(DATA / "intel_pilotnet_lif.net", tmp_path / "noflat.net", edit)
    with pytest.raises(NetFileError, match=r"layer/6: the layer before has shape \(20, 2, 64\)"):
        read_netx(path)


def test_cli_refuses_a_bad_conv_file_with_exit_2(tmp_path):
    path = _edit(
        DATA / "intel_tiny.net", tmp_path / "bad.net", lambda f: _replace(f, "layer/2/groups", 7)
    )
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 2
    assert "layer/2" in result.output and "groups=7" in result.output


def test_cli_runs_an_image_network_with_shaped_input_and_saves_shaped_layers(tmp_path):
    net = DATA / "intel_tiny.net"
    rng = np.random.default_rng(0)
    x = rng.integers(-10, 70, size=(2, 16, 16, 3, 10))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "s.npz"
    args = ["run", str(net), "--input", str(tmp_path / "x.npy"), "--save-spikes", str(out)]
    result = CliRunner().invoke(app, [*args, "--reset-interval", "5", "--json"])
    assert result.exit_code == 0, result.output
    saved = np.load(out)
    assert saved["layer_0"].shape == (2, 16, 16, 3, 10)
    assert saved["layer_1"].shape == (2, 6, 6, 24, 10)
    expected = simulate(read_netx(net), x.reshape(2, -1, 10), reset=(5, 0))
    assert np.array_equal(saved["layer_1"].reshape(2, -1, 10), expected.layers[1].spikes)
    wrong = CliRunner().invoke(
        app, ["run", str(net), "--input", str(tmp_path / "x.npy")[:-4] + "w.npy"]
    )
    assert wrong.exit_code == 2
    np.save(tmp_path / "bad.npy", x[:, :15])
    bad = CliRunner().invoke(app, ["run", str(net), "--input", str(tmp_path / "bad.npy")])
    assert bad.exit_code == 2 and "does not match the network's input (16, 16, 3)" in bad.output


def test_pilotnet_sdnn_equals_intels_ground_truth():
    """lava-dl's own test (test_hdf5.py::test_pilotnet_sdnn): the shipped input on the input
    neurons' a_in for as many steps as the network has layers; the output layer's payloads
    must equal the ground truth lava-dl ships (gts/pilotnet_sdnn/output.npy), exactly."""
    net = read_netx(DATA / "intel_pilotnet_sdnn.net")
    image = np.load(DATA / "intel_pilotnet_sdnn_input.npy")  # (100, 33, 3, 1)
    steps = len(net.blocks)
    x = np.repeat(image.reshape(1, -1, 1).astype(np.int64), steps, axis=2)
    out = simulate(net, x).layers[-1].spikes  # (1, 1, steps) int32 payloads
    truth = np.load(DATA / "intel_pilotnet_sdnn_output.npy")  # (1, steps)
    assert out.dtype == np.int32 and out.shape == (1, *truth.shape)
    assert np.array_equal(out[0], truth)


def test_unknown_sdnn_activation_fails_on_one_line(tmp_path):
    path = _edit(
        DATA / "intel_pilotnet_sdnn.net",
        tmp_path / "act.net",
        lambda f: _replace(f, "layer/2/neuron/activation", b"sigmoid"),
    )
    with pytest.raises(NetFileError) as exc:
        read_netx(path)
    msg = str(exc.value)
    assert "\n" not in msg and "layer/2/neuron/activation" in msg and "sigmoid" in msg, msg


def test_events_fill_an_image_input_in_lavas_order(tmp_path):
    """SLAYER xypt events into an image network: pixel (x, y), polarity p lands on the input
    neuron (x, y, p) of lava's (W, H, C) array; events beyond the shape exit 2."""
    from ranvier.deploy.inputs import InputError, load_spikes

    shape = (16, 16, 3)  # the tiny net's input
    events = np.array([[3, 5, 2, 0], [15, 0, 1, 4], [0, 15, 0, 7]], dtype=np.float64)
    np.save(tmp_path / "e.events.npy", events)
    dense = load_spikes(tmp_path / "e.events.npy", int(np.prod(shape)), shape=shape)
    image = dense.reshape(*shape, -1)
    assert image[3, 5, 2, 0] == 1 and image[15, 0, 1, 4] == 1 and image[0, 15, 0, 7] == 1
    assert int(dense.sum()) == 3
    np.save(tmp_path / "bad.events.npy", np.array([[3, 16, 0, 0]], dtype=np.float64))
    with pytest.raises(InputError, match=r"y=16 is outside the network's input"):
        load_spikes(tmp_path / "bad.events.npy", int(np.prod(shape)), shape=shape)


def test_input_shape_only_layer_then_flatten_feeds_the_dense_flat(tmp_path):
    """netx flattens only between two built layers: after an input layer without neurons the
    host's input goes to the dense layer's columns as it is (hdf5.py _create)."""
    rng = np.random.default_rng(3)
    path = tmp_path / "f.net"
    with h5py.File(path, "w") as f:
        f.create_dataset("layer/0/type", data=[b"input"])
        f["layer/0/shape"] = np.array([2, 3, 4])
        f.create_dataset("layer/1/type", data=[b"flatten"])
        f.create_dataset("layer/2/type", data=[b"dense"])
        f["layer/2/shape"] = np.array([5])
        f["layer/2/weight"] = (2 * rng.integers(-60, 60, size=(5, 24))).astype(np.float32)
        for key, value in (("iDecay", 1024), ("vDecay", 128), ("vThMant", 40)):
            f[f"layer/2/neuron/{key}"] = value
        f.create_dataset("layer/2/neuron/type", data=[b"CUBA"])
    net = read_netx(path)
    assert net.input_shape == (24,)
    assert not isinstance(net.blocks[0].synapse, Flattened)
    write_netx(net, tmp_path / "g.net")
    assert read_netx(tmp_path / "g.net").same_as(net)
