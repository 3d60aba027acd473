"""`ranvier inspect`: exit 0 on a file within Loihi 2's limits, 1 on one beyond them."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()


def test_inspect_example_text(example_net):
    result = runner.invoke(app, ["inspect", str(example_net)])
    assert result.exit_code == 0, result.output
    assert "140 inputs" in result.stdout
    for name in ("layer_0", "layer_1", "layer_2"):
        assert name in result.stdout
    assert "fits Loihi 2" in result.stdout
    assert result.stderr == ""


def test_inspect_example_json(example_net):
    result = runner.invoke(app, ["inspect", str(example_net), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["network"] == str(example_net)
    assert info["inputs"] == 140
    assert info["violations"] == []
    assert [row["neurons"] for row in info["layers"]] == [128, 128, 20]
    assert [row["fan_in"] for row in info["layers"]] == [140, 128, 128]
    assert all(0 <= row["delay"][0] <= row["delay"][1] <= 25 for row in info["layers"])


def set_neuron_field(path, layer: str, key: str, value) -> None:
    with h5py.File(path, "r+") as f:
        group = f[f"layer/{layer}/neuron"]
        del group[key]
        group.create_dataset(key, data=value)


@pytest.mark.parametrize(
    "key, value, words",
    [("vDecay", 4096, ["layer_1", "vDecay", "4095"]), ("iDecay", 0, ["layer_1", "iDecay"])],
)
def test_inspect_limit_violation(small_net, key, value, words):
    set_neuron_field(small_net, "2", key, value)
    result = runner.invoke(app, ["inspect", str(small_net), "--json"])
    assert result.exit_code == 1, result.output
    info = json.loads(result.stdout)
    assert len(info["violations"]) == 1
    for word in words:
        assert word in info["violations"][0]
    text = runner.invoke(app, ["inspect", str(small_net)])
    assert text.exit_code == 1
    assert "limits violated" in text.stderr
    assert all(word in text.stderr for word in words)
    assert "Traceback" not in text.output


def test_inspect_small_net_is_clean(small_net):
    """Control for the violation test: the unmodified file has none."""
    result = runner.invoke(app, ["inspect", str(small_net), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["violations"] == []


def test_inspect_reports_the_loihi2_resource_estimate(example_net):
    """The resource estimate of hw_models.resources, in the table and the JSON."""
    from ranvier.convert import read_netx
    from ranvier.hw_models.resources import estimate_resources

    expected = estimate_resources(read_netx(example_net)).as_dict()
    info = json.loads(runner.invoke(app, ["inspect", str(example_net), "--json"]).stdout)
    assert info["resources"] == expected
    assert info["resources"]["cores"] == sum(r["cores"] for r in expected["layers"]) >= 3
    text = runner.invoke(app, ["inspect", str(example_net)]).stdout
    assert f"Loihi 2 estimate: {expected['cores']} cores" in text


def test_inspect_adaptive_network_types_and_readout_note(adaptive_net):
    """ALIF/ADLIF parameters by their names; the non-spiking read-out is a note, not a
    violation (exit 0), since the chip runs it as a non-spiking neuron program."""
    info = json.loads(runner.invoke(app, ["inspect", str(adaptive_net), "--json"]).stdout)
    assert [r["neuron"] for r in info["layers"]] == ["ALIF", "ADLIF", "CUBA"]
    assert info["layers"][0]["vth_step"] == [40, 40]
    assert info["layers"][1]["u_decay"] == [400, 2000]
    assert [r["spiking"] for r in info["layers"]] == [True, True, False]
    assert info["violations"] == []
    assert len(info["notes"]) == 1 and "layer_2" in info["notes"][0]
    text = runner.invoke(app, ["inspect", str(adaptive_net)])
    assert text.exit_code == 0, text.output
    assert "CUBA (read-out)" in text.stdout and "u_decay=400..2000" in text.stdout


def test_inspect_flags_adaptive_register_overflow(adaptive_net):
    with h5py.File(adaptive_net, "r+") as f:
        del f["layer/2/bias"]
        f["layer/2"].create_dataset("bias", data=[0, 5000, 0, 0])
    result = runner.invoke(app, ["inspect", str(adaptive_net), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["violations"] == [
        "layer_1: bias outside the 13-bit mantissa -4096..4095"
    ]


def test_adaptive_limits_from_the_ir():
    """IR values no file can carry (the reader refuses them) are still flagged."""
    from ranvier.hw_models.limits import loihi2_violations
    from ranvier.hw_models.network import Block, DenseSynapse, Network
    from ranvier.hw_models.neurons import AlifNeurons

    neurons = AlifNeurons.create(2, 100, 1 << 17, 0, 0, 0, 0)
    block = Block(DenseSynapse(weight=[[2], [4]]), neurons)
    lines = loihi2_violations(Network(n_in=1, blocks=[block]))
    assert any("vThStep" in line for line in lines), lines
    assert any("iDecay" in line for line in lines), lines  # iDecay 0: du = -1


def test_inspect_recurrent_layer_column_and_netx_note(recurrent_net):
    """A dense_rec file: the table gets a ``recurrent`` column (stored synapses, weight and
    delay ranges), the JSON a ``recurrent`` entry on that layer only, and the note where
    lava-dl's netx loader runs the layer differently (per-synapse feed-forward delays of
    shape (5, 6): its recurrent synapse cannot take them)."""
    with h5py.File(recurrent_net, "r") as f:
        w_rec, d_rec = f["layer/1/weight_rec"][()], f["layer/1/delay_rec"][()]
    result = runner.invoke(app, ["inspect", str(recurrent_net), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    rec = info["layers"][0]["recurrent"]
    # SLAYER-style even weights in 8 bits, exponent 0: the synapse values are the file's
    assert rec["synapses"] == int(np.count_nonzero(w_rec))
    assert rec["weight"] == [int(w_rec.min()), int(w_rec.max())]
    assert rec["delay"] == [int(d_rec.min()), int(d_rec.max())]
    assert "recurrent" not in info["layers"][1]
    fwd_synapses = info["layers"][0]["synapses"] - rec["synapses"]
    with h5py.File(recurrent_net, "r") as f:
        assert fwd_synapses == int(np.count_nonzero(f["layer/1/weight"][()]))
    assert info["violations"] == []
    (note,) = [n for n in info["notes"] if "dense_rec" in n]
    assert note.startswith("layer_0: lava-dl's netx loader") and "fails to build" in note

    text = runner.invoke(app, ["inspect", str(recurrent_net)])
    assert text.exit_code == 0, text.output
    header = next(line for line in text.stdout.splitlines() if " layer " in line)
    assert "recurrent" in header
    row = next(line for line in text.stdout.splitlines() if " layer_0 " in line)
    cell = f"{rec['synapses']} w {rec['weight'][0]}..{rec['weight'][1]} d 0..{rec['delay'][1]}"
    assert cell in row
    row = next(line for line in text.stdout.splitlines() if " layer_1 " in line)
    assert " - " in row
    assert f"note: {note}" in " ".join(text.stdout.split())  # the note, however wrapped


def test_inspect_without_recurrent_layers_has_no_recurrent_column(small_net):
    text = runner.invoke(app, ["inspect", str(small_net)])
    assert text.exit_code == 0, text.output
    header = next(line for line in text.stdout.splitlines() if " layer " in line)
    assert " type " in header and "recurrent" not in header
    assert "dense_rec" not in text.stdout  # no netx note either
    info = json.loads(runner.invoke(app, ["inspect", str(small_net), "--json"]).stdout)
    assert all("recurrent" not in layer for layer in info["layers"])
