"""``ranvier sweep``: N seeds of one config, J training runs at a time, one table.

The seed paper's protocol (test accuracy over 10 seeds, mean and max): every seed is a normal
``ranvier train`` run in ``DIR/seed-K`` in its own process (``ranvier.train.sweep``), and the
table of per-seed accuracies with their mean, standard deviation and maximum goes to the
terminal, ``DIR/sweep.json`` and ``DIR/sweep.md`` (written atomically). torch is imported
inside the command only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .common import DebugOpt, JsonOpt, die, err, guard, out, progress_bar
from .train import count_option, interruptible, train_errors


def load_target(target: str) -> Any:
    """The config ``target`` names: a TOML file, or a preset; ConfigError naming it."""
    from ranvier.train.config import PRESETS, ConfigError, load_config, preset

    path = Path(target)
    if path.exists() or path.suffix == ".toml" or os.sep in target:
        return load_config(path)
    if target in PRESETS:
        return preset(target)
    raise ConfigError(
        f"{target}: neither a config file nor a preset (the presets: {', '.join(PRESETS)})"
    )


@contextmanager
def sweep_progress(
    enabled: bool, seeds: int, epochs: int
) -> Iterator[tuple[Callable[[int, str, dict], None], Callable[[dict], None]]]:
    """A progress bar over all the seeds' epochs on an interactive stderr, and one line per
    finished seed (on any stderr; failures are in the table, or, when every seed failed the
    same way, the one error line)."""
    bar = progress_bar(enabled)
    done: dict[int, int] = {}  # seed -> epochs finished
    task = None if bar is None else bar.add_task("epochs, all seeds", total=seeds * epochs, info="")

    def on_event(seed: int, event: str, info: dict) -> None:
        if event == "epoch_end" and bar is not None and task is not None:
            done[seed] = info["epoch"] + 1
            bar.update(task, completed=sum(done.values()), info=f"seed {seed}")

    def on_done(row: dict) -> None:
        if bar is not None and task is not None and row["status"] == "ok":
            done[row["seed"]] = row["epochs"]
            bar.update(task, completed=sum(done.values()))
        if enabled and row["status"] == "ok":
            err.print(_seed_line(row), highlight=False, markup=False, soft_wrap=True)

    if bar is None:
        yield on_event, on_done
        return
    with bar:
        yield on_event, on_done


def _seed_line(row: dict) -> str:
    from ranvier.train.sweep import percent

    return (
        f"seed {row['seed']}: test accuracy (quantized) {percent(row['test_accuracy'])}, "
        f"float {percent(row['float_test_accuracy'])}, simulator "
        f"{percent(row['file_accuracy'])}, mismatches {row['mismatches']} ({row['run_dir']})"
    )


def print_table(doc: dict) -> None:
    """The per-seed rows, then mean, std and max over seeds."""
    from ranvier.train.sweep import table_rows

    head, rows, summary = table_rows(doc)
    table = Table(
        title=f"sweep {escape(doc['name'])}: {len(doc['runs'])} seed(s); test accuracy of the "
        "float and the exported network, the simulator on the verified samples",
        title_justify="left",
    )
    for i, col in enumerate(head):
        table.add_column(escape(col), justify="left" if i == 0 else "right")
    for cells in rows:
        table.add_row(*(escape(c) for c in cells))
    table.add_section()
    for cells in summary:
        table.add_row(*(escape(c) for c in cells))
    out.print(table)


@interruptible
def sweep(
    target: Annotated[
        str,
        typer.Argument(
            metavar="CONFIG_OR_PRESET",
            help=escape("A TOML config ([model], [train], [data]) or a preset: demo, ")
            + "demo-rec, shd, shd-rec, ssc.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Sweep directory: DIR/seed-K per seed, sweep.json, sweep.md."
        ),
    ],
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            metavar="N",
            help="Seeds to train: train.seed, train.seed + 1, ... (the paper: 10).",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        str | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="J",
            help="Runs at a time, each in its own process (default: one per CPU core, at most "
            "N; 1 on a GPU).",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Directory with the SHD/SSC .h5 files.")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Override train.epochs.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda (default: cuda when present).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a sweep: reuse finished seeds, resume unfinished ones, start the rest.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train N seeds of one config in parallel: test accuracy per seed, mean, std and max.

    The seed paper's protocol (mean and max over 10 seeds). Each seed is a normal training
    run in DIR/seed-K, J at a time (checkpoints, metrics.json, model.net, verified). The
    table goes to the terminal and, written atomically, to DIR/sweep.json and DIR/sweep.md.
    Exit 1 if a seed failed or a verify found mismatches.

    Example: ranvier sweep shd --data data/ --seeds 10 --jobs 5 --out runs/shd-seeds
    Example: ranvier sweep my.toml --seeds 3 --out runs/sweep --json
    """
    if seeds is None:
        die("--seeds: give the number of seeds to train (the paper reports 10)", 2)
    n_seeds = count_option("--seeds", seeds, 1, "seeds")
    n_jobs = None if jobs is None else count_option("--jobs", jobs, 1, "jobs")
    bad = train_errors()
    from ranvier.api import override_training
    from ranvier.convert.atomic import check_writable_dir
    from ranvier.train.sweep import SweepError, default_jobs, failure_lines
    from ranvier.train.sweep import sweep as run_sweep

    bad = (*bad, SweepError)
    guard(debug, check_writable_dir, out_dir, "sweep directory (--out)")
    cfg = guard(debug, load_target, target, bad_input=bad)
    cfg = guard(debug, override_training, cfg, epochs=epochs, bad_input=bad)
    if n_jobs is None:
        n_jobs = default_jobs(n_seeds, device)
    with sweep_progress(not as_json, n_seeds, cfg.train.epochs) as (on_event, on_done):
        doc = guard(
            debug,
            run_sweep,
            cfg,
            out_dir,
            n_seeds,
            jobs=n_jobs,
            data_dir=data,
            device=device,
            resume=resume,
            name=target,
            on_event=on_event,
            on_done=on_done,
            bad_input=bad,
        )
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        print_table(doc)
        test = doc["stats"]["test_accuracy"]
        lines = failure_lines(doc)
        if test["n"]:
            lines.append(
                f"test accuracy (quantized) over {test['n']} seed(s): mean "
                f"{100 * test['mean']:.2f}% ± {100 * test['std']:.2f} pp, max "
                f"{100 * test['max']:.2f}%; written {out_dir / 'sweep.json'} and "
                f"{out_dir / 'sweep.md'}"
            )
        for line in lines:  # (not wrapped: one line each, for grep)
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if doc["failed"] or doc["mismatches"]:
        raise typer.Exit(1)
