"""Atomic file writing, the one helper every output of ranvier goes through, and the check of an
output path before any work starts.

A file is written to a temporary name in its own directory and renamed into place only when
the write succeeded, so an interruption never leaves half a file or damages an existing one.
A write that fails is reported as one :class:`OutputPathError` naming the path the user gave,
never the temporary name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputPathError(ValueError):
    """An output path that cannot be written; the message is one line naming it."""


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_writable(path: str | os.PathLike, what: str = "output file") -> Path:
    """Refuse, before any work starts, an output file that could not be written: a directory,
    a path under a regular file, a directory ranvier may not create or write in.
    Returns the path; :class:`OutputPathError` (one line naming it) otherwise."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path}: is a directory, expected a path for the {what}")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise OutputPathError(f"{path}: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: cannot write in {base} (permission denied)")
    return path


def check_writable_dir(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Refuse, before any work starts, an output directory that could not be created or
    written in (a regular file, a path under one, no permission). Returns the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path}: is a file, expected a directory for the {what}")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise OutputPathError(f"{path}: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: cannot write in {base} (permission denied)")
    return path


def _describe(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only on success.

    Creating the directory, the temporary file or the final rename raises
    :class:`OutputPathError` naming ``path`` (what the user asked for), not the temporary file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write ({_describe(exc)})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise OutputPathError(f"{path}: cannot write ({_describe(exc)})") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
