"""Training throughput: ranvier against what a researcher would otherwise run, side by side.

One full training step (forward, loss, backward, Adam step) of the SHD-size network
140-128-128-20 with per-synapse delays <= 25 (read-out included), batch 128, T = 125,
Bernoulli input (density 0.05), ``torch.set_num_threads(2)``, in four implementations:

- ``ranvier``: ``SpikingNet(140, 20, ModelConfig(hidden=[128, 128], neuron='ADLIF',
  delays='interp', max_delay=25, dropout=0.5), seed=0)`` as it is, nothing patched: AdLIF+
  in whatever implementation ranvier uses by default, the frequency-domain delayed synapse
  of ``train/delays.py``. Delays drawn uniformly in [0, max_delay] with fractional parts,
  hidden weights x WEIGHT_GAIN so every layer spikes.
- ``dcls_sj``: the recipe of the delay-learning paper's authors (Hammouamri et al.,
  "Learning Delays in Spiking Neural Networks using Dilated Convolutions with Learnable
  Spacings", ICLR 2024), rebuilt after ``SnnDelays`` in github.com/Thvnvtos/SNN-delays
  (``snn_delays.py``; settings from its ``config.py``): per layer the time-major spikes are
  permuted to ``(B, C, T)``, padded by ``K - 1`` steps on the left and ``(K - 1) // 2`` on
  the right (so each layer lengthens the sequence by ``(K - 1) // 2``, as theirs), convolved
  by DCLS ``Dcls1d(n_in, n_out, kernel_count=1, groups=1, dilated_kernel_size=K,
  bias=False, version='gauss')`` (a Gaussian per synapse over K taps, rebuilt every
  forward), permuted back and fed to SpikingJelly 0.0.0.0.14's multi-step ``LIFNode``
  (tau 1.005, threshold 1, ``ATan(5)`` surrogate, ``detach_reset``, ``decay_input=False``;
  backend 'torch', 'cupy' on CUDA where cupy is installed) and multi-step dropout (0.5, as
  the other models). The read-out is a LIF with threshold 1e9 whose membrane gives their
  loss ``sum`` (softmax per step, summed over time, cross-entropy); two Adams (weights,
  positions); ``reset_net`` and ``clamp_parameters`` after the step, as their training
  loop. K = max_delay + 1 taps made odd as their config does (27: delays 0..26). As in their
  SHD config, a multi-step batch norm over the channels between each hidden layer's
  ``Dcls1d`` and its neurons (ranvier's model, made for Loihi, has none; without it this
  network, Kaiming-initialised, is silent on the 5% input). Neuron: LIF, not AdLIF+, since
  SpikingJelly has no AdLIF+.
- ``naive`` and ``conv1d``: ``PlainAdlifNet``, AdLIF+ written as such code usually is: a
  python loop over the T steps with elementwise ops (the equations of ranvier's float
  forward) that reads the input current ``I[:, :, t]`` per step (whose backward writes a
  full-size gradient per step, as SpikingJelly's torch backend does with ``x_seq[t]``) and a
  fast-sigmoid surrogate spike function; weights, delays and neuron parameters copied from
  the ranvier model. Its delayed synapse
  ``a[b, j, t] = sum_i W[j, i] x[b, i, t - 1 - d[j, i]]`` (linear interpolation between the
  taps floor(d) and floor(d) + 1) is, for ``naive``, a per-synapse shift (index the padded
  input per synapse into two ``(B, n_out, n_in, T)`` tap tensors, interpolate, weight, sum
  over inputs) and, for ``conv1d``, the dense per-synapse kernel ``(n_out, n_in,
  max_delay + 2)`` holding the two interpolation taps (a DCLS Gaussian costs the same), a
  ``conv1d`` with causal left padding.

Before timing: the naive and conv1d synapses must equal ranvier's (output and gradients of
x, W, d; layer-0 shape, batch 2) and the two plain models each other (logits and read-out
membrane, batch 4, eval mode), max abs diff < 1e-4; dcls_sj, a different model, must give a
finite loss and finite gradients. How far the plain AdLIF+ model's logits are from
ranvier's (same parameters) is reported, not checked (one spike that flips on a rounding
difference moves them). Each implementation then runs in its own subprocess; the steps are
interleaved round-robin (one warm-up round, then ``--repeats`` timed rounds) so load from
other processes hits all alike. Reported per implementation: median step time, median
forward time (the forward + loss part of those steps, autograd recording), peak memory
(peak RSS increase of the subprocess over its RSS after building model, input and
optimizer: VmHWM, reset there through /proc/self/clear_refs, minus VmRSS; on CUDA the peak
of ``torch.cuda.max_memory_allocated`` over the allocation there), ratios vs ranvier, and
(CPU) a torch.profiler split of one extra step into synapse / neuron / other (backward ops
are attributed through their autograd sequence numbers to the forward scope that created
them). A fifth run, ``none``, is ranvier's model with the synapse replaced by zeros (still
on the autograd path): its step is the floor that no synapse can take ranvier's step below.
If ``naive`` does not fit in memory at ``--batch`` it runs at the largest batch / 2**k that
does, and its time and memory are scaled linearly to ``--batch`` (marked in the table).

The JSON's ``target``: ``fastest`` (the fastest of dcls_sj, naive, conv1d),
``speedup_vs_fastest`` = its step time / ranvier's, ``memory_fraction_of_naive`` = ranvier's
peak memory / naive's.

    make bench-peers   # once: dcls and spikingjelly==0.0.0.0.14 into .venv, --no-deps
    .venv/bin/python bench/train_throughput.py [--batch 128] [--steps 125] [--max-delay 25]
        [--repeats 5] [--impls ranvier,dcls_sj,...] [--device cpu] [--json]

Exit status 1 if the implementations disagree (or a loss is not finite), 2 if the peers'
packages are missing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import itertools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import torch
from machine_info import machine  # bench/ is on sys.path when run as a script
from ranvier.train import model as model_mod
from ranvier.train.config import ModelConfig
from ranvier.train.delays import delayed_dense
from torch import nn

#: the peers of ranvier, timed and compared with it
PEERS = ("dcls_sj", "naive", "conv1d")
IMPLS = ("ranvier", *PEERS)
#: ``none`` (ranvier's model without a synapse: the floor of its step) is timed beside them
RUNS = (*IMPLS, "none")
DESCRIPTIONS = {
    "ranvier": "ranvier SpikingNet: AdLIF+, frequency-domain delays (interp)",
    "dcls_sj": "Hammouamri et al.: DCLS Dcls1d (gauss), batch norm, SpikingJelly LIFNode "
    "(LIF: SpikingJelly has no AdLIF+)",
    "naive": "plain PyTorch AdLIF+ loop, per-synapse shift synapse",
    "conv1d": "plain PyTorch AdLIF+ loop, full-kernel conv1d synapse",
    "none": "ranvier SpikingNet, synapse replaced by zeros: the floor of its step",
}
N_IN, N_CLASSES, HIDDEN = 140, 20, (128, 128)
#: Hidden weights x this (Xavier-initialised AdLIF+ layers are silent on 5% input); gives
#: ~9% / ~12% spikes in the two hidden layers. The dense step costs the same at any rate.
WEIGHT_GAIN = 20.0
DROPOUT = 0.5
TOLERANCE = 1e-4
#: Above this share of the CPU used by other processes during the run, the timings are
#: not trustworthy (oversubscribed thread pools slow some ops far more than others).
BUSY_SHARE = 0.1
MARK = "@@train_throughput "
#: naive keeps ~3 float32 (B, n_out, n_in, T) tensors alive at its peak; 4 plus 0.5 GB
#: is the estimate used to pick a batch that fits.
NAIVE_BYTES_PER_TAP = 16
#: The peers' packages and the versions SNN-delays used (``make bench-peers``).
PEER_PACKAGES = {"dcls": "0.1.1", "spikingjelly": "0.0.0.0.14"}
#: SNN-delays' SHD settings (config.py): tau = (10.05 ms + 1e-9) / 10 ms time step, ATan(5).
SJ_TAU = (10.05 + 1e-9) / 10
SJ_SURROGATE_ALPHA = 5.0
SJ_READOUT_THRESHOLD = 1e9
#: Slope of the plain AdLIF+'s fast-sigmoid surrogate ``1 / (1 + k|x|)**2`` (ranvier's too).
SURROGATE_SLOPE = 5.0


def missing_peers() -> list[str]:
    """The peers' packages that cannot be imported (``dcls``, ``spikingjelly``)."""
    missing = []
    for name, module in (("dcls", "DCLS.construct.modules"), ("spikingjelly", "spikingjelly")):
        try:
            __import__(module)
            if module == "spikingjelly":
                __import__("spikingjelly.activation_based.neuron")
        except Exception:  # any import failure: not usable
            missing.append(name)
    return missing


