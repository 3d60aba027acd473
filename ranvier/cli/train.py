"""``ranvier train``, ``ranvier export`` and ``ranvier verify`` (the commands that need torch).

torch is imported inside the commands only, so ``ranvier run`` and ``ranvier --help`` work
without it. Ctrl-C ends any of them with one line, ``error: interrupted``, and exit status 130
(the shell's for SIGINT); outputs are written atomically, so nothing half-written is left.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from .common import (
    INTERRUPTED,
    DebugOpt,
    JsonOpt,
    die,
    err,
    guard,
    out,
    print_line,
    progress_bar,
)

T = TypeVar("T")

#: How to get torch: the package's optional dependency ``train`` (pyproject.toml).
TORCH_HINT = "pip install 'ranvier[train]' (or 'make install' in a checkout)"


def train_errors() -> tuple[type[Exception], ...]:
    """Bad-input errors of the training commands (exit 2); imports torch."""
    try:
        from ranvier.train.checkpoint import CheckpointError
        from ranvier.train.config import ConfigError
        from ranvier.train.data import DatasetFormatError, DatasetMissingError
        from ranvier.train.distributed import DistributedError
        from ranvier.train.lock import RunLockedError
        from ranvier.train.loop import RunExistsError
    except ImportError as exc:  # no torch in this environment
        die(f"training needs torch ({exc}); install it with {TORCH_HINT}", 1)
    return (
        CheckpointError,
        ConfigError,
        DatasetMissingError,
        DatasetFormatError,
        RunLockedError,
        RunExistsError,
        DistributedError,
    )


#: The most processes ``--nproc`` / ``--jobs`` take (a bound that catches typos).
MAX_PROCESSES = 1024


def count_option(option: str, value: str | None, default: int, what: str) -> int:
    """A whole-number option of 1 or more (``--nproc``, ``--seeds``, ``--jobs``), read here
    rather than by click so that a bad value is one line, exit 2."""
    if value is None:
        return default
    try:
        n = int(value.strip())
    except ValueError:
        die(f"{option}: {value!r} is not a whole number of {what} (give 1 or more)", 2)
    if not 1 <= n <= MAX_PROCESSES:
        die(f"{option}: {n} is outside 1..{MAX_PROCESSES} ({what})", 2)
    return n


@contextmanager
def quiet_unless(enabled: bool) -> Iterator[None]:
    """Silence ranvier's consoles for the block unless ``enabled`` (a torchrun rank other than
    0 trains without printing: rank 0 speaks for the run)."""
    saved = out.quiet, err.quiet
    if not enabled:
        out.quiet = err.quiet = True
    try:
        yield
    finally:
        out.quiet, err.quiet = saved


def interruptible(command: Callable[..., T]) -> Callable[..., T]:
    """A command that exits 130 with ``error: interrupted`` on Ctrl-C, wherever it happens."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            die("interrupted", INTERRUPTED)

    return wrapper


def checkpoint_line(loaded: Any) -> str:
    """``checkpoint RUN_DIR/best.pt (epoch 19, quantization-aware)``: the file a command used
    (printed on stderr once the command has done its work, so an error stays one line)."""
    epoch = loaded.raw.get("epoch")
    at = f"epoch {int(epoch) + 1}, " if isinstance(epoch, int) else ""
    phase = "quantization-aware" if loaded.model.quantized else "float, not quantization-aware"
    return f"checkpoint {loaded.path} ({at}{phase})"


