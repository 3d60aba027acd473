"""What every command shares: the consoles, the common options, one-line error handling,
stdout redirection, progress bars and the report summary line.

Nothing here imports more than typer and rich at module level; the errors ``guard`` knows are
imported when it runs (none of them needs torch).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

T = TypeVar("T")

# Wide enough for the tables when output goes to a file or a pipe (rich falls back to 80).
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

#: Exit status of a command interrupted by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def die(message: str, code: int) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guard(
    debug: bool,
    fn: Callable[..., T],
    *args: Any,
    bad_input: tuple[type[Exception], ...] = (),
    **kwargs: Any,
) -> T:
    """Run ``fn``; turn known bad-input errors (and ``bad_input``) into exit 2, Ctrl-C into
    exit 130 (``error: interrupted``), anything else into exit 1. With ``debug`` the exception
    propagates (a traceback)."""
    from ranvier.convert import NetFileError, OutputPathError
    from ranvier.deploy import BackendUnavailableError, InputError
    from ranvier.deploy.report import ReportError
    from ranvier.hw_models.energy import ProfileError

    try:
        return fn(*args, **kwargs)
    except (
        NetFileError,
        InputError,
        ProfileError,
        ReportError,
        OutputPathError,
        *bad_input,
    ) as exc:
        if debug:
            raise
        die(str(exc), 2)
    except BackendUnavailableError as exc:
        if debug:
            raise
        die(str(exc), 1)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        die("interrupted", INTERRUPTED)
    except Exception as exc:
        if debug:
            raise
        die(f"{exc.__class__.__name__}: {exc}", 1)


def print_line(text: str) -> None:
    """One plain line on stdout (no markup, no highlighting)."""
    out.print(text, markup=False, highlight=False)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what the backend writes to stdout to stderr instead, so stdout carries only
    ranvier's own output (a ``--json`` document stays parseable).

    lava-dl prints warnings at import and netx prints from ``optimize_weight_bits``; lava's
    runtime workers inherit file descriptor 1. So both Python's ``sys.stdout`` and fd 1 are
    redirected (fd 1 only where it can be duplicated).
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


@contextmanager
def layer_progress(total: int, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A transient progress bar over layers (times chunks, for a long run in chunks: the
    callback's own total wins) on an interactive stderr; a no-op otherwise."""
    if not (enabled and err.is_terminal):
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} layer steps"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("run", total=total)
        yield lambda done, of: progress.update(task, completed=done, total=of)


def report_line(report: dict) -> str:
    """One line: profile, size, energy per sample and by operation, latency, cores."""
    t = report["totals"]
    lat = "n/a" if t.get("latency_s") is None else f"{t['latency_s'] * 1e3:.3f} ms"
    total = t["energy_j"] or 1.0
    ops = ", ".join(f"{op} {j / total:.0%}" for op, j in t.get("energy_by_operation_j", {}).items())
    return (
        f"profile {report['profile']['name']}, {report['samples']} sample(s) x "
        f"{report['timesteps']} steps, {t['energy_per_sample_j'] * 1e6:.3f} µJ/sample"
        + (f" ({ops})" if ops else "")
        + f", latency {lat}/sample, {t['cores']} cores"
    )


def progress_bar(enabled: bool) -> Any:
    """A transient rich progress bar (description, bar, done/total, an ``info`` field, time)
    on stderr when ``enabled`` and stderr is a terminal, else None."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not (enabled and err.is_terminal):
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