def peer_versions() -> dict[str, str]:
    """Installed versions of the peers' packages (``?`` where unknown)."""
    out = {}
    for name in PEER_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "?"
    return out


# --- the two reference synapses -------------------------------------------------------------


def _interp_taps(weight, delay, mode, max_delay, quantized):
    """``(floor(d) clamped to 0..max_delay, d - floor(d), max_delay)`` as delayed_dense."""
    if quantized:
        raise NotImplementedError("the reference synapses implement the float forward only")
    if delay is None or mode == "none":
        delay, max_delay = torch.zeros_like(weight), 0
    elif mode != "interp":
        raise NotImplementedError(f"mode {mode!r}: the reference synapses implement 'interp'")
    base = torch.floor(delay.detach()).clamp(0, max_delay)
    return base, delay - base, max_delay


def naive_delayed_dense(
    x, weight, delay, *, mode="interp", max_delay=0, sigma=0.5, quantized=False, check=True
):
    """Per-synapse shift: two ``(B, n_out, n_in, T)`` gathers of the input, interpolate, sum."""
    base, frac, max_delay = _interp_taps(weight, delay, mode, max_delay, quantized)
    n_in, t_steps = x.shape[1], x.shape[2]
    pad = max_delay + 2
    xp = nn.functional.pad(x, (pad, 0))  # xp[..., s + pad] = x[..., s]
    steps = torch.arange(t_steps, device=x.device)
    near_idx = steps + (pad - 1) - base.long().unsqueeze(-1)  # x[t - 1 - k]
    chan = torch.arange(n_in, device=x.device).view(1, n_in, 1)
    near = xp[:, chan, near_idx]  # (B, n_out, n_in, T)
    far = xp[:, chan, near_idx - 1]  # x[t - 2 - k]
    taps = near + frac.unsqueeze(-1) * (far - near)
    return (taps * weight.unsqueeze(-1)).sum(2)


def conv1d_delayed_dense(
    x, weight, delay, *, mode="interp", max_delay=0, sigma=0.5, quantized=False, check=True
):
    """Dense per-synapse kernel over the ``max_delay + 2`` taps, causal ``conv1d``."""
    base, frac, max_delay = _interp_taps(weight, delay, mode, max_delay, quantized)
    size = max_delay + 2
    taps = torch.arange(size, dtype=base.dtype, device=base.device)
    b, f = base.unsqueeze(-1), frac.unsqueeze(-1)
    kernel = weight.unsqueeze(-1) * ((1 - f) * (taps == b) + f * (taps == b + 1))  # tap k
    # conv1d correlates: output t sees padded input t + m = x[t + m - size]; m = size - 1 - k.
    out = nn.functional.conv1d(nn.functional.pad(x, (size, 0)), kernel.flip(-1))
    return out[..., : x.shape[-1]]


def no_synapse(
    x, weight, delay, *, mode="interp", max_delay=0, sigma=0.5, quantized=False, check=True
):
    """Zeros ``(B, n_out, T)``, still on the autograd path of x, W, d: the step's floor.

    The neurons then run the same dense ops on zero input (and the earlier layers' backward
    still runs), so a step with it is the step without the synapse's cost.
    """
    link = x.sum(1, keepdim=True) * 0 + weight.sum() * 0
    if delay is not None:
        link = link + delay.sum() * 0
    shape = (x.shape[0], weight.shape[0], x.shape[-1])
    return torch.zeros(shape, dtype=x.dtype, device=x.device) + link


SYNAPSES = {
    "ranvier": delayed_dense,
    "naive": naive_delayed_dense,
    "conv1d": conv1d_delayed_dense,
}


