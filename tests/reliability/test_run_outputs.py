"""`ranvier run`'s outputs under bad paths and interruptions.

- Every output path that could not be written is refused before the network is simulated:
  exit 2, one line naming the path given, nothing written (``--report``, ``--save-spikes``,
  ``--save-membrane``; the Python API's ``report_dir``).
- A report directory is one consistent report whatever happens: interrupted anywhere (in
  process, or a real process killed by SIGINT or SIGKILL), it holds exactly the old report or
  exactly the new one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from one_line import as_from_a_terminal
from ranvier.convert import OutputPathError
from ranvier.deploy.report import PLOTS, load_report
from typer.testing import CliRunner

import ranvier
from ranvier.cli import app

runner = CliRunner()
ROOT = os.geteuid() == 0


@pytest.fixture
def quick_plots(monkeypatch):
    """Each plot as placeholder bytes under the names the real drawing gives (the drawing is
    most of a report's time and not what these tests are about)."""

    def placeholders(report, rasters, write):
        names = list(PLOTS)
        if any(layer.get("neuron_parameters") for layer in report["layers"]):
            names.append("neuron_parameters.png")
        for name in names:
            write(name, f"{name} of {report['network']}".encode())

    monkeypatch.setattr("ranvier.deploy.report._plot", placeholders)


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if the network is run at all."""

    def refuse(*args, **kwargs):
        raise AssertionError("the network was simulated before the output path was checked")

    monkeypatch.setattr("ranvier.deploy.run_network", refuse)
    monkeypatch.setattr("ranvier.api.run_network", refuse)


# --- bad output paths, refused before the run -------------------------------------------------


def wrong_kind(tmp: Path, option: str) -> tuple[Path, str]:
    """A directory where a file goes; a regular file where the report directory goes."""
    if option == "--report":
        path = tmp / "a_file"
        path.write_text("mine")
        return path, "is a file, expected a directory for the report"
    path = tmp / "a_dir"
    path.mkdir()
    return path, f"is a directory, expected a path for the {option} file"


def under_a_file(tmp: Path, option: str) -> tuple[Path, str]:
    blocker = tmp / "blocker"
    blocker.write_text("mine")
    return blocker / "out", f"{blocker} is a file, not a directory"


def in_a_read_only_dir(tmp: Path, option: str) -> tuple[Path, str]:
    locked = tmp / "locked"
    locked.mkdir(mode=0o500)
    return locked / "out", f"cannot write in {locked} (permission denied)"


def not_a_report(tmp: Path, option: str) -> tuple[Path, str]:
    path = tmp / "data"
    path.mkdir()
    (path / "notes.txt").write_text("mine")
    return path, "not a ranvier report (no report.json) and not empty; refusing to replace it"


def read_only_report(tmp: Path, option: str) -> tuple[Path, str]:
    path = tmp / "rep"
    path.mkdir()
    (path / "report.json").write_text("{}")
    path.chmod(0o555)
    return path, f"cannot write in {path} (permission denied)"


needs_permissions = pytest.mark.skipif(ROOT, reason="root writes where permission bits forbid")
CASES = [
    pytest.param(option, make, id=f"{option.lstrip('-')}-{make.__name__}", marks=marks)
    for option in ("--report", "--save-spikes", "--save-membrane")
    for make, marks in (
        (wrong_kind, ()),
        (under_a_file, ()),
        (in_a_read_only_dir, needs_permissions),
        *(
            ((not_a_report, ()), (read_only_report, needs_permissions))
            if option == "--report"
            else ()
        ),
    )
]


@pytest.mark.parametrize("option, make", CASES)
def test_bad_output_path_is_refused_before_the_run(
    tmp_path, small_net, small_input, no_simulation, option, make
):
    bad_dir = tmp_path / "case"
    bad_dir.mkdir()
    path, expect = make(bad_dir, option)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    try:
        args = ["run", str(small_net), "--input", str(small_input), option, str(path)]
        result = runner.invoke(app, args)
    finally:
        for p in (bad_dir, *bad_dir.iterdir()):
            if p.is_dir():
                p.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {path}: {expect}"]
    assert "Traceback" not in result.output and ".tmp" not in result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "make", [wrong_kind, under_a_file, not_a_report], ids=lambda make: make.__name__
)
def test_api_report_dir_is_refused_before_the_run(tmp_path, small_net, no_simulation, make):
    path, expect = make(tmp_path, "--report")
    x = np.zeros((6, 10), np.uint8)
    with pytest.raises(OutputPathError) as info:
        ranvier.run(small_net, x, report_dir=path)
    assert str(info.value) == f"{path}: {expect}"


def test_a_report_that_fails_to_write_names_the_directory_and_keeps_the_old_one(
    tmp_path, small_net, adaptive_net, small_input, quick_plots, monkeypatch
):
    """A write that fails half way (a full disk) is one line naming the report directory, not
    a temporary name; the old report stays as it was and nothing is left next to it."""
    out = tmp_path / "rep"
    run_report(adaptive_net, small_input, out)
    old = snapshot(out)
    real = Path.write_bytes

    def disk_full(self, data):
        if self.name == "raster.npz":
            real(self, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {out}: cannot write the report (No space left on device)"
    ]
    assert snapshot(out) == old
    assert leftovers(tmp_path) == []


# --- interrupted reports ----------------------------------------------------------------------


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def leftovers(parent: Path) -> list[str]:
    """Hidden directories a report write left next to its directory."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".rep."))


def run_report(net: Path, x: Path, out: Path) -> None:
    result = runner.invoke(app, ["run", str(net), "--input", str(x), "--report", str(out)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def old_and_new(tmp_path, adaptive_net, small_net, small_input, quick_plots):
    """The old report (the adaptive network, with neuron_parameters.png) in ``rep``, and what
    the small network's report into it must look like (written elsewhere, same content)."""
    out = tmp_path / "rep"
    run_report(adaptive_net, small_input, out)
    reference = tmp_path / "reference" / "rep"
    run_report(small_net, small_input, reference)
    new = json.loads((reference / "report.json").read_text())
    assert (out / "neuron_parameters.png").exists()
    assert not (reference / "neuron_parameters.png").exists()
    return out, snapshot(out), snapshot(reference), new


def interrupt_plot(k: int):
    """Patch: the k-th plot written raises KeyboardInterrupt (as Ctrl-C would)."""

    def install(monkeypatch):
        from ranvier.deploy import report

        drawing = report._plot

        def interrupted(rep, rasters, write):
            count = iter(range(100))

            def write_or_stop(name, data):
                if next(count) == k:
                    raise KeyboardInterrupt
                write(name, data)

            drawing(rep, rasters, write_or_stop)

        monkeypatch.setattr(report, "_plot", interrupted)

    return install


def interrupt_before_swap(monkeypatch):
    def stop(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("ranvier.deploy.report._swap_in", stop)


def interrupt_between_renames(monkeypatch):
    """No one-step exchange: the old report is renamed aside, then Ctrl-C before the new one
    is renamed in."""
    from ranvier.deploy import report

    monkeypatch.setattr(report, "_exchange", lambda a, b: False)
    real = os.rename

    def rename_then_stop(src, dst):
        real(src, dst)
        monkeypatch.setattr(os, "rename", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", rename_then_stop)


def interrupt_deleting_the_old(monkeypatch):
    """Ctrl-C once the new report is in place, while the old one is deleted."""
    real = shutil.rmtree

    def stop(path, *args, **kwargs):
        monkeypatch.setattr(shutil, "rmtree", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", stop)


@pytest.mark.parametrize(
    "install, outcome",
    [
        (interrupt_plot(0), "old"),
        (interrupt_plot(2), "old"),
        (interrupt_plot(3), "old"),
        (interrupt_before_swap, "old"),
        (interrupt_between_renames, "old"),
        (interrupt_deleting_the_old, "new"),
    ],
    ids=["first-plot", "third-plot", "last-plot", "before-swap", "between-renames", "after-swap"],
)
def test_an_interrupted_report_leaves_the_old_one_or_the_new_one(
    old_and_new, small_net, small_input, install, outcome
):
    out, old, new, _ = old_and_new
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    with pytest.MonkeyPatch.context() as interrupt:
        install(interrupt)
        result = runner.invoke(app, args)
    assert result.exit_code == 130, result.output
    assert result.stderr.splitlines() == ["error: interrupted"]
    assert snapshot(out) == (old if outcome == "old" else new)
    left = leftovers(out.parent)
    if outcome == "old":
        assert left == []
    else:  # interrupted while deleting the old copy: what is left of it may stay, hidden
        assert all(name.endswith(".new") for name in left)
    # either way the directory is a report ranvier reads and replaces again
    run_report(small_net, small_input, out)
    assert snapshot(out) == new
    assert leftovers(out.parent) == left


CHILD = """
import sys, time, pathlib
from ranvier.deploy import report

marker = pathlib.Path(sys.argv[1])

def first_plot_then_wait(rep, rasters, write):
    write("energy.png", b"half a report")
    marker.write_text("plotting")
    time.sleep(60)

report._plot = first_plot_then_wait
from ranvier.cli import main

sys.argv = ["ranvier", *sys.argv[2:]]
main()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_a_killed_run_leaves_the_old_report(old_and_new, small_net, small_input, sig):
    """A real `ranvier run --report` process, stopped while it draws the plots: the report
    directory is exactly the old report. SIGINT exits 130 (`error: interrupted`) and cleans up;
    SIGKILL cannot clean up, so the unfinished hidden directory next to it may stay."""
    out, old, _, _ = old_and_new
    marker = out.parent / "marker"
    args = ["run", str(small_net), "--input", str(small_input), "--report", str(out)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached the plots"
            time.sleep(0.02)
        child.send_signal(sig)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert snapshot(out) == old
    assert load_report(out)["network"] != str(small_net)
    if sig == signal.SIGINT:
        assert child.returncode == 130
        assert stderr.splitlines() == ["error: interrupted"]
        assert leftovers(out.parent) == []
    else:
        assert child.returncode == -signal.SIGKILL
        assert all(name.endswith(".new") for name in leftovers(out.parent))
