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
    layers_j = sum(layer["energy_j"] for layer in rep["layers"])
    assert totals["energy_j"] == pytest.approx(layers_j + totals["idle_static_j"])
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
    assert not any((report_dir / name).exists() for name in PLOTS), "redrew without --redraw"
    result = runner.invoke(app, ["report", str(report_dir), "--redraw"])
    assert result.exit_code == 0, result.output
    assert all((report_dir / name).exists() for name in PLOTS)
    assert not [p for p in report_dir.iterdir() if p.name.startswith(".")]
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


# --- reading writes nothing; --redraw ---------------------------------------------------------


def snapshot(directory) -> dict[str, tuple[int, bytes]]:
    """Every entry of a directory (hidden ones too): name -> (mtime_ns, content)."""
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
        for p in directory.iterdir()
    }


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_reading_a_read_only_report_writes_nothing(report_dir, as_json):
    """`ranvier report DIR` only reads: it works on a read-only directory (exit 0) and leaves
    every file as it was (same names, contents and mtimes; as root, where permission bits do
    not stop writes, that comparison is the whole check)."""
    before = snapshot(report_dir)
    dir_mtime = report_dir.stat().st_mtime_ns
    report_dir.chmod(0o555)
    try:
        result = runner.invoke(app, ["report", str(report_dir), *(["--json"] if as_json else [])])
    finally:
        report_dir.chmod(0o755)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert snapshot(report_dir) == before
    assert report_dir.stat().st_mtime_ns == dir_mtime


