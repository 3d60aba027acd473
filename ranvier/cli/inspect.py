"""``ranvier inspect``: a netx file's layers, parameter ranges, resources and Loihi 2 limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import DebugOpt, JsonOpt, err, guard, out, print_line


def inspect(
    net: Annotated[Path, typer.Argument(help="netx HDF5 network file.")],
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show a netx file's layers, parameter ranges and the Loihi 2 limits it violates.

    Exits 1 when the file violates a Loihi 2 limit (it still runs on the simulator, as in lava).

    Example: ranvier inspect examples/shd_like.net
    """
    from ranvier.api import inspect as inspect_network
    from ranvier.convert import read_netx

    network = guard(debug, read_netx, net)
    doc = inspect_network(network)
    doc["network"] = str(net)
    violations = doc["violations"]
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        print_inspect_table(net, network, doc)
    if violations:
        raise typer.Exit(1)


def _range(pair: list[int] | None) -> str:
    if pair is None:
        return "-"
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}..{pair[1]}"


def _recurrent(rec: dict | None) -> str:
    """A dense_rec layer's recurrent synapse: stored synapses, weights, delays."""
    if rec is None:
        return "-"
    return f"{rec['synapses']:,} w {_range(rec['weight'])} d {_range(rec['delay'])}"


def print_inspect_table(net: Path, network, doc: dict) -> None:
    """The table, the resource estimate, the notes and the violations (on stderr)."""
    shape = "x".join(str(v) for v in network.input_shape)
    title = f"{net} · {network.n_in} inputs ({shape})"
    table = Table(title=escape(title), title_justify="left")
    cols = ("layer", "type", "synapse", "shape", "synapses", "weight", "exp", "bits", "delay")
    recurrent = any("recurrent" in r for r in doc["layers"])
    extra = ("recurrent",) if recurrent else ()
    for col in (*cols, *extra, "vThMant", "bias", "neuron parameters"):
        table.add_column(
            col,
            justify="left" if col in ("layer", "type", "synapse") else "right",
            no_wrap=col == "recurrent",
        )
    for block, r in zip(network.blocks, doc["layers"], strict=True):
        shown = block.neurons.shown_parameters()
        params = " ".join(f"{k}={_range(r[k])}" for k in shown)
        graded = f" ({r['message_bits']}-bit graded)" if r["message_bits"] else ""
        table.add_row(
            r["name"],
            r["neuron"] + ("" if r["spiking"] else " (read-out)") + graded,
            r["synapse"],
            "x".join(str(v) for v in r["shape"]),
            f"{r['synapses']:,}",
            _range(r["weight"]),
            str(r.get("weight_exp", "-")),
            str(r.get("num_weight_bits", "-")),
            _range(r["delay"]),
            *((_recurrent(r.get("recurrent")),) if recurrent else ()),
            _range(r["vth_mant"]),
            _range(r["bias_mant"]),
            params,
        )
    out.print(table)
    print_core_table(doc["resources"])
    for line in doc["notes"]:
        print_line(f"note: {line}")
    if doc["violations"]:
        err.print("[bold yellow]Loihi 2 limits violated:[/]")
        for line in doc["violations"]:
            err.print(f"  - {line}", highlight=False, markup=False)
    else:
        out.print("fits Loihi 2's register widths and delay range")


#: The compiler's per-core table (lava's Loihi 2 "Per core distribution"), per layer.
CORE_COLUMNS = (
    ("AxonIn", "axons_in"),
    ("NeuronGr", "neuron_groups"),
    ("Neurons", "neurons_per_core"),
    ("Synapses", "synapse_words"),
    ("AxonMap", "axon_map"),
    ("AxonMem", "axon_mem"),
    ("Cores", "cores"),
)


def print_core_table(resources: dict) -> None:
    """The resource estimate in the layout of the compiler's per-core table (per-core values;
    docs/energy.md, "Resources"), then the total."""
    table = Table(
        title=escape(
            f"Loihi 2 estimate: {resources['cores']} cores on {resources['chips']} chip(s), "
            "per core as lava's compiler prints it (docs/energy.md)"
        ),
        title_justify="left",
    )
    table.add_column("layer")
    for head, _ in CORE_COLUMNS:
        table.add_column(head, justify="right")
    table.add_column("tile (WxHxC)", justify="right")
    table.add_column("split by")
    for r in resources["layers"]:
        cells = ["-" if r[key] is None else f"{r[key]}" for _, key in CORE_COLUMNS]
        tile = "-" if r["tile"] is None else "x".join(str(v) for v in r["tile"])
        table.add_row(r["name"], *cells, tile, r["limited_by"])
    table.add_row("total", *[""] * (len(CORE_COLUMNS) - 1), str(resources["cores"]), "", "")
    out.print(table)
