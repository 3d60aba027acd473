"""`ranvier sweep`: a 2-seed sweep of a tiny config, two runs at a time; its table's mean,
std and max are those of the per-seed numbers each run reported; --resume reuses finished
seeds; bad usage is one line, exit 2."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from ranvier.testing.configs import tiny_training_config
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("sweep")
    config = tiny_training_config(tmp)
    out = tmp / "sweep"
    args = ["sweep", str(config), "--seeds", "2", "--jobs", "2", "--out", str(out)]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    return {"config": config, "out": out, "result": result, "args": args}


def _summaries(out: Path) -> list[dict]:
    return [json.loads((out / f"seed-{s}" / "metrics.json").read_text())["summary"] for s in (0, 1)]


def _cells(stdout: str, label: str) -> list[str]:
    """The cells of the table row that starts with ``label``."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no {label!r} row in:\n{stdout}")


def test_each_seed_is_a_normal_run(swept):
    out = swept["out"]
    for seed in (0, 1):
        run = out / f"seed-{seed}"
        for name in ("checkpoint.pt", "best.pt", "metrics.json", "model.net"):
            assert (run / name).is_file(), f"{run}/{name}"
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["config"]["train"]["seed"] == seed
    assert not list(out.glob(".*tmp")) and not list(out.glob(".*.md")), "temporary files left"


def test_table_statistics_are_the_seeds(swept):
    out, stdout = swept["out"], swept["result"].stdout
    doc = json.loads((out / "sweep.json").read_text())
    summaries = _summaries(out)
    assert doc["format"] == "ranvier-sweep" and doc["seeds"] == [0, 1] and doc["failed"] == []
    for row, summary in zip(doc["runs"], summaries, strict=True):
        assert row["status"] == "ok"
        assert row["test_accuracy"] == summary["test_accuracy"]
        assert row["float_test_accuracy"] == summary["float_test_accuracy"]
        assert row["file_accuracy"] == summary["verify"]["accuracy"]
        assert row["mismatches"] == summary["verify"]["mismatches"] == 0
    md = (out / "sweep.md").read_text()
    for key, column in (("test_accuracy", 2), ("float_test_accuracy", 1)):
        values = [s[key] for s in summaries]
        stats = doc["stats"][key]
        assert stats["n"] == 2
        assert stats["mean"] == pytest.approx(statistics.fmean(values), abs=1e-12)
        assert stats["std"] == pytest.approx(statistics.stdev(values), abs=1e-12)
        assert stats["max"] == max(values)
        # the terminal table and sweep.md show the same numbers
        shown = {
            "mean": f"{100 * statistics.fmean(values):.2f}%",
            "std": f"{100 * statistics.stdev(values):.2f} pp",
            "max": f"{100 * max(values):.2f}%",
        }
        for label, text in shown.items():
            assert _cells(stdout, label)[column] == text
            assert f"| {label} |" in md and text in md
        for seed, value in enumerate(values):
            assert _cells(stdout, str(seed))[column] == f"{100 * value:.2f}%"
    line = stdout.strip().splitlines()[-1]
    assert line.startswith("test accuracy (quantized) over 2 seed(s): mean ")


def test_resume_reuses_finished_seeds_and_json_is_the_document(swept):
    result = runner.invoke(app, [*swept["args"], "--resume", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stdout is the JSON document only
    saved = json.loads((swept["out"] / "sweep.json").read_text())
    assert doc == saved
    assert doc["runs"][0]["test_accuracy"] == _summaries(swept["out"])[0]["test_accuracy"]


def test_a_finished_sweep_is_not_overwritten(swept):
    before = (swept["out"] / "sweep.json").read_text()
    result = runner.invoke(app, swept["args"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "seed-0: already holds a run" in lines[0] and "--resume" in lines[0]
    assert (swept["out"] / "sweep.json").read_text() == before


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--seeds", "0"], "--seeds: 0 is outside"),
        (["--seeds", "ten"], "--seeds: 'ten' is not a whole number"),
        ([], "--seeds: give the number of seeds"),
        (["--seeds", "2", "--jobs", "0"], "--jobs: 0 is outside"),
        (["--seeds", "2", "--jobs", "1.5"], "--jobs: '1.5' is not a whole number"),
    ],
)
def test_bad_counts_are_one_line(tmp_path, extra, expect):
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", "demo", "--out", str(out), *extra])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("demo-nope", "demo-nope: neither a config file nor a preset"),
        ("missing.toml", "missing.toml: no such config file"),
    ],
)
def test_unknown_config_is_one_line(tmp_path, target, expect):
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", target, "--seeds", "2", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert not out.exists()
