"""Random netx files for tests, the equivalence sweep, benchmarks and the shipped example.

Files are written at the netx level (raw weight, delay and neuron fields, as SLAYER or a
hand-written exporter would write them), so every code path of the netx reader is exercised:
weight styles that give each sign mode and weight exponent, every delay layout, decays that
let currents wrap and thresholds that let voltages saturate.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import replace

import numpy as np
from ranvier.convert.netx_hdf5 import LayerSpec, NetSpec, write_spec
from ranvier.hw_models.fixed_point import MAX_DELAY, VTH_MANT_MAX

__all__ = [
    "LayerSpec",
    "NetSpec",
    "random_adaptive_case",
    "random_adaptive_spec",
    "random_case",
    "random_recurrent_case",
    "random_spec",
    "random_spikes",
    "shd_like_spec",
    "shd_recurrent_spec",
    "write_spec",
]

WEIGHT_STYLES = ("slayer", "small", "excitatory", "inhibitory", "sparse", "odd")
DELAY_LAYOUTS = ("none", "scalar", "per_output", "per_input", "per_synapse")


def _weights(rng: np.random.Generator, shape: tuple[int, int], style: str) -> np.ndarray:
    if style == "slayer":  # SLAYER's 8-bit MIXED quantisation: even steps in [-256, 254]
        w = 2 * rng.integers(-128, 128, size=shape)
    elif style == "small":  # needs a negative weight exponent after netx's rescaling
        k = int(rng.integers(1, 9))
        w = rng.integers(-k, k + 1, size=shape)
    elif style == "excitatory":
        w = rng.integers(0, 256, size=shape)
    elif style == "inhibitory":
        w = -rng.integers(0, 257, size=shape)
    elif style == "odd":  # odd MIXED weights lose their last bit in the synapse
        w = 2 * rng.integers(-128, 127, size=shape) + 1
    else:  # sparse
        w = 2 * rng.integers(-128, 128, size=shape)
        w[rng.random(shape) < 0.7] = 0
    if not np.any(w):
        w.flat[0] = 2
    return w.astype(np.int64)


def _delay(rng: np.random.Generator, shape: tuple[int, int], layout: str, max_delay: int):
    if layout == "none":
        return None
    if layout == "scalar":
        return int(rng.integers(0, max_delay + 1))
    if layout == "per_output":
        return rng.integers(0, max_delay + 1, size=shape[0])
    if layout == "per_input":
        return rng.integers(0, max_delay + 1, size=shape[1])
    return rng.integers(0, max_delay + 1, size=shape)


def random_spec(
    rng: np.random.Generator,
    *,
    n_in: int | None = None,
    sizes: list[int] | None = None,
    weight_style: str | None = None,
    delay_layout: str | None = None,
    max_delay: int | None = None,
    regime: str | None = None,
    calibrate: np.ndarray | None = None,
) -> NetSpec:
    """Draw a random network. ``regime`` picks the dynamics stressed:

    ``normal`` (moderate activity), ``wrap`` (no current decay and strong input, so u wraps
    around 2**23), ``saturate`` (no voltage decay, thresholds near the 17-bit top, so v
    saturates), ``bias`` (large positive/negative biases), ``huge`` (fan-in > 1024 at full
    weight and biases beyond 16 bits: the int32 and int16 wrap-arounds inside lava).

    With ``calibrate`` (input spikes ``(N, C, T)``), the thresholds of ``normal``, ``bias``
    and ``wrap`` layers are set by bisection on the simulator so that each layer fires at a
    random rate in 2..30% on that input: a sweep of silent layers would test nothing.
    """
    regime = regime or str(rng.choice(["normal", "normal", "wrap", "saturate", "bias"]))
    if regime == "huge":  # fan-in above 1024 at full weight: inputs beyond 2**18 per step
        n_in = n_in or int(rng.integers(1100, 1400))
        sizes = sizes or [int(rng.integers(1, 5))]
    n_in = int(rng.integers(1, 33)) if n_in is None else n_in
    if sizes is None:
        sizes = [int(rng.integers(1, 25)) for _ in range(int(rng.integers(1, 4)))]
    spec = NetSpec(n_in=n_in, input_layer=bool(rng.random() < 0.7))
    width = n_in
    for n in sizes:
        shape = (n, width)
        style = weight_style or str(rng.choice(WEIGHT_STYLES))
        w = _weights(rng, shape, style)
        md = int(rng.choice([0, 2, 7, 25, MAX_DELAY])) if max_delay is None else max_delay
        layout = delay_layout or str(rng.choice(DELAY_LAYOUTS))
        i_decay = int(rng.choice([0, 1, int(rng.integers(0, 4097)), 4096, 1024]))
        v_decay = int(rng.choice([0, int(rng.integers(0, 4097)), 4096, 128]))
        scale = max(1, int(np.abs(w).sum(axis=1).mean()))
        vth = int(np.clip(rng.integers(max(1, scale // 8), 4 * scale + 2), 1, (1 << 17) - 1))
        bias = None
        if regime == "wrap":  # strong one-signed drive, no current decay: u crosses 2**23
            i_decay = int(rng.choice([0, 1]))
            w = rng.integers(128, 256, size=shape) * (1 if rng.random() < 0.7 else -1)
        elif regime == "saturate":  # u and v integrate without decay; spikes only when v pins
            i_decay = int(rng.choice([0, 1]))
            v_decay = int(rng.choice([0, 1]))
            w = np.minimum(np.abs(w), 255) if rng.random() < 0.6 else w
            if not np.any(w):
                w.flat[0] = 2
            vth = int(rng.integers((1 << 17) - 1024, 1 << 17))
        elif regime == "huge":
            w = np.full(shape, 255, dtype=np.int64) if width > 1000 else w
            i_decay = int(rng.choice([0, 1, 64]))
            vth = int(rng.integers((1 << 17) - 64, 1 << 17))
            bias = rng.integers(-40_000, 40_000, size=n)  # beyond lava's int16 bias register
        elif regime == "bias" or rng.random() < 0.2:
            bias = rng.integers(-4096, 4096, size=n)
        spec.layers.append(
            LayerSpec(
                weight=w,
                i_decay=i_decay,
                v_decay=v_decay,
                vth_mant=vth,
                delay=_delay(rng, shape, layout, md),
                bias=bias,
            )
        )
        if calibrate is not None and regime in ("normal", "bias", "wrap"):
            _calibrate_last_layer(spec, calibrate, float(rng.uniform(0.02, 0.3)))
        width = n
    return spec


def _read_prefix(spec: NetSpec):
    """The network the spec's layers so far make, as netx files carry it (write, then read)."""
    from ranvier.convert.netx_hdf5 import read_netx

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prefix.net")
        write_spec(spec, path)
        return read_netx(path)