def print_verify_table(info: dict) -> None:
    """Per-layer spikes, events and mismatching bins, the accuracies and ``mismatches=<n>``."""
    table = Table(
        title=f"verify: quantized torch forward vs simulator on the exported file · "
        f"{info['samples']} samples × {info['timesteps']} steps",
        title_justify="left",
    )
    for col in ("layer", "spikes", "synaptic events", "mismatching bins"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for layer in info["layers"]:
        table.add_row(
            layer["name"],
            f"{layer['spikes']:,}",
            f"{layer['synaptic_events']:,}",
            str(layer["mismatches"]),
        )
    out.print(table)
    if info.get("accuracy") is not None:
        print_line(
            f"accuracy on the simulator {info['accuracy']:.2%} (torch {info['torch_accuracy']:.2%}"
            f"), predictions {'identical' if info['predictions_equal'] else 'DIFFER'}"
        )
    if not info.get("file_matches", True):
        print_line("the file does not read back to the network the model exports")
    print_line(f"mismatches={info['mismatches']}")


def verify_failed(info: dict) -> bool:
    """Exit 1: mismatching bins, or a file that differs from the model's network."""
    return bool(info["mismatches"]) or not info.get("file_matches", True)


@contextmanager
def epoch_progress(enabled: bool) -> Iterator[Callable[[str, dict], None]]:
    """Rich progress over epochs and batches on an interactive stderr; one line per epoch."""
    progress = progress_bar(enabled)
    task = None

    def on_event(event: str, info: dict) -> None:
        nonlocal task
        if not enabled:
            return
        if event == "epoch_start" and progress is not None:
            desc = f"epoch {info['epoch'] + 1}/{info['epochs']} ({info['phase']})"
            if task is None:
                task = progress.add_task(desc, total=info["batches"], info="")
            else:
                progress.reset(task, total=info["batches"], description=desc, info="")
        elif event == "batch" and progress is not None and task is not None:
            progress.update(task, advance=1, info=f"loss {info['loss']:.3f}")
        elif event == "epoch_end":
            err.print(
                f"epoch {info['epoch'] + 1:3d} {info['phase']:5s} loss {info['train_loss']:.3f} "
                f"train {info['train_accuracy']:.2%} valid {info['valid_accuracy']:.2%} "
                f"({info['seconds']:.1f} s)",
                highlight=False,
                markup=False,
            )

    if progress is None:
        yield on_event
        return
    with progress:
        yield on_event


@interruptible
def train(
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Run directory to write (locked while training)."),
    ],
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset", help="demo, demo-rec, shd, shd-rec or ssc (see docs/training.md)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help=escape("TOML config ([model], [train], [data]).")),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Directory with the SHD/SSC .h5 files.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from RUN_DIR/checkpoint.pt.")
    ] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Override train.seed.")] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Override train.epochs.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda (default: cuda when present).")
    ] = None,
    gradient: Annotated[
        str | None,
        typer.Option(
            "--gradient",
            help="Override train.gradient: bptt (surrogate gradients) or eventprop "
            "(event-based, CUBA LIF; docs/training.md).",
        ),
    ] = None,
    nproc: Annotated[
        str | None,
        typer.Option(
            "--nproc",
            metavar="N",
            help="Data-parallel over N local processes (gloo on CPU, NCCL on CUDA, one GPU "
            "each); train.batch_size is the global batch. Ignored under torchrun.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train a spiking network (weights, per-synapse delays, neuron parameters), export it
    to RUN_DIR/model.net and verify the file against the trained model.

    Writes RUN_DIR/checkpoint.pt (last epoch), best.pt (best quantized epoch), metrics.json
    and model.net; ends with `mismatches=<n>` (exit 1 unless 0). One run at a time per
    RUN_DIR (RUN_DIR/train.lock).

    Data-parallel: --nproc N local processes, or torchrun on several nodes (torchrun
    --no-python ... ranvier train ...; docs/training.md). Rank 0 writes RUN_DIR.

    Example: ranvier train --preset demo --out runs/demo
    Example: ranvier train --config lif.toml --gradient eventprop --out runs/ep
    Example: ranvier train --preset shd --data data/ --nproc 4 --out runs/shd
    """
    processes = count_option("--nproc", nproc, 1, "processes")
    bad = train_errors()
    from ranvier.api import override_training
    from ranvier.convert.atomic import check_writable_dir
    from ranvier.train.config import load_config
    from ranvier.train.config import preset as get_preset
    from ranvier.train.distributed import parse_device, torchrun_world
    from ranvier.train.loop import train as run_training

    if preset is not None and config is not None:
        die("give --preset or --config, not both", 2)
    guard(debug, check_writable_dir, out_dir, "training run (--out)")
    if config is not None:
        cfg = guard(debug, load_config, config, bad_input=bad)
    else:
        cfg = guard(debug, get_preset, preset or "demo", bad_input=bad)
    cfg = guard(
        debug, override_training, cfg, seed=seed, epochs=epochs, gradient=gradient, bad_input=bad
    )
    guard(debug, parse_device, device, bad_input=bad)
    world = guard(debug, torchrun_world, bad_input=bad)
    if world is not None and world.size > 1 and processes > 1 and world.main:
        err.print(
            f"note: under torchrun (WORLD_SIZE={world.size}); --nproc is ignored",
            highlight=False,
            markup=False,
        )
    # under torchrun every rank runs this command; rank 0 alone prints
    speaks = world is None or world.main
    with quiet_unless(speaks), epoch_progress(not as_json) as on_event:
        summary = guard(
            debug,
            run_training,
            cfg,
            out_dir,
            data,
            resume=resume,
            device=device,
            progress=on_event,
            nproc=processes,
            bad_input=bad,
        )
    if speaks:
        _print_summary(summary, as_json)
    code = 1 if verify_failed(summary["verify"]) else 0
    if world is not None and world.size > 1:
        # a torchrun rank: leave without the interpreter's teardown, which gloo's threads can
        # abort (SIGABRT) after a run that succeeded (train/distributed.py, _spawned)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if code:
        raise typer.Exit(1)


def _print_summary(summary: dict, as_json: bool) -> None:
    """The summary as JSON, or the accuracy line and the verify table."""
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_line(
            f"best quantized validation accuracy {summary['best_valid_accuracy']:.2%} (epoch "
            f"{summary['best_epoch'] + 1}, {Path(summary['checkpoint']).name}), test accuracy "
            f"(quantized) {summary['test_accuracy']:.2%}; network written to "
            f"{summary['network']}"
        )
        print_verify_table(summary["verify"])


@interruptible
def export(
    checkpoint: Annotated[
        Path, typer.Argument(help="A checkpoint file, or RUN_DIR (its best.pt).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="netx HDF5 file to write.")],
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a trained model as a netx HDF5 file with integer weights and delays.

    Given a run directory it exports RUN_DIR/best.pt (the network training deployed); the
    checkpoint used is named on stderr (`checkpoint` in --json).

    Example: ranvier export runs/demo -o model.net
    """
    bad = train_errors()
    from ranvier.api import NOT_QAT_WARNING
    from ranvier.convert.atomic import check_writable
    from ranvier.train.checkpoint import load_checkpoint
    from ranvier.train.export import export_model

    guard(debug, check_writable, output, "netx file")
    loaded = guard(debug, load_checkpoint, checkpoint, bad_input=bad)
    was_quantized = loaded.model.quantized
    network = guard(debug, export_model, loaded.model, output, bad_input=bad)
    info = {
        "checkpoint": str(loaded.path),
        "network": str(output),
        "layers": [
            {
                "name": b.name,
                "type": b.neurons.neuron_type,
                "neurons": b.neurons.n,
                "max_delay": b.synapse.max_delay,
            }
            for b in network.blocks
        ],
        "quantization_aware": was_quantized,
    }
    if as_json:
        print(json.dumps(info, indent=2))
        return
    shape = " → ".join(
        [str(network.n_in)] + [f"{b.neurons.n} {b.neurons.neuron_type}" for b in network.blocks]
    )
    err.print(checkpoint_line(loaded), highlight=False, markup=False)
    out.print(f"wrote {escape(str(output))}: {shape}", highlight=False)
    if not was_quantized:
        err.print(f"warning: {NOT_QAT_WARNING}", highlight=False, markup=False)


@interruptible
def verify(
    checkpoint: Annotated[
        Path, typer.Argument(help="A checkpoint file, or RUN_DIR (its best.pt).")
    ],
    samples: Annotated[
        int | None, typer.Option("--samples", "-n", min=1, help="Test samples (default: all).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Directory with the SHD/SSC .h5 files.")
    ] = None,
    net: Annotated[
        Path | None,
        typer.Option("--net", help="Verify this exported file instead of a fresh export."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="Run the torch forward on cpu or cuda (default: cpu)."),
    ] = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compare the quantized torch forward with the simulator running the exported file,
    every layer, bin by bin; prints `mismatches=<n>` and exits 1 unless it is 0.

    Given a run directory it verifies RUN_DIR/best.pt; the checkpoint used is named on
    stderr (`checkpoint` in --json). A --net file with other layer sizes, layer types or
    neuron types than the checkpoint's is refused (exit 2).

    Example: ranvier verify runs/demo --samples 200
    Example: ranvier verify runs/demo --device cuda
    """
    bad = train_errors()
    from ranvier.convert import NetFileError, read_netx
    from ranvier.train.checkpoint import load_checkpoint
    from ranvier.train.distributed import parse_device
    from ranvier.train.export import network_mismatch
    from ranvier.train.export import verify as run_verify
    from ranvier.train.loop import load_splits

    dev = guard(debug, parse_device, device or "cpu", bad_input=bad)
    loaded = guard(debug, load_checkpoint, checkpoint, bad_input=bad)
    loaded.model.to(dev)
    network = guard(debug, read_netx, net) if net is not None else None
    if network is not None:
        problem = network_mismatch(loaded.model, network)
        if problem is not None:
            die(f"{net}: {problem}", 2)
    splits = guard(debug, load_splits, loaded.config, data, bad_input=(*bad, NetFileError))
    test = splits.test
    n = len(test.y) if samples is None else min(samples, len(test.y))
    result = guard(
        debug, run_verify, loaded.model, test.x[:n], test.y[:n], network=network, bad_input=bad
    )
    result.checkpoint = str(loaded.path)
    info = result.as_dict()
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        err.print(checkpoint_line(loaded), highlight=False, markup=False)
        print_verify_table(info)
    if verify_failed(info):
        raise typer.Exit(1)
