"""Random netx files for tests, the equivalence sweep, benchmarks and the shipped example.

Files are written at the netx level (raw weight, delay and neuron fields, as SLAYER or a
hand-written exporter would write them), so every code path of the netx reader is exercised:
weight styles that give each sign mode and weight exponent, every delay layout, decays that
let currents wrap and thresholds that let voltages saturate.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
from ranvier.hw_models.fixed_point import MAX_DELAY

from .netx_hdf5 import LayerSpec, NetSpec, write_spec

__all__ = [
    "LayerSpec",
    "NetSpec",
    "random_case",
    "random_spec",
    "random_spikes",
    "shd_like_spec",
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


def _bisect_vth(make_neurons, a_in: np.ndarray, target: float) -> int:
    """Smallest vThMant whose firing rate on ``a_in`` is at most ``target`` (simulator)."""
    from ranvier.hw_models.simulator import run_cuba

    lo, hi = 1, (1 << 17) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if run_cuba(make_neurons(mid), a_in).mean() > target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _calibrate_last_layer(spec: NetSpec, x: np.ndarray, target: float) -> None:
    """Set the last layer's threshold so it fires at about ``target`` on input ``x``."""
    import tempfile

    from ranvier.hw_models import simulate
    from ranvier.hw_models.network import CubaNeurons
    from ranvier.hw_models.simulator import synaptic_input

    from .netx_hdf5 import read_netx

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prefix.net")
        write_spec(spec, path)
        network = read_netx(path)
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
    from ranvier.hw_models.network import CubaNeurons, DenseSynapse
    from ranvier.hw_models.simulator import run_cuba, synaptic_input

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


def random_case(
    rng: np.random.Generator, regime: str, delay_layout: str | None = None
) -> tuple[NetSpec, np.ndarray]:
    """A network and its input for one case of the equivalence sweep.

    The input size, length and density suit the regime so that its effect really happens
    within the run: ``wrap`` and ``saturate`` get wide, dense, longer inputs (u or v reaches
    2**23 within a few dozen steps), ``huge`` a fan-in above 1024. Thresholds of the other
    regimes are calibrated on the same input (see :func:`random_spec`).
    """
    if regime == "huge":
        n_in, t_steps, density = int(rng.integers(1100, 1400)), int(rng.integers(8, 41)), 0.5
    elif regime in ("wrap", "saturate"):
        n_in, t_steps = int(rng.integers(64, 200)), int(rng.integers(40, 81))
        density = float(rng.choice([0.5, 0.8]))
    else:
        n_in, t_steps = int(rng.integers(1, 33)), int(rng.integers(8, 49))
        density = float(rng.choice([0.05, 0.2, 0.5]))
    x = random_spikes(rng, n_in, t_steps, density, samples=int(rng.integers(1, 4)))
    spec = random_spec(rng, n_in=n_in, regime=regime, delay_layout=delay_layout, calibrate=x)
    return spec, x
