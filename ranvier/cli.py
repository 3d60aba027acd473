"""The ``ranvier`` command line.

Exit status: 0 ok, 1 failed, 2 bad usage or bad input. Errors are one line on stderr naming the
file and field; ``--debug`` shows the traceback. Heavy imports happen inside the commands so
``ranvier --help`` stays fast and nothing here needs torch.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    name="ranvier",
    help="Spiking networks from training to Loihi 2: run netx HDF5 files on a bit-accurate "
    "Loihi 2 simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Wide enough for the tables when output goes to a file or a pipe (rich falls back to 80).
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def _die(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(debug: bool, fn, *args, bad_input: tuple[type[Exception], ...] = (), **kwargs):
    """Run ``fn``; turn known bad-input errors (and ``bad_input``) into exit 2, anything else
    into exit 1."""
    from ranvier.convert import NetFileError
    from ranvier.deploy import BackendUnavailableError, InputError
    from ranvier.deploy.report import ReportError
    from ranvier.hw_models.energy import ProfileError

    try:
        return fn(*args, **kwargs)
    except (NetFileError, InputError, ProfileError, ReportError, *bad_input) as exc:
        if debug:
            raise
        _die(str(exc), 2)
    except BackendUnavailableError as exc:
        if debug:
            raise
        _die(str(exc), 1)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _die("interrupted", 1)
    except Exception as exc:
        if debug:
            raise
        _die(f"{exc.__class__.__name__}: {exc}", 1)


@app.command()
def run(
    net: Annotated[Path, typer.Argument(help="netx HDF5 network file (.net / .h5).")],
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Spikes: .npy/.npz array (C, T) or (N, C, T), or SLAYER events (.events.npy).",
        ),
    ],
    save_spikes: Annotated[
        Path | None,
        typer.Option("--save-spikes", help="Write every layer's spikes to this .npz."),
    ] = None,
    backend: Annotated[
        str, typer.Option("--backend", help="ranvier (default) or lava (needs .venv-lava).")
    ] = "ranvier",
    events: Annotated[
        bool, typer.Option("--events", help="Read --input as SLAYER numpy events.")
    ] = False,
    timesteps: Annotated[
        int | None, typer.Option("--timesteps", "-T", min=1, help="Run only the first T steps.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write report.json, neurons.csv and plots (energy, rates) here."
        ),
    ] = None,
    profile: Annotated[
        str,
        typer.Option("--profile", help="Energy cost profile: loihi2, loihi1 or a TOML file."),
    ] = "loihi2",
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            "-y",
            help="Class labels (.npy, .npz or text, one per sample): report the accuracy of "
            "the read-out the file declares.",
        ),
    ] = None,
    save_membrane: Annotated[
        Path | None,
        typer.Option(
            "--save-membrane", help="Write the membrane state of the --record layers to this .npz."
        ),
    ] = None,
    record: Annotated[
        str,
        typer.Option("--record", help="Layers to probe for --save-membrane, e.g. '0,2' or '-1'."),
    ] = "-1",
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run a netx file on the Loihi 2 bit-accurate simulator and print per-layer activity.

    Example: ranvier run examples/shd_like.net --input examples/shd_like_input.npy
    --save-spikes spikes.npz --report report/

    Example: ranvier run model.net --input test_x.npy --labels test_y.npy
    """
    from ranvier.convert import read_netx
    from ranvier.deploy import BACKENDS, load_spikes, run_network, summary
    from ranvier.deploy import save_spikes as write_spikes

    if backend not in BACKENDS:
        _die(f"--backend: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})", 2)
    cost_profile = None
    if report is not None:
        from ranvier.hw_models.energy import load_profile

        cost_profile = _guard(debug, load_profile, profile)
    network = _guard(debug, read_netx, net)
    spikes = _guard(
        debug, load_spikes, input, network.n_in, events=events or None, timesteps=timesteps
    )
    probes = _parse_layers(record, len(network.blocks)) if save_membrane is not None else []
    label_values = None
    if labels is not None:
        from ranvier.hw_models.readout import load_labels, readout_mode

        n_samples = 1 if np.ndim(spikes) == 2 else int(np.shape(spikes)[0])
        label_values = _guard(debug, load_labels, labels, n_samples, network.n_out)
        if readout_mode(network) == "membrane_sum":
            probes = sorted({*probes, len(network.blocks) - 1})
    with (
        _layer_progress(len(network.blocks), enabled=not as_json) as on_layer,
        _stdout_to_stderr(),
    ):
        result = _guard(
            debug,
            run_network,
            network,
            spikes,
            backend=backend,
            net_path=net,
            on_layer=on_layer,
            record=probes or None,
        )
    info = summary(network, result)
    info.update({"network": str(net), "input": str(input), "backend": backend})
    if label_values is not None:
        from ranvier.hw_models.readout import accuracy_summary

        info.update(accuracy_summary(network, result, label_values))
        info["labels"] = str(labels)
    if save_membrane is not None:
        from ranvier.deploy import save_membranes

        _guard(debug, save_membranes, save_membrane, result)
        info["membrane_file"] = str(save_membrane)
    if save_spikes is not None:
        _guard(debug, write_spikes, save_spikes, result)
        info["spikes_file"] = str(save_spikes)
    rep = None
    if report is not None:
        from ranvier.deploy.report import build_report, write_report

        rep = build_report(
            network, result, cost_profile, network_path=str(net), input_path=str(input)
        )
        raster = [np.asarray(layer.spikes) for layer in result.layers]
        raster = [a[0] if a.ndim == 3 else a for a in raster]
        _guard(debug, write_report, report, rep, raster)
        info["report_dir"] = str(report)
        info["energy_j"] = rep["totals"]["energy_j"]
        for layer, rl in zip(info["layers"], rep["layers"], strict=True):
            layer["energy_j"] = rl["energy_j"]
    if as_json:
        print(json.dumps(info, indent=2))
        return
    _print_run_table(info, rep)


