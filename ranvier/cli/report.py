"""``ranvier report``: a report directory's summary again, two side by side, plots re-drawn on
request.

Reading a report writes nothing (a read-only report reads fine); only ``--redraw`` writes, and
only the plots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import DebugOpt, JsonOpt, die, guard, out, print_line, report_line


def report(
    directory: Annotated[Path, typer.Argument(help="A report directory (ranvier run --report).")],
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="A second report B: both side by side, layers matched by name, with B - A.",
        ),
    ] = None,
    redraw: Annotated[
        bool,
        typer.Option(
            "--redraw", help="Re-draw the plots from report.json and raster.npz (writes them)."
        ),
    ] = False,
    no_plots: Annotated[
        bool, typer.Option("--no-plots", hidden=True, help="Accepted for old scripts: the default.")
    ] = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print a report's summary again; --compare shows two side by side (B - A); --redraw
    re-draws the plots. Without --redraw nothing is written.

    Example: ranvier report report/ --compare report_no_delays/
    """
    from ranvier.convert.atomic import check_writable_dir
    from ranvier.deploy.report import compare_reports, draw_plots, load_report

    if redraw and no_plots:
        die("--redraw and --no-plots contradict each other", 2)
    first = guard(debug, load_report, directory)
    second = guard(debug, load_report, compare) if compare is not None else None
    if redraw:
        reports = [(directory, first)] + ([(compare, second)] if second is not None else [])
        for d, _ in reports:
            guard(debug, check_writable_dir, d, "report")
        for d, r in reports:
            guard(debug, draw_plots, d, r)
    comparison = None
    if second is not None:
        comparison = {"a": str(directory), "b": str(compare), **compare_reports(first, second)}
    if as_json:
        print(json.dumps({"report": first, "compare": second, "comparison": comparison}, indent=1))
        return
    if second is None:
        print_single(directory, first)
    else:
        print_comparison(directory, first, compare, second, comparison)


def accuracy_text(report: dict) -> str | None:
    """``58.33% (7/12, read-out membrane_sum)``, or None for a report without labels."""
    r = report.get("readout")
    if r is None:
        return None
    return f"{r['accuracy']:.2%} ({r['correct']}/{r['samples']}, read-out {r['mode']})"


def print_single(directory: Path, rep: dict) -> None:
    """One report: per layer spikes, mean rate, synaptic events, energy; then its summary."""
    from ranvier.deploy.report import summary_rows

    table = Table(title=escape(f"ranvier report · {directory}"), title_justify="left")
    table.add_column("layer")
    for col in ("spikes", "rate Hz", "syn. events", "energy µJ"):
        table.add_column(col, justify="right")
    for name, _, spikes, rate, events, energy in summary_rows(rep):
        table.add_row(
            escape(name), f"{spikes:,}", f"{rate:.1f}", f"{events:,}", f"{energy * 1e6:.3f}"
        )
    t = rep["totals"]
    table.add_row(
        "total", f"{t['spikes']:,}", "", f"{t['synaptic_events']:,}", f"{t['energy_j'] * 1e6:.3f}"
    )
    out.print(table)
    print_line(f"{directory}: {report_line(rep)}")
    acc = accuracy_text(rep)
    if acc is not None:
        print_line(f"accuracy {acc}")


def _value(v: float | None, fmt: str, scale: float | None = None) -> str:
    """``v`` (times ``scale``) formatted, ``-`` for a missing value."""
    if v is None:
        return "-"
    return format(v if scale is None else v * scale, fmt)


def _delta(change: dict, fmt: str, scale: float | None = None) -> str:
    """``+1,234 (+5.0%)``: B - A and, where A is not 0, relative to A; ``-`` without both."""
    if change["delta"] is None:
        return "-"
    text = _value(change["delta"], "+" + fmt, scale)
    if change.get("relative") is not None:
        text += f" ({change['relative']:+.1%})"
    return text


def print_comparison(
    dir_a: Path, a: dict, dir_b: Path, b: dict, comparison: dict | None = None
) -> None:
    """Two reports: per layer (matched by name) and in total, spikes, synaptic events and
    energy per sample of A and B and B - A; the accuracies; each report's summary line.
    Columns are labelled A and B, the lines above the table say which directory is which."""
    from ranvier.deploy.report import compare_reports

    comparison = comparison or compare_reports(a, b)
    print_line(f"A = {dir_a}")
    print_line(f"B = {dir_b}")
    table = Table(title="ranvier report: A vs B (Δ = B - A)", title_justify="left")
    table.add_column("layer")
    metrics = (
        ("spikes", "spikes", ",", None),
        ("syn. events", "synaptic_events", ",", None),
        ("µJ/sample", "energy_per_sample_j", ".3f", 1e6),
    )
    for label, *_ in metrics:
        for side in ("A", "B", "Δ"):
            table.add_column(escape(f"{label}\n{side}"), justify="right")

    def cells(entry: dict) -> list[str]:
        row = []
        for _, key, fmt, scale in metrics:
            change = entry[key]
            row += [
                _value(change["a"], fmt, scale),
                _value(change["b"], fmt, scale),
                _delta(change, fmt, scale),
            ]
        return row

    for layer in comparison["layers"]:
        table.add_row(escape(layer["name"]), *cells(layer))
    table.add_row("total", *cells(comparison["totals"]))
    out.print(table)
    energy = comparison["totals"]["energy_j"]
    print_line(
        f"energy, all samples: A {energy['a'] * 1e6:.3f} µJ, B {energy['b'] * 1e6:.3f} µJ, "
        f"Δ {_delta(energy, '.3f', 1e6)} µJ"
    )
    acc = comparison.get("accuracy")
    if acc is not None:
        delta = "-" if acc["delta"] is None else f"{acc['delta'] * 100:+.2f} percentage points"
        print_line(f"accuracy: A {accuracy_text(a) or '-'}, B {accuracy_text(b) or '-'}, Δ {delta}")
    print_line(f"A: {report_line(a)}")
    print_line(f"B: {report_line(b)}")
