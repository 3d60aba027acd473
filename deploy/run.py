"""Run a network on a backend and summarise what it did.

Backends: ``ranvier`` (the batched bit-accurate simulator in ``hw_models``) and ``lava``
(lava-dl netx + lava-nc fixed_pt process models; only where lava is installed, i.e. in the
``.venv-lava`` reference environment). Both produce a :class:`SimResult` whose counters are
computed by the same rule.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from ranvier.convert.atomic import atomic_path
from ranvier.hw_models import Network, SimResult, simulate
from ranvier.hw_models.simulator import as_layer_input, layer_result, output_dtype

BACKENDS = ("ranvier", "lava")


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here (lava is not installed)."""


def run_network(
    network: Network,
    spikes: np.ndarray,
    *,
    backend: str = "ranvier",
    net_path: str | os.PathLike | None = None,
    on_layer: Callable[[int, int], None] | None = None,
    record: Sequence[int] | None = None,
    reset: tuple[int, int] | None = None,
) -> SimResult:
    """Run ``spikes`` ``(C, T)`` or ``(N, C, T)`` through ``network`` on ``backend``.

    ``on_layer(done, total)`` reports progress (after each layer of each chunk on the
    simulator; once at
    the end on lava, which runs all layers together). ``record``: layer indices whose
    membrane state goes into ``LayerResult.membrane``. ``reset``: netx's ``(reset_interval,
    reset_offset)``, the state reset every K steps (Intel's PilotNet streams samples so).
    """
    if backend == "ranvier":
        return simulate(network, spikes, on_layer=on_layer, record=record, reset=reset)
    if backend != "lava":
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    from . import lava as lava_backend

    if not lava_backend.lava_available():
        raise BackendUnavailableError(
            "the lava backend needs lava-nc and lava-dl: run it from .venv-lava (make reference)"
        )
    if net_path is None:
        raise ValueError("the lava backend runs a file: pass net_path")
    x = np.asarray(spikes)
    single = x.ndim == 2
    batch = x[None] if single else x
    if record is None:
        outs, membranes = lava_backend.run_lava(net_path, batch, reset=reset), {}
    else:
        outs, membranes = lava_backend.run_lava(
            net_path, batch, membrane_layers=record, reset=reset
        )
    current = as_layer_input(network.blocks[0], batch)
    layers = []
    for index, (block, out) in enumerate(zip(network.blocks, outs, strict=True)):
        out = np.ascontiguousarray(out, dtype=output_dtype(block.neurons))
        result = layer_result(block, current, out, single)
        if index in membranes:
            membrane = np.ascontiguousarray(membranes[index], dtype=np.int64)
            result.membrane = membrane[0] if single else membrane
        layers.append(result)
        current = out
    if on_layer is not None:
        on_layer(len(layers), len(layers))
    return SimResult(layers=layers, samples=batch.shape[0], timesteps=batch.shape[2])


def summary(network: Network, result: SimResult) -> dict:
    """Per-layer and total counts, as printed by ``ranvier run`` and written by ``--json``.

    ``spike_rate`` is spikes per neuron per time step, averaged over samples;
    ``spike_rate_hz`` assumes the file's time step ``Ts`` (milliseconds, default 1 ms). A
    graded layer's ``spikes`` are its messages (non-zero payloads, ``message_bits`` each).
    """
    ts_ms = float(network.meta.get("Ts", 1.0)) or 1.0
    n, t = result.samples, result.timesteps
    layers = []
    for block, layer in zip(network.blocks, result.layers, strict=True):
        spikes = int(layer.spike_counts.sum())
        rate = spikes / (n * block.neurons.n * t)
        layers.append(
            {
                "name": layer.name,
                "neurons": block.neurons.n,
                "shape": list(block.shape),
                "neuron_type": block.neurons.neuron_type,
                # 0: unary spikes; > 0: graded messages of that many payload bits
                "message_bits": int(block.neurons.message_bits),
                "spikes": spikes,
                "spike_rate": rate,
                "spike_rate_hz": rate * 1000.0 / ts_ms,
                "synaptic_events": int(layer.synaptic_events.sum()),
                "neuron_updates": int(layer.neuron_updates.sum()),
            }
        )
    totals = {
        key: sum(layer[key] for layer in layers)
        for key in ("spikes", "synaptic_events", "neuron_updates")
    }
    return {"samples": n, "timesteps": t, "ts_ms": ts_ms, "layers": layers, "totals": totals}


def save_membranes(path: str | os.PathLike, result: SimResult) -> Path:
    """Write ``layer_<i>`` membrane traces (int64 (C_l, T) or (N, C_l, T)) of the probed layers
    to an .npz atomically."""
    path = Path(path)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        **{
            f"layer_{i}": layer.membrane
            for i, layer in enumerate(result.layers)
            if layer.membrane is not None
        },
    )
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return path


def shaped(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A layer's ``(C, T)`` / ``(N, C, T)`` output in the layer's own shape: ``(*shape, T)`` /
    ``(N, *shape, T)`` (lava's array order)."""
    return values.reshape(*values.shape[:-2], *shape, values.shape[-1])


def save_spikes(path: str | os.PathLike, result: SimResult, network: Network | None = None) -> Path:
    """Write ``layer_0 … layer_{L-1}`` to an .npz atomically: uint8 spikes, int32 payloads of
    graded layers, each in its layer's shape (``(*shape, T)`` or ``(N, *shape, T)``) when the
    network is given, else flat ``(C_l, T)`` / ``(N, C_l, T)``."""
    path = Path(path)
    buf = io.BytesIO()
    arrays = {}
    for i, layer in enumerate(result.layers):
        values = layer.spikes if layer.spikes.dtype == np.int32 else layer.spikes.astype(np.uint8)
        if network is not None:
            values = shaped(values, network.blocks[i].shape)
        arrays[f"layer_{i}"] = values
    np.savez_compressed(buf, **arrays)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    return path
