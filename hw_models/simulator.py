"""Batched, integer-exact Loihi 2 simulator for :class:`~ranvier.hw_models.network.Network`.

Written for throughput: a layer's synaptic input is computed for every sample and every time
step at once (the synapse class's ``synaptic_input``), then its neurons advance through time
on whole ``(samples, neurons)`` arrays (the neuron unit's kernel). Layers run one after the
other, which is exact because a layer's feed-forward input depends only on the spikes of the
layer before. A recurrent layer's own spikes come back to it through its synapse's
``feedback`` (a ring buffer the kernel reads and feeds step by step).

The arithmetic is that of lava-nc 0.10.0's bit-accurate process models (see
``fixed_point.py`` and docs/fixed_point.md), including the one-step synaptic latency: a spike
sent at step t reaches the next layer at step ``t + 1 + delay``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .network import Block, Network
from .neurons import NeuronGroup
from .synapses import Feedback


@dataclass
class LayerResult:
    """What one layer did: its spikes and its operation counters, per sample.

    ``spikes`` is ``(N, C, T)`` uint8; ``spike_counts`` ``(N, C)``; ``synaptic_events`` and
    ``neuron_updates`` are ``(N,)``. A layer's synaptic events are the operations its own
    synapses perform: every spike arriving from the layer before (or from the input) times that
    sender's non-zero fan-out into this layer, and for a recurrent layer every one of its own
    spikes times its recurrent fan-out, counted when the spike is sent.
    """

    name: str
    spikes: np.ndarray
    spike_counts: np.ndarray
    synaptic_events: np.ndarray
    neuron_updates: np.ndarray
    #: probed membrane state, int64 ``(N, C, T)`` (``(C, T)`` for one sample), or None
    membrane: np.ndarray | None = None


@dataclass
class SimResult:
    """Per-layer results of one :func:`simulate` call."""

    layers: list[LayerResult]
    samples: int
    timesteps: int


def as_binary_spikes(spikes: np.ndarray) -> np.ndarray:
    """Input as lava's unary-spike synapse sees it: any non-zero value is one spike."""
    return (np.asarray(spikes) != 0).astype(np.uint8)


def run_neurons(
    neurons: NeuronGroup,
    a_in: np.ndarray,
    record: bool = False,
    feedback: Feedback | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Advance any neuron group on ``a_in`` ``(T, N, C)``: spikes ``(T, N, C)`` uint8, and with
    ``record`` its membrane state (``neurons.membrane``: v for CUBA/ALIF, u for ADLIF) at the
    end of every step, int64 ``(T, N, C)``; else None. ``feedback``: a recurrent synapse's
    ring buffer (``Synapse.feedback``).
    """
    membrane = np.empty(a_in.shape) if record else None
    spikes = neurons.run(a_in, membrane_out=membrane, feedback=feedback)
    return spikes, None if membrane is None else membrane.astype(np.int64)


def simulate(
    network: Network,
    spikes: np.ndarray,
    on_layer: Callable[[int, int], None] | None = None,
    record: Sequence[int] | None = None,
) -> SimResult:
    """Run ``network`` on input spikes ``(N, C, T)`` (or ``(C, T)``); every layer's spikes.

    The returned spikes keep the input's rank: ``(N, C_l, T)`` for a batch, ``(C_l, T)`` for a
    single sample. Counters are per sample either way. ``on_layer(done, total)`` is called
    after each layer (for progress bars). ``record`` lists layer indices (negative ones count
    from the end) whose membrane state is probed every step into ``LayerResult.membrane``.
    """
    x = np.asarray(spikes)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"input spikes must be (C, T) or (N, C, T), got shape {x.shape}")
    if x.shape[1] != network.n_in:
        raise ValueError(f"input has {x.shape[1]} channels, the network expects {network.n_in}")
    n, _, t_steps = x.shape
    current = as_binary_spikes(x)
    probed = layer_indices(record, len(network.blocks))
    layers: list[LayerResult] = []
    for index, block in enumerate(network.blocks):
        a_in = block.synapse.synaptic_input(current)
        feedback = block.synapse.feedback(n, t_steps)
        # (T, N, C) from the kernel, handed on as an (N, C, T) view: no copies between layers
        out_tm, membrane = run_neurons(
            block.neurons, a_in, record=index in probed, feedback=feedback
        )
        out = out_tm.transpose(1, 2, 0)
        result = layer_result(block, current, out, single)
        if membrane is not None:
            membrane = np.ascontiguousarray(membrane.transpose(1, 2, 0))
            result.membrane = membrane[0] if single else membrane
        layers.append(result)
        current = out
        if on_layer is not None:
            on_layer(len(layers), len(network.blocks))
    return SimResult(layers=layers, samples=n, timesteps=t_steps)


def layer_indices(record: Sequence[int] | None, n_layers: int) -> list[int]:
    """Probe indices normalised (negative from the end), sorted, without repeats.

    ValueError naming the index when one is out of range. Shared by every backend.
    """
    out = set()
    for i in record or ():
        if not -n_layers <= int(i) < n_layers:
            raise ValueError(f"no layer {i} to record: the network has {n_layers} layers")
        out.add(int(i) % n_layers)
    return sorted(out)


def layer_result(
    block: Block, in_spikes: np.ndarray, out_spikes: np.ndarray, single: bool = False
) -> LayerResult:
    """Counters of one layer from its input and output spikes, both ``(N, C, T)``.

    Used for every backend, so ranvier's and lava's runs are counted by the same rule. A
    recurrent layer's synaptic events include its recurrent synapses': each of its own spikes
    times that neuron's recurrent fan-out.
    """
    n, _, t_steps = out_spikes.shape
    fan_out = block.synapse.fan_out()
    events = (in_spikes != 0).sum(axis=2, dtype=np.int64) @ fan_out
    recurrent = block.synapse.recurrent_fan_out()
    if recurrent is not None:
        events = events + out_spikes.sum(axis=2, dtype=np.int64) @ recurrent
    return LayerResult(
        name=block.name,
        spikes=out_spikes[0] if single else out_spikes,
        spike_counts=out_spikes.sum(axis=2, dtype=np.int64),
        synaptic_events=np.asarray(events, dtype=np.int64),
        neuron_updates=np.full(n, block.neurons.n * t_steps, dtype=np.int64),
    )
