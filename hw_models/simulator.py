"""Batched, integer-exact Loihi 2 simulator for :class:`~ranvier.hw_models.network.Network`.

Written for throughput: a layer's synaptic input is computed for every sample and every time
step at once (BLAS matrix products: in the frequency domain when the layer has several delay
values, else one product per delay value), then its neurons advance through time on whole
``(samples, neurons)`` arrays. Layers run one after the other, which is exact
because a feed-forward layer depends only on the spikes of the layer before.

The arithmetic is that of lava-nc 0.10.0's bit-accurate process models (see
``fixed_point.py`` and docs/fixed_point.md), including the one-step synaptic latency: a spike
sent at step t reaches the next layer at step ``t + 1 + delay``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .adlif import run_adlif
from .alif import run_alif
from .fixed_point import (
    DECAY_UNITY,
    scale_bias,
    scale_threshold,
    shift_activation,
    wrap_int32,
)
from .kernels import OverflowPasses, current_voltage_step, scaled_activation
from .network import CubaNeurons, DenseBlock, DenseSynapse, Network, Neurons

# float32 sums of integers are exact below 2**24; past that bound use float64 (exact < 2**53).
_FLOAT32_EXACT = 1 << 24


@dataclass
class LayerResult:
    """What one layer did: its spikes and its operation counters, per sample.

    ``spikes`` is ``(N, C, T)`` uint8; ``spike_counts`` ``(N, C)``; ``synaptic_events`` and
    ``neuron_updates`` are ``(N,)``. A layer's synaptic events are the operations its own
    synapses perform: every spike arriving from the layer before (or from the input) times that
    sender's non-zero fan-out into this layer, counted when the spike is sent.
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


def _input_per_delay(synapse: DenseSynapse, x_tm: np.ndarray, linear: bool) -> np.ndarray:
    """Exact per-delay-slot path: one matrix product per distinct delay value.

    ``x_tm`` is time-major ``(T, N, n_in)``. With ``linear`` the synapse values are integers
    and the slot sums need no rounding; otherwise each (step, slot) sum is shifted by
    ``weight_exp`` with lava's floor. Returns float64 holding integers.
    """
    t_steps, n, _ = x_tm.shape
    w = synapse.values.astype(np.int64) if linear else synapse.effective_weight
    bound = int(np.abs(w).sum(axis=1).max(initial=0))
    ftype = np.float32 if bound < _FLOAT32_EXACT else np.float64
    rows = x_tm.reshape(t_steps * n, -1).astype(ftype)
    out = np.zeros((t_steps, n, synapse.n_out))
    delays = np.zeros_like(w) if synapse.delay is None else synapse.delay
    for d in np.unique(delays[w != 0]) if w.any() else []:
        d = int(d)
        if d + 1 >= t_steps:
            continue  # nothing sent through this delay arrives inside the run
        w_d = np.where(delays == d, w, 0).astype(ftype)
        usable = t_steps - 1 - d  # steps whose spikes arrive in time
        acc = np.rint(rows[: usable * n] @ w_d.T)
        if not linear:
            acc = shift_activation(acc.astype(np.int64), synapse.weight_exp)
        out[1 + d :] += acc.reshape(usable, n, synapse.n_out)
    return out