# --- the models -------------------------------------------------------------------------------


def build_net(max_delay: int) -> model_mod.SpikingNet:
    """ranvier's SHD-size model with spread fractional delays and spiking hidden layers."""
    cfg = ModelConfig(
        hidden=list(HIDDEN), neuron="ADLIF", delays="interp", max_delay=max_delay, dropout=DROPOUT
    )
    net = model_mod.SpikingNet(N_IN, N_CLASSES, cfg, seed=0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in net.blocks:
            block.delay.copy_(torch.rand(block.delay.shape, generator=gen) * max_delay)
        for block in net.blocks[:-1]:
            block.weight.mul_(WEIGHT_GAIN)
    return net


def make_batch(batch: int, steps: int, density: float) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(batch, N_IN, steps, generator=gen) < density).float()
    y = torch.randint(0, N_CLASSES, (batch,), generator=gen)
    return x, y


def _scope(name: str, on: bool) -> contextlib.AbstractContextManager:
    """A profiler scope ``bench::name`` when ``on``, else nothing."""
    return torch.profiler.record_function(f"bench::{name}") if on else contextlib.nullcontext()


class SurrogateSpike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid derivative ``1 / (1 + k|x|)**2`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return (x > 0).float()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad / (1.0 + SURROGATE_SLOPE * x.abs()) ** 2


spike_fn = SurrogateSpike.apply


class PlainAdlifNet(nn.Module):
    """AdLIF+ (Deckers et al.) with delayed dense synapses, in plain PyTorch: the baseline
    a researcher writes without ranvier. Per hidden layer, a delayed synapse (``naive`` or
    ``conv1d``), then a python loop over the time steps::

        w = beta * w + a * u + b * s
        u = alpha * (u - s) + (1 - alpha) * (I[t] - w)     (threshold 1, reset by subtraction)
        s = spike_fn(u - 1)

    with per-neuron ``alpha, beta, a, b``; dropout on the hidden spikes; the read-out is the
    synaptic input of the last layer (ranvier's memoryless CUBA read-out) summed over time.
    """

    def __init__(self, synapse: str, max_delay: int, dropout: float = DROPOUT):
        super().__init__()
        sizes = [N_IN, *HIDDEN, N_CLASSES]
        self.synapse = SYNAPSES[synapse]
        self.max_delay = max_delay
        self.weights = nn.ParameterList(torch.zeros(o, i) for i, o in itertools.pairwise(sizes))
        self.delays = nn.ParameterList(torch.zeros(o, i) for i, o in itertools.pairwise(sizes))
        self.alpha, self.beta, self.a, self.b = (
            nn.ParameterList(torch.zeros(n) for n in HIDDEN) for _ in range(4)
        )
        self.dropout = nn.Dropout(dropout)
        self.labelled = False  # profiler scopes around the synapses and the neuron loops

    @classmethod
    def from_ranvier(cls, net: model_mod.SpikingNet, synapse: str) -> PlainAdlifNet:
        """The plain model with ``net``'s weights, delays and AdLIF+ parameters."""
        plain = cls(synapse, net.max_delay, net.dropout.p)
        with torch.no_grad():
            for k, block in enumerate(net.blocks):
                plain.weights[k].copy_(block.weight)
                plain.delays[k].copy_(block.delay)
            for k, block in enumerate(net.blocks[:-1]):
                for name in ("alpha", "beta", "a", "b"):
                    getattr(plain, name)[k].copy_(getattr(block.neuron, name).reshape(-1))
        return plain

    def adlif(self, current: torch.Tensor, k: int) -> torch.Tensor:
        """Spikes ``(B, n, T)`` of hidden layer ``k`` for its input current ``(B, n, T)``."""
        alpha, beta, a, b = self.alpha[k], self.beta[k], self.a[k], self.b[k]
        u = torch.zeros_like(current[:, :, 0])
        w = torch.zeros_like(u)
        s = torch.zeros_like(u)
        spikes = []
        for t in range(current.shape[2]):
            w = beta * w + a * u + b * s
            u = alpha * (u - s) + (1 - alpha) * (current[:, :, t] - w)
            s = spike_fn(u - 1.0)
            spikes.append(s)
        return torch.stack(spikes, dim=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """``(logits, hidden spikes, read-out membrane)`` for spikes ``(B, N_IN, T)``."""
        h, hidden = x, []
        for k in range(len(HIDDEN)):
            with _scope("synapse", self.labelled):
                current = self.synapse(h, self.weights[k], self.delays[k], max_delay=self.max_delay)
            with _scope("neuron", self.labelled):
                s = self.adlif(current, k)
            hidden.append(s)
            h = self.dropout(s)
        with _scope("synapse", self.labelled):
            membrane = self.synapse(h, self.weights[-1], self.delays[-1], max_delay=self.max_delay)
        return membrane.sum(-1), hidden, membrane


def dcls_kernel_size(max_delay: int) -> int:
    """Taps of the DCLS kernel: delays 0..max_delay need max_delay + 1, made odd as
    SNN-delays' config does (``max_delay if max_delay % 2 == 1 else max_delay + 1``)."""
    taps = max_delay + 1
    return taps if taps % 2 == 1 else taps + 1


class DclsSjNet(nn.Module):
    """``SnnDelays`` of github.com/Thvnvtos/SNN-delays (``snn_delays.py``) for the SHD-size
    network with their SHD settings: DCLS ``Dcls1d`` delays feeding SpikingJelly multi-step LIF
    neurons, time-major ``(T, B, C)`` between layers (module docstring)."""

    def __init__(self, max_delay: int, dropout: float = DROPOUT, seed: int = 0, backend: str = ""):
        super().__init__()
        from DCLS.construct.modules import Dcls1d
        from spikingjelly.activation_based import layer, neuron, surrogate

        sizes = [N_IN, *HIDDEN, N_CLASSES]
        k = self.kernel = dcls_kernel_size(max_delay)
        self.left, self.right = k - 1, (k - 1) // 2
        backend = backend or "torch"
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.synapses = nn.ModuleList(
                Dcls1d(
                    n_in,
                    n_out,
                    kernel_count=1,
                    groups=1,
                    dilated_kernel_size=k,
                    bias=False,
                    version="gauss",
                )
                for n_in, n_out in itertools.pairwise(sizes)
            )
            for syn in self.synapses:  # their init_model
                nn.init.kaiming_uniform_(syn.weight, nonlinearity="relu")
                nn.init.uniform_(syn.P, a=-k // 2, b=k // 2)
                syn.clamp_parameters()
                nn.init.constant_(syn.SIG, k // 2)
                syn.SIG.requires_grad = False
        thresholds = [1.0] * len(HIDDEN) + [SJ_READOUT_THRESHOLD]
        self.neurons = nn.ModuleList(
            neuron.LIFNode(
                tau=SJ_TAU,
                v_threshold=th,
                surrogate_function=surrogate.ATan(alpha=SJ_SURROGATE_ALPHA),
                detach_reset=True,
                step_mode="m",
                decay_input=False,
                store_v_seq=True,
                backend=backend,
            )
            for th in thresholds
        )
        self.norms = nn.ModuleList(layer.BatchNorm1d(n, step_mode="m") for n in HIDDEN)
        self.dropouts = nn.ModuleList(layer.Dropout(dropout, step_mode="m") for _ in HIDDEN)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Their two Adams: weights and batch norms (lr 1e-3, weight decay 1e-5 on the
        weights), positions (lr 0.1)."""
        weights = [syn.weight for syn in self.synapses]
        norms = [p for bn in self.norms for p in (bn.weight, bn.bias)]
        positions = [syn.P for syn in self.synapses]
        return [
            torch.optim.Adam(
                [
                    {"params": weights, "lr": 1e-3, "weight_decay": 1e-5},
                    {"params": norms, "lr": 1e-3, "weight_decay": 0},
                ]
            ),
            torch.optim.Adam(positions, lr=0.1, weight_decay=0),
        ]

    def _delay(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, n_in)`` -> ``(T + right, B, n_out)`` through layer k's Dcls1d."""
        x = nn.functional.pad(x.permute(1, 2, 0), (self.left, self.right), "constant", 0)
        return self.synapses[k](x).permute(2, 0, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Read-out membrane ``(T', B, N_CLASSES)`` and hidden spikes for ``(T, B, N_IN)``."""
        hidden = []
        for k in range(len(HIDDEN)):
            # their batch norm over the channels of (T, B, C, 1), as in their forward
            current = self.norms[k](self._delay(k, x).unsqueeze(3)).squeeze(3)
            spikes = self.neurons[k](current)
            hidden.append(spikes)
            x = self.dropouts[k](spikes)
        self.neurons[-1](self._delay(len(HIDDEN), x))
        return self.neurons[-1].v_seq, hidden

    @staticmethod
    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Their loss ``sum``: softmax over classes per step, summed over time, cross-entropy."""
        return nn.functional.cross_entropy(torch.softmax(out, dim=2).sum(0), y)

    def after_step(self) -> None:
        """After each step, as their loop (``reset_model``): neuron states reset, positions
        clamped."""
        from spikingjelly.activation_based import functional

        functional.reset_net(self)
        for syn in self.synapses:
            syn.clamp_parameters()


def sj_backend(device: torch.device) -> str:
    """SpikingJelly's fastest backend there: 'cupy' on CUDA where cupy is installed."""
    if device.type == "cuda" and importlib.util.find_spec("cupy") is not None:
        return "cupy"
    return "torch"


# --- equivalence ------------------------------------------------------------------------------


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def check_equivalence(steps: int, max_delay: int, density: float, impls: tuple[str, ...]) -> dict:
    """The synapses against each other, the plain models against each other, dcls_sj runs."""
    gen = torch.Generator().manual_seed(3)
    # layer-0 synapse, batch 2, dropout-scaled spikes; gradients of x, W, d under a random
    # upstream gradient (relative to the largest gradient entry)
    x = ((torch.rand(2, N_IN, steps, generator=gen) < 0.2).float() * 2.0).requires_grad_()
    w = torch.randn(HIDDEN[0], N_IN, generator=gen).requires_grad_()
    d = torch.rand(HIDDEN[0], N_IN, generator=gen) * max_delay
    d[0, :3] = torch.tensor([0.0, float(max_delay), 3.0])  # the ends and an integer
    d.requires_grad_()
    upstream = torch.randn(2, HIDDEN[0], steps, generator=gen)
    synapse = {}
    for impl in SYNAPSES:
        out = SYNAPSES[impl](x, w, d, mode="interp", max_delay=max_delay)
        grads = torch.autograd.grad((out * upstream).sum(), (x, w, d))
        synapse[impl] = (out.detach(), *grads)
    report: dict = {"synapse_vs_ranvier": {}}
    worst = 0.0
    for impl in ("naive", "conv1d"):
        ref, got = synapse["ranvier"], synapse[impl]
        rel = [
            _max_diff(a, b) / float(a.abs().max()) for a, b in zip(ref[1:], got[1:], strict=True)
        ]
        report["synapse_vs_ranvier"][impl] = {
            "out": _max_diff(ref[0], got[0]),
            "grad_rel": dict(zip(("x", "weight", "delay"), rel, strict=True)),
        }
        worst = max(worst, _max_diff(ref[0], got[0]), *rel)

    # the models, eval mode, batch 4: the plain AdLIF+ with either synapse, and ranvier's
    net = build_net(max_delay).eval()
    xm, ym = make_batch(4, steps, density)
    with torch.no_grad():
        logits, hidden, membrane = net(xm)
        plain = {}
        for impl in ("naive", "conv1d"):
            model = PlainAdlifNet.from_ranvier(net, impl).eval()
            plain[impl] = model(xm)
    report["spike_rates_eval_batch4"] = [float(s.mean()) for s in hidden]
    a, b = plain["naive"], plain["conv1d"]
    report["plain_naive_vs_conv1d"] = {
        "logits": _max_diff(a[0], b[0]),
        "membrane": _max_diff(a[2], b[2]),
    }
    worst = max(worst, *report["plain_naive_vs_conv1d"].values())
    report["ranvier_vs_plain_adlif"] = {  # reported, not checked (module docstring)
        "logits": _max_diff(logits, a[0]),
        "membrane": _max_diff(membrane, a[2]),
        "spike_rates_plain": [float(s.mean()) for s in a[1]],
    }
    ok = worst < TOLERANCE
    if "dcls_sj" in impls:
        model = DclsSjNet(max_delay).train()
        out, spikes = model(xm.permute(2, 0, 1).contiguous())
        loss = model.loss(out, ym)
        grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])
        finite = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)
        report["dcls_sj"] = {
            "loss": float(loss.detach()),
            "finite": finite,
            "out_steps": out.shape[0],
            "spike_rates_train_batch4": [float(s.detach().mean()) for s in spikes],
        }
        ok = ok and finite
    report["max_diff"] = worst
    report["ok"] = ok
    return report


# --- worker (one implementation per subprocess) -----------------------------------------------


def _status_bytes(field: str) -> int:
    """A ``Vm*`` field of /proc/self/status in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_rss_peak() -> str:
    """Reset the peak RSS (VmHWM) to the current RSS; say how peaks are measured.

    Not ``getrusage().ru_maxrss``: a subprocess's ru_maxrss starts at its parent's peak RSS
    (recorded when it execs), which hides any peak below that.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0
    except OSError:
        return "VmHWM - VmRSS after construction (peak not reset: may include earlier peaks)"
    return "VmHWM - VmRSS after construction, peak reset there (/proc/self/clear_refs)"


def _profile_step(step: Callable[[], tuple[float, float]]) -> dict:
    """One step under torch.profiler; seconds per (scope, pass) and the top ops of each."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall = step()[0]
    events = prof.events()

    def scope(event) -> str | None:
        while event is not None:
            if event.name.startswith("bench::"):
                return event.name[len("bench::") :]
            event = event.cpu_parent
        return None

    split = {f"{s}_{p}": 0.0 for s in ("synapse", "neuron") for p in ("fwd", "bwd")}
    top: dict[str, dict[str, float]] = {key: {} for key in split}
    seq_scope: dict[int, str] = {}
    for ev in events:
        if ev.name.startswith("bench::"):
            # a scope inside another (a module called from a labelled one) counts once
            parent = ev.cpu_parent
            if parent is None or scope(parent) is None:
                split[f"{ev.name[len('bench::') :]}_fwd"] += ev.cpu_time_total / 1e6
        elif not ev.name.startswith("autograd::"):
            where = scope(ev)
            if where is None:
                continue
            if ev.sequence_nr >= 0:
                seq_scope.setdefault(ev.sequence_nr, where)
            key = f"{where}_fwd"
            top[key][ev.name] = top[key].get(ev.name, 0.0) + ev.self_cpu_time_total / 1e6
    for ev in events:
        if ev.name.startswith("autograd::engine::evaluate_function: "):
            where = seq_scope.get(ev.sequence_nr)
            if where is None:
                continue
            key = f"{where}_bwd"
            split[key] += ev.cpu_time_total / 1e6
            node = ev.name.split(": ", 1)[1]
            top[key][node] = top[key].get(node, 0.0) + ev.cpu_time_total / 1e6
    split["other"] = wall - sum(split.values())
    return {
        "wall_s": wall,
        "split_s": split,
        "top_s": {
            key: dict(sorted(ops.items(), key=lambda kv: -kv[1])[:4]) for key, ops in top.items()
        },
    }


@contextlib.contextmanager
def _labelled_modules(modules: list[nn.Module], name: str) -> Iterator[None]:
    """Run each module's forward inside the profiler scope ``bench::name`` meanwhile."""
    for module in modules:
        raw = module.forward

        def forward(*args, _raw=raw, **kwargs):
            with torch.profiler.record_function(f"bench::{name}"):
                return _raw(*args, **kwargs)

        module.forward = forward
    try:
        yield
    finally:
        for module in modules:
            del module.forward  # back to the class's forward


@contextlib.contextmanager
def _labelled_ranvier(net: model_mod.SpikingNet) -> Iterator[None]:
    """Profiler scopes for ranvier's model: its synapse function (the one Block.forward
    calls, wrapped for the profiled step only) and its neuron modules."""
    raw = model_mod.delayed_dense

    def synapse(*args, **kwargs):
        with torch.profiler.record_function("bench::synapse"):
            return raw(*args, **kwargs)

    model_mod.delayed_dense = synapse
    try:
        with _labelled_modules([b.neuron for b in net.blocks], "neuron"):
            yield
    finally:
        model_mod.delayed_dense = raw


class Runner:
    """One implementation's training step on its model, input and optimizers."""

    def __init__(self, impl: str, batch: int, args: argparse.Namespace):
        self.device = device = torch.device(args.device)
        self.sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
        x, y = make_batch(batch, args.steps, args.density)
        self.x, self.y = x.to(device), y.to(device)
        self.model: nn.Module
        if impl == "dcls_sj":
            self.model = DclsSjNet(args.max_delay, backend=sj_backend(device)).to(device)
            self.x = self.x.permute(2, 0, 1).contiguous()  # their loader's (T, B, C)
            self.optimizers = self.model.optimizers()
        else:
            net = build_net(args.max_delay)
            if impl == "none":
                model_mod.delayed_dense = no_synapse
            self.model = (
                net if impl in ("ranvier", "none") else PlainAdlifNet.from_ranvier(net, impl)
            )
            self.model.to(device)
            self.optimizers = [torch.optim.Adam(self.model.parameters(), lr=0.01)]
        self.model.train()
        self.impl = impl

    def _loss(self) -> torch.Tensor:
        if self.impl == "dcls_sj":
            out, _ = self.model(self.x)
            return self.model.loss(out, self.y)
        logits = self.model(self.x)[0]
        return nn.functional.cross_entropy(logits, self.y)

    def step(self) -> tuple[float, float]:
        """One training step: ``(step seconds, forward + loss seconds)``."""
        self.sync()
        t0 = time.perf_counter()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        loss = self._loss()
        self.sync()
        t1 = time.perf_counter()
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        if self.impl == "dcls_sj":
            self.model.after_step()
        self.sync()
        return time.perf_counter() - t0, t1 - t0

    def labelled(self) -> contextlib.AbstractContextManager:
        """Profiler scopes ``bench::synapse`` / ``bench::neuron`` for one step."""
        if self.impl == "dcls_sj":
            stack = contextlib.ExitStack()
            stack.enter_context(_labelled_modules(list(self.model.synapses), "synapse"))
            stack.enter_context(_labelled_modules(list(self.model.neurons), "neuron"))
            return stack
        if isinstance(self.model, PlainAdlifNet):
            return _plain_labelled(self.model)
        return _labelled_ranvier(self.model)


@contextlib.contextmanager
def _plain_labelled(model: PlainAdlifNet) -> Iterator[None]:
    model.labelled = True
    try:
        yield
    finally:
        model.labelled = False


def worker(args: argparse.Namespace) -> int:
    """Answer the parent's commands (``step``, ``memory``, ``profile``, ``quit``) on stdout."""
    impl, budget = args.worker, args.budget
    torch.set_num_threads(args.threads)
    runner = Runner(impl, args.batch, args)
    cuda = runner.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        method = "torch.cuda.max_memory_allocated - memory_allocated after construction"
    else:
        method = _reset_rss_peak()
        baseline = _status_bytes("VmRSS")
        if budget > 0:  # an allocation past the budget fails in torch instead of the OOM killer
            limit = _status_bytes("VmSize") + budget
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def answer(obj: dict) -> None:
        print(MARK + json.dumps(obj), flush=True)

    answer({"ready": True, "batch": args.batch})
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == "step":
                step_s, fwd_s = runner.step()
                answer({"step_s": step_s, "forward_s": fwd_s})
            elif cmd == "memory":
                peak = torch.cuda.max_memory_allocated() if cuda else _status_bytes("VmHWM")
                answer({"peak_increase_bytes": peak - baseline, "method": method})
            elif cmd == "profile":
                with runner.labelled():
                    answer(_profile_step(runner.step))
            else:
                answer({"bye": True})
                return 0
        except (RuntimeError, MemoryError) as exc:  # torch reports a failed malloc so
            oom = "alloc" in str(exc) or isinstance(exc, MemoryError)
            answer({"error": "oom" if oom else "error", "message": str(exc)[:300]})
            return 1
    return 0


class Worker:
    """A subprocess running one implementation, driven line by line."""

    def __init__(self, impl: str, batch: int, args: argparse.Namespace, budget: int):
        self.impl, self.batch = impl, batch
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl]
        cmd += ["--batch", str(batch), "--steps", str(args.steps)]
        cmd += ["--max-delay", str(args.max_delay), "--density", str(args.density)]
        cmd += ["--budget", str(budget), "--threads", str(args.threads)]
        cmd += ["--device", args.device]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.ready = self._read()

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        return {"error": "exited", "message": f"worker exited ({self.proc.wait()})"}

    def ask(self, cmd: str) -> dict:
        if self.proc.poll() is not None:
            return {"error": "exited", "message": f"worker exited ({self.proc.returncode})"}
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask("quit")
        self.proc.wait()


# --- parent -----------------------------------------------------------------------------------


def mem_available(device: torch.device) -> int:
    """Free memory where the models live: MemAvailable, or the CUDA device's free memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 8 << 30


def naive_estimate(batch: int, steps: int) -> int:
    sizes = [N_IN, *HIDDEN, N_CLASSES]
    synapses = sum(a * b for a, b in itertools.pairwise(sizes))
    return NAIVE_BYTES_PER_TAP * batch * synapses * steps + (512 << 20)


def busy_cpu_s() -> float:
    """CPU seconds spent by the whole machine so far, idle and iowait excluded."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and its finished (waited-for) subprocesses."""
    return sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def time_workers(
    args: argparse.Namespace, runs: tuple[str, ...], budget: int
) -> tuple[dict, dict, dict, dict, dict]:
    """Round-robin steps over one worker per implementation; ``(batches, times, failed,
    memory, profiles)``."""
    batches = {impl: args.batch for impl in runs}
    if "naive" in runs:
        while batches["naive"] > 1 and naive_estimate(batches["naive"], args.steps) > budget:
            batches["naive"] //= 2
    workers = {impl: Worker(impl, batches[impl], args, budget) for impl in runs}
    times: dict[str, list[tuple[float, float]]] = {impl: [] for impl in runs}
    failed: dict[str, str] = {
        impl: w.ready["message"] for impl, w in workers.items() if "error" in w.ready
    }
    try:
        for rnd in range(args.repeats + 1):  # round 0 is the warm-up
            for impl in runs:
                if impl in failed:
                    continue
                res = workers[impl].ask("step")
                while "error" in res and res["error"] == "oom" and workers[impl].batch > 1:
                    workers[impl].close()  # retry at half the batch, warm-up included
                    batches[impl] = workers[impl].batch // 2
                    workers[impl] = Worker(impl, batches[impl], args, budget)
                    times[impl].clear()
                    res = workers[impl].ask("step")
                    if "error" not in res and rnd > 0:
                        res = workers[impl].ask("step")
                if "error" in res:
                    failed[impl] = res["message"]
                elif rnd > 0:
                    times[impl].append((res["step_s"], res["forward_s"]))
        memory = {impl: workers[impl].ask("memory") for impl in runs if impl not in failed}
        profiled = [i for i in runs if i != "none" and (args.profile == "all" or i == "ranvier")]
        profiles = {
            impl: workers[impl].ask("profile")
            for impl in profiled
            if impl not in failed and args.profile != "off"
        }
    finally:
        for w in workers.values():
            w.close()
    return batches, times, failed, memory, profiles


def summarize(report: dict, results: dict) -> None:
    """Ratios vs ranvier per implementation and the ``target`` object, into ``report``."""
    ref = results["ranvier"]
    for r in results.values():
        if "failed" in r or "failed" in ref:
            continue
        r["speedup_step"] = r["step_s"] / ref["step_s"]
        r["speedup_forward"] = r["forward_s"] / ref["forward_s"]
        # below 1 MB the increase is noise (freed pages are reused): no ratio
        ref_mb = ref["peak_mb"]
        r["memory_ratio"] = r["peak_mb"] / ref_mb if ref_mb >= 1 else None
    peers = [p for p in PEERS if "speedup_step" in results.get(p, {})]
    if "failed" in ref or not peers:
        return
    fastest = min(peers, key=lambda impl: results[impl]["step_s"])
    target: dict = {
        "fastest": fastest,
        "speedup_vs_fastest": results[fastest]["step_s"] / ref["step_s"],
        "peers_timed": peers,
    }
    target["speed_ok"] = target["speedup_vs_fastest"] >= 5.0
    naive = results.get("naive", {})
    if naive.get("peak_mb", 0.0) >= 1:
        target["memory_fraction_of_naive"] = ref["peak_mb"] / naive["peak_mb"]
        target["memory_ok"] = target["memory_fraction_of_naive"] <= 0.2
    if "speedup_step" in results.get("none", {}):
        # ranvier's step without any synapse: what ranvier's model can at best approach
        floor = results["none"]["step_s"]
        target["floor_step_s"] = floor
        target["ranvier_synapse_share_unprofiled"] = 1.0 - floor / ref["step_s"]
        target["bound_if_synapse_free"] = results[fastest]["step_s"] / floor
    prof = ref.get("profile")
    if prof:
        split = prof["split_s"]
        syn = split["synapse_fwd"] + split["synapse_bwd"]
        neu = split["neuron_fwd"] + split["neuron_bwd"]
        target["ranvier_synapse_share"] = syn / prof["wall_s"]
        target["ranvier_neuron_share"] = neu / prof["wall_s"]
        if "profile" in results[fastest] and syn > 0:
            fsplit = results[fastest]["profile"]["split_s"]
            target["synapse_speedup_vs_fastest"] = (
                fsplit["synapse_fwd"] + fsplit["synapse_bwd"]
            ) / syn
    report["target"] = target


def run(args: argparse.Namespace, runs: tuple[str, ...]) -> dict:
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    busy_start, own_start = busy_cpu_s(), own_cpu_s()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    equivalence = check_equivalence(args.steps, args.max_delay, args.density, runs)
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "torch": torch.__version__,
        "device": str(device)
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "threads": args.threads,
        "model": f"{N_IN}-{HIDDEN[0]}-{HIDDEN[1]}-{N_CLASSES}, per-synapse delays "
        f"0..{args.max_delay} (read-out included), dropout {DROPOUT}",
        "implementations": {impl: DESCRIPTIONS[impl] for impl in runs},
        "ranvier_hidden_weight_gain": WEIGHT_GAIN,
        "batch": args.batch,
        "timesteps": args.steps,
        "input_density": args.density,
        "repeats": args.repeats,
        "equivalence": equivalence,
    }
    if "dcls_sj" in runs:
        report["dcls_sj"] = {
            "packages": peer_versions(),
            "kernel_taps": dcls_kernel_size(args.max_delay),
            "backend": sj_backend(device),
            "source": "github.com/Thvnvtos/SNN-delays snn_delays.py (SnnDelays), config.py",
        }
    if not equivalence["ok"]:
        return report

    # memory: naive gets what is available minus a margin and the other workers' share
    others = (len(runs) - 1) * ((256 << 20) + args.batch * (3 << 20))
    budget = max(mem_available(device) - (2 << 30) - others, 1 << 30)
    batches, times, failed, memory, profiles = time_workers(args, runs, budget)

    results: dict = {}
    for impl in runs:
        if impl in failed:
            results[impl] = {"failed": failed[impl], "batch": batches[impl]}
            continue
        scale = args.batch / batches[impl]
        step_s = statistics.median(t for t, _ in times[impl])
        fwd_s = statistics.median(f for _, f in times[impl])
        mem = memory[impl]["peak_increase_bytes"]
        results[impl] = {
            "batch_measured": batches[impl],
            "scale": scale,
            "step_s": step_s * scale,
            "forward_s": fwd_s * scale,
            "peak_mb": mem * scale / 2**20,
            "all_step_s": [t for t, _ in times[impl]],
            "all_forward_s": [f for _, f in times[impl]],
        }
        if impl in profiles and "error" not in profiles[impl]:
            results[impl]["profile"] = profiles[impl]
    report["results"] = results
    report["memory_method"] = next(iter(memory.values()), {}).get("method", "")
    summarize(report, results)
    report["load_avg_start_end"] = [load_start[0], os.getloadavg()[0]]
    report["wall_s"] = time.perf_counter() - t_start
    other_s = (busy_cpu_s() - busy_start) - (own_cpu_s() - own_start)
    report["other_processes_cpu_share"] = max(other_s, 0.0) / (report["wall_s"] * os.cpu_count())
    return report


def print_report(report: dict) -> None:
    print(f"train_throughput  {report['date']}  {report['machine']}  torch {report['torch']}")
    print(
        f"{report['model']}; batch {report['batch']}, T={report['timesteps']}, input density "
        f"{report['input_density']}, {report['device']}, {report['threads']} threads, "
        f"median of {report['repeats']} interleaved steps"
    )
    eq = report["equivalence"]
    syn = max(max(r["out"], *r["grad_rel"].values()) for r in eq["synapse_vs_ranvier"].values())
    plain = eq["plain_naive_vs_conv1d"]
    print(
        f"checks: naive/conv1d synapse vs ranvier's (out + grads of x, W, d) {syn:.1e}; plain "
        f"AdLIF+ naive vs conv1d (logits, membrane) {max(plain.values()):.1e} -> "
        f"{'ok' if eq['max_diff'] < TOLERANCE else 'MISMATCH'}"
    )
    rv = eq["ranvier_vs_plain_adlif"]
    print(
        f"  ranvier vs plain AdLIF+ (same parameters, eval, not checked): logits "
        f"{rv['logits']:.1e}; eval spike rates ranvier "
        f"{', '.join(f'{r:.3f}' for r in eq['spike_rates_eval_batch4'])}, plain "
        f"{', '.join(f'{r:.3f}' for r in rv['spike_rates_plain'])}"
    )
    if "dcls_sj" in eq:
        sj = eq["dcls_sj"]
        info = report.get("dcls_sj", {})
        print(
            f"  dcls_sj: loss {sj['loss']:.3f} ({'finite' if sj['finite'] else 'NOT FINITE'}), "
            f"{info.get('kernel_taps')} taps, {sj['out_steps']} read-out steps, train spike "
            f"rates {', '.join(f'{r:.3f}' for r in sj['spike_rates_train_batch4'])}; "
            + ", ".join(f"{k} {v}" for k, v in info.get("packages", {}).items())
            + f", backend {info.get('backend')}"
        )
    if "results" not in report:
        return
    head = (
        f"{'impl':<9}{'batch':>10}{'step s':>9}{'fwd s':>8}{'peak MB':>9}"
        f"{'step x':>8}{'fwd x':>7}{'mem x':>7}"
    )
    print(head)
    print("-" * len(head))
    for impl, r in report["results"].items():
        if "failed" in r:
            print(f"{impl:<9}{r['batch']:>10}  failed: {r['failed'][:60]}")
            continue
        batch = str(r["batch_measured"]) + (f"*{r['scale']:g}" if r["scale"] != 1 else "")
        print(
            f"{impl:<9}{batch:>10}{r['step_s']:>9.2f}{r['forward_s']:>8.2f}"
            f"{r['peak_mb']:>9.0f}{r.get('speedup_step', math.nan):>8.2f}"
            f"{r.get('speedup_forward', math.nan):>7.2f}{r.get('memory_ratio') or math.nan:>7.2f}"
        )
    if any(r.get("scale", 1) != 1 for r in report["results"].values()):
        print("batch N*k: measured at batch N, time and memory scaled by k to the full batch")
    print("x = impl / ranvier (step, forward, peak memory increase)")
    for impl, text in report["implementations"].items():
        print(f"  {impl:<8} {text}")
    profiled = {i: r["profile"] for i, r in report["results"].items() if r.get("profile")}
    if profiled:
        print(
            f"\nprofiled step split, s (torch.profiler, one step):\n"
            f"{'impl':<9}{'syn fwd':>9}{'syn bwd':>9}{'neu fwd':>9}{'neu bwd':>9}{'other':>8}"
            f"{'wall':>8}{'synapse':>9}{'neuron':>8}"
        )
    for impl, prof in profiled.items():
        s, wall = prof["split_s"], prof["wall_s"]
        syn, neu = s["synapse_fwd"] + s["synapse_bwd"], s["neuron_fwd"] + s["neuron_bwd"]
        print(
            f"{impl:<9}{s['synapse_fwd']:>9.2f}{s['synapse_bwd']:>9.2f}{s['neuron_fwd']:>9.2f}"
            f"{s['neuron_bwd']:>9.2f}{s['other']:>8.2f}{wall:>8.2f}"
            f"{syn / wall:>9.0%}{neu / wall:>8.0%}"
        )
    if "ranvier" in profiled:
        print("ranvier, top ops per part (s):")
        for key, ops in profiled["ranvier"]["top_s"].items():
            print(f"  {key:<12}" + ", ".join(f"{name} {sec:.2f}" for name, sec in ops.items()))
    t = report.get("target")
    if t:
        print(
            f"\ntarget: step >= 5x faster than the fastest peer ({t['fastest']} of "
            f"{', '.join(t['peers_timed'])}): {t['speedup_vs_fastest']:.2f}x -> "
            f"{'met' if t['speed_ok'] else 'MISSED'}"
        )
        if "memory_fraction_of_naive" in t:
            print(
                f"target: peak memory <= 1/5 of naive's: {t['memory_fraction_of_naive']:.3f} -> "
                f"{'met' if t['memory_ok'] else 'MISSED'}"
            )
        if "bound_if_synapse_free" in t:
            print(
                f"without any synapse ranvier's step takes {t['floor_step_s']:.2f} s, so its "
                f"synapse is {t['ranvier_synapse_share_unprofiled']:.0%} of its step and no "
                f"synapse can make it more than {t['bound_if_synapse_free']:.2f}x faster than "
                f"{t['fastest']}"
            )
        if "ranvier_synapse_share" in t:
            line = (
                f"profiled ranvier step: synapse {t['ranvier_synapse_share']:.0%}, neuron "
                f"{t['ranvier_neuron_share']:.0%} (the profiler inflates many small ops)"
            )
            if "synapse_speedup_vs_fastest" in t:
                line += (
                    f"; synapse fwd+bwd alone {t['synapse_speedup_vs_fastest']:.2f}x faster "
                    f"than {t['fastest']}'s"
                )
            print(line)
    share = report["other_processes_cpu_share"]
    print(f"wall {report['wall_s']:.0f} s; other processes used {share:.0%} of the CPU meanwhile")
    if share > BUSY_SHARE:
        print(
            "WARNING: the CPU was shared. Oversubscribed torch thread pools slow some ops (the "
            "complex bmm of the frequency-domain synapse) by up to ~10x and others hardly, so "
            "the ratios are not trustworthy: rerun on an idle machine (or compare --threads 1)."
        )


def parse_impls(text: str) -> tuple[str, ...]:
    """``--impls``: a comma-separated subset of RUNS, in RUNS order; ranvier always."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(RUNS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))} (of {RUNS})")
    return tuple(impl for impl in RUNS if impl in names | {"ranvier"})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=125, help="time steps T")
    ap.add_argument("--max-delay", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=5, help="timed steps per implementation")
    ap.add_argument("--density", type=float, default=0.05, help="input spike probability/bin")
    ap.add_argument(
        "--impls",
        type=parse_impls,
        default=RUNS,
        help=f"comma-separated subset of {','.join(RUNS)} (ranvier always runs)",
    )
    ap.add_argument(
        "--profile",
        choices=("all", "ranvier", "off"),
        default="all",
        help="which to profile once (CPU only)",
    )
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda[:N]")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--worker", choices=RUNS, help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if "dcls_sj" in args.impls and (missing := missing_peers()):
        print(
            f"train_throughput: the dcls_sj peer needs {', '.join(missing)} "
            f"(dcls=={PEER_PACKAGES['dcls']}, spikingjelly=={PEER_PACKAGES['spikingjelly']}), "
            "not installed in this environment: run `make bench-peers` "
            "(or leave it out: --impls ranvier,naive,conv1d,none)",
            file=sys.stderr,
        )
        return 2
    if torch.device(args.device).type == "cuda":
        if not torch.cuda.is_available():
            print(f"train_throughput: --device {args.device}: no CUDA device", file=sys.stderr)
            return 2
        args.profile = "off"  # CPU times of asynchronous kernels: no split
    report = run(args, args.impls)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if report["equivalence"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
