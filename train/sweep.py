"""Seeds of one config, each a normal training run in its own process, and their statistics.

The seed paper reports test accuracy over 10 seeds (mean and max); :func:`sweep` runs that
protocol: N seeds (``train.seed``, ``train.seed + 1``, ...) of one config, J processes at a
time, each a plain :func:`ranvier.train.loop.train` into ``DIR/seed-K``, then one table per
seed and the mean, standard deviation and maximum over seeds, written atomically to
``DIR/sweep.json`` and ``DIR/sweep.md``. ``bench/ablation.py`` runs its variants x seeds with
the same :func:`run_parallel` and :func:`accuracies`.

Every job is a fresh spawned process (no state shared between seeds; a crash takes one seed,
not the sweep), with ``cpu_count // J`` torch threads. A seed that fails is reported in its
row and the others go on; the statistics cover the seeds that finished.
"""

from __future__ import annotations

import json
import math
import os
import queue
import statistics
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ranvier.convert.atomic import atomic_path, check_writable_dir

from .config import Config
from .lock import run_lock

FORMAT = "ranvier-sweep"
VERSION = 1
#: The accuracies a sweep reports per seed and summarizes over seeds, with their labels.
ACCURACIES = {
    "float_test_accuracy": "float test",
    "test_accuracy": "QAT test (exported)",
    "file_accuracy": "simulator",
}
#: Statistics over seeds: sample standard deviation (n - 1; 0 for one seed).
STATS = ("mean", "std", "max")
#: A job's exit status after Ctrl-C (the shell's for SIGINT).
_INTERRUPTED = 130


class SweepError(ValueError):
    """A sweep that cannot start (an output directory holding another sweep's runs, seeds
    outside the config's range); one line naming the path or field."""


# --- running jobs in parallel processes ---------------------------------------------------


@dataclass
class Outcome:
    """What one job gave: its value, or the error it raised (``error``: one line,
    ``exception``: the exception itself where it could be sent back)."""

    value: Any = None
    error: str | None = None
    exception: BaseException | None = None
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


#: In a job process: the queue its progress events go to (set by ``_job``).
_EVENTS: Any = None


def send_event(event: str, info: dict) -> None:
    """From inside a job: pass a progress event to the parent's ``on_event``."""
    if _EVENTS is not None:
        _EVENTS.put(("event", _JOB_INDEX, event, info))


_JOB_INDEX = -1


def _job(
    index: int, fn: Callable[..., Any], args: tuple, events: Any, threads: int, parent: int
) -> None:
    """A job process: run ``fn(*args)`` and send back its value or its error."""
    global _EVENTS, _JOB_INDEX
    _EVENTS, _JOB_INDEX = events, index
    from .distributed import exit_with_parent  # torch: imported in the job only

    exit_with_parent(parent)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    try:
        value = fn(*args)
    except KeyboardInterrupt:
        sys.exit(_INTERRUPTED)
    except Exception as exc:
        events.put(("error", index, _sendable(exc), f"{exc}", traceback.format_exc()))
        sys.exit(1)
    events.put(("result", index, value))


def _sendable(exc: BaseException) -> BaseException | None:
    import pickle

    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    return exc if type(back) is type(exc) else None


