"""Samples through lava: the input check, one wired network (:class:`Built`) and the policy
that runs many samples on one runtime or on fresh networks (:func:`run_samples`).

docs/lava_backend.md explains the time alignment of sources, sinks and probes ("Time
alignment", "Membrane probes") and when a runtime is reused ("Reuse across samples").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ranvier.hw_models.simulator import layer_indices

from .netx_patch import NetxNeuronTypes
from .neurons import NETX_BUILT, process_entry
from .runtime import close_netx_file, fixed_pt_run_cfg, shutdown, wait_for_run

# ~cost of one element through Var.set / Var.get (measured 34-42 us) and of a
# fresh build + compile + runtime init + stop (measured 0.5-0.9 s, 2-core host).
SET_COST_S = 40e-6
FRESH_COST_S = 0.6
# Samples per runtime in reuse mode (bounds the source buffer size and limits
# the blast radius of a failure).
MAX_SAMPLES_PER_RUNTIME = 256


def as_spike_array(spikes, signed: bool = False) -> tuple[np.ndarray, bool]:
    """``spikes`` as an int64 ``(N, C, T)`` array and whether it was ``(C, T)``; TypeError or
    ValueError for anything a source RingBuffer cannot send (negative values unless
    ``signed``: graded input to an input layer's neurons)."""
    arr = np.asarray(spikes)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64, copy=False)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError("spikes must hold integers; got non-integral floating-point values")
        arr = arr.astype(np.int64)
    else:
        raise TypeError(f"spikes must be an integer array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        squeeze = True
        arr = arr[None]
    elif arr.ndim == 3:
        squeeze = False
    else:
        raise ValueError(f"spikes must be (C, T) or (N, C, T); got shape {arr.shape}")
    if arr.shape[2] < 1:
        raise ValueError("spikes must have at least one time step")
    if arr.size and arr.min() < 0 and not signed:
        raise ValueError("spikes must be non-negative")
    info = np.iinfo(np.int32)
    if arr.size and (arr.max() > info.max or arr.min() < info.min):
        raise ValueError("spike values must fit in int32 (source is int32)")
    return arr, squeeze


class Built:
    """One netx network wired to a source and per-layer sinks."""

    def __init__(
        self,
        lava,
        net_path: str,
        data: np.ndarray,
        buffer: int,
        membrane_layers: Sequence[int] | None = None,
        reset: tuple[int, int] | None = None,
    ):
        self.lava = lava
        kwargs = {}
        if reset is not None:
            kwargs = {"reset_interval": int(reset[0]), "reset_offset": int(reset[1])}
        with NetxNeuronTypes(lava), lava.RecurrentLayers(lava):
            self.net = lava.Network(net_config=net_path, **kwargs)
        # netx's NetDict opens the file with h5py and never closes it; every
        # parameter has been copied into the processes by now, so close it
        # (otherwise each call leaks a handle and the path cannot be
        # rewritten by h5py in this process).
        close_netx_file(self.net)
        self.layers = list(self.net.layers)
        if not self.layers:
            raise ValueError(f"{net_path}: netx produced no layers")
        first = self.layers[0]
        if type(first) is lava.NetxInput:
            # netx's Input block never connects its InPort to its neuron
            # (lava/lib/dl/netx/blocks/process.py, Input); Intel's tests and tutorials
            # drive the neurons' a_in directly (test_hdf5.py test_pilotnet_sdnn,
            # pilotnet_snn/run.ipynb), and so does this backend.
            target = first.neuron.a_in
        else:
            target = first.inp
        inp_shape = tuple(target.shape)
        n_in = int(np.prod(inp_shape))
        if data.shape[0] != n_in:
            raise ValueError(
                f"{net_path}: network expects {n_in} input channels {inp_shape}, "
                f"spikes have {data.shape[0]}"
            )
        # ranvier's flat channel order is lava's array order flattened (C fastest)
        shaped = data.astype(np.int32).reshape(*inp_shape, data.shape[-1])
        self.source = lava.Source(data=shaped)
        self.source.s_out.connect(target)
        self.sinks = []
        for layer in self.layers:
            sink = lava.Sink(shape=tuple(layer.out.shape), buffer=buffer)
            layer.out.connect(sink.a_in)
            self.sinks.append(sink)
        # Membrane probes: lava's own Var reader (lava/proc/io/sink.py:73-137, fixed_pt model
        # PyReadFixed, int32). It reads the Var through a RefPort in the post-management phase
        # of every step, i.e. after the neuron's run_spk of that step (spike, reset) has run,
        # into column ``counter % buffer``; counter counts the steps from 0, the same column
        # as the sinks' ``(time_step - 1) % buffer``.
        self.probed = layer_indices(membrane_layers, len(self.layers))
        self.probes: dict[int, object] = {}
        for index in self.probed:
            reader = lava.VarReader(buffer=buffer)
            reader.connect_var(self._membrane_var(index))
            self.probes[index] = reader
        self.cfg = fixed_pt_run_cfg(
            self.layers + [getattr(layer, "neuron", None) for layer in self.layers]
        )
        self.started = False

    def layer_sizes(self) -> list[int]:
        return [int(np.prod(layer.out.shape)) for layer in self.layers]

    def _membrane_var(self, index: int):
        """The Var holding layer ``index``'s membrane: v (LIF, ATRLIF) or u (AdLIFPlus)."""
        neuron = getattr(self.layers[index], "neuron", None)
        entry = process_entry(self.lava, neuron)
        if entry is not None:
            return getattr(neuron, entry.membrane)
        unit = NETX_BUILT.get(type(neuron).__name__)
        if unit is not None:  # a type netx builds itself: the unit names the Var
            return getattr(neuron, unit.membrane)
        raise ValueError(
            f"layer {index}: cannot probe the membrane of a {type(neuron).__name__} neuron"
        )

    def state_vars(self):
        """Vars to zero between samples (each synapse's a_buff, a recurrent layer's two, and its
        neuron process's ``LavaNeuron.state``: u, v for LIF; u, w, s for AdLIFPlus), or None if
        the network
        contains a process whose full state is not known to be zero-initialised and held in
        such Vars (ATRLIF, anything netx-native but LIF): it gets a fresh network."""
        lava = self.lava
        out = []
        for layer in self.layers:
            if type(layer) is lava.NetxDense:
                synapses = [getattr(layer, "synapse", None)]
            elif type(layer) is lava.RecurrentDelayDense:
                synapses = [layer.synapse, layer.synapse_rec]
            else:
                return None
            neu = getattr(layer, "neuron", None)
            if any(type(syn) not in (lava.Dense, lava.DelayDense) for syn in synapses):
                return None
            entry = process_entry(lava, neu)
            if entry is None or entry.state is None:
                return None
            out += [syn.a_buff for syn in synapses]
            out += [getattr(neu, name) for name in entry.state]
        return out

    def run(self, steps: int, timeout: float | None = None) -> None:
        """Run ``steps`` lava time steps and return when they are done.

        lava deadlocks when a ProcessModel raises (the runtime service keeps
        waiting for the other models, which wait for the dead one), so the run
        is started non-blocking and watched: a worker that exits mid-run, an
        ERROR reply or the optional timeout raise instead of hanging.
        """
        if self.net.runtime is None:
            self.net.create_runtime(run_cfg=self.cfg)
        runtime = self.net.runtime
        self.started = True
        runtime.start(self.lava.RunSteps(num_steps=steps, blocking=False))
        wait_for_run(runtime, timeout)

    def read(self, num_steps: int) -> list[np.ndarray]:
        """Sink contents as (C_l, num_steps) arrays: uint8 spikes, or int32 payloads for a
        layer with graded output (``output_message_bits`` > 0)."""
        outs = []
        for layer, sink in zip(self.layers, self.sinks, strict=True):
            data = np.asarray(sink.data.get())
            data = data.reshape(-1, data.shape[-1])
            if data.shape[-1] != num_steps:
                raise RuntimeError("sink buffer length mismatch")
            if data.size and np.any(data != np.round(data)):
                raise RuntimeError("non-integral values in a sink")
            if getattr(layer, "output_message_bits", 0):
                outs.append(data.astype(np.int32))
                continue
            if data.size and (data.min() < 0 or data.max() > 1):
                raise RuntimeError(
                    f"unexpected non-binary spike values in sink: [{data.min()}, {data.max()}]"
                )
            outs.append(data.astype(np.uint8))
        return outs

    def read_membranes(self, num_steps: int) -> dict[int, np.ndarray]:
        """Probe contents as (C_l, num_steps) int64 arrays, by layer index."""
        out = {}
        for index, reader in self.probes.items():
            data = np.asarray(reader.data.get())
            data = data.reshape(-1, data.shape[-1])
            if data.shape[-1] != num_steps:
                raise RuntimeError("membrane probe buffer length mismatch")
            values = data.astype(np.int64)
            if np.any(values != data):
                raise RuntimeError(f"layer {index}: non-integral membrane values")
            out[index] = values
        return out

    def close(self) -> None:
        shutdown(self.net)


def run_samples(
    lava,
    path: str,
    arr: np.ndarray,
    reuse: bool | None,
    timeout: float | None,
    membrane_layers: Sequence[int] | None = None,
    reset: tuple[int, int] | None = None,
) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Run the ``(N, C, T)`` samples of ``arr`` (N >= 1), each from a zero-state network:
    groups of up to :data:`MAX_SAMPLES_PER_RUNTIME` share one runtime when ``reuse`` allows
    it, the network is eligible and zeroing its state is cheaper than a rebuild (``reuse``
    None), else every sample gets a fresh network. Per layer ``(N, C_l, T)`` spikes, and the
    probed membranes by layer index."""
    n_samples, _, num_steps = arr.shape
    results: list[list[np.ndarray]] = []  # per sample, per layer
    membranes: list[dict[int, np.ndarray]] = []  # per sample, by layer
    probed: list[int] = []
    i = 0
    while i < n_samples:
        group = 1 if reuse is False else min(n_samples - i, MAX_SAMPLES_PER_RUNTIME)
        chunk = arr[i : i + group]
        # The samples of the group back to back on the source's time axis;
        # sample k occupies lava steps k*T+1 .. (k+1)*T.
        data = np.concatenate(list(chunk), axis=1) if group > 1 else chunk[0]
        built = Built(lava, path, data, num_steps, membrane_layers, reset)
        probed = built.probed
        try:
            state = built.state_vars()
            share = group > 1 and state is not None
            if share and reuse is None:
                n_elems = sum(int(np.prod(v.shape)) for v in state)
                share = n_elems * SET_COST_S < FRESH_COST_S
            n_run = group if share else 1
            for k in range(n_run):
                if k:
                    for var in state:
                        var.set(np.zeros(var.shape, dtype=np.int32))
                built.run(num_steps, timeout)
                results.append(built.read(num_steps))
                membranes.append(built.read_membranes(num_steps))
        finally:
            built.close()
        if group > 1 and not share:
            reuse = False  # not eligible / not worth it: fresh per sample
        i += n_run
    n_layers = len(results[0])
    outs = [np.stack([r[j] for r in results]) for j in range(n_layers)]
    mems = {j: np.stack([m[j] for m in membranes]) for j in probed}
    return outs, mems
