"""Data-parallel training: who this process is, its shard of a batch, and the local launcher.

A data-parallel run is ``world.size`` copies of the training loop, one per process (a *rank*),
joined by a ``torch.distributed`` process group: gloo on CPU, NCCL on CUDA (rank ``r`` of a
node on ``cuda:LOCAL_RANK``). Every rank draws the same shuffled order from the same seed and
takes its contiguous shard of every global batch (:func:`shard`) and scales its loss so that
the gradient DistributedDataParallel averages over the ranks is the global batch's mean: a
step sees the global batch as one process would. Rank 0 alone writes the run directory; the
others wait for it (:func:`on_main`).

Two ways in:

- ``ranvier train --nproc N`` (``train(..., nproc=N)``): :func:`launch` spawns N local
  processes, joined through a file store in a temporary directory (no port to choose),
  forwards rank 0's progress events to the caller and returns rank 0's result or raises its
  error;
- ``torchrun``: each process finds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and
  ``MASTER_ADDR``/``MASTER_PORT``) in its environment (:func:`torchrun_world`) and joins the
  group torchrun set up; nothing is spawned.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import pickle
import queue
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

#: How long a rank waits for the others at a collective: rank 0 exports, verifies and tests
#: the network alone at the end while the others wait, which takes minutes on SHD/SSC.
TIMEOUT = timedelta(minutes=60)
#: The environment variables torchrun (and torch.distributed.launch) set for every process.
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
#: A spawned rank's exit status after Ctrl-C (the shell's for SIGINT).
_INTERRUPTED = 130


class DistributedError(ValueError):
    """A data-parallel setup that cannot work (a bad ``--nproc`` or ``--device`` for it, a
    malformed torchrun environment); the message is one line naming the option."""


@dataclass(frozen=True)
class World:
    """This process's place in a data-parallel run (``size == 1``: a plain single run)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes the run directory and reports progress."""
        return self.rank == 0


SINGLE = World()


def torchrun_world(environ: Mapping[str, str] | None = None) -> World | None:
    """The world torchrun describes in the environment (None outside torchrun);
    DistributedError for values that are not consistent whole numbers."""
    env = os.environ if environ is None else environ
    if not all(name in env for name in TORCHRUN_VARS):
        return None
    try:
        rank, size, local = (int(env[name]) for name in TORCHRUN_VARS)
    except ValueError:
        shown = ", ".join(f"{n}={env[n]!r}" for n in TORCHRUN_VARS)
        raise DistributedError(f"torchrun environment: not whole numbers ({shown})") from None
    if size < 1 or not 0 <= rank < size or local < 0:
        raise DistributedError(
            f"torchrun environment: RANK={rank} is outside WORLD_SIZE={size} (or LOCAL_RANK="
            f"{local} is negative)"
        )
    return World(rank=rank, size=size, local_rank=local)


def current_world() -> World:
    """The world of an initialized process group, else torchrun's, else a single process."""
    if dist.is_available() and dist.is_initialized():
        local = torchrun_world()
        return World(
            rank=dist.get_rank(),
            size=dist.get_world_size(),
            local_rank=local.local_rank if local is not None else 0,
        )
    return torchrun_world() or SINGLE