def run_parallel(
    fn: Callable[..., Any],
    jobs: list[tuple],
    workers: int,
    *,
    threads: int = 0,
    on_event: Callable[[int, str, dict], None] | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
) -> list[Outcome]:
    """``fn(*job)`` for every job, each in a fresh spawned process, ``workers`` at a time;
    the outcomes in the order of ``jobs``. ``fn`` must be importable by name. A job's
    :func:`send_event` calls reach ``on_event(job_index, event, info)``; ``on_done`` is called
    as each job ends. ``threads`` > 0 sets the jobs' torch threads. Ctrl-C stops every job
    and raises KeyboardInterrupt here."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    outcomes: dict[int, Outcome] = {}
    running: dict[int, Any] = {}
    waiting = list(range(len(jobs)))

    def finish(index: int, outcome: Outcome) -> None:
        if index in outcomes:
            return
        outcomes[index] = outcome
        if on_done is not None:
            on_done(index, outcome)

    def drain(wait: float) -> None:
        while True:
            try:
                item = events.get(timeout=wait) if wait > 0 else events.get_nowait()
            except queue.Empty:
                return
            wait = 0.0
            kind, index = item[0], item[1]
            if kind == "event" and on_event is not None:
                on_event(index, item[2], item[3])
            elif kind == "result":
                finish(index, Outcome(value=item[2]))
            elif kind == "error":
                finish(index, Outcome(error=item[3], exception=item[2], traceback=item[4]))

    try:
        while waiting or running:
            while waiting and len(running) < max(1, workers):
                index = waiting.pop(0)
                p = ctx.Process(
                    target=_job,
                    args=(index, fn, jobs[index], events, threads, os.getpid()),
                    name=f"ranvier-job-{index}",
                )
                p.start()
                running[index] = p
            drain(0.2)
            for index, p in list(running.items()):
                if p.exitcode is None:
                    continue
                drain(0.0)  # its last words, if any, came before it ended
                if p.exitcode == 0 and index not in outcomes:
                    drain(1.0)
                p.join()
                del running[index]
                if p.exitcode == _INTERRUPTED and index not in outcomes:
                    raise KeyboardInterrupt
                finish(index, Outcome(error=f"the process ended with exit status {p.exitcode}"))
    finally:
        for p in running.values():
            if p.is_alive():
                p.terminate()
        for p in running.values():
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
    return [outcomes[i] for i in range(len(jobs))]


# --- one seed --------------------------------------------------------------------------------


def accuracies(summary: dict) -> dict:
    """A training summary's accuracies: the float network's (test split, before the
    quantized phase), the exported network's (quantized forward, whole test split), the
    simulator's on the verified samples, and verify's mismatches."""
    v = summary["verify"]
    return {
        "float": summary.get("float_test_accuracy"),
        "qat": summary["test_accuracy"],
        "file": v.get("accuracy"),
        "file_torch": v.get("torch_accuracy"),
        "file_samples": v.get("samples"),
        "mismatches": v["mismatches"],
    }


def seed_row(seed: int, run_dir: Path, summary: dict, history: list[dict]) -> dict:
    """One seed's row of the sweep table, from its training summary and history."""
    acc = accuracies(summary)
    return {
        "seed": seed,
        "run_dir": str(run_dir),
        "status": "ok",
        "error": None,
        "float_test_accuracy": acc["float"],
        "test_accuracy": acc["qat"],
        "file_accuracy": acc["file"],
        "file_samples": acc["file_samples"],
        "best_valid_accuracy": summary["best_valid_accuracy"],
        "best_epoch": summary["best_epoch"],
        "epochs": summary["epochs"],
        "mismatches": acc["mismatches"],
        "train_seconds": sum(h.get("seconds", 0.0) for h in history),
    }


def failed_row(seed: int, run_dir: Path, error: str) -> dict:
    row: dict[str, Any] = {"seed": seed, "run_dir": str(run_dir), "status": "failed"}
    row["error"] = error
    for key in ACCURACIES:
        row[key] = None
    return row


def train_seed(
    config: Config,
    run_dir: str,
    data_dir: str | None,
    resume: bool,
    device: str | None,
) -> dict:
    """One seed's normal training run (in a job process); its sweep row. Progress goes to
    the sweep as events (epochs, not batches)."""
    from .loop import train

    def progress(event: str, info: dict) -> None:
        if event in ("epoch_start", "epoch_end"):
            send_event(event, info)

    summary = train(config, run_dir, data_dir, resume=resume, device=device, progress=progress)
    history = json.loads((Path(run_dir) / "metrics.json").read_text())["history"]
    return seed_row(config.train.seed, Path(run_dir), summary, history)


# --- statistics and the document -------------------------------------------------------------


def stats(values: list[float | None]) -> dict:
    """``n``, mean, sample standard deviation (0 for one value), min and max of the values
    given (None skipped; None statistics without any)."""
    have = [float(v) for v in values if v is not None]
    if not have:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    return {
        "n": len(have),
        "mean": statistics.fmean(have),
        "std": statistics.stdev(have) if len(have) > 1 else 0.0,
        "min": min(have),
        "max": max(have),
    }


