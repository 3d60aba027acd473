"""``ranvier report``: a report directory's summary again, plots re-drawn, two side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import DebugOpt, JsonOpt, guard, out, print_line, report_line


def report(
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

    first = guard(debug, load_report, directory)
    second = guard(debug, load_report, compare) if compare is not None else None
    if not no_plots:
        guard(debug, draw_plots, directory, first)
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
        print_line(f"{d}: {report_line(r)}")
