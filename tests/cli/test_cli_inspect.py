"""`ranvier inspect`: exit 0 on a file within Loihi 2's limits, 1 on one beyond them."""

from __future__ import annotations

import json

import h5py
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
    [("vThMant", 200_000, ["layer_1", "vThMant", "200000"]), ("iDecay", 0, ["layer_1", "iDecay"])],
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