def _input_dft(synapse: DenseSynapse, x_tm: np.ndarray, chunk: int = 128) -> np.ndarray | None:
    """All delays at once: the delayed sum as a convolution, computed in the frequency domain.

    ``a[t', j] = sum_i values[j, i] * x[i, t' - 1 - delay[j, i]]`` is a sum of one-tap
    convolutions. With the length L = T + max_delay + 1 there is no wrap-around; a real DFT
    of the input (a matrix product, since T is short), one complex product per frequency
    (as four real ones) and an inverse DFT replace one product per delay value. The true
    result is an integer of magnitude <= sum|values| * T; float64 rounding errors are of
    order 1e-16 * (T + n_in) * that bound (~1e-8 for SHD-size layers), so rounding to the
    nearest integer recovers it exactly. The residue is checked (< 1/8) on every element; on
    failure None is returned and the caller uses the exact per-delay path.
    Returns float64 holding integers, time-major ``(T, N, n_out)``.
    """
    t_steps, n, n_in = x_tm.shape
    values = synapse.values
    n_out = synapse.n_out
    delays = np.zeros(values.shape, dtype=np.int64) if synapse.delay is None else synapse.delay
    size = t_steps + int(delays.max(initial=0)) + 1
    freqs = np.arange(size // 2 + 1)
    n_f = freqs.size
    angle = (2 * np.pi / size) * np.outer(freqs, np.arange(t_steps))  # (F, T)
    forward = np.concatenate([np.cos(angle), -np.sin(angle)])  # x -> [Re X; Im X]
    weight = np.full(n_f, 2.0 / size)  # irfft weights: 1/L for f = 0 and f = L/2, else 2/L
    weight[0] = 1.0 / size
    if size % 2 == 0:
        weight[-1] = 1.0 / size
    inverse = np.concatenate([np.cos(angle).T * weight, -np.sin(angle).T * weight], axis=1)
    kernel = values.T[None] * np.exp(
        (-2j * np.pi / size) * freqs[:, None, None] * (1 + delays.T)[None]
    )  # (F, n_in, n_out)
    k_re, k_im = np.ascontiguousarray(kernel.real), np.ascontiguousarray(kernel.imag)
    del kernel
    out = np.empty((t_steps, n, n_out))
    for s0 in range(0, n, chunk):
        sub = x_tm[:, s0 : s0 + chunk]
        m = sub.shape[1]
        spec = (forward @ sub.reshape(t_steps, -1).astype(np.float64)).reshape(2 * n_f, m, n_in)
        x_re, x_im = spec[:n_f], spec[n_f:]
        prod = np.empty((2 * n_f, m, n_out))
        np.matmul(x_re, k_re, out=prod[:n_f])
        prod[:n_f] -= np.matmul(x_im, k_im)
        np.matmul(x_re, k_im, out=prod[n_f:])
        prod[n_f:] += np.matmul(x_im, k_re)
        y = (inverse @ prod.reshape(2 * n_f, -1)).reshape(t_steps, m, n_out)
        dest = out[:, s0 : s0 + m]
        np.rint(y, out=dest)
        y -= dest
        np.abs(y, out=y)
        if y.size and y.max() >= 0.125:
            return None
    return out


def synaptic_input(synapse: DenseSynapse, spikes: np.ndarray, method: str = "auto") -> np.ndarray:
    """Activation arriving at each neuron at each step, time-major ``(T, N, n_out)``.

    ``spikes`` is ``(N, n_in, T)`` binary (a transposed view of a time-major array is used
    without a copy). Spikes sent at step t through synapses of delay d are summed per (t, d),
    the sum is shifted by ``weight_exp`` (floor for negative exponents, as lava-nc shifts each
    step's accumulated sum), and the result arrives at ``t + 1 + d``. Sums wrap at 32 bits as
    the int32 buffer and port of lava's synapse do. The result is float64 holding integers
    (exact below 2**53), the form the neuron kernel consumes.

    When every synapse value ``effective_weight * 2**weight_exp`` is an integer (always so for
    weights read from netx files) the floor is exact and the map is linear; then ``method``
    ``auto`` uses the frequency-domain path for layers with several delay values and the
    per-delay path otherwise. ``per_delay`` and ``dft`` force a path (tests compare them).
    """
    x_tm = np.ascontiguousarray(spikes.transpose(2, 0, 1))
    linear = synapse.values_are_integers
    delays = synapse.delay
    several = delays is not None and np.unique(delays[synapse.effective_weight != 0]).size > 1
    use_dft = method == "dft" or (method == "auto" and several and x_tm.shape[0] > 1)
    out = _input_dft(synapse, x_tm) if linear and use_dft else None
    if out is None:
        out = _input_per_delay(synapse, x_tm, linear)
    if out.size and max(out.max(), -out.min()) >= 1 << 31:
        out = wrap_int32(out.astype(np.int64)).astype(np.float64)
    return out


def _state_bounds(neurons: CubaNeurons, activation: np.ndarray) -> tuple[float, float]:
    """Upper bounds on |u| and |v| over a run, from the input alone (decay only shrinks).

    With per-step input at most A and decay factor (4096 - d)/4096 (truncated toward zero),
    |u| <= A * 4096 / d, and never more than the sum of the inputs; likewise for v with u and
    the bias as its input. Used to skip the wrap and saturation passes when they cannot fire.
    """
    if activation.size:
        flat = activation.reshape(activation.shape[0], -1)
        per_step = np.maximum(flat.max(axis=1), -flat.min(axis=1))
    else:
        per_step = np.zeros(1)
    bound_u = float(per_step.sum())
    if neurons.i_decay.min() > 0:
        bound_u = min(bound_u, float(per_step.max()) * DECAY_UNITY / neurons.i_decay.min())
    drive = bound_u + float(np.abs(scale_bias(neurons.bias_mant, neurons.bias_exp)).max())
    bound_v = drive * activation.shape[0]
    if neurons.v_decay.min() > 0:
        bound_v = min(bound_v, drive * DECAY_UNITY / neurons.v_decay.min())
    return bound_u, bound_v


def run_cuba(
    neurons: CubaNeurons, a_in: np.ndarray, membrane_out: np.ndarray | None = None
) -> np.ndarray:
    """Advance CUBA neurons through time on activation ``a_in`` ``(T, N, C)``; spikes ``(T, N, C)``.

    ``a_in`` holds integers (int64, or float64 as :func:`synaptic_input` returns them).

    The order inside a step is lava-nc's PyLifModelBitAcc.run_spk: decay u, add ``a_in << 6``,
    wrap u to 24 bits; decay v, add u and the bias, saturate v; spike where v exceeds
    ``vth_mant << 6``; reset v of the neurons that spiked to 0.

    The arithmetic runs on float64 holding integers, which is exact here: states stay within
    int32 as in lava, sums below 2**33, products with a decay factor below 2**44, and
    ``x * (k / 4096)`` with integer k is the exact value ``x * k / 4096`` (a power-of-two
    division), so ``trunc`` gives the same
    rounding toward zero as :func:`fixed_point.decay`. tests/hw_models checks this kernel
    against the integer rules of ``fixed_point`` step by step.

    ``membrane_out`` (``(T, N, C)``, optional) receives v at the end of each step (after the
    reset), as lava's ``v`` Var holds it.
    """
    t_steps, n, c = a_in.shape
    activation = scaled_activation(a_in)
    u_factor = (DECAY_UNITY - neurons.i_decay) / DECAY_UNITY
    v_factor = (DECAY_UNITY - neurons.v_decay) / DECAY_UNITY
    bias = scale_bias(neurons.bias_mant, neurons.bias_exp).astype(np.float64)
    vth = scale_threshold(neurons.vth_mant).astype(np.float64)
    bound_u, bound_v = _state_bounds(neurons, activation)
    passes = OverflowPasses.from_bounds(bound_u, bound_v, float(np.abs(bias).max()))
    u = np.zeros((n, c))
    v = np.zeros((n, c))
    spikes = np.empty((t_steps, n, c), dtype=np.bool_)
    for t in range(t_steps):
        current_voltage_step(u, v, activation[t], u_factor, v_factor, bias, passes)
        fired = spikes[t]
        np.greater(v, vth, out=fired)
        v[fired] = 0.0
        if membrane_out is not None:
            membrane_out[t] = v
    return spikes.view(np.uint8)


def run_neurons(
    neurons: Neurons, a_in: np.ndarray, record: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Advance any neuron group on ``a_in`` ``(T, N, C)``: spikes ``(T, N, C)`` uint8, and with
    ``record`` its membrane state (``neurons.membrane``: v for CUBA/ALIF, u for ADLIF) at the
    end of every step, int64 ``(T, N, C)``; else None.
    """
    kernels = {"CUBA": run_cuba, "ALIF": run_alif, "ADLIF": run_adlif}
    try:
        kernel = kernels[neurons.kind]
    except KeyError:
        raise ValueError(f"no kernel for neuron type {neurons.kind!r}") from None
    membrane = np.empty(a_in.shape) if record else None
    spikes = kernel(neurons, a_in, membrane_out=membrane)
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
        a_in = synaptic_input(block.synapse, current)
        # (T, N, C) from the kernel, handed on as an (N, C, T) view: no copies between layers
        out_tm, membrane = run_neurons(block.neurons, a_in, record=index in probed)
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
    block: DenseBlock, in_spikes: np.ndarray, out_spikes: np.ndarray, single: bool = False
) -> LayerResult:
    """Counters of one layer from its input and output spikes, both ``(N, C, T)``.

    Used for every backend, so ranvier's and lava's runs are counted by the same rule.
    """
    n, _, t_steps = out_spikes.shape
    fan_out = block.synapse.fan_out()
    events = (in_spikes != 0).sum(axis=2, dtype=np.int64) @ fan_out
    return LayerResult(
        name=block.name,
        spikes=out_spikes[0] if single else out_spikes,
        spike_counts=out_spikes.sum(axis=2, dtype=np.int64),
        synaptic_events=np.asarray(events, dtype=np.int64),
        neuron_updates=np.full(n, block.neurons.n * t_steps, dtype=np.int64),
    )
