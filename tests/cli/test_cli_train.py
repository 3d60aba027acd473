"""`ranvier train / export / verify` as a user runs them: a tiny run on the built-in task,
exported and verified spike for spike, resumed, and every bad checkpoint or config refused
with one line (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ranvier.convert import read_netx
from ranvier.testing.configs import tiny_training_config
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()

tiny_config = tiny_training_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One tiny AdLIF+ run, shared by the tests that only read it."""
    tmp = tmp_path_factory.mktemp("run")
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config(tmp)), "--out", str(tmp / "run"), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["verify"]["mismatches"] == 0
    return tmp / "run"


def test_train_writes_run_and_verifies(tiny_run):
    for name in ("checkpoint.pt", "best.pt", "metrics.json", "model.net"):
        assert (tiny_run / name).is_file(), name
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert [h["phase"] for h in metrics["history"]] == ["float", "qat"]
    assert metrics["summary"]["verify"]["mismatches"] == 0
    net = read_netx(tiny_run / "model.net")
    assert [b.neurons.neuron_type for b in net.blocks] == ["ADLIF", "CUBA"]
    assert net.meta.get("readout") == "membrane_sum"
    assert not list(tiny_run.glob(".*tmp")), "temporary files left behind"


@pytest.mark.parametrize("neuron", ["CUBA", "ALIF"])
def test_train_other_neurons_verify(tmp_path, neuron):
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config(tmp_path, neuron)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "mismatches=0" in result.stdout
    assert read_netx(out / "model.net").blocks[0].neurons.neuron_type == neuron


def test_export_and_verify_commands(tiny_run, tmp_path):
    net = tmp_path / "model.net"
    result = runner.invoke(app, ["export", str(tiny_run / "best.pt"), "-o", str(net)])
    assert result.exit_code == 0, result.output
    exported = read_netx(net)
    delays = exported.blocks[0].synapse.delay
    assert delays is not None and delays.dtype.kind == "i"
    result = runner.invoke(app, ["verify", str(tiny_run / "best.pt"), "--samples", "10"])
    assert result.exit_code == 0, result.output
    assert "mismatches=0" in result.stdout
    result = runner.invoke(app, ["verify", str(tiny_run / "best.pt"), "--net", str(net), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["mismatches"] == 0 and info["predictions_equal"]


def test_verify_counts_mismatches_of_a_different_file(tiny_run, tmp_path):
    """verify can fail: a file whose weights differ from the checkpoint's gives mismatches."""
    import h5py

    net = tmp_path / "changed.net"
    runner.invoke(app, ["export", str(tiny_run / "best.pt"), "-o", str(net)])
    with h5py.File(net, "r+") as f:
        w = f["layer/1/weight"][()]
        del f["layer/1/weight"]
        f["layer/1/weight"] = np.clip(w + 40, -256, 254)
    result = runner.invoke(app, ["verify", str(tiny_run / "best.pt"), "--net", str(net)])
    assert result.exit_code == 1, result.output
    assert "mismatches=0" not in result.stdout
    assert "mismatches=" in result.stdout
    assert "does not read back to the network the model exports" in result.stdout


def test_resume_continues_from_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path)
    out = tmp_path / "run"
    first = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out), "--epochs", "1"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.stderr
    resumed = runner.invoke(
        app, ["train", "--config", str(cfg), "--out", str(out), "--resume", "--json"]
    )
    assert resumed.exit_code == 0, resumed.output
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1]


def _assert_one_line(result, path: Path, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert "Traceback" not in result.output


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00not a checkpoint" * 10)
    for cmd in (["verify", str(bad)], ["export", str(bad), "-o", str(tmp_path / "m.net")]):
        result = runner.invoke(app, cmd)
        _assert_one_line(result, bad)
        assert "not a readable ranvier checkpoint" in result.stderr
    assert not (tmp_path / "m.net").exists()


def test_foreign_and_mismatched_checkpoints(tiny_run, tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    result = runner.invoke(app, ["verify", str(foreign)])
    _assert_one_line(result, foreign)
    assert "not a ranvier checkpoint" in result.stderr

    raw = torch.load(tiny_run / "best.pt", weights_only=True)
    raw["config"]["model"]["hidden"] = [13]  # the weights no longer fit the config
    mismatched = tmp_path / "mismatched.pt"
    torch.save(raw, mismatched)
    result = runner.invoke(app, ["export", str(mismatched), "-o", str(tmp_path / "m.net")])
    _assert_one_line(result, mismatched)
    assert "does not match its config" in result.stderr

    del raw["model"]
    missing = tmp_path / "missing.pt"
    torch.save(raw, missing)
    result = runner.invoke(app, ["verify", str(missing)])
    _assert_one_line(result, missing)
    assert "'model'" in result.stderr


def test_bad_config(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[model]\nneuron = "IZH"\n')
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "r")])
    _assert_one_line(result, cfg)
    assert "model.neuron" in result.stderr
    cfg.write_text("[model]\nhiden = [3]\n")
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "r")])
    _assert_one_line(result, cfg)
    assert "model.hiden" in result.stderr
    cfg.write_text("[model\n")
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "r")])
    _assert_one_line(result, cfg)
    assert not (tmp_path / "r").exists()


def test_missing_dataset_says_where(tmp_path):
    cfg = tmp_path / "shd.toml"
    cfg.write_text('preset = "shd"\n[train]\nepochs = 1\nqat_epochs = 0\n')
    data = tmp_path / "nodata"
    result = runner.invoke(
        app, ["train", "--config", str(cfg), "--data", str(data), "--out", str(tmp_path / "r")]
    )
    _assert_one_line(result, data)
    assert "shd_train.h5" in result.stderr


def test_help_has_examples():
    for cmd in ("train", "export", "verify"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0
        assert "Example: ranvier " + cmd in " ".join(result.stdout.split())


def test_run_and_inspect_never_import_torch(example_net, example_input):
    """Only `ranvier.train` imports torch: `ranvier run` / `inspect` work without it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ranvier.cli import app\n"
        f"r = CliRunner().invoke(app, ['run', {str(example_net)!r}, '--input', "
        f"{str(example_input)!r}, '--json'])\n"
        f"i = CliRunner().invoke(app, ['inspect', {str(example_net)!r}, '--json'])\n"
        "print(r.exit_code, i.exit_code, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "0", "False"], out.stdout + out.stderr


@pytest.mark.parametrize("device", ["gpu", "tpu", "cuda:99"])
def test_bad_device_is_refused_on_one_line(tiny_run, tmp_path, device):
    """`--device` torch cannot use: one line naming it, exit 2, before any training (no run
    directory written); verify alike. (cuda itself where CUDA is present is tests/train/
    test_gpu.py's; here it is refused too when torch sees no GPU.)"""
    out = tmp_path / "run"
    res = runner.invoke(app, ["train", "--preset", "demo", "--out", str(out), "--device", device])
    assert res.exit_code == 2, res.output
    assert f"--device {device}" in res.output and len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output and not out.exists()
    run_dir = tiny_run
    res = runner.invoke(app, ["verify", str(run_dir), "--device", device, "-n", "4"])
    assert res.exit_code == 2 and f"--device {device}" in res.output


def test_verify_on_cpu_device(tiny_run):
    run_dir = tiny_run
    res = runner.invoke(app, ["verify", str(run_dir), "--device", "cpu", "-n", "8", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["mismatches"] == 0
