"""`ranvier run --report DIR` and `ranvier report DIR [--compare DIR2]`."""

from __future__ import annotations

import csv
import json
import os

import h5py
import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy import load_spikes
from ranvier.deploy.report import PLOTS, SCHEMA_VERSION
from ranvier.hw_models import simulate
from ranvier.hw_models.energy import load_profile
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()


@pytest.fixture
def report_dir(tmp_path, small_net, small_input):
    out = tmp_path / "rep"
    result = runner.invoke(
        app, ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_files_and_schema(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert {"report.json", "neurons.csv", "raster.npz", *PLOTS} <= names
    assert not [n for n in names if n.startswith(".")], "temporary files left behind"
    rep = json.loads((report_dir / "report.json").read_text())
    assert rep["schema_version"] == SCHEMA_VERSION
    assert rep["profile"]["name"] == "loihi2"
    assert set(rep["profile"]["costs"]) == {
        "synaptic_event_j",
        "neuron_update_j",
        "spike_j",
        "static_core_step_j",
    }
    for key in ("spikes", "synaptic_events", "neuron_updates", "energy_j", "latency_s"):
        assert key in rep["totals"]
    for layer in rep["layers"]:
        for key in (
            "name",
            "neurons",
            "spikes",
            "synaptic_events",
            "neuron_updates",
            "energy_j",
            "spike_counts",
            "spike_rate_hz",
        ):
            assert key in layer
        assert len(layer["spike_counts"]) == len(layer["spike_rate_hz"]) == layer["neurons"]


def test_per_neuron_figures_sum_to_layer_totals(report_dir, small_net, small_input):
    rep = json.loads((report_dir / "report.json").read_text())
    network = read_netx(small_net)
    x = load_spikes(small_input, network.n_in)
    result = simulate(network, x)
    n, t = x.shape[0], x.shape[2]
    for layer, sim in zip(rep["layers"], result.layers, strict=True):
        assert sum(layer["spike_counts"]) == layer["spikes"] == int(sim.spike_counts.sum())
        rate = np.array(layer["spike_counts"]) / (n * t * rep["ts_ms"] / 1000)
        np.testing.assert_allclose(layer["spike_rate_hz"], rate)
        assert layer["energy_j"] == pytest.approx(sum(layer["energy_by_operation_j"].values()))
    totals = rep["totals"]
    assert totals["spikes"] == sum(layer["spikes"] for layer in rep["layers"])
    assert totals["energy_j"] == pytest.approx(sum(layer["energy_j"] for layer in rep["layers"]))
    assert totals["synaptic_events"] == sum(layer["synaptic_events"] for layer in rep["layers"])


def test_energy_is_counts_times_costs(report_dir):
    rep = json.loads((report_dir / "report.json").read_text())
    costs = load_profile("loihi2").costs()
    for layer in rep["layers"]:
        by_op = layer["energy_by_operation_j"]
        assert by_op["synaptic"] == pytest.approx(
            layer["synaptic_events"] * costs["synaptic_event_j"]
        )
        assert by_op["neuron"] == pytest.approx(layer["neuron_updates"] * costs["neuron_update_j"])
        assert by_op["spike"] == pytest.approx(layer["spikes"] * costs["spike_j"])


def test_neurons_csv_has_one_row_per_neuron(report_dir):
    rep = json.loads((report_dir / "report.json").read_text())
    with open(report_dir / "neurons.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(layer["neurons"] for layer in rep["layers"])
    for layer in rep["layers"]:
        mine = [r for r in rows if r["layer"] == layer["name"]]
        assert [int(r["spikes"]) for r in mine] == layer["spike_counts"]
        assert [int(r["fan_out"]) for r in mine] == layer["fan_out"]


def test_report_command_redraws_plots_and_compares(report_dir, tmp_path, small_net, small_input):
    for name in PLOTS:
        (report_dir / name).unlink()
    result = runner.invoke(app, ["report", str(report_dir)])
    assert result.exit_code == 0, result.output
    assert all((report_dir / name).exists() for name in PLOTS)
    other = tmp_path / "rep_loihi1"
    args = [
        "run",
        str(small_net),
        "--input",
        str(small_input),
        "--report",
        str(other),
        "--profile",
        "loihi1",
    ]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["report", str(report_dir), "--compare", str(other), "--json"])
    assert result.exit_code == 0, result.output
    both = json.loads(result.stdout)
    assert both["report"]["profile"]["name"] == "loihi2"
    assert both["compare"]["profile"]["name"] == "loihi1"
    assert both["report"]["totals"]["spikes"] == both["compare"]["totals"]["spikes"]


def test_bad_profile_and_unwritable_report_dir(tmp_path, small_net, small_input):
    bad = tmp_path / "costs.toml"
    bad.write_text(
        "synaptic_event_j = -1.0\nneuron_update_j = 1e-12\nspike_j = 1e-12\n"
        "static_core_step_j = 0.0\n"
    )
    out = tmp_path / "rep"
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    result = runner.invoke(app, [*args, "--profile", str(bad)])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and str(bad) in result.stderr
    assert not out.exists()
    if os.geteuid() == 0:
        blocker = tmp_path / "file_not_dir"  # root ignores permissions: use a file as parent
        blocker.write_text("x")
        target = blocker / "rep"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "rep"
    result = runner.invoke(
        app, ["run", str(small_net), "--input", str(small_input), "--report", str(target)]
    )
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and str(target) in result.stderr


def test_report_of_a_missing_directory_is_one_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "nope" in result.stderr


def test_report_adaptive_layers_carry_their_parameters(adaptive_net, tmp_path):
    """ADLIF/ALIF layers: per-neuron parameters in model units and their histogram plot."""
    rng = np.random.default_rng(3)
    xp = tmp_path / "x.npy"
    np.save(xp, (rng.random((2, 6, 30)) < 0.3).astype(np.uint8))
    out = tmp_path / "rep"
    result = runner.invoke(app, ["run", str(adaptive_net), "-i", str(xp), "--report", str(out)])
    assert result.exit_code == 0, result.output
    rep = json.loads((out / "report.json").read_text())
    alif, adlif, readout = rep["layers"]
    assert (alif["neuron"], adlif["neuron"], readout["neuron"]) == ("ALIF", "ADLIF", "CUBA")
    assert readout["neuron_parameters"] == {}
    np.testing.assert_allclose(
        adlif["neuron_parameters"]["alpha"], 1 - np.array([800, 400, 1600, 2000]) / 4096
    )
    np.testing.assert_allclose(
        adlif["neuron_parameters"]["b"], np.array([60, 20, 150, 0]) / [60, 80, 100, 70]
    )
    np.testing.assert_allclose(alif["neuron_parameters"]["threshold_step"], [40 / 150] * 5)
    assert (out / "neuron_parameters.png").stat().st_size > 0


def test_run_report_prints_energy_per_layer_and_by_operation(tmp_path, small_net, small_input):
    """The summary table of ``run --report`` carries each layer's energy and the total, and a
    line with the energy per sample split by operation; the numbers are the report's."""
    out = tmp_path / "rep"
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    rep = json.loads((out / "report.json").read_text())
    assert "energy µJ" in result.output
    for layer in rep["layers"]:
        line = next(x for x in result.output.splitlines() if f" {layer['name']} " in x)
        assert f"{layer['energy_j'] * 1e6:.3f}" in line
    total = next(x for x in result.output.splitlines() if " total " in x)
    assert f"{rep['totals']['energy_j'] * 1e6:.3f}" in total
    per_sample = f"{rep['totals']['energy_per_sample_j'] * 1e6:.3f} µJ/sample (synaptic "
    assert per_sample in result.output


def test_report_fan_out_of_a_recurrent_layer_includes_its_recurrent_synapses(
    tmp_path, recurrent_net, small_input
):
    """report.json's ``fan_out`` of a dense_rec layer: its synapses into the next layer plus
    its recurrent synapses back onto itself (``network.fan_out``); the events each neuron
    causes are its spikes times that fan-out, and with the input's events into layer 0 they
    make up every synaptic event of the run."""
    out = tmp_path / "rep"
    args = ["run", str(recurrent_net), "--input", str(small_input), "--report", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rep = json.loads((out / "report.json").read_text())
    network = read_netx(recurrent_net)
    with h5py.File(recurrent_net, "r") as f:
        w_ff, w_rec, w_2 = (
            f[k][()] for k in ("layer/1/weight", "layer/1/weight_rec", "layer/2/weight")
        )
    rec_layer, last = rep["layers"]
    expected = np.count_nonzero(w_2, axis=0) + np.count_nonzero(w_rec, axis=0)
    assert rec_layer["fan_out"] == network.fan_out(0).tolist() == expected.tolist()
    assert last["fan_out"] == network.fan_out(1).tolist() == [0, 0, 0, 0]
    for layer in rep["layers"]:
        caused = np.array(layer["spike_counts"]) * np.array(layer["fan_out"])
        assert layer["synaptic_events_caused"] == caused.tolist()
    x = load_spikes(small_input, network.n_in)
    input_events = int(x.sum(axis=(0, 2)) @ np.count_nonzero(w_ff, axis=0))
    caused_total = sum(sum(layer["synaptic_events_caused"]) for layer in rep["layers"])
    assert rep["totals"]["synaptic_events"] == input_events + caused_total
    with open(out / "neurons.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["layer"] == rec_layer["name"]]
    assert [int(r["fan_out"]) for r in rows] == rec_layer["fan_out"]
