"""CUBA, ALIF and AdLIF+ neurons in torch: a float forward to train, and a quantized forward
that is, step for step, the integer model the simulator runs.

Units. The float forward works in threshold units (the threshold is 1, as in the seed and
in SLAYER). The quantized forward works in hardware units: the synaptic input is the integer
the synapse delivers (``a_in``), the neuron adds ``a_in << 6``, and the threshold is
``vth_mant << 6``; a layer's ``vth_mant`` is its scale (file weight = ``vth_mant`` x float
weight, quantized). Every state is a float64 tensor holding an integer, every 12-bit product
is rounded toward zero (``trunc_ste``), the current wraps and the voltage saturates at 24 bits
as in ``hw_models``. Gradients pass straight through the rounding and flow through the
spike through a surrogate derivative.

The rules reproduced, op for op (tests/train/test_neurons_exact.py checks them against the
simulator's kernels):

- CUBA = ``hw_models.neurons.cuba.cuba_step`` (lava-nc PyLifModelBitAcc),
- ALIF = ``hw_models.neurons.alif.alif_step`` (lava-nc PyATRLIFModelFixed),
- AdLIF+ = ``hw_models.neurons.adlif.adlif_step`` (docs/neurons.md).

The float <-> integer parameter maps are the units' own (``from_model``), called here with
straight-through rounding; ``to_ir`` hands the integers to the IR unit of the same type.

Two implementations of each forward: ``_forward_reference``, a torch loop over the T steps
(any device, and the one a recurrent block's per-step ``feedback`` needs), and the fused C++
loop of ``train/fused`` (one call per direction over all steps, same results: quantized bit
for bit, float and gradients to rounding), taken automatically on CPU tensors when it is
built (``make install``); tests/train/test_fused.py compares the two.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol

import numpy as np
import torch
from ranvier.hw_models.fixed_point import NON_SPIKING_VTH_MANT, VTH_MANT_MAX
from ranvier.hw_models.neurons import AdlifNeurons, AlifNeurons, CubaNeurons, NeuronGroup
from ranvier.hw_models.neurons.alif import threshold_step_mant
from torch import nn

from . import fused
from .fixed import (
    ACT_SCALE,
    DECAY_UNITY,
    MAX_SCALE,
    VTH_SCALE,
    decay_const,
    round_ste,
    saturate_ste,
    trunc_ste,
    wrap_current_ste,
)


class Feedback(Protocol):
    """A recurrent block's input from its own spikes (``train/recurrent.py``,
    ``RecurrentFeedback``): ``arrive()`` gives the current step's ``(B, n)`` input in synapse
    units (the neuron scales it as the feed-forward input: the simulator sums both ``a_in``
    before the ``<< 6``); ``send(s)`` takes the step's spikes."""

    def arrive(self) -> torch.Tensor: ...

    def send(self, spikes: torch.Tensor) -> None: ...


#: Slope of the fast-sigmoid surrogate derivative ``1 / (1 + k|x|)**2`` (x in threshold units).
SURROGATE_SLOPE = 5.0


