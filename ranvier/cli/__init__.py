"""The ``ranvier`` command line.

Exit status: 0 ok, 1 failed, 2 bad usage or bad input. Errors are one line on stderr naming the
file and field; ``--debug`` shows the traceback. Heavy imports happen inside the commands so
``ranvier --help`` stays fast and nothing here needs torch.

One module per command family (``run``, ``inspect``, ``report``, ``train``: train, export and
verify, ``sweep``), what they share in ``common``; the commands are plain functions registered on
:data:`app` here, so no command module imports this package.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup, TyperOption

from . import inspect, report, run, sweep, train
from .common import err, print_line


def _flags_without_type(params: list[Any]) -> list[Any]:
    """Flags (``--json``, ``--resume``, ``--help``...) take no value: show no ``<bool>`` type
    for them in ``--help`` (typer labels every flag with its Python type)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A ranvier command: typer's, with flags listed without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_type(super().get_params(ctx))


class Group(TyperGroup):
    """The ``ranvier`` group: typer's, with flags listed without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_type(super().get_params(ctx))


app = typer.Typer(
    name="ranvier",
    help="Spiking networks from training to Loihi 2: run netx HDF5 files on a bit-accurate "
    "Loihi 2 simulator.",
    cls=Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from ranvier import __version__

        print_line(f"ranvier {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Spiking networks from training to Loihi 2."""


def _command(name: str, fn: Any) -> None:
    app.command(name, cls=Command)(fn)


_command("run", run.run)
_command("inspect", inspect.inspect)
_command("report", report.report)
# The training commands import torch inside the commands only.
_command("train", train.train)
_command("export", train.export)
_command("verify", train.verify)
_command("sweep", sweep.sweep)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit:
        raise
    except BaseException as exc:  # pragma: no cover - typer handles most
        if "--debug" in sys.argv:
            raise
        err.print(f"[bold red]error:[/] {escape(f'{exc.__class__.__name__}: {exc}')}")
        sys.exit(1)


__all__ = ["app", "main"]
