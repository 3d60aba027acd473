"""Run directories (issue 12, items 1, 2 and 4): export and verify read RUN_DIR/best.pt and say
so; the summary's best validation accuracy is the deployed (quantized) one; one run at a time
per directory (an OS lock that dies with its process); output paths, resumes, NaN checkpoints
and files of another network refused with one line, exit 2, before any work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from one_line import as_from_a_terminal, one_line
from ranvier.convert import OutputPathError
from ranvier.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ranvier.train.config import ModelConfig
from ranvier.train.lock import LOCK_NAME, RunLockedError, run_lock
from ranvier.train.model import SpikingNet
from typer.testing import CliRunner

import ranvier
from ranvier.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

TINY = """
[model]
hidden = [12]
neuron = "{neuron}"
max_delay = 6
dropout = 0.0

[train]
epochs = {epochs}
qat_epochs = 2
batch_size = 32
verify_samples = 16

[data]
dataset = "tempo"
train_samples = 48
valid_samples = 24
test_samples = 24
"""


def tiny_config(directory: Path, neuron: str = "ADLIF", epochs: int = 3) -> Path:
    path = directory / f"tiny_{neuron}_{epochs}.toml"
    path.write_text(TINY.format(neuron=neuron, epochs=epochs))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, str]:
    """One tiny AdLIF+ run (1 float epoch, 2 quantized), trained in table mode."""
    tmp = tmp_path_factory.mktemp("run")
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config(tmp)), "--out", str(tmp / "run")]
    )
    assert result.exit_code == 0, result.output
    return tmp / "run", result.stdout


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A copy of the tiny run whose checkpoint.pt is garbage: only best.pt can be read."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    (run / "checkpoint.pt").write_bytes(b"not the checkpoint a run directory stands for")
    return run


# --- item 1: best.pt, named ---------------------------------------------------------------------


def test_export_and_verify_of_a_run_directory_use_best_pt(run_copy, tmp_path):
    best = run_copy / "best.pt"
    net = tmp_path / "m.net"
    result = runner.invoke(app, ["export", str(run_copy), "-o", str(net)])
    assert result.exit_code == 0, result.output
    assert f"checkpoint {best} (epoch " in result.stderr
    assert "quantization-aware" in result.stderr
    result = runner.invoke(app, ["export", str(run_copy), "-o", str(net), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checkpoint"] == str(best)

    result = runner.invoke(app, ["verify", str(run_copy), "--samples", "8"])
    assert result.exit_code == 0, result.output
    assert f"checkpoint {best}" in result.stderr and "mismatches=0" in result.stdout
    result = runner.invoke(app, ["verify", str(run_copy), "-n", "8", "--json", "--net", str(net)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["checkpoint"] == str(best) and info["mismatches"] == 0

    assert ranvier.export(run_copy, tmp_path / "api.net").same_as(ranvier.load(net))
    checked = ranvier.verify(run_copy, samples=4)
    assert checked.ok and checked.checkpoint == str(best)
    assert checked.as_dict()["checkpoint"] == str(best)


def test_a_directory_without_best_pt_is_refused(run_copy):
    (run_copy / "best.pt").unlink()
    result = runner.invoke(app, ["verify", str(run_copy)])
    one_line(result, [str(run_copy), "best.pt", "checkpoint.pt"])


def test_summary_best_validation_accuracy_is_the_deployed_one(tiny_run):
    run, stdout = tiny_run
    metrics = json.loads((run / "metrics.json").read_text())
    summary, history = metrics["summary"], metrics["history"]
    best = history[summary["best_epoch"]]
    assert best["phase"] == "qat"
    qat = [h["valid_accuracy"] for h in history if h["phase"] == "qat"]
    assert summary["best_valid_accuracy"] == best["valid_accuracy"] == max(qat)
    floats = [h["valid_accuracy"] for h in history if h["phase"] == "float"]
    assert summary["best_float_valid_accuracy"] == max(floats)
    assert summary["checkpoint"] == str(run / "best.pt")
    assert load_checkpoint(run).raw["epoch"] == summary["best_epoch"]
    expected = f"best quantized validation accuracy {summary['best_valid_accuracy']:.2%} (epoch "
    assert expected + f"{summary['best_epoch'] + 1}, best.pt)" in stdout


# --- item 2: the lock, resume, output paths -------------------------------------------------------

HOLD = (
    "import sys, time\n"
    "from ranvier.train.lock import run_lock\n"
    "with run_lock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)\n"
)


def test_a_second_run_is_refused_while_one_holds_the_directory(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        cfg = tiny_config(tmp_path)
        for extra in ([], ["--resume"]):
            result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out), *extra])
            line = one_line(result, [str(out), LOCK_NAME, f"pid {holder.pid}"])
            assert "another ranvier train" in line
        with pytest.raises(RunLockedError), run_lock(out):
            pass
    finally:
        holder.kill()  # SIGKILL: the process cannot clean up; the OS drops its lock
        holder.wait(timeout=30)
    with run_lock(out):  # no stale lock
        pass
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out), "--resume"])
    one_line(result, [str(out), "nothing to resume"])


def test_the_lock_is_released_on_errors_and_interrupts(tmp_path, monkeypatch):
    import ranvier.train.loop as loop

    cfg = tiny_config(tmp_path)
    out = tmp_path / "run"

    def stop(*args, **kwargs):
        with pytest.raises(RunLockedError), run_lock(out):  # held while training
            pass
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_train", stop)
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out)])
    one_line(result, ["interrupted"], code=130)
    with run_lock(out):
        pass

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(loop, "_train", fail)
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out)])
    one_line(result, ["RuntimeError: boom"], code=1)
    with run_lock(out):
        pass

    def interrupt(event, info):
        raise KeyboardInterrupt

    monkeypatch.undo()
    with pytest.raises(KeyboardInterrupt):
        ranvier.train_network(cfg, tmp_path / "api", progress=interrupt)
    with run_lock(tmp_path / "api"):
        pass


CLI = "from ranvier.cli import main; main()"


def test_ctrl_c_during_training_exits_130_and_frees_the_directory(tmp_path):
    """A real SIGINT to a real `ranvier train`: one line, exit 130, the lock gone."""
    out = tmp_path / "run"
    cfg = tiny_config(tmp_path, epochs=400)
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "train", "--config", str(cfg), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.pt").exists():  # training has started
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in stderr
    with run_lock(out):
        pass
    assert not list(out.glob(".*tmp")), "temporary files left behind"


def test_resume_without_a_checkpoint_is_refused(tmp_path):
    cfg = tiny_config(tmp_path)
    missing = tmp_path / "never"
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(missing), "--resume"])
    one_line(result, [str(missing), "nothing to resume", "checkpoint.pt"])
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(empty), "--resume"])
    one_line(result, [str(empty), "nothing to resume"])
    with pytest.raises(CheckpointError, match="nothing to resume"):
        ranvier.train_network(cfg, missing, resume=True)


def _train_into(out: Path, data: Path) -> object:
    """`ranvier train` with a valid config whose data does not exist: an output error must
    come first."""
    return runner.invoke(
        app, ["train", "--preset", "shd", "--data", str(data), "--out", str(out), "--epochs", "1"]
    )


def test_train_out_that_cannot_be_a_directory(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = _train_into(a_file, tmp_path / "nodata")
    one_line(result, [str(a_file), "is a file"])
    under = a_file / "run"
    result = _train_into(under, tmp_path / "nodata")
    one_line(result, [str(under), "is a file, not a directory"])


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch) -> Path:
    """A directory nobody may write in (as root, which may, os.access is told so)."""
    import ranvier.convert.atomic as atomic

    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    if AS_ROOT:
        real = os.access

        def access(path, mode, *args, **kwargs):
            if Path(path) == locked and mode & os.W_OK:
                return False
            return real(path, mode, *args, **kwargs)

        monkeypatch.setattr(atomic.os, "access", access)
    yield locked
    locked.chmod(0o755)


def test_train_out_in_a_read_only_directory(read_only_dir, tmp_path):
    result = _train_into(read_only_dir / "run", tmp_path / "nodata")
    one_line(result, [str(read_only_dir / "run"), "permission denied"])


def test_export_output_checked_before_any_work(tmp_path):
    """The checkpoint does not exist: the output path must be refused first."""
    missing = tmp_path / "no.pt"
    a_dir = tmp_path / "adir"
    a_dir.mkdir()
    result = runner.invoke(app, ["export", str(missing), "-o", str(a_dir)])
    one_line(result, [str(a_dir), "is a directory"])
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    under = a_file / "m.net"
    result = runner.invoke(app, ["export", str(missing), "-o", str(under)])
    one_line(result, [str(under), "is a file, not a directory"])
    with pytest.raises(OutputPathError, match="is a directory"):
        ranvier.export(missing, a_dir)


def test_export_output_in_a_read_only_directory(read_only_dir, tmp_path):
    out = read_only_dir / "m.net"
    result = runner.invoke(app, ["export", str(tmp_path / "no.pt"), "-o", str(out)])
    one_line(result, [str(out), "permission denied"])


def test_ctrl_c_during_export_and_verify_exits_130(tiny_run, tmp_path, monkeypatch):
    import ranvier.train.export as export_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    run = tiny_run[0]
    net = tmp_path / "m.net"
    monkeypatch.setattr(export_module, "export_model", interrupted)
    result = runner.invoke(app, ["export", str(run), "-o", str(net)])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().splitlines()[-1] == "error: interrupted"
    assert not net.exists()
    monkeypatch.setattr(export_module, "verify", interrupted)
    result = runner.invoke(app, ["verify", str(run), "--json"])
    one_line(result, ["interrupted"], code=130)


def _write_hsd(path: Path, n: int) -> None:
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype("f4"))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype("u2"))
        for i in range(n):
            times[i] = np.array([0.01, 0.02], "f4")
            units[i] = np.array([3, 400], "u2")
        f.create_dataset("labels", data=np.zeros(n, "u1"))


@pytest.mark.parametrize(
    ("train_samples", "message"),
    [(0, "shd_train.h5: no samples"), (1, "shd_train.h5: too few samples to hold out")],
)
def test_an_empty_dataset_is_named(tmp_path, train_samples, message):
    data = tmp_path / "data"
    data.mkdir()
    _write_hsd(data / "shd_train.h5", train_samples)
    _write_hsd(data / "shd_test.h5", 3)
    out = tmp_path / "run"
    result = _train_into(out, data)
    one_line(result, [message])
    assert not (out / "checkpoint.pt").exists()


# --- item 4: verify refuses another network, NaN checkpoints -------------------------------------


def _model_checkpoint(tiny_run, path: Path, **model: object) -> Path:
    """A quantized checkpoint of the tiny run's data shape with another [model]."""
    loaded = load_checkpoint(tiny_run[0])
    cfg = loaded.config
    cfg.model = replace(cfg.model, **model)
    net = SpikingNet(loaded.model.n_in, loaded.model.n_classes, cfg.model)
    net.start_qat()
    save_checkpoint(path, net, cfg)
    return path


