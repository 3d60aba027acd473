"""Data-parallel training (train/distributed.py): two gloo processes on CPU train what one
process trains from the same global batches, rank 0 alone writes the run directory, the CLI
spawns ranks (and resumes with them), and a bad ``--nproc`` is one line, exit 2.

Tolerance. Both runs compute the same global-batch mean gradient, but summed in another
order: two half-batch sums added by the all-reduce instead of one sum over the batch. float32
gradients then differ by a few ulps (measured: at most ~1e-6 relative to the largest one).
Adam turns a gradient ``g`` into a step ``lr * m / sqrt(v)``, so a relative change ``e`` of
``g`` moves a parameter by about ``lr * e`` per step: after the 6 steps here, with lr 0.1
for delays and 0.01 otherwise, about 1e-6 (measured: at most 6e-6 for the delays, 5e-7 for
the weights); ``atol=1e-4`` leaves a factor ~20. The config avoids what would amplify the
rounding beyond that: no dropout (each rank draws its own masks), and no read-out delays,
whose gradient at the initial zero delay is itself rounding noise (about 1e-7, zero in exact
arithmetic) that Adam scales up to a step of +-lr in either run.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from ranvier.train import distributed
from ranvier.train.config import Config, load_config
from ranvier.train.loop import train
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()

TINY = """
[model]
hidden = [12]
neuron = "ADLIF"
delays = "interp"
max_delay = 6
delay_init = "uniform"
dropout = 0.0
readout_delays = false

[train]
epochs = 2
qat_epochs = 1
batch_size = 16
verify_samples = 8

[data]
dataset = "tempo"
train_samples = 45
valid_samples = 24
test_samples = 24
"""
#: 45 samples in global batches of 16: 16, 16, 13, so the last batch splits 6 + 7
RUN_FILES = {"best.pt", "checkpoint.pt", "metrics.json", "model.net", "train.lock"}
RUN_FILES |= {"test_input.npy", "test_labels.npy"}


def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _record_writes(root: Path) -> list[str]:
    """Record every file this process creates, opens for writing, renames or makes a
    directory of under ``root`` (atomic writes go through os.open and os.replace)."""
    seen: list[str] = []
    root = root.resolve()

    def note(path: object) -> None:
        try:
            p = Path(os.fsdecode(path)).resolve()  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        if p == root or root in p.parents:
            seen.append(str(p.relative_to(root)))

    real_open, real_os_open = builtins.open, os.open
    real_replace, real_rename, real_mkdir = os.replace, os.rename, os.mkdir

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            note(file)
        return real_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & _WRITE_FLAGS:
            note(path)
        return real_os_open(path, flags, *args, **kwargs)

    def replace_(src, dst, *args, **kwargs):
        note(dst)
        return real_replace(src, dst, *args, **kwargs)

    def rename_(src, dst, *args, **kwargs):
        note(dst)
        return real_rename(src, dst, *args, **kwargs)

    def mkdir_(path, *args, **kwargs):
        note(path)
        return real_mkdir(path, *args, **kwargs)

    builtins.open, os.open = open_, os_open
    os.replace, os.rename, os.mkdir = replace_, rename_, mkdir_
    return seen


def recording_rank(config: Config, out: str, record: str, progress=None) -> dict:
    """One spawned rank: train with every write under ``out`` recorded, then save the list
    (outside ``out``) as ``record/rank<r>.json``."""
    rank = distributed.current_world().rank
    seen = _record_writes(Path(out))
    summary = train(config, out, progress=progress)
    Path(record, f"rank{rank}.json").write_text(json.dumps(sorted(set(seen))))
    return summary


def _parameters(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The tiny config trained by one process and by two spawned ranks (writes recorded)."""
    tmp = tmp_path_factory.mktemp("ddp")
    cfg = load_config(tiny(tmp))
    single = train(cfg, tmp / "one")
    record = tmp / "record"
    record.mkdir()
    events: list[str] = []
    summary = distributed.launch(
        2,
        recording_rank,
        (cfg, str(tmp / "two"), str(record)),
        progress=lambda event, info: events.append(event),
    )
    return {
        "tmp": tmp,
        "one": tmp / "one",
        "two": tmp / "two",
        "single": single,
        "summary": summary,
        "events": events,
        "writes": [json.loads((record / f"rank{r}.json").read_text()) for r in range(2)],
    }


