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
from itertools import pairwise

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


def as_layer_input(block: Block, spikes: np.ndarray) -> np.ndarray:
    """The network's input as the first block takes it: unary spikes for a synapse without
    message bits, the values themselves (int64) for graded input or an input layer's port."""
    if block.synapse.message_bits == 0:
        return as_binary_spikes(spikes)
    return np.asarray(spikes).astype(np.int64, copy=False)


def output_dtype(neurons: NeuronGroup) -> type:
    """How a layer's output is kept: uint8 spikes, or int32 payloads for graded spikes (lava's
    int32 ports)."""
    return np.int32 if neurons.message_bits else np.uint8


def reset_steps(reset: tuple[int, int] | None, index: int, t0: int, t1: int) -> list[int]:
    """The steps in ``t0..t1-1`` at whose start block ``index`` is reset, for netx's
    ``reset_interval``/``reset_offset`` ``(K, r)`` (None: never).

    netx gives its layer k the offset ``r + 1 + k`` (its input layer with neurons is layer 0;
    a flatten is no layer) and lava's ``LIFReset`` zeroes u and v at the start of a step whose
    ``time_step % K`` equals that offset mod K; lava counts steps from 1, ranvier's column t is
    time step t + 1 (lava-dl netx/hdf5.py ``_create``; lava-nc lif/models.py
    ``PyLifResetModelBitAcc``).
    """
    if reset is None:
        return []
    interval, offset = reset
    phase = (offset + index) % interval
    first = t0 + (phase - t0) % interval
    return list(range(first, t1, interval))