def _parse_layers(text: str, n_layers: int) -> list[int]:
    """``--record``: comma-separated layer indices (negative from the end); exit 2 if bad."""
    from ranvier.hw_models.simulator import layer_indices

    try:
        return layer_indices([int(part) for part in text.split(",") if part.strip()], n_layers)
    except ValueError as exc:
        detail = str(exc) if str(exc).startswith("no layer") else f"expected indices, got {text!r}"
        _die(f"--record: {detail}", 2)


@contextmanager
def _stdout_to_stderr():
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
def _layer_progress(total: int, enabled: bool):
    """A transient progress bar over layers on an interactive stderr; a no-op otherwise."""
    if not (enabled and err.is_terminal):
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} layers"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("run", total=total)
        yield lambda done, _total: progress.update(task, completed=done)


def _print_run_table(info: dict, report: dict | None = None) -> None:
    title = (
        f"{info['network']} · {info['samples']} sample(s) × {info['timesteps']} steps · "
        f"backend {info['backend']}"
    )
    table = Table(title=escape(title), title_justify="left")
    energy = report is not None
    cols = ["layer", "neurons", "spikes", "rate /step", "rate Hz", "synaptic events"]
    for col in cols + (["energy µJ"] if energy else []):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for layer in info["layers"]:
        row = [
            layer["name"],
            str(layer["neurons"]),
            f"{layer['spikes']:,}",
            f"{layer['spike_rate']:.4f}",
            f"{layer['spike_rate_hz']:.1f}",
            f"{layer['synaptic_events']:,}",
        ]
        table.add_row(*row, *([f"{layer['energy_j'] * 1e6:.3f}"] if energy else []))
    tot = info["totals"]
    total = ["total", "", f"{tot['spikes']:,}", "", "", f"{tot['synaptic_events']:,}"]
    table.add_row(*total, *([f"{info['energy_j'] * 1e6:.3f}"] if energy else []))
    out.print(table)
    if "spikes_file" in info:
        out.print(f"spikes written to {info['spikes_file']}", markup=False, highlight=False)
    if "membrane_file" in info:
        out.print(f"membrane written to {info['membrane_file']}", markup=False, highlight=False)
    if "accuracy" in info:
        out.print(
            f"accuracy {info['accuracy']:.2%} ({info['correct']}/{info['samples']}), "
            f"read-out {info['readout']}",
            markup=False,
            highlight=False,
        )
    if report is not None:
        out.print(
            f"energy {info['energy_j'] * 1e6:.3f} µJ for {info['samples']} sample(s); "
            f"report written to {info['report_dir']}",
            markup=False,
            highlight=False,
        )
        out.print(_report_line(report), markup=False, highlight=False)


