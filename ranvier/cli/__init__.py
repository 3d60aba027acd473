"""The ``ranvier`` command line.

Exit status: 0 ok, 1 failed, 2 bad usage or bad input. Errors are one line on stderr naming the
file and field; ``--debug`` shows the traceback. Heavy imports happen inside the commands so
``ranvier --help`` stays fast and nothing here needs torch.

One module per command family (``run``, ``inspect``, ``report``, ``train``: train, export and
verify), what they share in ``common``; the commands are plain functions registered on
:data:`app` here, so no command module imports this package.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from . import inspect, report, run, train
from .common import err

app = typer.Typer(
    name="ranvier",
    help="Spiking networks from training to Loihi 2: run netx HDF5 files on a bit-accurate "
    "Loihi 2 simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("run")(run.run)
app.command("inspect")(inspect.inspect)
app.command("report")(report.report)
# The training commands import torch inside the commands only.
app.command("train")(train.train)
app.command("export")(train.export)
app.command("verify")(train.verify)


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