def test_verify_refuses_a_file_of_other_neurons(tiny_run, tmp_path):
    adlif_net = tmp_path / "adlif.net"
    assert runner.invoke(app, ["export", str(tiny_run[0]), "-o", str(adlif_net)]).exit_code == 0
    cuba = _model_checkpoint(tiny_run, tmp_path / "cuba.pt", neuron="CUBA")
    result = runner.invoke(app, ["verify", str(cuba), "--net", str(adlif_net)])
    line = one_line(result, [str(adlif_net), "ADLIF", "CUBA"])
    assert "mismatches" not in result.stdout
    assert "layer_0" in line
    with pytest.raises(ValueError, match="ADLIF neurons, the checkpoint's has CUBA"):
        ranvier.verify(cuba, network=adlif_net, samples=2)


def test_verify_refuses_a_file_of_other_shapes(tiny_run, tmp_path):
    wider = tmp_path / "wider.net"
    model = SpikingNet(40, 8, ModelConfig(hidden=[12], max_delay=6))
    model.start_qat()
    ranvier.save(model.to_network(), wider)
    result = runner.invoke(app, ["verify", str(tiny_run[0]), "--net", str(wider)])
    one_line(result, [str(wider), "40 inputs"])
    other = tmp_path / "other.net"
    model = SpikingNet(32, 8, ModelConfig(hidden=[12, 5], max_delay=6))
    model.start_qat()
    ranvier.save(model.to_network(), other)
    result = runner.invoke(app, ["verify", str(tiny_run[0]), "--net", str(other)])
    one_line(result, [str(other), "layer sizes [12, 5, 8]"])


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_checkpoint_names_file_and_tensor(tiny_run, tmp_path, value):
    raw = torch.load(tiny_run[0] / "best.pt", weights_only=True)
    raw["model"]["blocks.1.weight"][0, 3] = value
    bad = tmp_path / "bad.pt"
    torch.save(raw, bad)
    kind = "1 NaN" if value != value else "1 infinite"
    for cmd in (["verify", str(bad)], ["export", str(bad), "-o", str(tmp_path / "m.net")]):
        result = runner.invoke(app, cmd)
        one_line(result, [str(bad), "'blocks.1.weight'", kind])
    assert not (tmp_path / "m.net").exists()