def run_neurons(
    neurons: NeuronGroup,
    a_in: np.ndarray,
    record: bool = False,
    feedback: Feedback | None = None,
    state: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Advance any neuron group on ``a_in`` ``(T, N, C)``: spikes ``(T, N, C)`` uint8, and with
    ``record`` its membrane state (``neurons.membrane``: v for CUBA/ALIF, u for ADLIF) at the
    end of every step, int64 ``(T, N, C)``; else None. ``feedback``: a recurrent synapse's
    ring buffer (``Synapse.feedback``); ``state``: the group's state carried between chunks.
    """
    membrane = np.empty(a_in.shape) if record else None
    spikes = neurons.run(a_in, membrane_out=membrane, feedback=feedback, state=state)
    return spikes, None if membrane is None else membrane.astype(np.int64)


def run_segments(
    neurons: NeuronGroup,
    a_in: np.ndarray,
    record: bool,
    feedback: Feedback | None,
    state: dict[str, np.ndarray],
    resets: Sequence[int] = (),
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`run_neurons` on ``a_in`` ``(K, N, C)``, with the group's state zeroed at the start
    of each step in ``resets`` (chunk-relative; netx's reset interval)."""
    if not resets:
        return run_neurons(neurons, a_in, record=record, feedback=feedback, state=state)
    bounds = sorted({0, *resets, a_in.shape[0]})
    spikes, membranes = [], []
    for s0, s1 in pairwise(bounds):
        if s0 in resets:
            state.clear()
        out, mem = run_neurons(neurons, a_in[s0:s1], record=record, feedback=feedback, state=state)
        spikes.append(out)
        membranes.append(mem)
    joined = np.concatenate(spikes) if len(spikes) > 1 else spikes[0]
    return joined, np.concatenate(membranes) if record else None


#: Working-memory budgets of a chunk: the synaptic input of one layer (float64 ``(K, N, n)``)
#: and a synapse's frequency-domain kernel (``(F, n_in, n_out)`` complex, F ~ K / 2).
INPUT_BUDGET_BYTES = 256 << 20
KERNEL_BUDGET_BYTES = 64 << 20
#: Chunks are never shorter than this (unless the run is), nor longer than MAX_CHUNK_STEPS.
MIN_CHUNK_STEPS = 32
MAX_CHUNK_STEPS = 1024
#: A run whose input and kernels fit this many budgets is simulated in one piece.
ONE_PIECE_FACTOR = 4


def chunk_steps(network: Network, samples: int, t_steps: int) -> int:
    """Steps per chunk for a run of ``samples`` x ``t_steps``.

    The whole run in one piece when its largest layer input (float64 ``(T, N, n)``) fits in
    ``ONE_PIECE_FACTOR`` x :data:`INPUT_BUDGET_BYTES` and its frequency-domain kernels in as
    many :data:`KERNEL_BUDGET_BYTES` (the fastest path, and every ordinary batch run).
    Otherwise chunks as long as the budgets allow, within ``MIN_CHUNK_STEPS..MAX_CHUNK_STEPS``
    (the minimum wins over the budgets for very wide layers or huge batches), balanced so that
    no chunk is mostly padding. Memory then depends on the chunk, not on T.
    """
    widest = max([network.n_in, *network.layer_sizes])
    per_step = 8 * max(samples, 1) * widest  # one layer's float64 input, one step
    parts = [part for block in network.blocks for part in block.synapse.parts]

    def steps_within(factor: int) -> int:
        """The longest chunk whose input and kernels fit ``factor`` budgets."""
        k = factor * INPUT_BUDGET_BYTES // per_step
        for part in parts:
            per_frequency = 16 * part.n_in * part.n_out  # complex kernel, one frequency
            window = 2 * factor * KERNEL_BUDGET_BYTES // max(per_frequency, 1)
            k = min(k, window - 2 * (part.max_delay + 1))  # DFT length k + 2 (max_delay + 1)
        return k

    if steps_within(ONE_PIECE_FACTOR) >= t_steps:
        return max(1, t_steps)
    k = int(np.clip(steps_within(1), MIN_CHUNK_STEPS, MAX_CHUNK_STEPS))
    pieces = -(-t_steps // k)
    return max(1, -(-t_steps // pieces))


def simulate(
    network: Network,
    spikes: np.ndarray,
    on_layer: Callable[[int, int], None] | None = None,
    record: Sequence[int] | None = None,
    chunk: int | None = None,
    keep_spikes: bool = True,
    reset: tuple[int, int] | None = None,
) -> SimResult:
    """Run ``network`` on input spikes ``(N, C, T)`` (or ``(C, T)``); every layer's spikes.

    The returned spikes keep the input's rank: ``(N, C_l, T)`` for a batch, ``(C_l, T)`` for a
    single sample. Counters are per sample either way. ``on_layer(done, total)`` is called
    after each layer of each chunk (for progress bars). ``record`` lists layer indices
    (negative ones count from the end) whose membrane state is probed every step into
    ``LayerResult.membrane``.

    Long runs go in chunks of ``chunk`` steps (default :func:`chunk_steps`), all layers one
    chunk at a time, carrying each synapse's delay line (:meth:`Synapse.input_stream`), each
    neuron group's state and each recurrent synapse's ring buffer from one chunk to the next:
    the result is exactly the run in one piece, and the working memory depends on the chunk,
    not on T (the returned spikes, one byte per neuron and step, and probed membranes do).
    With ``keep_spikes=False`` only the counters are kept (``LayerResult.spikes`` is empty,
    ``(N, C, 0)``): a run of any length in memory bounded by the chunk, besides the input.

    Graded layers (sigma-delta) give int32 payloads instead of uint8 spikes; their counters
    count the non-zero messages. ``reset`` = ``(interval, offset)`` zeroes the state of the
    layers netx resets (``NeuronGroup.NETX_RESET``) every ``interval`` steps, pipelined one
    step per layer as netx's ``reset_interval``/``reset_offset`` do (:func:`reset_steps`).
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
    k = chunk_steps(network, n, t_steps) if chunk is None else max(1, int(chunk))
    probed = layer_indices(record, len(network.blocks))
    blocks = network.blocks
    streams = [block.synapse.input_stream(k if k < t_steps else None) for block in blocks]
    feedbacks = [block.synapse.feedback(n, t_steps) for block in blocks]
    states: list[dict[str, np.ndarray]] = [{} for _ in blocks]
    kept = t_steps if keep_spikes else 0
    if reset is not None:
        interval, _ = reset
        if int(interval) < 1:
            raise ValueError(f"reset interval must be >= 1, got {interval}")
        for block in blocks:
            if block.neurons.NETX_RESET is None:
                raise ValueError(
                    f"{block.name}: {block.neurons.neuron_type} neurons have no reset in netx "
                    "(lava-dl resets CUBA layers only)"
                )
    outs = [np.zeros((n, block.neurons.n, kept), output_dtype(block.neurons)) for block in blocks]
    out_counts = [np.zeros((n, block.neurons.n), np.int64) for block in blocks]
    membranes = {i: np.zeros((n, blocks[i].neurons.n, t_steps), np.int64) for i in probed}
    in_counts = [np.zeros((n, block.synapse.n_in), np.int64) for block in blocks]
    chunks = range(0, t_steps, k)
    done = 0
    for t0 in chunks:
        t1 = min(t0 + k, t_steps)
        current = as_layer_input(blocks[0], x[:, :, t0:t1]) if blocks else x[:, :, t0:t1]
        for index, block in enumerate(blocks):
            in_counts[index] += np.count_nonzero(current, axis=2)
            a_in = streams[index](current)
            resets = reset_steps(reset, index, t0, t1) if block.neurons.NETX_RESET else []
            out_tm, membrane = run_segments(
                block.neurons,
                a_in,
                record=index in membranes,
                feedback=feedbacks[index],
                state=states[index],
                resets=[r - t0 for r in resets],
            )
            current = out_tm.transpose(1, 2, 0)  # (N, C, K) view
            out_counts[index] += np.count_nonzero(current, axis=2)
            if keep_spikes:
                outs[index][:, :, t0:t1] = current
            if membrane is not None:
                membranes[index][:, :, t0:t1] = membrane.transpose(1, 2, 0)
            done += 1
            if on_layer is not None:
                on_layer(done, len(chunks) * len(blocks))
    layers = []
    for index, block in enumerate(blocks):
        out = outs[index]
        result = layer_counters(block, in_counts[index], out_counts[index], t_steps)
        result.spikes = out[0] if single else out
        if index in membranes:
            result.membrane = membranes[index][0] if single else membranes[index]
        layers.append(result)
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

    Used for every backend, so ranvier's and lava's runs are counted by the same rule
    (:func:`layer_counters`).
    """
    result = layer_counters(
        block,
        np.count_nonzero(in_spikes, axis=2),
        np.count_nonzero(out_spikes, axis=2),
        out_spikes.shape[2],
    )
    result.spikes = out_spikes[0] if single else out_spikes
    return result


def layer_counters(
    block: Block, in_counts: np.ndarray, out_counts: np.ndarray, t_steps: int
) -> LayerResult:
    """A layer's counters from its spike counts per sample, input ``(N, C_in)`` and output
    ``(N, C)`` (the result's ``spikes`` is left empty for the caller). Synaptic events: each
    input spike times its sender's fan-out; a recurrent layer's own spikes times its
    recurrent fan-out."""
    n = out_counts.shape[0]
    events = in_counts @ block.synapse.fan_out()
    recurrent = block.synapse.recurrent_fan_out()
    if recurrent is not None:
        events = events + out_counts @ recurrent
    return LayerResult(
        name=block.name,
        spikes=np.zeros((n, block.neurons.n, 0), np.uint8),
        spike_counts=out_counts,
        synaptic_events=np.asarray(events, dtype=np.int64),
        neuron_updates=np.full(n, block.neurons.n * t_steps, dtype=np.int64),
    )