@app.command()
def inspect(
    net: Annotated[Path, typer.Argument(help="netx HDF5 network file.")],
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show a netx file's layers, parameter ranges and the Loihi 2 limits it violates.

    Exits 1 when the file violates a Loihi 2 limit (it still runs on the simulator, as in lava).

    Example: ranvier inspect examples/shd_like.net
    """
    from ranvier.convert import read_netx
    from ranvier.hw_models.limits import loihi2_notes, loihi2_violations, parameter_ranges
    from ranvier.hw_models.resources import estimate_resources

    network = _guard(debug, read_netx, net)
    rows = parameter_ranges(network)
    violations = loihi2_violations(network)
    notes = loihi2_notes(network)
    resources = estimate_resources(network).as_dict()
    if as_json:
        print(
            json.dumps(
                {
                    "network": str(net),
                    "inputs": network.n_in,
                    "layers": rows,
                    "resources": resources,
                    "violations": violations,
                    "notes": notes,
                },
                indent=2,
            )
        )
    else:
        table = Table(title=escape(f"{net} · {network.n_in} inputs"), title_justify="left")
        cols = ("layer", "type", "neurons", "synapses", "weight", "exp", "bits", "delay")
        for col in (*cols, "vThMant", "bias", "neuron parameters"):
            table.add_column(col, justify="left" if col in ("layer", "type") else "right")

        def rng(pair: list[int] | None) -> str:
            if pair is None:
                return "-"
            return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}..{pair[1]}"

        from ranvier.hw_models.limits import SHOWN_PARAMETERS

        for r in rows:
            params = " ".join(f"{k}={rng(r[k])}" for k in SHOWN_PARAMETERS[r["neuron"]])
            table.add_row(
                r["name"],
                r["neuron"] + ("" if r["spiking"] else " (read-out)"),
                str(r["neurons"]),
                f"{r['synapses']:,}",
                rng(r["weight"]),
                str(r["weight_exp"]),
                str(r["num_weight_bits"]),
                rng(r["delay"]),
                rng(r["vth_mant"]),
                rng(r["bias_mant"]),
                params,
            )
        out.print(table)
        per_layer = ", ".join(
            f"{r['name']} {r['cores']} ({r['limited_by']})" for r in resources["layers"]
        )
        out.print(
            f"Loihi 2 estimate: {resources['cores']} cores on {resources['chips']} chip(s); "
            f"cores per layer: {per_layer} (assumptions: docs/energy.md)",
            markup=False,
            highlight=False,
        )
        for line in notes:
            out.print(f"note: {line}", markup=False, highlight=False)
        if violations:
            err.print("[bold yellow]Loihi 2 limits violated:[/]")
            for line in violations:
                err.print(f"  - {line}", highlight=False, markup=False)
        else:
            out.print("fits Loihi 2's register widths and delay range")
    if violations:
        raise typer.Exit(1)


@app.command("report")
def report_cmd(
    directory: Annotated[Path, typer.Argument(help="A report directory (ranvier run --report).")],
    compare: Annotated[
        Path | None, typer.Option("--compare", help="A second report to show side by side.")
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Do not re-draw the plots.")] = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print a report's summary again and re-draw its plots; --compare shows two side by side.

    Example: ranvier report report/ --compare report_no_delays/
    """
    from ranvier.deploy.report import draw_plots, load_report, summary_rows

    first = _guard(debug, load_report, directory)
    second = _guard(debug, load_report, compare) if compare is not None else None
    if not no_plots:
        _guard(debug, draw_plots, directory, first)
    if as_json:
        print(json.dumps({"report": first, "compare": second}, indent=1))
        return
    reports = [(directory, first)] + ([(compare, second)] if second is not None else [])
    table = Table(title="ranvier report", title_justify="left")
    table.add_column("layer")
    for d, _ in reports:
        for col in ("spikes", "rate Hz", "syn. events", "energy µJ"):
            table.add_column(escape(f"{col}\n{d.name}"), justify="right")
    rows = [summary_rows(r) for _, r in reports]
    names = [row[0] for row in rows[0]]
    for i, name in enumerate(names):
        cells = [name]
        for rep_rows in rows:
            if i < len(rep_rows):
                _, _, spikes, rate, events, energy = rep_rows[i]
                cells += [f"{spikes:,}", f"{rate:.1f}", f"{events:,}", f"{energy * 1e6:.3f}"]
            else:
                cells += ["", "", "", ""]
        table.add_row(*cells)
    total = ["total"]
    for _, r in reports:
        t = r["totals"]
        total += [
            "{:,}".format(t["spikes"]),
            "",
            "{:,}".format(t["synaptic_events"]),
            f"{t['energy_j'] * 1e6:.3f}",
        ]
    table.add_row(*total)
    out.print(table)
    for d, r in reports:
        out.print(f"{d}: {_report_line(r)}", markup=False, highlight=False)


def _report_line(report: dict) -> str:
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


# The training commands live in their own module (they import torch inside the commands).
from . import cli_train  # noqa: E402, F401


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
