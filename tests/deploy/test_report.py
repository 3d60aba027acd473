"""deploy.report: comparing two reports, checking and swapping a report directory."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from ranvier.convert import OutputPathError
from ranvier.deploy import report as report_mod
from ranvier.deploy.report import REPORT_FILES, check_report_dir, compare_reports, write_report


def fake_report(layers: list[tuple[str, int, int, float]], samples: int = 2, **extra) -> dict:
    """A report with just what compare_reports reads: (name, spikes, events, energy_j)."""
    rows = [{"name": n, "spikes": s, "synaptic_events": e, "energy_j": j} for n, s, e, j in layers]
    totals = {
        "spikes": sum(r["spikes"] for r in rows),
        "synaptic_events": sum(r["synaptic_events"] for r in rows),
        "energy_j": sum(r["energy_j"] for r in rows),
    }
    totals["energy_per_sample_j"] = totals["energy_j"] / samples
    return {"samples": samples, "layers": rows, "totals": totals, **extra}


def test_compare_aligns_layers_by_name_in_order():
    """B's own layers appear after the layer that precedes them in B; A's own show None on
    B's side; a name twice in a report is matched copy by copy."""
    a = fake_report([("in", 1, 10, 1.0), ("hid", 0, 20, 2.0), ("out", 3, 30, 3.0)])
    b = fake_report(
        [("in", 2, 10, 1.0), ("extra", 5, 5, 0.5), ("hid", 4, 25, 2.0), ("hid", 1, 1, 0.1)],
        samples=4,
    )
    cmp = compare_reports(a, b)
    assert [row["name"] for row in cmp["layers"]] == ["in", "extra", "hid", "hid#2", "out"]
    by = {row["name"]: row for row in cmp["layers"]}
    assert by["in"]["spikes"] == {"a": 1, "b": 2, "delta": 1, "relative": 1.0}
    assert by["extra"]["spikes"] == {"a": None, "b": 5, "delta": None, "relative": None}
    assert by["out"]["synaptic_events"] == {"a": 30, "b": None, "delta": None, "relative": None}
    # A is 0: a delta, no relative change
    assert by["hid"]["spikes"] == {"a": 0, "b": 4, "delta": 4, "relative": None}
    assert by["hid#2"]["spikes"]["a"] is None
    energy = by["in"]["energy_per_sample_j"]  # per sample: 1.0 / 2 against 1.0 / 4
    assert (energy["a"], energy["b"], energy["delta"]) == (0.5, 0.25, -0.25)
    assert energy["relative"] == pytest.approx(-0.5)
    assert cmp["totals"]["spikes"] == {"a": 4, "b": 12, "delta": 8, "relative": 2.0}
    assert cmp["accuracy"] is None


def test_compare_accuracy_has_no_relative_change():
    readout = {"mode": "spike_count", "labels": None, "samples": 2, "correct": 1}
    a = fake_report([("l", 1, 1, 1.0)], readout={**readout, "accuracy": 0.5})
    b = fake_report([("l", 1, 1, 1.0)], readout={**readout, "accuracy": 1.0})
    acc = compare_reports(a, b)["accuracy"]
    assert acc == {
        "a": 0.5,
        "b": 1.0,
        "delta": 0.5,
        "relative": None,
        "readout": {"a": "spike_count", "b": "spike_count"},
    }
    assert compare_reports(a, fake_report([("l", 1, 1, 1.0)]))["accuracy"]["b"] is None


# --- the report directory ---------------------------------------------------------------------


def minimal_report() -> dict:
    """What write_report needs to write a report (one layer, no activity)."""
    return {
        "schema_version": 1,
        "profile": {"name": "test"},
        "ts_ms": 1.0,
        "totals": {"energy_j": 0.0},
        "layers": [
            {
                "name": "layer_0",
                "neurons": 2,
                "spike_counts": [0, 1],
                "spike_rate_hz": [0.0, 10.0],
                "fan_out": [0, 0],
                "synaptic_events_caused": [0, 0],
                "neuron_energy_j": [0.0, 0.0],
                "energy_by_operation_j": {"synaptic": 0.0},
                "delay_histogram": [1],
                "neuron_parameters": {},
            }
        ],
    }


@pytest.fixture
def quick_plots(monkeypatch):
    monkeypatch.setattr(
        report_mod, "_plot", lambda report, rasters, write: write("energy.png", b"png")
    )


def write(directory, tag: str = "new"):
    rep = minimal_report()
    rep["network"] = tag
    return write_report(directory, rep, [np.zeros((2, 3), np.uint8)])


def test_write_report_without_an_atomic_swap(tmp_path, monkeypatch, quick_plots):
    """Where the system cannot exchange two directories in one step, the old one is renamed
    aside, the new one in, and the old one deleted: same result."""
    monkeypatch.setattr(report_mod, "_exchange", lambda a, b: False)
    out = tmp_path / "rep"
    write(out, "old")
    (out / "raster.png").write_bytes(b"stale")
    write(out, "new")
    assert json.loads((out / "report.json").read_text())["network"] == "new"
    assert sorted(p.name for p in out.iterdir()) == [
        "energy.png",
        "neurons.csv",
        "raster.npz",
        "report.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_exchange_swaps_two_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    if not report_mod._exchange(a, b):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here: the two-rename fallback is used")
    assert [p.name for p in a.iterdir()] == ["y"] and [p.name for p in b.iterdir()] == ["x"]


def test_a_report_behind_a_symlink_is_replaced_where_it_is(tmp_path, quick_plots):
    real = tmp_path / "real"
    write(real, "old")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert write(link, "new") == link
    assert link.is_symlink()
    assert json.loads((real / "report.json").read_text())["network"] == "new"


def test_check_report_dir_accepts_what_a_report_and_its_interrupted_writes_leave(tmp_path):
    d = tmp_path / "rep"
    d.mkdir()
    for name in REPORT_FILES:
        (d / name).write_text("")
    (d / ".report.json.abc123.tmp").write_text("")  # atomic_path's leftover of a killed write
    (d / ".ranvier_write_test").write_text("")  # older versions' write probe
    assert check_report_dir(d) == d
    (d / ".notes.txt.tmp").write_text("")
    with pytest.raises(OutputPathError, match=r"holds '\.notes\.txt\.tmp', not part"):
        check_report_dir(d)


def test_check_report_dir_names_every_foreign_file_count(tmp_path):
    d = tmp_path / "rep"
    d.mkdir()
    for name in ("report.json", "a.txt", "b.txt", "c.txt"):
        (d / name).write_text("")
    with pytest.raises(OutputPathError) as info:
        check_report_dir(d)
    assert str(info.value) == (
        f"{d}: holds 'a.txt' and 2 more, not part of a report; refusing to replace the "
        "directory (it is replaced as a whole)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_check_report_dir_needs_to_write_next_to_an_existing_report(tmp_path, quick_plots):
    parent = tmp_path / "p"
    out = parent / "rep"
    write(out)
    parent.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match=r"rep: cannot replace it \(cannot write in"):
            check_report_dir(out)
    finally:
        parent.chmod(0o755)
