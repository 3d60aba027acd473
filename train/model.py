"""The trainable network: delayed dense synapses feeding CUBA/ALIF/AdLIF+ neurons, a
non-spiking read-out whose membrane summed over time gives the class scores, and its export
to the network IR / netx file.

Two forwards share every parameter: the float forward (threshold units, continuous delays)
and the quantized forward, which is the exported network computed in torch: file weights
(even integers in [-256, 254] = ``quantize_weight(w, vth_mant)``), integer delays, 12-bit
decays, integer states. ``start_qat`` fixes each layer's scale ``vth_mant`` from its
weights; from then on the quantized forward is what the simulator runs, spike for spike.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from ranvier.hw_models.fixed_point import netx_optimize_weight_bits, synapse_weights
from ranvier.hw_models.network import Block as IRBlock
from ranvier.hw_models.network import DenseSynapse, Network
from ranvier.hw_models.synapses import RecurrentDenseSynapse
from torch import nn

from .config import ModelConfig
from .delays import delayed_dense
from .fixed import ACT_SCALE, MAX_SCALE, WEIGHT_MAX, quantize_delay, quantize_weight
from .neurons import NEURON_TYPES, CubaNeuron, NeuronBase
from .recurrent import recurrent_feedback

#: The recurrent weights start at this fraction of Xavier-uniform with fan (n, n). Full
#: Xavier gives each neuron a recurrent drive as strong as its feed-forward one; the recurrent
#: part is zero-mean noise at first, and that much of it makes the initial dynamics (and the
#: rate ``calibrate_`` sets) depend mostly on the random recurrent weights instead of the
#: input. At a half the block starts close to its feed-forward network (which trains well),
#: with a recurrent path strong enough for gradients to shape it; ``calibrate_`` scales it
#: with the feed-forward weights, so their ratio holds whatever the neuron's input gain.
RECURRENT_INIT_GAIN = 0.5


def layer_scale(weight: torch.Tensor, *more: torch.Tensor | None) -> int:
    """The layer's scale ``vth_mant``: the largest integer that maps every weight into
    [-254, 254] (8-bit signed mantissa x 2), at most ``MAX_SCALE``; over every matrix given
    (a recurrent block's feed-forward and recurrent weights share the layer's threshold)."""
    top = max(float(w.detach().abs().max()) for w in (weight, *more) if w is not None)
    if top == 0.0:
        return MAX_SCALE
    return int(max(1, min(MAX_SCALE, math.floor(WEIGHT_MAX / top))))


def _xavier(n_out: int, n_in: int, generator: torch.Generator | None) -> torch.Tensor:
    bound = math.sqrt(6.0 / (n_in + n_out))  # Xavier uniform, as the seed
    w = (torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return w.float()


class Block(nn.Module):
    """One dense layer: weights and per-synapse delays (n_out, n_in), then neurons; with
    ``recurrent``, also weights ``weight_rec`` and delays ``delay_rec`` (n_out, n_out) from the
    layer's own neurons back onto them (netx ``dense_rec``; ``train/recurrent.py``)."""

    def __init__(
        self,
        n_in: int,
        neuron: NeuronBase,
        *,
        delays: str,
        max_delay: int,
        delay_init: str = "zero",
        generator: torch.Generator | None = None,
        recurrent: bool = False,
    ):
        super().__init__()
        n_out = neuron.n
        self.weight = nn.Parameter(_xavier(n_out, n_in, generator))
        self.delay_mode = delays if max_delay > 0 else "none"
        self.max_delay = max_delay if self.delay_mode != "none" else 0
        self.delay = None
        if self.delay_mode != "none":
            d = torch.zeros(n_out, n_in)
            if delay_init == "uniform":
                d = torch.rand(n_out, n_in, generator=generator) * self.max_delay
            self.delay = nn.Parameter(d)
        self.weight_rec = None
        self.delay_rec = None
        if recurrent:
            w_rec = _xavier(n_out, n_out, generator) * RECURRENT_INIT_GAIN
            self.weight_rec = nn.Parameter(w_rec)
            if self.delay_mode != "none":
                d = torch.zeros(n_out, n_out)
                if delay_init == "uniform":
                    d = torch.rand(n_out, n_out, generator=generator) * self.max_delay
                self.delay_rec = nn.Parameter(d)
        self.neuron = neuron
        self.register_buffer("vth_mant", torch.tensor(0, dtype=torch.int64))
        self.sigma = 0.5

    @property
    def recurrent(self) -> bool:
        return self.weight_rec is not None

    def set_scale(self) -> None:
        self.vth_mant.fill_(layer_scale(self.weight, self.weight_rec))

    def file_weight(self) -> torch.Tensor:
        """The integer weights the file holds (straight-through from the float weights)."""
        return quantize_weight(self.weight, float(self.vth_mant))

    def file_weight_rec(self) -> torch.Tensor:
        """The recurrent file weights (a recurrent block's; same scale as ``file_weight``)."""
        if self.weight_rec is None:
            raise ValueError("not a recurrent block")
        return quantize_weight(self.weight_rec, float(self.vth_mant))

    def synapse_weights(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(feed-forward, recurrent)`` synapse values, the recurrent None for a feed-forward
        block (:meth:`synapse_weight`). A recurrent block's two matrices share one netx weight
        mapping (lava-dl maps ``[weight | weight_rec]`` together): the values are each part's
        of ``RecurrentDenseSynapse.from_file_weights``, the reader's own rule, each
        straight-through from its file weights."""
        if self.weight_rec is None:
            return self.synapse_weight(), None
        q, q_rec = self.file_weight(), self.file_weight_rec()
        ints = q.detach().round().long().cpu().numpy()
        ints_rec = q_rec.detach().round().long().cpu().numpy()
        if not (ints.any() or ints_rec.any()):
            return q, q_rec
        synapse = RecurrentDenseSynapse.from_file_weights(ints, ints_rec)
        return _straight_through(q, synapse.forward.values), _straight_through(
            q_rec, synapse.recurrent.values
        )

    def synapse_weight(self) -> torch.Tensor:
        """What each synapse adds on the hardware: the file weights as netx maps them onto
        the 8-bit synapse (``fixed_point.netx_optimize_weight_bits`` then
        ``synapse_weights``), straight-through from the file weights.

        The mapping is the identity for every even matrix in [-256, 254] except one netx
        corner: all weights <= 0 with the most negative a power of two (``[-2, -2]`` runs as
        ``[0, 0]``). The quantized forward uses these values, so it stays the deployed one.
        A recurrent block's feed-forward part comes from the joint mapping
        (:meth:`synapse_weights`).
        """
        if self.weight_rec is not None:
            return self.synapse_weights()[0]
        q = self.file_weight()
        ints = q.detach().round().long().cpu().numpy()
        if not ints.any():
            return q
        mant, bits, exp = netx_optimize_weight_bits(ints)
        values = synapse_weights(mant, bits).astype(np.float64) * 2.0**exp
        if np.array_equal(values, ints):
            return q
        exact = torch.from_numpy(values).to(q.device, q.dtype)
        return q + (exact - q).detach()

    def forward(self, x: torch.Tensor, quantized: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membrane ``(B, n_out, T)`` from input spikes ``(B, n_in, T)``."""
        scale = int(self.vth_mant)
        mode = self.delay_mode
        if quantized:
            weight, weight_rec = self.synapse_weights()
            mode = "interp" if mode == "dcls" else mode
            a = delayed_dense(
                x,
                weight,
                self.delay,
                mode=mode,
                max_delay=self.max_delay,
                quantized=True,
                check=not self.training,
            )
        else:
            weight_rec = self.weight_rec
            a = delayed_dense(
                x,
                self.weight,
                self.delay,
                mode=mode,
                max_delay=self.max_delay,
                sigma=self.sigma,
            )
        if weight_rec is None:
            return self.neuron(a, quantized, scale)
        feedback = recurrent_feedback(
            weight_rec.to(a.dtype),
            self.delay_rec,
            x.shape[0],
            x.shape[-1],
            mode=mode,
            max_delay=self.max_delay,
            sigma=self.sigma,
            quantized=quantized,
        )
        return self.neuron(a, quantized, scale, feedback=feedback)

    @torch.no_grad()
    def clip_(self) -> None:
        for delay in (self.delay, self.delay_rec):
            if delay is not None:
                delay.clamp_(0, self.max_delay)
        self.neuron.clip_()

    def to_block(self, name: str) -> IRBlock:
        """The layer in the IR: the synapse netx builds from the file weights
        (``DenseSynapse.from_file_weights``, or ``RecurrentDenseSynapse.from_file_weights``
        for a recurrent block, as the reader does; the file weights are kept and written as
        they are), integer delays, and the neurons' integer registers (``NeuronBase.to_ir``)."""
        scale = int(self.vth_mant)
        if scale <= 0:
            raise ValueError(f"{name}: no scale yet (the network was never quantized)")
        with torch.no_grad():
            weight = self.file_weight().round().long().cpu().numpy()
            delay = (
                None
                if self.delay is None
                else quantize_delay(self.delay, self.max_delay).long().cpu().numpy()
            )
        if not weight.any():
            raise ValueError(f"{name}: every synapse weight is zero; netx cannot load such a layer")
        if self.weight_rec is None:
            synapse = DenseSynapse.from_file_weights(weight, delay)
        else:
            with torch.no_grad():
                weight_rec = self.file_weight_rec().round().long().cpu().numpy()
                delay_rec = (
                    None
                    if self.delay_rec is None
                    else quantize_delay(self.delay_rec, self.max_delay).long().cpu().numpy()
                )
            synapse = RecurrentDenseSynapse.from_file_weights(weight, weight_rec, delay, delay_rec)
        return IRBlock(synapse=synapse, neurons=self.neuron.to_ir(scale), name=name)


def _straight_through(q: torch.Tensor, values: np.ndarray) -> torch.Tensor:
    """``values`` in the forward pass, the gradient of ``q`` in the backward pass (``q``
    itself where they are equal)."""
    if np.array_equal(values, q.detach().cpu().numpy()):
        return q
    exact = torch.from_numpy(np.asarray(values, dtype=np.float64)).to(q.device, q.dtype)
    return q + (exact - q).detach()


def make_neuron(cfg: ModelConfig, n: int, generator: torch.Generator | None) -> NeuronBase:
    """A hidden neuron group of the configured type (``NEURON_TYPES``); the unit draws its
    random initial parameters from ``generator`` where it has any."""
    return NEURON_TYPES[cfg.neuron].create(n, cfg.neuron_params, generator)


class Dropout(nn.Module):
    """Inverted dropout (as ``nn.Dropout``: zero each element with probability ``p``, scale
    the rest by ``1 / (1 - p)``) with its mask drawn by ``uniform_``: on CPU ``bernoulli_``,
    which ``nn.Dropout`` uses, took 33 ms for a (128, 128, 125) tensor against 8 ms, a quarter
    of the SHD-size training step (bench/train_throughput.py profile, 2026-12-01)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x).uniform_() >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


class SpikingNet(nn.Module):
    """input -> hidden blocks -> memoryless non-spiking CUBA read-out (membrane summed)."""

    def __init__(self, n_in: int, n_classes: int, cfg: ModelConfig, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        self.n_in, self.n_classes = n_in, n_classes
        gen = torch.Generator().manual_seed(seed)
        blocks = []
        width = n_in
        for size in cfg.hidden:
            blocks.append(
                Block(
                    width,
                    make_neuron(cfg, int(size), gen),
                    delays=cfg.delays,
                    max_delay=cfg.max_delay,
                    delay_init=cfg.delay_init,
                    generator=gen,
                    recurrent=cfg.recurrent,
                )
            )
            width = int(size)
        readout = CubaNeuron(
            n_classes, current_decay=1.0, voltage_decay=1.0, learn=False, spiking=False
        )
        blocks.append(
            Block(
                width,
                readout,
                delays=cfg.delays if cfg.readout_delays else "none",
                max_delay=cfg.max_delay,
                generator=gen,
            )
        )
        self.blocks = nn.ModuleList(blocks)
        self.dropout = Dropout(cfg.dropout)
        self.quantized = False

    @property
    def max_delay(self) -> int:
        return max(b.max_delay for b in self.blocks)

    def set_sigma(self, sigma: float) -> None:
        for b in self.blocks:
            b.sigma = sigma

    def start_qat(self) -> None:
        """Fix every layer's scale from its weights and switch to the quantized forward."""
        for b in self.blocks:
            b.set_scale()
        self.quantized = True

    def clip_(self) -> None:
        for b in self.blocks:
            b.clip_()

    @torch.no_grad()
    def calibrate_(self, x: torch.Tensor, rate: float, iterations: int = 12) -> list[float]:
        """Scale each hidden layer's initial weights so it fires ``rate`` spikes per neuron
        and step on the batch ``x`` (float forward; a data-driven init, like LSUV).

        Without it a Xavier-initialised AdLIF+ layer, whose input is scaled by
        ``1 - alpha``, stays silent on sparse spike input and no gradient flows. Bisection on
        the log of a factor in [1/16, 256] per layer, layer after layer. A recurrent block's
        recurrent weights take the same factor (the neuron's input gain applies to both, and
        the two keep their initial ratio). Returns the factors.
        """
        was_training = self.training
        self.eval()
        h = x.to(torch.float32)
        factors = []
        for b in self.blocks[:-1]:
            weights = [w for w in (b.weight, b.weight_rec) if w is not None]
            start = [w.detach().clone() for w in weights]
            lo, hi = math.log(1 / 16), math.log(256)
            for _ in range(iterations):
                mid = 0.5 * (lo + hi)
                for w, w0 in zip(weights, start, strict=True):
                    w.copy_(w0 * math.exp(mid))
                s, _ = b(h, False)
                if float(s.mean()) < rate:
                    lo = mid
                else:
                    hi = mid
            factor = math.exp(0.5 * (lo + hi))
            for w, w0 in zip(weights, start, strict=True):
                w.copy_(w0 * factor)
            factors.append(factor)
            h, _ = b(h, False)
        self.train(was_training)
        return factors

    def forward(
        self, x: torch.Tensor, quantized: bool | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """``(logits, hidden spikes per layer, read-out membrane)`` for spikes ``(B, C, T)``.

        Quantized, everything is float64 holding integers (logits are exact sums), so the
        arg-max equals the simulator's even on near-ties.

        Logits are the read-out membrane summed over time (the seed's read-out), in
        threshold units (the quantized membrane is divided by ``64 * vth_mant`` of the
        read-out: a positive factor, so the arg-max is that of the deployed ``membrane_sum``).
        """
        q = self.quantized if quantized is None else quantized
        dtype = torch.float64 if q else torch.float32
        h = x.to(dtype)
        hidden = []
        for b in self.blocks[:-1]:
            s, _ = b(h, q)
            hidden.append(s)
            h = self.dropout(s) if self.training else s
        _, membrane = self.blocks[-1](h, q)
        logits = membrane.sum(-1)
        if q:
            logits = logits / (ACT_SCALE * int(self.blocks[-1].vth_mant))
        return logits, hidden, membrane

    def to_network(self) -> Network:
        """The quantized network in the IR (read-out ``membrane_sum``): what the netx writer
        serializes and the simulator runs."""
        blocks = [b.to_block(f"layer_{i}") for i, b in enumerate(self.blocks)]
        return Network(n_in=self.n_in, blocks=blocks, meta={"readout": "membrane_sum"})

    def delays_int(self, recurrent: bool = False) -> list[np.ndarray | None]:
        """Every block's integer delays (None without): the feed-forward ``delay``, or with
        ``recurrent`` the recurrent ``delay_rec`` (None for a feed-forward block)."""
        out: list[np.ndarray | None] = []
        for b in self.blocks:
            d = b.delay_rec if recurrent else b.delay
            out.append(None if d is None else quantize_delay(d, b.max_delay).long().numpy())
        return out


__all__ = ["MAX_SCALE", "Block", "SpikingNet", "layer_scale"]