def _bisect(rate, target: float) -> int:
    """Smallest threshold mantissa in 1..VTH_MANT_MAX whose ``rate(vth)`` is at most
    ``target`` (rates fall as the threshold rises)."""
    lo, hi = 1, VTH_MANT_MAX
    while lo < hi:
        mid = (lo + hi) // 2
        if rate(mid) > target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _bisect_vth(make_neurons, a_in: np.ndarray, target: float) -> int:
    """Smallest vThMant whose firing rate on ``a_in`` is at most ``target`` (simulator)."""
    from ranvier.hw_models.neurons.cuba import run_cuba

    return _bisect(lambda vth: run_cuba(make_neurons(vth), a_in).mean(), target)


def _calibrate_last_layer(spec: NetSpec, x: np.ndarray, target: float) -> None:
    """Set the last layer's threshold so it fires at about ``target`` on input ``x``."""

    from ranvier.hw_models import simulate
    from ranvier.hw_models.neurons import CubaNeurons
    from ranvier.hw_models.synapses import synaptic_input

    network = _read_prefix(spec)
    block = network.blocks[-1]
    current = x if len(network.blocks) == 1 else simulate(network, x).layers[-2].spikes
    a_in = synaptic_input(block.synapse, (np.asarray(current) != 0).astype(np.uint8))
    neu = block.neurons

    def make(vth: int) -> CubaNeurons:
        return CubaNeurons.create(
            neu.n,
            vth_mant=vth,
            i_decay=neu.i_decay,
            v_decay=neu.v_decay,
            bias_mant=neu.bias_mant,
            bias_exp=neu.bias_exp,
        )

    spec.layers[-1].vth_mant = _bisect_vth(make, a_in, target)


