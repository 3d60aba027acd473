"""``ranvier run``: a netx file on the simulator (or lava), per-layer activity, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from .common import (
    DebugOpt,
    JsonOpt,
    die,
    guard,
    layer_progress,
    out,
    print_line,
    report_line,
    stdout_to_stderr,
)


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
            "--report",
            help="Write report.json, neurons.csv and plots (energy, rates) into this directory, "
            "replacing it as a whole (an existing one must be a ranvier report).",
        ),
    ] = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help=(
                "Energy cost profile: loihi2 (calibrated on Intel's PilotNet run), "
                "loihi2-upper, loihi1 or a TOML file."
            ),
        ),
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
    reset_interval: Annotated[
        int | None,
        typer.Option(
            "--reset-interval",
            min=1,
            help="Reset the state of every CUBA layer every K steps, pipelined one step per "
            "layer (netx's reset_interval: one sample per K steps).",
        ),
    ] = None,
    reset_offset: Annotated[
        int, typer.Option("--reset-offset", min=0, help="netx's reset_offset (phase).")
    ] = 0,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run a netx file on the Loihi 2 bit-accurate simulator and print per-layer activity.

    Example: ranvier run examples/shd_like.net --input examples/shd_like_input.npy
    --save-spikes spikes.npz --report report/

    Example: ranvier run model.net --input test_x.npy --labels test_y.npy

    Example (16-step frames streamed as Intel's PilotNet tutorial does):
    ranvier run pilotnet.net --input frames.npy --reset-interval 16

    An image input layer takes (W, H, C, T) or (N, W, H, C, T) arrays of signed integers;
    --save-spikes writes each layer in its own shape.
    """
    from ranvier.api import add_report_totals, readout_probes, sample_raster
    from ranvier.convert import read_netx
    from ranvier.deploy import BACKENDS, load_spikes, run_network, summary
    from ranvier.deploy import save_spikes as write_spikes

    if backend not in BACKENDS:
        die(f"--backend: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})", 2)
    check_outputs(save_spikes, save_membrane, report, debug)
    cost_profile = None
    if report is not None:
        from ranvier.hw_models.energy import load_profile

        cost_profile = guard(debug, load_profile, profile)
    network = guard(debug, read_netx, net)
    from ranvier.deploy.inputs import graded_input

    spikes = guard(
        debug,
        load_spikes,
        input,
        network.n_in,
        events=events or None,
        timesteps=timesteps,
        shape=network.input_shape,
        graded=graded_input(network),
    )
    reset = None if reset_interval is None else (reset_interval, reset_offset)
    if reset is not None:
        for block in network.blocks:
            if block.neurons.NETX_RESET is None:
                die(
                    f"--reset-interval: {net}: {block.name} has {block.neurons.neuron_type} "
                    "neurons, which netx cannot build with a reset (it resets CUBA layers)",
                    2,
                )
    probes = parse_layers(record, len(network.blocks)) if save_membrane is not None else []
    label_values = None
    if labels is not None:
        from ranvier.deploy.inputs import load_labels

        n_samples = 1 if np.ndim(spikes) == 2 else int(np.shape(spikes)[0])
        label_values = guard(debug, load_labels, labels, n_samples, network.n_out)
        probes = readout_probes(network, probes)
    with (
        layer_progress(len(network.blocks), enabled=not as_json) as on_layer,
        stdout_to_stderr(),
    ):
        result = guard(
            debug,
            run_network,
            network,
            spikes,
            backend=backend,
            net_path=net,
            on_layer=on_layer,
            record=probes or None,
            reset=reset,
        )
    info = summary(network, result)
    info.update({"network": str(net), "input": str(input), "backend": backend})
    scores = None
    if label_values is not None:
        from ranvier.hw_models.readout import accuracy_summary

        scores = accuracy_summary(network, result, label_values)
        info.update(scores)
        info["labels"] = str(labels)
    if save_membrane is not None:
        from ranvier.deploy import save_membranes

        guard(debug, save_membranes, save_membrane, result)
        info["membrane_file"] = str(save_membrane)
    if save_spikes is not None:
        guard(debug, write_spikes, save_spikes, result, network)
        info["spikes_file"] = str(save_spikes)
    rep = None
    if report is not None:
        from ranvier.deploy.report import build_report, write_report

        rep = build_report(
            network,
            result,
            cost_profile,
            network_path=str(net),
            input_path=str(input),
            accuracy=scores,
            labels_path=None if labels is None else str(labels),
        )
        guard(debug, write_report, report, rep, sample_raster(result))
        add_report_totals(info, rep, report)
    if as_json:
        print(json.dumps(info, indent=2))
        return
    print_run_table(info, rep)


def check_outputs(
    save_spikes: Path | None, save_membrane: Path | None, report: Path | None, debug: bool
) -> None:
    """Refuse, before anything is read or simulated, output paths that could not be written
    (exit 2, one line naming the path given): a file option naming a directory, a path under a
    regular file, no permission; a --report directory that could not be replaced as a whole
    (``check_report_dir``); two options naming the same file, or a file inside the --report
    directory (replacing the report would delete it)."""
    from ranvier.convert.atomic import check_writable
    from ranvier.deploy.report import check_report_dir

    files = [
        (option, path)
        for option, path in (("--save-spikes", save_spikes), ("--save-membrane", save_membrane))
        if path is not None
    ]
    for option, path in files:
        guard(debug, check_writable, path, f"{option} file")
    if report is not None:
        guard(debug, check_report_dir, report)
    if len(files) == 2 and files[0][1].resolve() == files[1][1].resolve():
        die(f"--save-membrane {files[1][1]}: the same file as --save-spikes", 2)
    if report is not None:
        inside = report.resolve()
        for option, path in files:
            if path.resolve().is_relative_to(inside):
                die(
                    f"{option} {path}: inside the --report directory {report}, which is "
                    "replaced as a whole",
                    2,
                )


def parse_layers(text: str, n_layers: int) -> list[int]:
    """``--record``: comma-separated layer indices (negative from the end); exit 2 if bad."""
    from ranvier.hw_models.simulator import layer_indices

    try:
        return layer_indices([int(part) for part in text.split(",") if part.strip()], n_layers)
    except ValueError as exc:
        detail = str(exc) if str(exc).startswith("no layer") else f"expected indices, got {text!r}"
        die(f"--record: {detail}", 2)


def print_run_table(info: dict, report: dict | None = None) -> None:
    """The per-layer table of ``ranvier run`` and the lines below it."""
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
        print_line(f"spikes written to {info['spikes_file']}")
    if "membrane_file" in info:
        print_line(f"membrane written to {info['membrane_file']}")
    if "accuracy" in info:
        print_line(
            f"accuracy {info['accuracy']:.2%} ({info['correct']}/{info['samples']}), "
            f"read-out {info['readout']}"
        )
    if report is not None:
        print_line(
            f"energy {info['energy_j'] * 1e6:.3f} µJ for {info['samples']} sample(s); "
            f"report written to {info['report_dir']}"
        )
        print_line(report_line(report))
