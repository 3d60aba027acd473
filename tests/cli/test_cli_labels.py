"""`ranvier run --labels` (accuracy of the file's read-out) and `--save-membrane`."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.hw_models import simulate
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()


@pytest.fixture
def adaptive_data(tmp_path):
    rng = np.random.default_rng(11)
    x = (rng.random((12, 6, 50)) < 0.3).astype(np.uint8)
    xp = tmp_path / "x.npy"
    np.save(xp, x)
    return x, xp


def test_labels_membrane_sum_accuracy_matches_an_independent_argmax(
    adaptive_net, adaptive_data, tmp_path
):
    """membrane_sum: the class is the argmax of the read-out layer's summed v; labels chosen
    so that exactly 7 of 12 are right, checked against the simulator's own membrane."""
    x, xp = adaptive_data
    net = read_netx(adaptive_net)
    v = simulate(net, x, record=[2]).layers[2].membrane  # (12, 3, 50)
    assert v.any(), "the read-out must see input for this test to mean something"
    truth = v.sum(axis=2).argmax(axis=1)
    labels = truth.copy()
    labels[7:] = (truth[7:] + 1) % 3
    yp = tmp_path / "y.txt"
    np.savetxt(yp, labels, fmt="%d")
    result = runner.invoke(app, ["run", str(adaptive_net), "-i", str(xp), "--labels", str(yp)])
    assert result.exit_code == 0, result.output
    assert "accuracy 58.33% (7/12), read-out membrane_sum" in result.stdout
    info = json.loads(
        runner.invoke(
            app, ["run", str(adaptive_net), "-i", str(xp), "--labels", str(yp), "--json"]
        ).stdout
    )
    assert info["correct"] == 7 and info["readout"] == "membrane_sum"
    assert info["predictions"] == truth.tolist()


def test_labels_spike_count_readout(adaptive_net, adaptive_data, tmp_path):
    """A file that declares spike_count is read by the last layer's spike counts."""
    x, xp = adaptive_data
    with h5py.File(adaptive_net, "r+") as f:
        del f["layer/3"]  # drop the read-out: the ADLIF layer is last
        del f["readout/mode"]
        f["readout"].create_dataset("mode", (1,), "S16", [b"spike_count"])
    counts = simulate(read_netx(adaptive_net), x).layers[-1].spike_counts
    assert counts.any()
    labels = counts.argmax(axis=1)
    yp = tmp_path / "y.npy"
    np.save(yp, labels)
    result = runner.invoke(
        app, ["run", str(adaptive_net), "-i", str(xp), "--labels", str(yp), "--json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["readout"] == "spike_count" and info["accuracy"] == 1.0


@pytest.mark.parametrize(
    "content, expect",
    [
        (np.array([0, 1]), "2 labels for 12 samples"),
        (np.full(12, 3), "label 3 is not a class"),
        (np.full(12, 0.5), "integer class indices"),
    ],
)
def test_bad_labels_exit_2(adaptive_net, adaptive_data, tmp_path, content, expect):
    _, xp = adaptive_data
    yp = tmp_path / "y.npy"
    np.save(yp, content)
    out = tmp_path / "m.npz"
    result = runner.invoke(
        app,
        ["run", str(adaptive_net), "-i", str(xp), "--labels", str(yp), "--save-membrane", str(out)],
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(yp) in lines[0] and expect in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_save_membrane_writes_the_probed_layers(adaptive_net, adaptive_data, tmp_path):
    x, xp = adaptive_data
    out = tmp_path / "m.npz"
    result = runner.invoke(
        app,
        ["run", str(adaptive_net), "-i", str(xp), "--save-membrane", str(out), "--record", "0,1"],
    )
    assert result.exit_code == 0, result.output
    sim = simulate(read_netx(adaptive_net), x, record=[0, 1])
    with np.load(out) as z:
        assert sorted(z.files) == ["layer_0", "layer_1"]
        np.testing.assert_array_equal(z["layer_0"], sim.layers[0].membrane)  # ALIF v
        np.testing.assert_array_equal(z["layer_1"], sim.layers[1].membrane)  # ADLIF u


def test_record_bad_layer_exit_2(adaptive_net, adaptive_data, tmp_path):
    _, xp = adaptive_data
    result = runner.invoke(
        app,
        ["run", str(adaptive_net), "-i", str(xp), "--save-membrane", "m.npz", "--record", "5"],
    )
    assert result.exit_code == 2 and "--record: no layer 5" in result.stderr