def test_no_plots_is_still_accepted_and_contradicts_redraw(report_dir):
    before = snapshot(report_dir)
    result = runner.invoke(app, ["report", str(report_dir), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert snapshot(report_dir) == before
    result = runner.invoke(app, ["report", str(report_dir), "--no-plots", "--redraw"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: --redraw and --no-plots contradict each other"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_redraw_into_a_read_only_report_exits_2_before_drawing(report_dir):
    before = snapshot(report_dir)
    report_dir.chmod(0o555)
    try:
        result = runner.invoke(app, ["report", str(report_dir), "--redraw"])
    finally:
        report_dir.chmod(0o755)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(report_dir) in lines[0] and "permission denied" in lines[0]
    assert snapshot(report_dir) == before


# --- run --report writes the directory as one set ---------------------------------------------


@pytest.fixture
def quick_plots(monkeypatch):
    """Each plot as a few placeholder bytes, under the names the real drawing gives
    (matplotlib takes most of a report's time; the tests using this are about the rest)."""

    def placeholders(report, rasters, write):
        names = list(PLOTS if rasters is not None else PLOTS[1:])
        if any(layer.get("neuron_parameters") for layer in report["layers"]):
            names.append("neuron_parameters.png")
        for name in names:
            write(name, b"\x89PNG placeholder")

    monkeypatch.setattr("ranvier.deploy.report._plot", placeholders)


def run_report(net, x, out, *extra: str):
    args = ["run", str(net), "--input", str(x), "--report", str(out), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_a_new_report_replaces_the_old_one_whole(
    quick_plots, tmp_path, adaptive_net, small_net, small_input
):
    """A report of another network into the same directory leaves nothing of the first: the
    adaptive network's neuron_parameters.png goes with it; the directory keeps normal
    permissions and nothing is left next to it."""
    out = tmp_path / "rep"
    run_report(adaptive_net, small_input, out)
    assert (out / "neuron_parameters.png").exists()
    run_report(small_net, small_input, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.json", "neurons.csv", "raster.npz", *PLOTS]
    )
    assert json.loads((out / "report.json").read_text())["network"] == str(small_net)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".rep")]


def test_an_empty_directory_becomes_a_report(quick_plots, tmp_path, small_net, small_input):
    out = tmp_path / "empty"
    out.mkdir()
    run_report(small_net, small_input, out)
    assert (out / "report.json").is_file()


@pytest.mark.parametrize(
    "content, expect",
    [
        ({"notes.txt": "mine"}, "not a ranvier report (no report.json) and not empty"),
        ({"report.json": "{}", "model.net": "weights"}, "holds 'model.net'"),
        ({"report.json": "{}", "raster.png": "", "sub/a.txt": "x"}, "holds 'sub'"),
    ],
    ids=["no-report-json", "report-and-user-file", "subdirectory"],
)
def test_a_directory_that_is_not_just_a_report_is_refused(
    tmp_path, small_net, small_input, content, expect
):
    """A non-empty directory that is not a ranvier report, or that holds anything a report
    does not, is refused before the run (exit 2, one line naming it) and left untouched: a
    typo in --report cannot delete a user's files."""
    out = tmp_path / "mine"
    for name, text in content.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and expect in lines[0], lines
    assert result.stdout == ""
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_the_current_directory_is_refused(
    quick_plots, tmp_path, small_net, small_input, monkeypatch
):
    out = tmp_path / "rep"
    run_report(small_net, small_input, out)
    monkeypatch.chdir(out)
    args = ["run", str(small_net), "--input", str(small_input), "--report", "."]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: .: is the current directory; a report directory is replaced as a whole, "
        "choose another one"
    ]


@pytest.mark.parametrize("option", ["--save-spikes", "--save-membrane"])
def test_an_output_file_inside_the_report_directory_is_refused(
    tmp_path, small_net, small_input, option
):
    out = tmp_path / "rep"
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    result = runner.invoke(app, [*args, option, str(out / "x.npz")])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {option} {out / 'x.npz'}: inside the --report directory {out}, which is "
        "replaced as a whole"
    ]
    assert not out.exists()


def test_save_spikes_and_save_membrane_on_one_file_is_refused(tmp_path, small_net, small_input):
    path = tmp_path / "same.npz"
    args = ["run", str(small_net), "--input", str(small_input), "--save-spikes", str(path)]
    result = runner.invoke(app, [*args, "--save-membrane", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: --save-membrane {path}: the same file as --save-spikes"
    ]
    assert not path.exists()


# --- accuracy in report.json; --compare --------------------------------------------------------


@pytest.fixture
def labelled(tmp_path, adaptive_net):
    """An adaptive-network report with labels (7 samples) and one of the small network."""
    rng = np.random.default_rng(5)
    xp, yp = tmp_path / "x.npy", tmp_path / "y.txt"
    np.save(xp, (rng.random((7, 6, 40)) < 0.35).astype(np.uint8))
    np.savetxt(yp, [0, 1, 2, 0, 1, 2, 0], fmt="%d")
    return xp, yp


def test_run_labels_report_stores_the_accuracy(quick_plots, tmp_path, adaptive_net, labelled):
    xp, yp = labelled
    out = tmp_path / "rep"
    args = ["run", str(adaptive_net), "-i", str(xp), "-y", str(yp), "--report", str(out)]
    info = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    rep = json.loads((out / "report.json").read_text())
    assert rep["schema_version"] == SCHEMA_VERSION
    assert rep["readout"] == {
        "mode": "membrane_sum",
        "labels": str(yp),
        "samples": 7,
        "correct": info["correct"],
        "accuracy": info["accuracy"],
    }
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        f"accuracy {info['accuracy']:.2%} ({info['correct']}/7, read-out membrane_sum)"
        in result.stdout
    )
    run_report(adaptive_net, xp, tmp_path / "plain")
    assert "readout" not in json.loads((tmp_path / "plain" / "report.json").read_text())


def test_compare_aligns_layers_by_name_with_deltas(
    quick_plots, tmp_path, adaptive_net, small_net, small_input, labelled
):
    """A (3 layers, labels) against B (2 layers, no labels): B's missing layer shows `-`,
    every number is the reports' own, the delta is B - A (relative to A where A is not 0),
    the totals and the accuracy are compared; --json has the same as `comparison`."""
    xp, yp = labelled
    a, b = tmp_path / "a", tmp_path / "b"
    run_report(adaptive_net, xp, a, "-y", str(yp))
    run_report(small_net, small_input, b)
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (a, b))
    result = runner.invoke(app, ["report", str(a), "--compare", str(b), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["report"] == ra and doc["compare"] == rb
    cmp = doc["comparison"]
    assert (cmp["a"], cmp["b"]) == (str(a), str(b))
    assert [layer["name"] for layer in cmp["layers"]] == ["layer_0", "layer_1", "layer_2"]
    for i, layer in enumerate(cmp["layers"]):
        x = ra["layers"][i]
        y = rb["layers"][i] if i < len(rb["layers"]) else None
        for key in ("spikes", "synaptic_events"):
            change = layer[key]
            assert change["a"] == x[key]
            if y is None:
                assert change["b"] is None and change["delta"] is None
            else:
                assert change["b"] == y[key] and change["delta"] == y[key] - x[key]
                if x[key]:
                    assert change["relative"] == pytest.approx((y[key] - x[key]) / x[key])
        energy = layer["energy_per_sample_j"]
        assert energy["a"] == pytest.approx(x["energy_j"] / ra["samples"])
    for key in ("spikes", "synaptic_events", "energy_per_sample_j", "energy_j"):
        t = cmp["totals"][key]
        assert (t["a"], t["b"]) == (ra["totals"][key], rb["totals"][key])
        assert t["delta"] == pytest.approx(rb["totals"][key] - ra["totals"][key])
    acc = cmp["accuracy"]
    assert acc["a"] == ra["readout"]["accuracy"] and acc["b"] is None and acc["delta"] is None
    assert acc["readout"] == {"a": "membrane_sum", "b": None}

    text = runner.invoke(app, ["report", str(a), "--compare", str(b)], terminal_width=200)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[:2] == [f"A = {a}", f"B = {b}"]
    row = next(line for line in lines if " layer_2 " in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    x2 = ra["layers"][2]
    expected = [f"{x2['spikes']:,}", "-", "-", f"{x2['synaptic_events']:,}", "-", "-"]
    assert cells[:7] == ["layer_2", *expected]
    row0 = next(line for line in lines if " layer_0 " in line)
    spikes0 = cmp["layers"][0]["spikes"]
    assert f"{spikes0['delta']:+,}" in row0
    total = next(line for line in lines if " total " in line)
    assert f"{ra['totals']['spikes']:,}" in total and f"{rb['totals']['spikes']:,}" in total
    assert any(line.startswith("accuracy: A ") and ", B -, Δ -" in line for line in lines)


def test_compare_directories_of_the_same_name(
    quick_plots, tmp_path, small_net, small_input, labelled
):
    """Two reports both named `rep`: the columns are A and B, and the lines above the table
    say which full path each is; accuracies of both and their difference in points."""
    xp, yp = labelled
    a, b = tmp_path / "x" / "rep", tmp_path / "y" / "rep"
    for d, profile in ((a, "loihi2"), (b, "loihi1")):
        run_report(small_net, xp, d, "--profile", profile, "-y", str(yp))
    result = runner.invoke(app, ["report", str(a), "--compare", str(b)], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"A = {a}", f"B = {b}"]
    header = "\n".join(lines[2:8])
    assert "rep" not in header.replace("report", "")
    for label in ("spikes", "syn. events", "µJ/sample"):
        assert label in header
    assert f"A: {report_line_of(a)}" in lines and f"B: {report_line_of(b)}" in lines
    acc = json.loads((a / "report.json").read_text())["readout"]
    same = f"{acc['accuracy']:.2%} ({acc['correct']}/7, read-out spike_count)"
    assert f"accuracy: A {same}, B {same}, Δ +0.00 percentage points" in lines


def report_line_of(directory) -> str:
    from ranvier.cli.common import report_line

    return report_line(json.loads((directory / "report.json").read_text()))


def test_compare_accuracy_difference(quick_plots, tmp_path, adaptive_net, labelled):
    xp, yp = labelled
    a, b = tmp_path / "a", tmp_path / "b"
    run_report(adaptive_net, xp, a, "-y", str(yp))
    flipped = tmp_path / "y2.txt"
    np.savetxt(flipped, (np.loadtxt(yp, dtype=int) + 1) % 3, fmt="%d")
    run_report(adaptive_net, xp, b, "-y", str(flipped))
    ra, rb = (json.loads((d / "report.json").read_text())["readout"] for d in (a, b))
    doc = json.loads(runner.invoke(app, ["report", str(a), "--compare", str(b), "--json"]).stdout)
    acc = doc["comparison"]["accuracy"]
    assert acc["delta"] == pytest.approx(rb["accuracy"] - ra["accuracy"])
    assert acc["relative"] is None
    text = runner.invoke(app, ["report", str(a), "--compare", str(b)], terminal_width=200).stdout
    assert f"Δ {(rb['accuracy'] - ra['accuracy']) * 100:+.2f} percentage points" in text
