"""Command-line polish (issue 12): every command's --help shows its bracketed text (rich
markup must not eat ``[model]``), flags are listed without a ``<bool>`` value, ``ranvier
--version``, and the hint when torch is missing names the pip extra."""

from __future__ import annotations

import re
import sys

import pytest
import typer
from typer.testing import CliRunner

import ranvier
from ranvier.cli import app

runner = CliRunner()


def _commands() -> dict[str, object]:
    group = typer.main.get_command(app)
    return dict(group.commands)


def _flat(text: str) -> str:
    """Rendered help without the panel borders and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _brackets(text: str) -> list[str]:
    """``[model]``-style tokens of a help source, unescaped (``\\[model]`` -> ``[model]``)."""
    return [t.lstrip("\\") for t in re.findall(r"\\?\[[^\]\s]*\]", text or "")]


@pytest.mark.parametrize("name", list(_commands()))
def test_help_keeps_every_bracket(name):
    command = _commands()[name]
    sources = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    result = runner.invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    shown = _flat(result.stdout)
    for token in (t for source in sources for t in _brackets(source)):
        assert token in shown, f"ranvier {name} --help lost {token!r}"
    assert "<bool>" not in result.stdout


def test_train_help_shows_the_config_tables():
    result = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert "TOML config ([model], [train], [data])." in _flat(result.stdout)
    assert "--resume " in result.stdout


def test_group_help_and_version():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "--version" in result.stdout
    assert "<bool>" not in result.stdout
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"ranvier {ranvier.__version__}\n"


def test_missing_torch_names_the_pip_extra(monkeypatch, tmp_path):
    # an ImportError from the training modules, as in an environment without torch
    monkeypatch.setitem(sys.modules, "ranvier.train.checkpoint", None)
    result = runner.invoke(app, ["export", str(tmp_path / "a.pt"), "-o", str(tmp_path / "m")])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "training needs torch" in lines[0]
    assert "pip install 'ranvier[train]'" in lines[0]
