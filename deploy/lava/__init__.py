"""The lava reference backend: run a netx HDF5 network under Intel's lava-nc / lava-dl.

The "golden" side of ranvier's bit-accuracy checks: netx builds the network, a
``RingBuffer`` source drives the first layer, a sink reads every layer, and everything runs
under ``Loihi2SimCfg(select_tag='fixed_pt')``. docs/lava_backend.md has the measured facts
the code relies on: time alignment, neuron types, membrane probes, reuse and robustness.

Modules: ``neurons`` (the IR -> lava parameter mapping, one entry per neuron type),
``netx_patch`` (netx's ``get_neuron_params`` taught those types), ``runtime`` (the lazy
lava import, the run configuration, the watched run, the teardown), ``samples`` (wiring one
network, the reuse policy), ``adlif_process`` (the AdLIF+ lava process; imports lava).

Only this package imports lava, and only inside functions: it imports without lava.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .neurons import LAVA_NEURONS, LavaNeuron, lava_kwargs, lava_neuron
from .runtime import (
    LOCK,
    fixed_pt_run_cfg,
    import_lava,
    lava_available,
    registry_mark,
    registry_prune,
    shutdown,
    wait_for_run,
)
from .samples import Built, as_spike_array, run_samples

__all__ = [
    "LAVA_NEURONS",
    "LavaNeuron",
    "fixed_pt_run_cfg",
    "import_lava",
    "lava_available",
    "lava_kwargs",
    "lava_neuron",
    "run_lava",
    "shutdown",
    "wait_for_run",
]


def run_lava(
    net_path: str | os.PathLike,
    spikes: np.ndarray,
    *,
    reuse: bool | None = None,
    timeout: float | None = None,
    membrane_layers: Sequence[int] | None = None,
    reset: tuple[int, int] | None = None,
) -> list[np.ndarray] | tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Run a netx HDF5 file under lava-dl netx + lava-nc
    ``Loihi2SimCfg(select_tag='fixed_pt')``, fed by
    ``lava.proc.io.source.RingBuffer`` and read by
    ``lava.proc.io.sink.RingBuffer`` on EVERY layer.

    Dense layers may use CUBA/LOIHI (lava-nc ``LIF``), ALIF (lava-nc ``ATRLIF``)
    or ADLIF (:class:`ranvier.deploy.lava.adlif_process.AdLIFPlus`) neurons.

    spikes: (C, T) or (N, C, T) ints, C the input's channels flattened in lava's array
    order (an image input layer's (W, H, C) with C fastest); non-negative unless the first
    layer is an input layer with neurons, whose ``a_in`` takes signed graded values.
    Returns one array per netx layer (``net.layers``), each (N, C_l, T) ((C_l, T) when the
    input was 2-D): uint8 spikes, or int32 payloads for a graded layer.
    ``reset``: netx's ``(reset_interval, reset_offset)``.  Column t of an output holds what
    that layer emitted on the lava time step at which the source sent input column t (so a
    layer-0 spike caused by an input spike in column t lands in column t + 1 + delay).

    Every sample starts from a zero-state network.  ``reuse``: None (auto)
    shares one runtime between samples when that is exact and cheaper;
    False forces a fresh network per sample; True requests sharing whenever
    the network is eligible (dense + LIF or AdLIFPlus layers).  ``timeout``:
    optional wall-clock limit in seconds for each lava run (one sample); a dead
    lava worker or an overrun raises instead of hanging, and the runtime is torn
    down.

    ``membrane_layers``: layer indices (negative ones count from the end) whose
    membrane state is probed every step.  When given (even empty), the return
    value is ``(spikes, membranes)`` with ``membranes[i]`` an int64 array shaped
    like layer i's spikes: column t holds the state at the END of the step whose
    spikes are in column t -- ``v`` after the reset of neurons that spiked (LIF),
    ``v`` (ATRLIF), ``u`` (AdLIFPlus; its reset happens in the next step).
    """
    path = os.fspath(net_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    arr, squeeze = as_spike_array(spikes, signed=True)
    n_samples, _, num_steps = arr.shape

    with LOCK:
        lava = import_lava()
        mark = registry_mark()
        try:
            if n_samples == 0:
                built = Built(lava, path, np.zeros((arr.shape[1], 1), np.int32), 1, membrane_layers)
                built.close()
                sizes, probed = built.layer_sizes(), built.probed
                outs = [np.zeros((0, c, num_steps), np.uint8) for c in sizes]
                mems = {i: np.zeros((0, sizes[i], num_steps), np.int64) for i in probed}
            else:
                outs, mems = run_samples(lava, path, arr, reuse, timeout, membrane_layers, reset)
        finally:
            registry_prune(mark)
    if squeeze:
        outs = [o[0] for o in outs]
        mems = {i: m[0] for i, m in mems.items()}
    if membrane_layers is None:
        return outs
    return outs, mems