def shard(n: int, world: World) -> slice:
    """This rank's contiguous part of ``n`` items (sizes differ by at most one; a rank may get
    none when ``n < world.size``)."""
    return slice(n * world.rank // world.size, n * (world.rank + 1) // world.size)


def parse_device(device: str | torch.device | None) -> torch.device:
    """``--device`` as a torch device (None: cuda when present, else cpu); DistributedError,
    one line, for a name torch does not know, or cuda (or ``cuda:K``) that this machine's torch
    cannot reach, before any work starts."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise DistributedError(
            f"--device {device}: not a device (give cpu, cuda or cuda:K)"
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise DistributedError(f"--device {device}: ranvier trains on cpu or cuda")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DistributedError(
                f"--device {device}: torch {torch.__version__} sees no CUDA device here"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DistributedError(
                f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)"
            )
    return dev


def resolve_device(device: str | torch.device | None, world: World) -> torch.device:
    """The device of this rank: ``cuda`` means ``cuda:LOCAL_RANK`` in a data-parallel run;
    default cuda when present. DistributedError for a fixed ``cuda:K`` shared by several
    processes or a rank without a GPU of its own."""
    dev = parse_device(device)
    if not world.distributed or dev.type != "cuda":
        return dev
    check_devices(world.size, str(dev), local=world.local_rank)
    return torch.device("cuda", world.local_rank)


def check_devices(nproc: int, device: str | None, local: int | None = None) -> None:
    """Refuse, before anything starts, ``nproc`` processes that cannot each have a device:
    ``--device cuda:K`` (every process would share GPU K, which NCCL refuses) or more local
    processes than GPUs. ``local``: only that local rank's GPU must exist."""
    if nproc <= 1 or (device is None and not torch.cuda.is_available()):
        return
    dev = torch.device(device or "cuda")
    if dev.type != "cuda":
        return
    if dev.index is not None:
        raise DistributedError(
            f"--device {device}: several processes cannot share one GPU; give --device cuda "
            "(each process takes the GPU of its local rank)"
        )
    have = torch.cuda.device_count()
    need = nproc if local is None else local + 1
    if need > have:
        raise DistributedError(
            f"--nproc {nproc}: one GPU per process on cuda, and this machine has {have}"
        )


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA tensors, gloo for CPU ones."""
    return "nccl" if device.type == "cuda" else "gloo"


@contextmanager
def process_group(
    world: World, device: torch.device, init_method: str = "env://"
) -> Iterator[World]:
    """Join the process group for ``world`` (NCCL or gloo, :func:`backend_for`) unless one is
    already initialized; leave it again at the end if this call joined it."""
    if device.type == "cuda":
        torch.cuda.set_device(device)  # (NCCL's object collectives use the current device)
    if dist.is_initialized():
        yield world
        return
    dist.init_process_group(
        backend_for(device),
        init_method=init_method,
        rank=world.rank,
        world_size=world.size,
        timeout=TIMEOUT,
    )
    try:
        yield world
    finally:
        dist.destroy_process_group()


# --- collectives ----------------------------------------------------------------------------


def broadcast_object(obj: Any, world: World) -> Any:
    """Rank 0's ``obj`` on every rank (pickled; for small things: states, errors, summaries)."""
    if not world.distributed:
        return obj
    box = [obj if world.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, world: World) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not world.distributed:
        return [obj]
    boxes: list[Any] = [None] * world.size
    dist.all_gather_object(boxes, obj)
    return boxes


def all_sum(values: list[float], world: World, device: torch.device) -> list[float]:
    """The sums over ranks of a few numbers (float64, so counts stay exact)."""
    if not world.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def on_main(world: World, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` on rank 0 alone while the others wait; every rank returns its result, or
    raises its exception (the same one, so every rank stops with the same one line)."""
    if not world.distributed:
        return fn(*args, **kwargs)
    result, error = None, None
    if world.main:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            error = _picklable(exc)
    result, error = broadcast_object((result, error), world)
    if error is not None:
        raise error
    return result


def wrap(module: nn.Module, world: World, device: torch.device, unused: bool) -> nn.Module:
    """``module`` in DistributedDataParallel (rank 0's parameters copied to every rank now,
    gradients averaged at every backward); itself in a single process. ``unused``: some
    parameters get no gradient (EventProp's neuron decays). Buffers are not re-broadcast at
    every forward: every rank computes the same ones from the same parameters."""
    if not world.distributed:
        return module
    ddp = nn.parallel.DistributedDataParallel
    # torch >= 2.13 names the switch forward_sync_buffers (broadcast_buffers is deprecated)
    sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters
        else {"broadcast_buffers": False}
    )
    return ddp(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=unused,
        **sync,
    )


def state_digest(module: nn.Module) -> str:
    """A hash of every parameter and buffer, bit for bit."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def check_in_sync(module: nn.Module, world: World, when: str) -> None:
    """Raise on every rank if any rank's parameters or buffers differ from rank 0's (they
    must not: the all-reduced gradients and the optimizer step, clipping included, are the
    same computation on the same numbers everywhere)."""
    if not world.distributed:
        return
    digests = gather_objects(state_digest(module), world)
    apart = [r for r, d in enumerate(digests) if d != digests[0]]
    if apart:
        raise RuntimeError(
            f"data-parallel ranks out of step {when}: the parameters of rank(s) "
            f"{', '.join(map(str, apart))} differ from rank 0's"
        )


# --- the local launcher -------------------------------------------------------------------


class RemoteTracebackError(Exception):
    """The traceback of an error raised in a spawned rank (the cause of the re-raised error,
    shown with ``--debug``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _picklable(exc: BaseException) -> BaseException:
    """``exc`` itself if it pickles and unpickles to its type, else a RuntimeError with its
    one-line description."""
    try:
        back = pickle.loads(pickle.dumps(exc))
        if type(back) is type(exc):
            return exc
    except Exception:
        pass
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def exit_with_parent(parent: int) -> None:
    """End this spawned process (a rank, a sweep's job) when the process that launched it is
    gone (even by ``kill -9``), so no orphan keeps training or holds a run directory's lock."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="ranvier-parent-watch", daemon=True).start()


def _spawned(
    rank: int,
    size: int,
    init_method: str,
    device: str | None,
    threads: int,
    parent: int,
    events: Any,
    fn: Callable[..., Any],
    args: tuple,
) -> None:
    """A spawned rank: join the group, run ``fn(*args, progress=...)``; rank 0 sends its
    progress events and its result, any rank its error, through ``events``."""
    exit_with_parent(parent)
    # as torchrun would: what the training loop (and anything it calls) reads to find its rank
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank))
    if threads > 0:
        torch.set_num_threads(threads)
    world = World(rank=rank, size=size, local_rank=rank)

    def forward(event: str, info: dict) -> None:
        events.put(("event", event, info))

    code = 0
    try:
        dev = resolve_device(device, world)
        with process_group(world, dev, init_method):
            try:
                result = fn(*args, progress=forward if world.main else None)
            except Exception as exc:  # reported before leaving the group, so it comes first
                events.put(("error", rank, _picklable(exc), traceback.format_exc()))
                raise _ReportedError from None
        if world.main:
            events.put(("result", result))
    except KeyboardInterrupt:
        code = _INTERRUPTED
    except _ReportedError:
        code = 1
    except Exception as exc:
        events.put(("error", rank, _picklable(exc), traceback.format_exc()))
        code = 1
    # Flush what this rank sent, then leave without the interpreter's teardown: gloo's
    # threads can abort it ("terminate called without an active exception", SIGABRT) after a
    # run that succeeded, which the launcher would take for a failed rank (seen in CI).
    sys.stdout.flush()
    sys.stderr.flush()
    events.close()
    events.join_thread()
    os._exit(code)


class _ReportedError(Exception):
    """A spawned rank's error, already sent to the launcher."""


def _first_cause(known: tuple | None, error: BaseException) -> bool:
    """Whether ``error`` should be the one reported: the first error, unless it was only a
    collective failing because another rank had stopped, and ``error`` is that rank's own."""
    if known is None:
        return True
    secondary = (dist.DistError,) if hasattr(dist, "DistError") else ()
    return isinstance(known[1], secondary) and not isinstance(error, secondary)


def launch(
    nproc: int,
    fn: Callable[..., Any],
    args: tuple,
    *,
    device: str | None = None,
    progress: Callable[[str, dict], None] | None = None,
) -> Any:
    """Run ``fn(*args, progress=...)`` in ``nproc`` spawned processes joined in one process
    group; returns rank 0's result. ``fn`` must be importable by name (a module-level
    function). Rank 0's ``progress`` events reach ``progress`` here. The first error of any
    rank is raised here (its remote traceback as the cause) after every rank is stopped, and
    Ctrl-C stops every rank.

    Each CPU rank gets ``cpu_count // nproc`` threads (at least 1), so the ranks do not
    oversubscribe the machine.
    """
    import torch.multiprocessing as mp

    check_devices(nproc, device)
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // nproc)
    outcome: dict[str, Any] = {}

    def drain(wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                item = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if item[0] == "event":
                if progress is not None:
                    progress(item[1], item[2])
            elif item[0] == "result":
                outcome["result"] = item[1]
            elif item[0] == "error" and _first_cause(outcome.get("error"), item[2]):
                outcome["error"] = item[1:]
            wait = 0.0  # once something came, only take what is already there

    with tempfile.TemporaryDirectory(prefix="ranvier-ddp-") as tmp:
        init = "file://" + os.path.join(tmp, "store")
        procs = mp.start_processes(
            _spawned,
            args=(nproc, init, device, threads, os.getpid(), events, fn, args),
            nprocs=nproc,
            join=False,
            start_method="spawn",
        ).processes
        try:
            while True:
                drain(0.2)
                failed = [p for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    _stop(procs)
                    drain(0.5)  # the failing ranks' own reports
                    _raise_failure(outcome, failed, procs)
                if all(p.exitcode == 0 for p in procs):
                    break
            drain(0.0)
        finally:
            _stop(procs)
    if "result" not in outcome:
        raise RuntimeError("rank 0 ended without a result")
    return outcome["result"]


def _stop(procs: list[Any]) -> None:
    """Terminate the ranks still running and reap them all."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join()


def _raise_failure(outcome: dict[str, Any], failed: list[Any], procs: list[Any]) -> None:
    """Raise the error a failed rank reported (its remote traceback as the cause), Ctrl-C as
    KeyboardInterrupt, or a RuntimeError naming the rank and its exit status."""
    if "error" in outcome:
        rank, error, remote = outcome["error"]
        raise error from RemoteTracebackError(f"rank {rank}:\n{remote}")
    if all(p.exitcode == _INTERRUPTED for p in failed):
        raise KeyboardInterrupt
    p = failed[0]
    raise RuntimeError(
        f"training process rank {procs.index(p)} ended unexpectedly (exit status {p.exitcode})"
    )


__all__ = [
    "SINGLE",
    "TIMEOUT",
    "DistributedError",
    "World",
    "all_sum",
    "backend_for",
    "barrier",
    "broadcast_object",
    "check_devices",
    "check_in_sync",
    "current_world",
    "gather_objects",
    "launch",
    "on_main",
    "process_group",
    "resolve_device",
    "shard",
    "torchrun_world",
    "wrap",
]