def default_jobs(seeds: int, device: str | None) -> int:
    """One run per CPU core (up to the seeds) on CPU; one at a time on a GPU (the runs would
    share its memory)."""
    import torch

    if (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda"):
        return 1
    return max(1, min(seeds, os.cpu_count() or 1))


def seed_dir(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


def seed_configs(config: Config, seeds: int) -> list[Config]:
    """``config`` with ``train.seed`` = its seed + k, k < ``seeds``; SweepError past the
    config's largest seed."""
    from .config import MAX_SEED

    first = config.train.seed
    if first + seeds - 1 > MAX_SEED:
        raise SweepError(f"train.seed: {first} + {seeds} seeds passes the largest seed {MAX_SEED}")
    return [replace(config, train=replace(config.train, seed=first + k)) for k in range(seeds)]


@dataclass
class Plan:
    """What each seed of a sweep does: reuse a finished run, resume one, or start one."""

    configs: list[Config]
    reuse: dict[int, dict]
    resume: set[int]

    def jobs(self) -> Iterator[int]:
        return (i for i in range(len(self.configs)) if i not in self.reuse)


def plan(out: Path, configs: list[Config], resume: bool) -> Plan:
    """Check the sweep directory and decide each seed's start. Without ``resume``, a seed
    directory holding a run is an error; with it, a finished run of the same config is reused
    and an unfinished one resumed (``ranvier train --resume``'s checks apply)."""
    reuse: dict[int, dict] = {}
    resumed: set[int] = set()
    for i, cfg in enumerate(configs):
        run = seed_dir(out, cfg.train.seed)
        if not (run / "checkpoint.pt").exists():
            continue
        if not resume:
            raise SweepError(
                f"{run}: already holds a run (checkpoint.pt); resume the sweep (--resume) or "
                "choose a new --out"
            )
        metrics = _read_metrics(run)
        if metrics.get("summary") and metrics.get("config") == cfg.to_dict():
            reuse[i] = seed_row(cfg.train.seed, run, metrics["summary"], metrics["history"])
        else:
            resumed.add(i)
    return Plan(configs=configs, reuse=reuse, resume=resumed)


def _read_metrics(run: Path) -> dict:
    try:
        data = json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def document(config: Config, rows: list[dict], jobs: int, name: str) -> dict:
    """The sweep's JSON document: the config (first seed's), the seeds, one row per seed and
    the statistics of every accuracy over the seeds that finished."""
    ok = [r for r in rows if r["status"] == "ok"]
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "config": config.to_dict(),
        "seeds": [r["seed"] for r in rows],
        "jobs": jobs,
        "runs": rows,
        "stats": {key: stats([r[key] for r in ok]) for key in ACCURACIES},
        "failed": [r["seed"] for r in rows if r["status"] != "ok"],
        "mismatches": sum(r.get("mismatches") or 0 for r in ok),
    }


def percent(value: float | None) -> str:
    """``81.40%``, or ``n/a``."""
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def _duration(seconds: float) -> str:
    """``42.0 s`` or ``12.5 min``."""
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.1f} min"


def table_rows(doc: dict) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """The sweep table as text: header, one row per seed, and the mean/std/max rows."""
    head = ["seed", *ACCURACIES.values(), "mismatches", "best epoch", "train time"]
    rows = []
    for r in doc["runs"]:
        if r["status"] != "ok":
            rows.append([str(r["seed"]), "failed", "", "", "", "", ""])
            continue
        file_acc = percent(r["file_accuracy"])
        if r.get("file_samples"):
            file_acc += f" ({r['file_samples']})"
        rows.append(
            [
                str(r["seed"]),
                percent(r["float_test_accuracy"]),
                percent(r["test_accuracy"]),
                file_acc,
                str(r["mismatches"]),
                str(r["best_epoch"] + 1),
                _duration(r["train_seconds"]),
            ]
        )
    summary = []
    for stat in STATS:
        label = "std" if stat == "std" else stat
        cells = [label]
        for key in ACCURACIES:
            value = doc["stats"][key][stat]
            cells.append(
                "n/a" if value is None else f"{100 * value:.2f}" + (" pp" if stat == "std" else "%")
            )
        summary.append([*cells, "", "", ""])
    return head, rows, summary


