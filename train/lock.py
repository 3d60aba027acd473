"""One training run per run directory: an OS-level lock on ``RUN_DIR/train.lock``.

``ranvier train`` (and ``ranvier.train_network``) holds an exclusive ``fcntl.flock`` on the
file ``train.lock`` inside its run directory from before it reads any data until it returns.
A second run writing to the same directory finds the lock taken and stops at once with a
:class:`RunLockedError` naming the directory (exit 2), instead of interleaving its checkpoints
with the first run's.

The lock belongs to the open file, not to the file's existence: the operating system releases
it when the process ends in any way (normal exit, an error, Ctrl-C, ``kill -9``, a crash), so a
dead run never leaves a lock that blocks the next one. The file itself stays in the directory
(it records the pid of the last run that held it, for information only); removing it while
no run is active is harmless. Where ``fcntl`` is missing (Windows) runs are not locked.
``flock`` is advisory and may not work across machines on some network file systems.

In a data-parallel run (``train/distributed.py``) rank 0 holds the lock for all the ranks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: The lock file's name inside the run directory.
LOCK_NAME = "train.lock"


class RunLockedError(RuntimeError):
    """Another process is training into the same run directory (a one-line message)."""


@contextmanager
def run_lock(
    out_dir: str | os.PathLike,
    name: str = LOCK_NAME,
    command: str = "ranvier train",
    directory: str = "run directory",
) -> Iterator[Path]:
    """Hold ``out_dir/name`` (creating the directory) for the duration of the block.

    Raises :class:`RunLockedError` at once if another process holds it; never waits.
    ``command`` and ``directory`` name the run and its directory in that message
    (``ranvier sweep`` holds ``SWEEP_DIR/sweep.lock``, each of its runs its own
    ``train.lock``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                raise RunLockedError(
                    f"{out}: another {command}{holder} is writing to this {directory} "
                    f"(it holds {path}); wait for it to finish or choose another --out"
                ) from None
            except OSError as exc:  # a file system without locks (some NFS or FUSE mounts)
                raise RunLockedError(
                    f"{path}: cannot lock the run directory ({exc.strerror}); choose an --out "
                    "on a local file system"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing the file releases the lock


def _holder(fd: int) -> str:
    """`` (pid N)`` from the lock file, or nothing."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""


__all__ = ["LOCK_NAME", "RunLockedError", "run_lock"]