def test_two_ranks_train_what_one_process_trains(runs):
    one, two = runs["one"], runs["two"]
    # the same training, up to the order of float32 sums (module docstring)
    for name in ("checkpoint.pt", "best.pt"):
        a, b = _parameters(one / name), _parameters(two / name)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(
                b[key].double(), a[key].double(), rtol=1e-5, atol=1e-4, err_msg=f"{name}: {key}"
            )
    h1 = json.loads((one / "metrics.json").read_text())["history"]
    h2 = json.loads((two / "metrics.json").read_text())["history"]
    assert [h["phase"] for h in h2] == ["float", "qat"]
    for a, b in zip(h1, h2, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["valid_loss"] == pytest.approx(a["valid_loss"], rel=1e-4)
    assert runs["summary"]["processes"] == 2 and runs["single"]["processes"] == 1
    assert runs["summary"]["verify"]["mismatches"] == 0
    # rank 0's progress reached the caller: 2 epochs of 3 global batches, then the summary
    events = runs["events"]
    assert events.count("batch") == 6 and events.count("epoch_end") == 2
    assert events[-1] == "done"
    # every rank keeps its own dropout stream, saved for --resume
    rng = torch.load(two / "checkpoint.pt", weights_only=True)["rng"]
    assert len(rng["torch_ranks"]) == 2 and torch.equal(rng["torch_ranks"][0], rng["torch"])


def test_only_rank_0_writes_the_run_directory(runs):
    rank0, rank1 = runs["writes"]
    assert rank1 == [], f"rank 1 wrote into the run directory: {rank1}"
    assert RUN_FILES <= set(rank0)  # (the recording sees the writes)
    names = {p.name for p in runs["two"].iterdir()}
    assert names == {p.name for p in runs["one"].iterdir()} == RUN_FILES


def test_cli_nproc_refuses_a_run_and_resumes_it(runs, tmp_path):
    """``ranvier train --nproc 2`` on a finished run is refused before anything is spawned;
    with ``--resume`` the ranks continue it."""
    out = tmp_path / "run"
    shutil.copytree(runs["two"], out)
    args = ["train", "--config", str(runs["tmp"] / "tiny.toml"), "--out", str(out)]
    again = runner.invoke(app, [*args, "--nproc", "2"])
    assert again.exit_code == 2 and "already holds a run" in again.stderr
    resumed = runner.invoke(app, [*args, "--resume", "--epochs", "3", "--nproc", "2", "--json"])
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert summary["epochs"] == 3 and summary["processes"] == 2
    assert summary["verify"]["mismatches"] == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "", "100000"])
def test_cli_bad_nproc_is_one_line(tmp_path, value):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--preset", "demo", "--out", str(out), "--nproc", value])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --nproc: "), result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_nproc_gpus_refused_before_any_work(tmp_path):
    """A fixed GPU shared by several processes is refused with one line (no GPU needed)."""
    out = tmp_path / "run"
    args = ["train", "--preset", "demo", "--out", str(out), "--nproc", "2"]
    result = runner.invoke(app, [*args, "--device", "cuda:0"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "--device cuda:0" in lines[0], result.stderr
    assert not out.exists()


def test_shards_cover_each_batch_once():
    for n in (1, 2, 5, 13, 16):
        for size in (1, 2, 3, 4):
            parts = [distributed.shard(n, distributed.World(r, size)) for r in range(size)]
            covered = [i for p in parts for i in range(n)[p]]
            assert covered == list(range(n))
            assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1


def test_torchrun_environment():
    assert distributed.torchrun_world({}) is None
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert distributed.torchrun_world(env) == distributed.World(rank=3, size=4, local_rank=1)
    with pytest.raises(distributed.DistributedError, match="RANK=4"):
        distributed.torchrun_world({**env, "RANK": "4"})
    with pytest.raises(distributed.DistributedError, match="not whole numbers"):
        distributed.torchrun_world({**env, "WORLD_SIZE": "x"})