def random_spikes(
    rng: np.random.Generator, channels: int, timesteps: int, density: float, samples: int = 1
) -> np.ndarray:
    """Bernoulli input spikes ``(samples, channels, timesteps)`` uint8."""
    return (rng.random((samples, channels, timesteps)) < density).astype(np.uint8)


def shd_like_spec(
    rng: np.random.Generator,
    sizes: tuple[int, ...] = (140, 128, 128, 20),
    max_delay: int = 25,
    input_density: float = 0.03,
    target_rate: float = 0.05,
    timesteps: int = 125,
) -> tuple[NetSpec, np.ndarray]:
    """The SHD-size benchmark network: SLAYER-style weights, per-synapse delays, CUBA neurons.

    Each layer's threshold is chosen (bisection on the simulator) so that the layer fires at
    about ``target_rate`` spikes per neuron per step on random input of ``input_density``,
    so every layer carries traffic. Returns the spec and the calibration input.
    """
    from ranvier.hw_models.fixed_point import netx_optimize_weight_bits
    from ranvier.hw_models.network import DenseSynapse
    from ranvier.hw_models.neurons import CubaNeurons
    from ranvier.hw_models.neurons.cuba import run_cuba
    from ranvier.hw_models.synapses import synaptic_input

    x = random_spikes(rng, sizes[0], timesteps, input_density, samples=16)
    spec = NetSpec(n_in=sizes[0], input_layer=True)
    current = x
    for n_in, n_out in itertools.pairwise(sizes):
        w = 2 * rng.integers(-128, 128, size=(n_out, n_in))
        w = (w * (rng.random((n_out, n_in)) < 0.8)).astype(np.int64)
        w[:, : n_in // 2] = np.abs(w[:, : n_in // 2])  # net excitatory drive
        delay = rng.integers(0, max_delay + 1, size=(n_out, n_in))
        mant, bits, exp = netx_optimize_weight_bits(w)
        a_in = synaptic_input(
            DenseSynapse(weight=mant, weight_exp=exp, num_weight_bits=bits, delay=delay), current
        )
        i_decay, v_decay = 1024, 256

        def make(vth: int, n_out: int = n_out, i_d: int = i_decay, v_d: int = v_decay):
            return CubaNeurons.create(n_out, vth_mant=vth, i_decay=i_d, v_decay=v_d)

        lo = _bisect_vth(make, a_in, target_rate)
        neurons = CubaNeurons.create(n_out, vth_mant=lo, i_decay=i_decay, v_decay=v_decay)
        current = np.ascontiguousarray(run_cuba(neurons, a_in).transpose(1, 2, 0))
        spec.layers.append(
            LayerSpec(weight=w, i_decay=i_decay, v_decay=v_decay, vth_mant=lo, delay=delay)
        )
    return spec, x


def _case_input(rng: np.random.Generator, regime: str) -> np.ndarray:
    """Input spikes whose size, length and density let the regime's effect happen in the run."""
    if regime == "huge":
        n_in, t_steps, density = int(rng.integers(1100, 1400)), int(rng.integers(8, 41)), 0.5
    elif regime in ("wrap", "saturate"):
        n_in, t_steps = int(rng.integers(64, 200)), int(rng.integers(40, 81))
        density = float(rng.choice([0.5, 0.8]))
    else:
        n_in, t_steps = int(rng.integers(1, 33)), int(rng.integers(8, 49))
        density = float(rng.choice([0.05, 0.2, 0.5]))
    return random_spikes(rng, n_in, t_steps, density, samples=int(rng.integers(1, 4)))


def random_case(
    rng: np.random.Generator,
    regime: str,
    delay_layout: str | None = None,
    neuron: str = "CUBA",
) -> tuple[NetSpec, np.ndarray]:
    """A network and its input for one case of the equivalence sweep.

    The input size, length and density suit the regime so that its effect really happens
    within the run: ``wrap`` and ``saturate`` get wide, dense, longer inputs (u or v reaches
    2**23 within a few dozen steps), ``huge`` a fan-in above 1024. Thresholds of the other
    regimes are calibrated on the same input (see :func:`random_spec`). ``neuron`` ``ALIF``
    or ``ADLIF`` draws networks of that type instead (:func:`random_adaptive_spec`).
    """
    if neuron != "CUBA":
        return random_adaptive_case(rng, neuron, regime, delay_layout)
    x = _case_input(rng, regime)
    n_in = x.shape[1]
    spec = random_spec(rng, n_in=n_in, regime=regime, delay_layout=delay_layout, calibrate=x)
    return spec, x


ADAPTIVE_REGIMES = ("normal", "bias", "wrap", "saturate", "huge")


def _per_neuron_or_scalar(rng: np.random.Generator, n: int, draw) -> int | np.ndarray:
    """Half the time one value for the layer, else one per neuron (heterogeneity)."""
    return draw(n) if rng.random() < 0.5 else int(draw(1)[0])


def _adaptive_fields(rng: np.random.Generator, kind: str, n: int, regime: str) -> tuple[dict, dict]:
    """Random neuron parameters of ``kind`` for ``n`` neurons: (LayerSpec kwargs, extra fields).

    ``wrap``/``saturate``/``huge`` keep decays at or near zero so that states run into
    their bounds (ALIF: i wraps at 24 bits, v saturates; ADLIF: u and w saturate).
    """
    slow = regime in ("wrap", "saturate", "huge")

    def decays(m: int) -> np.ndarray:
        if slow:
            return rng.choice([0, 1, 2], size=m)
        return rng.choice([0, 1, 64, 256, 1024, 4095, 4096, *rng.integers(0, 4097, 3)], size=m)

    def pick(draw):
        return _per_neuron_or_scalar(rng, n, draw)

    if kind == "ALIF":
        spec = {"i_decay": pick(decays), "v_decay": pick(decays)}
        extra = {
            "thDecay": pick(lambda m: rng.integers(0, 4097, m)),
            "refDecay": pick(lambda m: rng.integers(0, 4097, m)),
            # lava's ATRLIF takes one theta_step per process: one per layer
            "vThStep": int(rng.choice([0, int(rng.integers(0, 200)), int(rng.integers(0, 5000))])),
        }
        return spec, extra
    if kind == "ADLIF":
        u_decay = pick(lambda m: rng.choice([4096, 2048, *rng.integers(1, 4097, 4)], size=m))
        extra = {
            "uDecay": u_decay,
            "wDecay": pick(lambda m: rng.choice([0, 4096, *rng.integers(0, 4097, 4)], size=m)),
            "aMant": pick(lambda m: rng.choice([0, 4096, *rng.integers(0, 4097, 4)], size=m)),
            "bMant": 0,  # set after the threshold (b is in threshold units)
        }
        if slow:  # w integrates a * u without decay: w, then u = I - w, run into 24 bits
            extra["uDecay"] = pick(lambda m: rng.integers(3000, 4097, m))
            extra["wDecay"] = pick(lambda m: rng.choice([0, 1, 2], size=m))
            extra["aMant"] = pick(lambda m: rng.integers(2048, 4097, m))
        return {}, extra
    raise ValueError(f"unknown adaptive neuron type {kind!r}")


def _bisect_layer_vth(neurons, a_in: np.ndarray, target: float, jitter: np.ndarray) -> int:
    """Smallest base threshold (times ``jitter`` per neuron) firing at most ``target``."""
    from ranvier.hw_models.simulator import run_neurons

    def rate(base: int) -> float:
        vth = np.clip(np.rint(base * jitter), 1, VTH_MANT_MAX).astype(np.int64)
        return float(run_neurons(replace(neurons, vth_mant=vth), a_in)[0].mean())

    return _bisect(rate, target)


def random_adaptive_spec(
    rng: np.random.Generator,
    kind: str,
    x: np.ndarray,
    *,
    regime: str = "normal",
    delay_layout: str | None = None,
    readout: bool | None = None,
) -> NetSpec:
    """A random network of ALIF or ADLIF layers for input ``x`` ``(N, C, T)``.

    Weight styles, delay layouts and the input layer vary as in :func:`random_spec`; every
    parameter is per neuron half the time. Thresholds are set by bisection on the simulator
    so each layer fires at a random rate in 2..30% on ``x`` (ALIF's ``saturate`` and ``huge``,
    and half of ADLIF's ``saturate`` put them near the top of the range instead, so v pins,
    or w integrates to its bound, before any spike). With ``readout``
    (default: a quarter of the cases) a non-spiking memoryless CUBA read-out layer follows
    and the file declares the ``membrane_sum`` read-out.
    """
    from ranvier.hw_models.fixed_point import NON_SPIKING_VTH_MANT
    from ranvier.hw_models.simulator import run_neurons
    from ranvier.hw_models.synapses import synaptic_input

    n_in = x.shape[1]
    spec = NetSpec(n_in=n_in, input_layer=bool(rng.random() < 0.7))
    sizes = [int(rng.integers(1, 25)) for _ in range(int(rng.integers(1, 4)))]
    if regime == "huge":
        sizes = [int(rng.integers(1, 5))]
    current = x
    width = n_in
    for n in sizes:
        shape = (n, width)
        w = _weights(rng, shape, str(rng.choice(WEIGHT_STYLES)))
        if regime == "huge" and width > 1000:
            w = np.full(shape, 255, dtype=np.int64)
        elif regime in ("wrap", "saturate"):
            w = rng.integers(128, 256, size=shape) * (1 if rng.random() < 0.7 else -1)
        md = int(rng.choice([0, 2, 7, 25, MAX_DELAY]))
        layout = delay_layout or str(rng.choice(DELAY_LAYOUTS))
        cuba, extra = _adaptive_fields(rng, kind, n, regime)
        bias = None
        if regime == "bias" or rng.random() < 0.2:
            bias = rng.integers(-4096, 4096, size=n)
        if regime == "huge":
            bias = rng.integers(-40_000, 40_000, size=n)  # beyond the int16 bias register
        layer = LayerSpec(
            weight=w,
            delay=_delay(rng, shape, layout, md),
            bias=bias,
            neuron_type=kind,
            neuron_fields=extra,
            vth_mant=1,
            **cuba,
        )
        spec.layers.append(layer)
        block = _read_prefix(spec).blocks[-1]
        a_in = synaptic_input(block.synapse, (np.asarray(current) != 0).astype(np.uint8))
        jitter = rng.uniform(0.7, 1.3, n) if rng.random() < 0.5 else np.ones(n)
        pin = kind == "ALIF" or (regime == "saturate" and rng.random() < 0.5)
        if regime in ("saturate", "huge") and pin:
            base = int(rng.integers(VTH_MANT_MAX - 2048, VTH_MANT_MAX))
            jitter = np.ones(n)
        else:
            base = _bisect_layer_vth(block.neurons, a_in, float(rng.uniform(0.02, 0.3)), jitter)
        vth = np.clip(np.rint(base * jitter), 1, VTH_MANT_MAX).astype(np.int64)
        layer.vth_mant = int(vth[0]) if np.all(vth == vth[0]) else vth
        neurons = replace(block.neurons, vth_mant=vth)
        if kind == "ADLIF":  # b in [0, 2] thresholds
            b = np.minimum(np.rint(rng.uniform(0, 2, n) * vth).astype(np.int64), VTH_MANT_MAX)
            layer.neuron_fields["bMant"] = b
            neurons = replace(neurons, b_mant=b)
        current = np.ascontiguousarray(run_neurons(neurons, a_in)[0].transpose(1, 2, 0))
        width = n
    if readout is None:
        readout = bool(rng.random() < 0.25)
    if readout:
        n = int(rng.integers(2, 11))
        w = _weights(rng, (n, width), str(rng.choice(WEIGHT_STYLES)))
        spec.layers.append(
            LayerSpec(
                weight=w,
                i_decay=4096,
                v_decay=4096,
                vth_mant=NON_SPIKING_VTH_MANT,
                delay=_delay(rng, (n, width), delay_layout or "per_synapse", 7),
            )
        )
        spec.readout = "membrane_sum"
    return spec


def random_adaptive_case(
    rng: np.random.Generator, kind: str, regime: str, delay_layout: str | None = None
) -> tuple[NetSpec, np.ndarray]:
    """An ALIF or ADLIF network and its input for the equivalence sweep (as :func:`random_case`)."""
    if regime not in ADAPTIVE_REGIMES:
        raise ValueError(f"unknown regime {regime!r} ({', '.join(ADAPTIVE_REGIMES)})")
    x = _case_input(rng, regime)
    spec = random_adaptive_spec(rng, kind, x, regime=regime, delay_layout=delay_layout)
    return spec, x


def _recurrent_layers(rng: np.random.Generator, count: int) -> list[int]:
    """Which of ``count`` layers get a recurrent synapse: each with probability 0.6, at least
    one (never a non-spiking read-out, which the caller leaves out of ``count``)."""
    chosen = [k for k in range(count) if rng.random() < 0.6]
    return chosen or [int(rng.integers(0, count))]


def _rates_by_layer(network, x: np.ndarray) -> list[float]:
    from ranvier.hw_models import simulate

    return [float(np.mean(layer.spikes)) for layer in simulate(network, x).layers]


def _recalibrate(
    rng: np.random.Generator, spec: NetSpec, x: np.ndarray, k: int, target: float
) -> None:
    """Scale layer k's thresholds (keeping their per-neuron pattern) by bisection on the whole
    simulated network, recurrence included, so that layer k fires at about ``target``."""
    network = _read_prefix(replace(spec, layers=spec.layers[: k + 1]))
    block = network.blocks[-1]
    pattern = np.asarray(block.neurons.vth_mant, dtype=np.float64)
    pattern = pattern / max(float(pattern.max()), 1.0)

    def vth_of(base: int) -> np.ndarray:
        return np.clip(np.rint(base * pattern), 1, VTH_MANT_MAX).astype(np.int64)

    def rate(base: int) -> float:
        block.neurons = replace(block.neurons, vth_mant=vth_of(base))
        return _rates_by_layer(network, x)[-1]

    vth = vth_of(_bisect(rate, target))
    layer = spec.layers[k]
    layer.vth_mant = int(vth[0]) if np.all(vth == vth[0]) else vth
    if layer.neuron_type == "ADLIF":  # b stays in [0, 2] thresholds
        b = np.minimum(np.rint(rng.uniform(0, 2, vth.size) * vth).astype(np.int64), VTH_MANT_MAX)
        layer.neuron_fields["bMant"] = b


REC_DELAY_LAYOUTS = ("none", "scalar", "per_synapse", "per_synapse")


def random_recurrent_case(
    rng: np.random.Generator,
    neuron: str = "CUBA",
    regime: str | None = None,
    *,
    delay_layout: str | None = None,
    rec_delay_layout: str | None = None,
    max_delay: int | None = None,
) -> tuple[NetSpec, np.ndarray]:
    """A network with recurrent (``dense_rec``) layers and its input, for the equivalence
    sweep: the feed-forward network of :func:`random_case` (any weight style, delay layout
    and regime; CUBA, ALIF or ADLIF neurons), where some spiking layers get a recurrent
    weight ``(n, n)`` (any weight style) with recurrent delays of any layout up to
    ``max_delay`` (0..62). Thresholds of the ``normal``/``bias``/``wrap`` cases are re-set by
    bisection on the whole network, recurrence included, aiming each layer at 2..30% on the
    input (a layer whose synapses truncate to zero, or that gets no input, stays silent).
    """
    regime = regime or str(rng.choice(["normal", "normal", "wrap", "saturate", "bias"]))
    spec, x = random_case(rng, regime, delay_layout=delay_layout, neuron=neuron)
    spiking = len(spec.layers) - (1 if spec.readout == "membrane_sum" else 0)
    for k in _recurrent_layers(rng, spiking):
        layer = spec.layers[k]
        n = layer.weight.shape[0]
        style = str(rng.choice(WEIGHT_STYLES))
        w = _weights(rng, (n, n), style)
        if regime in ("wrap", "saturate"):
            w = rng.integers(128, 256, size=(n, n)) * (1 if rng.random() < 0.7 else -1)
        layer.weight_rec = w
        md = int(rng.choice([0, 2, 7, 25, MAX_DELAY])) if max_delay is None else max_delay
        layout = rec_delay_layout or str(rng.choice(REC_DELAY_LAYOUTS))
        layer.delay_rec = _delay(rng, (n, n), layout, md)
    if regime in ("normal", "bias", "wrap"):
        for k in range(spiking):
            _recalibrate(rng, spec, x, k, float(rng.uniform(0.02, 0.3)))
    return spec, x


def shd_recurrent_spec(
    rng: np.random.Generator,
    sizes: tuple[int, int, int] = (140, 512, 20),
    max_delay: int = 62,
    input_density: float = 0.03,
    target_rate: float = 0.05,
    timesteps: int = 100,
) -> tuple[NetSpec, np.ndarray]:
    """The SHD-size recurrent benchmark network (the configuration of Mészáros et al. 2025
    on Loihi 2): inputs -> one recurrent CUBA layer (``dense_rec``: per-synapse feed-forward
    and recurrent delays 0..``max_delay``) -> a CUBA output layer. Each layer's threshold is
    set by bisection on the whole simulated network, recurrence included, so that it fires at
    about ``target_rate`` on random input of ``input_density``. Returns the spec and that
    input."""
    n_in, n_hidden, n_out = sizes
    x = random_spikes(rng, n_in, timesteps, input_density, samples=8)
    w = 2 * rng.integers(-128, 128, size=(n_hidden, n_in))
    w = w * (rng.random(w.shape) < 0.8)
    w[:, : n_in // 2] = np.abs(w[:, : n_in // 2])  # net excitatory drive
    w_rec = 2 * rng.integers(-48, 48, size=(n_hidden, n_hidden))
    w_rec = w_rec * (rng.random(w_rec.shape) < 0.5)
    w_out = 2 * rng.integers(-128, 128, size=(n_out, n_hidden))
    w_out[:, : n_hidden // 2] = np.abs(w_out[:, : n_hidden // 2])
    spec = NetSpec(
        n_in=n_in,
        layers=[
            LayerSpec(
                weight=w.astype(np.int64),
                i_decay=1024,
                v_decay=256,
                vth_mant=1,
                delay=rng.integers(0, max_delay + 1, size=w.shape),
                weight_rec=w_rec.astype(np.int64),
                delay_rec=rng.integers(0, max_delay + 1, size=w_rec.shape),
            ),
            LayerSpec(
                weight=w_out.astype(np.int64),
                i_decay=1024,
                v_decay=256,
                vth_mant=1,
                delay=rng.integers(0, max_delay + 1, size=w_out.shape),
            ),
        ],
    )
    for k in range(len(spec.layers)):
        _recalibrate(rng, spec, x, k, target_rate)
    return spec, x


# --- conv networks (issue 13): input neurons, conv geometries, flatten, dense -------------------

CONV_REGIMES = ("normal", "dense_input", "wrap", "saturate", "sparse_weights")


def _conv_geometry(rng: np.random.Generator, w: int, h: int, c_in: int) -> dict:
    """A random conv geometry that fits a (w, h, c_in) input: kernel 1..5, stride 1..3,
    padding 0..2, dilation 1..2, groups dividing both channel counts; (H, W) file order."""
    while True:
        groups = int(rng.choice([g for g in (1, 2, 3, 4) if c_in % g == 0]))
        c_out = groups * int(rng.integers(1, 5))
        k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))  # (kH, kW)
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        p = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        out_h = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
        out_w = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
        if out_h >= 1 and out_w >= 1:
            return {
                "kernel": k, "stride": s, "padding": p, "dilation": d, "groups": groups,
                "c_out": c_out, "out": (out_w, out_h),
            }  # fmt: skip


def _cuba_fields(rng: np.random.Generator, regime: str, n: int) -> dict:
    i_decay = int(rng.integers(0, 4097)) if regime != "wrap" else int(rng.integers(0, 64))
    v_decay = int(rng.integers(0, 4097))
    vth = int(rng.integers(1, 200))
    if regime == "saturate":
        vth = int(rng.integers(100_000, VTH_MANT_MAX))
    return {"i_decay": max(i_decay, 1), "v_decay": v_decay, "vth_mant": vth}


def _sdnn_fields(rng: np.random.Generator, regime: str, n: int) -> dict:
    """A sigma-delta group as netx fields: vThMant (0 lets every change through), and, for
    the read-out, sometimes ``sigma_output``."""
    vth = int(rng.choice([0, 1, int(rng.integers(1, 40))]))
    return {"vth_mant": vth, "neuron_type": "SDNN", "neuron_fields": {"vThMant": vth}}


def random_conv_spec(
    seed: int, regime: str = "normal", family: str = "cuba"
) -> tuple[NetSpec, tuple[int, ...], bool]:
    """A random conv network as netx fields: an image input (with input neurons or without),
    one to three conv layers of random geometry, then (half the time) a flatten and a dense
    layer. ``family``: ``cuba`` (CUBA neurons) or ``sdnn`` (sigma-delta: a Delta input
    encoder, SigmaDelta layers with graded 16-bit payloads, sometimes a Sigma read-out).
    Returns the spec, lava's input shape (W, H, C) and whether the first layer takes graded
    values (input neurons' a_in) rather than unary spikes."""
    rng = np.random.default_rng(seed)
    w, h, c = int(rng.integers(3, 13)), int(rng.integers(3, 13)), int(rng.integers(1, 5))
    sdnn = family == "sdnn"
    fields = _sdnn_fields if sdnn else _cuba_fields
    with_neurons = sdnn or bool(rng.random() < 0.6)
    spec = NetSpec(n_in=w * h * c, input_shape=(c, h, w), input_layer=True)
    if with_neurons:
        spec.input_neurons = LayerSpec(weight=np.zeros((0, 0)), **fields(rng, regime, 0))
        spec.input_transform = {
            "weight": int(rng.integers(1, 100)),
            "bias": int(rng.integers(-20, 40)),
        }
    shape = (w, h, c)
    for _ in range(int(rng.integers(1, 4))):
        g = _conv_geometry(rng, shape[0], shape[1], shape[2])
        kh, kw = g["kernel"]
        weight = 2 * rng.integers(-40, 40, size=(g["c_out"], shape[2] // g["groups"], kh, kw))
        if regime == "sparse_weights":
            weight *= rng.random(weight.shape) < 0.3
        if regime == "wrap":
            weight = rng.integers(-256, 255, size=weight.shape)
        if not weight.any():
            weight.flat[0] = 2
        out = (g["out"][0], g["out"][1], g["c_out"])
        bias = rng.integers(-30, 60, size=g["c_out"]) if rng.random() < 0.7 else None
        spec.layers.append(
            LayerSpec(
                weight=weight,
                bias=bias,
                kind="conv",
                shape=out[::-1],
                conv={key: g[key] for key in ("stride", "padding", "dilation", "groups")},
                **fields(rng, regime, int(np.prod(out))),
            )
        )
        shape = out
        if min(shape[:2]) < 2 and rng.random() < 0.5:
            break
    if rng.random() < 0.5:
        n_in = int(np.prod(shape))
        n = int(rng.integers(1, 12))
        spec.layers.append(
            LayerSpec(
                weight=2 * rng.integers(-64, 64, size=(n, n_in)) + (rng.random((n, n_in)) < 0.01),
                flatten_from=shape[::-1],
                **fields(rng, regime, n),
            )
        )
        if sdnn and rng.random() < 0.5:  # netx's Sigma decoder as the read-out
            spec.layers[-1].neuron_extra = {"sigma_output": True}
            spec.layers[-1].bias = None  # lava's Sigma takes no bias
    return spec, (w, h, c), with_neurons


def random_conv_input(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    graded: bool,
    samples: int,
    steps: int,
    regime: str = "normal",
) -> np.ndarray:
    """Input for :func:`random_conv_spec`: graded signed values held on the input neurons'
    a_in (changing every few steps) or unary spikes; flat ``(N, C, T)``."""
    n = int(np.prod(shape))
    if not graded:
        density = 0.6 if regime == "dense_input" else 0.2
        return (rng.random((samples, n, steps)) < density).astype(np.int64)
    scale = 4000 if regime in ("wrap", "saturate") else 80
    hold = int(rng.integers(1, 5))
    values = rng.integers(-scale // 4, scale, size=(samples, n, -(-steps // hold)))
    return np.repeat(values, hold, axis=2)[:, :, :steps].astype(np.int64)