class _Spike(torch.autograd.Function):
    """Heaviside of ``x`` (``x > 0``, or ``x >= 0`` for ALIF) with a fast-sigmoid surrogate.

    ``scale`` is the threshold in the units of x, so the surrogate has the same shape in the
    float and in the hardware units.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: torch.Tensor, inclusive: bool) -> torch.Tensor:
        ctx.save_for_backward(x, scale)
        return (x >= 0).to(x.dtype) if inclusive else (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, scale = ctx.saved_tensors
        surrogate = 1.0 / (1.0 + SURROGATE_SLOPE * (x / scale).abs()) ** 2
        return grad * surrogate / scale, None, None


def spike(x: torch.Tensor, scale: torch.Tensor | float, inclusive: bool = False) -> torch.Tensor:
    """Spikes where ``x > 0`` (``>= 0`` with ``inclusive``), surrogate gradient."""
    scale_t = torch.as_tensor(scale, dtype=x.dtype, device=x.device)
    return _Spike.apply(x, scale_t, inclusive)


class Quant:
    """The op set of one forward: identity ops in float mode, hardware rounding when quantized."""

    def __init__(self, quantized: bool):
        self.quantized = quantized

    def trunc(self, x: torch.Tensor) -> torch.Tensor:
        return trunc_ste(x) if self.quantized else x

    def wrap(self, x: torch.Tensor) -> torch.Tensor:
        return wrap_current_ste(x) if self.quantized else x

    def sat(self, x: torch.Tensor) -> torch.Tensor:
        return saturate_ste(x) if self.quantized else x

    def keep(self, decay: torch.Tensor) -> torch.Tensor:
        """Retention factor of a decay fraction: ``1 - decay``, or ``(4096 - iDecay) / 4096``."""
        if self.quantized:
            return (DECAY_UNITY - decay_const(1.0 - decay)) / DECAY_UNITY
        return 1.0 - decay


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64).float()


class NeuronBase(nn.Module):
    """Shared parts: parameter ranges (clipped after each optimizer step) and the scales."""

    #: name -> (low, high) of every learnable parameter
    ranges: ClassVar[dict[str, tuple[float, float]]] = {}
    #: name -> (low, high) of every constructor argument a config may set
    #: (``[model] neuron_params``; train/config.py checks them against these ranges)
    settings: ClassVar[dict[str, tuple[float, float]]] = {}
    #: the neuron type tag (the IR unit's ``neuron_type``)
    neuron_type = CubaNeurons.neuron_type
    spiking = True

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    @torch.no_grad()
    def clip_(self) -> None:
        """Clip every learnable parameter to its range (the seed's boundaries)."""
        for name, (lo, hi) in self.ranges.items():
            getattr(self, name).clamp_(lo, hi)

    def to_ir(self, vth_mant: int) -> NeuronGroup:
        """The layer's neurons as the IR unit of the same type, at scale ``vth_mant``."""
        raise NotImplementedError

    @classmethod
    def create(cls, n: int, params: dict, generator: torch.Generator | None) -> NeuronBase:
        """A hidden group of ``n`` neurons from the config's ``neuron_params``."""
        return cls(n, **params)

    @staticmethod
    def units(quantized: bool, vth_mant: int) -> tuple[float, float]:
        """``(input scale, threshold)`` of the forward: ``(1, 1)``, or ``(64, vth_mant << 6)``."""
        return (ACT_SCALE, vth_mant * VTH_SCALE) if quantized else (1.0, 1.0)


class CubaNeuron(NeuronBase):
    """Loihi's CUBA LIF: ``u = decay(u) + in``, ``v = decay(v) + u``, spike when ``v > vth``,
    reset to 0. One current and one voltage decay per layer (lava's LIF holds ``du``/``dv``
    as one value per process). ``spiking=False`` makes the non-spiking read-out.
    """

    neuron_type = CubaNeurons.neuron_type
    ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "current_decay": (0.0, 1.0),
        "voltage_decay": (0.0, 1.0),
    }
    settings: ClassVar[dict[str, tuple[float, float]]] = ranges

    def __init__(
        self,
        n: int,
        current_decay: float = 0.25,
        voltage_decay: float = 0.03,
        *,
        learn: bool = True,
        spiking: bool = True,
    ):
        super().__init__(n)
        self.spiking = spiking
        self.current_decay = nn.Parameter(torch.tensor([current_decay]), requires_grad=learn)
        self.voltage_decay = nn.Parameter(torch.tensor([voltage_decay]), requires_grad=learn)

    def factors(self, quantized: bool, dtype: torch.dtype) -> list[torch.Tensor]:
        """Retention factors ``[i_keep, v_keep]`` (1,) of the forward, in ``dtype``."""
        q = Quant(quantized)
        return [q.keep(d).to(dtype) for d in (self.current_decay, self.voltage_decay)]

    def forward(
        self, a: torch.Tensor, quantized: bool, vth_mant: int, feedback: Feedback | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and voltage ``(B, n, T)`` from synaptic input ``a`` ``(B, n, T)``; with a
        ``feedback`` (a recurrent block's, ``train/recurrent.py``) each step's input also
        holds what the layer's own earlier spikes deliver. The fused loop (``train/fused``)
        when it can run, else ``_forward_reference``."""
        if feedback is None and fused.usable(a):
            scalars = self.units(quantized, vth_mant)
            factors = self.factors(quantized, a.dtype)
            return fused.run("cuba", a, factors, scalars, quantized, self.spiking)
        return self._forward_reference(a, quantized, vth_mant, feedback)

    def _forward_reference(
        self, a: torch.Tensor, quantized: bool, vth_mant: int, feedback: Feedback | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The torch loop over the T steps: the rule the fused loop reproduces."""
        q = Quant(quantized)
        act_scale, vth = self.units(quantized, vth_mant)
        i_keep, v_keep = self.factors(quantized, a.dtype)
        act = a * act_scale
        u = torch.zeros_like(act[..., 0])
        v = torch.zeros_like(u)
        spikes, volts = [], []
        for a_t in act.unbind(-1):  # one backward for all steps (not a select per step)
            if feedback is not None:
                a_t = a_t + act_scale * feedback.arrive()
            u = q.wrap(q.trunc(u * i_keep) + a_t)
            v = q.sat(q.trunc(v * v_keep) + u)
            if self.spiking:
                s = spike(v - vth, vth)
                v = v * (1.0 - s.detach())
                spikes.append(s)
                if feedback is not None:
                    feedback.send(s)
            volts.append(v)
        volt = torch.stack(volts, -1)
        return (torch.stack(spikes, -1) if self.spiking else torch.zeros_like(volt)), volt

    def to_ir(self, vth_mant: int) -> CubaNeurons:
        """CUBA neurons: the decays' 12-bit constants; a read-out gets the unreachable
        threshold ``NON_SPIKING_VTH_MANT``."""
        with torch.no_grad():
            ints = CubaNeurons.from_model(
                self.current_decay.detach(), self.voltage_decay.detach(), round_ste, torch.clamp
            )
        return CubaNeurons.create(
            self.n,
            vth_mant=int(vth_mant) if self.spiking else NON_SPIKING_VTH_MANT,
            **{k: int(v.item()) for k, v in ints.items()},
        )


class AlifNeuron(NeuronBase):
    """SLAYER's ALIF as lava-nc's ATRLIF runs it: an adaptive threshold that rises by
    ``threshold_step`` per spike and decays back, and a refractory state (``2 * theta`` per
    spike, decaying) subtracted from v in the spike test ``v - r >= theta``; no reset.
    One value of each parameter per layer (ATRLIF holds them per process).
    """

    neuron_type = AlifNeurons.neuron_type
    ranges: ClassVar[dict[str, tuple[float, float]]] = {
        "current_decay": (0.0, 1.0),
        "voltage_decay": (0.0, 1.0),
        "threshold_decay": (0.0, 1.0),
        "refractory_decay": (0.0, 1.0),
    }
    #: the decays, and the threshold step in threshold units: at the largest layer scale
    #: its vThStep = round(step * vth_mant) must still fit the 17-bit register
    settings: ClassVar[dict[str, tuple[float, float]]] = {
        **ranges,
        "threshold_step": (0.0, VTH_MANT_MAX / MAX_SCALE),
    }

    def __init__(
        self,
        n: int,
        current_decay: float = 0.25,
        voltage_decay: float = 0.03,
        threshold_decay: float = 0.01,
        refractory_decay: float = 0.5,
        threshold_step: float = 0.2,
        *,
        learn: bool = True,
    ):
        super().__init__(n)
        self.threshold_step = float(threshold_step)
        for name, value in (
            ("current_decay", current_decay),
            ("voltage_decay", voltage_decay),
            ("threshold_decay", threshold_decay),
            ("refractory_decay", refractory_decay),
        ):
            setattr(self, name, nn.Parameter(torch.tensor([value]), requires_grad=learn))

    def step_mant(self, vth_mant: int) -> int:
        """The threshold step in threshold-mantissa units (the file's vThStep)."""
        return threshold_step_mant(self.threshold_step, vth_mant)

    #: the decays, in the order of ``factors`` (and of the fused kernel's parameters)
    DECAYS: ClassVar[tuple[str, ...]] = (
        "current_decay",
        "voltage_decay",
        "threshold_decay",
        "refractory_decay",
    )

    def factors(self, quantized: bool, dtype: torch.dtype) -> list[torch.Tensor]:
        """Retention factors (1,) of the four ``DECAYS``, in ``dtype``."""
        q = Quant(quantized)
        return [q.keep(getattr(self, name)).to(dtype) for name in self.DECAYS]

    def scalars(self, quantized: bool, vth_mant: int) -> tuple[float, float, float]:
        """``(input scale, theta0, threshold step)`` in the units of the forward."""
        act_scale, theta0 = self.units(quantized, vth_mant)
        step = self.step_mant(vth_mant) * VTH_SCALE if quantized else self.threshold_step
        return act_scale, theta0, step

    def forward(
        self, a: torch.Tensor, quantized: bool, vth_mant: int, feedback: Feedback | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and voltage ``(B, n, T)`` (see ``CubaNeuron.forward``)."""
        if feedback is None and fused.usable(a):
            factors = self.factors(quantized, a.dtype)
            return fused.run("alif", a, factors, self.scalars(quantized, vth_mant), quantized)
        return self._forward_reference(a, quantized, vth_mant, feedback)

    def _forward_reference(
        self, a: torch.Tensor, quantized: bool, vth_mant: int, feedback: Feedback | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The torch loop over the T steps: the rule the fused loop reproduces."""
        q = Quant(quantized)
        act_scale, theta0, step = self.scalars(quantized, vth_mant)
        keep = dict(zip(self.DECAYS, self.factors(quantized, a.dtype), strict=True))
        act = a * act_scale
        i = torch.zeros_like(act[..., 0])
        v = torch.zeros_like(i)
        r = torch.zeros_like(i)
        theta = torch.full_like(i, theta0)
        spikes, volts = [], []
        for a_t in act.unbind(-1):  # one backward for all steps (not a select per step)
            if feedback is not None:
                a_t = a_t + act_scale * feedback.arrive()
            i = q.wrap(q.trunc(i * keep["current_decay"]) + a_t)
            v = q.sat(q.trunc(v * keep["voltage_decay"]) + i)
            theta = q.trunc((theta - theta0) * keep["threshold_decay"]) + theta0
            r = q.trunc(r * keep["refractory_decay"])
            s = spike(v - r - theta, theta0, inclusive=True)
            r = r + s * (2.0 * theta)
            theta = theta + s * step
            spikes.append(s)
            volts.append(v)
            if feedback is not None:
                feedback.send(s)
        return torch.stack(spikes, -1), torch.stack(volts, -1)

    def to_ir(self, vth_mant: int) -> AlifNeurons:
        """ALIF neurons: the four decays' 12-bit constants and the threshold step in
        threshold-mantissa units (``AlifNeurons.from_model``)."""
        with torch.no_grad():
            decays = {name: getattr(self, name).detach() for name in self.ranges}
            ints = AlifNeurons.from_model(
                decays, self.threshold_step, vth_mant, round_ste, torch.clamp
            )
        return AlifNeurons.create(
            self.n, vth_mant=int(vth_mant), **{k: int(v) for k, v in ints.items()}
        )


#: The seed's AdLIF+ boundaries (docs/neurons.md): alpha widened down to e^-1/3.
ADLIF_RANGES = {
    "alpha": (math.exp(-1 / 3), math.exp(-1 / 25)),
    "beta": (math.exp(-1 / 30), math.exp(-1 / 120)),
    "a": (0.0, 1.0),
    "b": (0.0, 2.0),
}


class AdlifNeuron(NeuronBase):
    """AdLIF+ (Deckers et al.): membrane u and adaptation current w, per-neuron alpha, beta,
    a, b, initialised uniformly within the seed's ranges and clipped to them. Quantized, it is
    ``hw_models.neurons.adlif.adlif_step``: u_decay = round(4096 (1 - alpha)), w_decay likewise,
    a_mant = round(4096 a), b_mant = round(b vth_mant).
    """

    neuron_type = AdlifNeurons.neuron_type
    ranges: ClassVar[dict[str, tuple[float, float]]] = ADLIF_RANGES

    @classmethod
    def create(cls, n: int, params: dict, generator: torch.Generator | None) -> AdlifNeuron:
        return cls(n, generator=generator, **params)

    def __init__(self, n: int, *, generator: torch.Generator | None = None, learn: bool = True):
        super().__init__(n)
        for name, (lo, hi) in ADLIF_RANGES.items():
            value = _uniform(n, lo, hi, generator)
            setattr(self, name, nn.Parameter(value, requires_grad=learn))

    def quantized_params(self, vth_mant: int) -> dict[str, torch.Tensor]:
        """Integer parameters (straight-through): u_decay, w_decay, a_mant, b_mant."""
        return AdlifNeurons.from_model(
            self.alpha, self.beta, self.a, self.b, vth_mant, round_ste, torch.clamp
        )

    def factors(self, quantized: bool, vth_mant: int, dtype: torch.dtype) -> list[torch.Tensor]:
        """Per-neuron factors (n,) ``[u_keep, u_take, w_keep, coupling, b_step]`` in ``dtype``:
        ``u = u_keep (u - s vth) + u_take (i - w)``, ``w = w_keep w + coupling u + b_step s``."""
        if quantized:
            p = self.quantized_params(vth_mant)
            u_keep = (DECAY_UNITY - p["u_decay"]) / DECAY_UNITY
            u_take = p["u_decay"] / DECAY_UNITY
            w_keep = (DECAY_UNITY - p["w_decay"]) / DECAY_UNITY
            coupling = p["a_mant"] / DECAY_UNITY
            b_step = p["b_mant"] * VTH_SCALE
        else:
            u_keep, u_take = self.alpha, 1.0 - self.alpha
            w_keep, coupling, b_step = self.beta, self.a, self.b
        return [x.to(dtype) for x in (u_keep, u_take, w_keep, coupling, b_step)]

    def forward(
        self, a: torch.Tensor, quantized: bool, vth_mant: int, feedback: Feedback | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membrane u ``(B, n, T)`` (see ``CubaNeuron.forward``)."""
        if feedback is None and fused.usable(a):
            factors = self.factors(quantized, vth_mant, a.dtype)
            return fused.run("adlif", a, factors, self.units(quantized, vth_mant), quantized)
        return self._forward_reference(a, quantized, vth_mant, feedback)

    def _forward_reference(
        self, a: torch.Tensor, quantized: bool, vth_mant: int, feedback: Feedback | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The torch loop over the T steps: the rule the fused loop reproduces."""
        q = Quant(quantized)
        act_scale, vth = self.units(quantized, vth_mant)
        u_keep, u_take, w_keep, coupling, b_step = (
            x.unsqueeze(0) for x in self.factors(quantized, vth_mant, a.dtype)
        )
        current = a * act_scale
        u = torch.zeros_like(current[..., 0])
        w = torch.zeros_like(u)
        s = torch.zeros_like(u)
        spikes, volts = [], []
        for i_t in current.unbind(-1):
            if feedback is not None:
                i_t = i_t + act_scale * feedback.arrive()
            w = q.sat(q.trunc(w * w_keep) + q.trunc(u * coupling) + s * b_step)
            u = q.sat(q.trunc((u - s * vth) * u_keep) + q.trunc((i_t - w) * u_take))
            s = spike(u - vth, vth)
            spikes.append(s)
            volts.append(u)
            if feedback is not None:
                feedback.send(s)
        return torch.stack(spikes, -1), torch.stack(volts, -1)

    def to_ir(self, vth_mant: int) -> AdlifNeurons:
        """AdLIF+ neurons, one value of each parameter per neuron."""
        with torch.no_grad():
            p = {
                k: v.detach().cpu().long().numpy().astype(np.int64)
                for k, v in self.quantized_params(vth_mant).items()
            }
        return AdlifNeurons.create(self.n, vth_mant=int(vth_mant), **p)


#: The torch forward of every trainable neuron type, by the IR unit's tag.
NEURON_TYPES = {cls.neuron_type: cls for cls in (CubaNeuron, AlifNeuron, AdlifNeuron)}
__all__ = [
    "NEURON_TYPES",
    "AdlifNeuron",
    "AlifNeuron",
    "CubaNeuron",
    "spike",
]