def markdown(doc: dict) -> str:
    """``sweep.md``: the table as Markdown, with what the columns are."""
    head, rows, summary = table_rows(doc)
    n = len(doc["runs"])
    first = doc["seeds"][0] if doc["seeds"] else 0
    lines = [
        f"# Seeds sweep: {doc['name']}",
        "",
        f"{n} seed(s), train.seed {first}..{first + n - 1}, {doc['jobs']} at a time; one run "
        "directory each (seed-K). float test: the float network on the test split before the "
        "quantized epochs; QAT test (exported): the exported network (quantized forward) on "
        "the whole test split; simulator: model.net on the simulator, on the verified "
        "samples (their number in brackets). std is the sample standard deviation over "
        "seeds, in percentage points.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for cells in [*rows, *summary]:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    failures = failure_lines(doc)
    if failures:
        lines += ["", *(f"- {line}" for line in failures)]
    return "\n".join(lines) + "\n"


def failure_lines(doc: dict) -> list[str]:
    """``seed K failed: error`` for every failed seed."""
    return [f"seed {r['seed']} failed: {r['error']}" for r in doc["runs"] if r["status"] != "ok"]


def write(out: Path, doc: dict) -> None:
    """``out/sweep.json`` and ``out/sweep.md``, each written atomically."""
    with atomic_path(out / "sweep.json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    with atomic_path(out / "sweep.md", suffix=".md") as tmp:
        tmp.write_text(markdown(doc))


def sweep(
    config: Config,
    out_dir: str | os.PathLike,
    seeds: int,
    *,
    jobs: int = 1,
    data_dir: str | os.PathLike | None = None,
    device: str | None = None,
    resume: bool = False,
    name: str = "",
    on_event: Callable[[int, str, dict], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> dict:
    """Train ``seeds`` seeds of ``config`` (``jobs`` processes at a time) into
    ``out_dir/seed-K``, write ``sweep.json`` and ``sweep.md`` and return the document.

    Before any run starts: ``ConfigError``/``SweepError``/``OutputPathError`` for a bad
    config, seed count or directory, ``RunLockedError`` while another sweep writes there.
    A seed that fails is a ``failed`` row (its error in it); when every seed failed with the
    same error (a missing dataset, say) that error is raised instead and nothing is written.
    ``on_event(seed, event, info)`` gets each run's epoch events, ``on_done(row)`` each row.
    """
    config.check()
    out = check_writable_dir(out_dir, "sweep directory")
    if seeds < 1 or jobs < 1:
        raise SweepError(f"seeds and jobs must be 1 or more, got {seeds} and {jobs}")
    configs = seed_configs(config, seeds)
    with ExitStack() as stack:
        stack.enter_context(
            run_lock(out, "sweep.lock", command="ranvier sweep", directory="sweep directory")
        )
        todo = plan(out, configs, resume)
        rows: dict[int, dict] = dict(todo.reuse)
        for i in sorted(todo.reuse):
            if on_done is not None:
                on_done(todo.reuse[i])
        indices = list(todo.jobs())
        args = [
            (
                configs[i],
                str(seed_dir(out, configs[i].train.seed)),
                None if data_dir is None else str(data_dir),
                i in todo.resume,
                device,
            )
            for i in indices
        ]
        workers = min(jobs, max(1, len(indices)))
        threads = max(1, (os.cpu_count() or 1) // workers)
        errors: list[Outcome] = []

        def done(k: int, outcome: Outcome) -> None:
            i = indices[k]
            run = seed_dir(out, configs[i].train.seed)
            if outcome.ok:
                rows[i] = outcome.value
            else:
                errors.append(outcome)
                rows[i] = failed_row(configs[i].train.seed, run, outcome.error or "failed")
            if on_done is not None:
                on_done(rows[i])

        def event(k: int, kind: str, info: dict) -> None:
            if on_event is not None:
                on_event(configs[indices[k]].train.seed, kind, info)

        run_parallel(train_seed, args, workers, threads=threads, on_event=event, on_done=done)
        if indices and len(errors) == len(configs) and len({e.error for e in errors}) == 1:
            first = errors[0]
            if first.exception is not None:
                raise first.exception
            raise RuntimeError(first.error)
        doc = document(configs[0], [rows[i] for i in range(len(configs))], jobs, name)
        write(out, doc)
    return doc


__all__ = [
    "ACCURACIES",
    "FORMAT",
    "Outcome",
    "SweepError",
    "accuracies",
    "default_jobs",
    "document",
    "markdown",
    "run_parallel",
    "send_event",
    "stats",
    "sweep",
    "train_seed",
    "write",
]
