"""Bad input through the CLI: exit 2, one stderr line naming the file, no traceback, nothing
written. Also the real console script in a subprocess (exit codes, --debug tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()


def ranvier_cmd() -> list[str]:
    script = Path(sys.executable).parent / "ranvier"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ranvier.cli import main; main()"]


def ranvier(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ranvier_cmd(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def assert_bad_input_exit(result, path: Path, expect: list[str], out: Path | None) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert str(path) in lines[0]
    for text in expect:
        assert text in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(f".{out.name}*")), "temporary file left behind"


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_bad_net_run(bad_net_case, small_input, tmp_path, as_json):
    out = tmp_path / "spikes.npz"
    args = ["run", str(bad_net_case.path), "--input", str(small_input), "--save-spikes", str(out)]
    result = runner.invoke(app, args + (["--json"] if as_json else []))
    assert_bad_input_exit(result, bad_net_case.path, bad_net_case.expect, out)


def test_bad_net_inspect(bad_net_case):
    result = runner.invoke(app, ["inspect", str(bad_net_case.path), "--json"])
    assert_bad_input_exit(result, bad_net_case.path, bad_net_case.expect, None)


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_bad_input_run(bad_input_case, small_net, tmp_path, as_json):
    out = tmp_path / "spikes.npz"
    args = ["run", str(small_net), "--input", str(bad_input_case.path), "--save-spikes", str(out)]
    result = runner.invoke(app, args + (["--json"] if as_json else []))
    assert_bad_input_exit(result, bad_input_case.path, bad_input_case.expect, out)


def test_debug_raises_in_process(tmp_path, small_input):
    result = runner.invoke(
        app, ["run", str(tmp_path / "nope.net"), "--input", str(small_input), "--debug"]
    )
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "NetFileError"


# --- the installed console script -------------------------------------------------------------


def test_console_script_run_json(tmp_path, example_net, example_input):
    out = tmp_path / "spikes.npz"
    proc = ranvier(
        "run", str(example_net), "--input", str(example_input), "--json",
        "--save-spikes", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["samples"] == 4 and len(info["layers"]) == 3
    assert out.exists()


def test_console_script_bad_file_one_line(tmp_path, small_input):
    bad = tmp_path / "broken.net"
    bad.write_text("not hdf5\n")
    out = tmp_path / "spikes.npz"
    proc = ranvier(
        "run", str(bad), "--input", str(small_input), "--save-spikes", str(out), cwd=tmp_path
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "not an HDF5 file" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""
    assert not out.exists()


def test_console_script_debug_shows_traceback(tmp_path, small_input):
    bad = tmp_path / "broken.net"
    bad.write_text("not hdf5\n")
    proc = ranvier("run", str(bad), "--input", str(small_input), "--debug", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "NetFileError" in proc.stderr and str(bad) in proc.stderr


def test_console_script_lava_backend_without_lava(tmp_path, small_net, small_input):
    from ranvier.deploy.lava import lava_available

    if lava_available():
        pytest.skip("lava is installed here")
    out = tmp_path / "spikes.npz"
    proc = ranvier(
        "run", str(small_net), "--input", str(small_input), "--backend", "lava",
        "--save-spikes", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "lava" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_error_names_a_path_with_brackets(tmp_path, small_input):
    missing = tmp_path / "[red]runs" / "missing.net"
    missing.parent.mkdir()
    result = runner.invoke(app, ["run", str(missing), "--input", str(small_input)])
    assert_bad_input_exit(result, missing, ["no such file"], None)


def test_console_script_path_with_closing_tag(tmp_path, small_input):
    missing = tmp_path / "a[" / "b]" / "missing.net"  # the path reads '.../a[/b]/missing.net'
    missing.parent.mkdir(parents=True)
    proc = ranvier("run", str(missing), "--input", str(small_input), cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2
    assert str(missing) in proc.stderr
