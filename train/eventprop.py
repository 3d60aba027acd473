"""EventProp on Loihi's time grid: event-based gradients of weights and delays for CUBA LIF
networks (feed-forward and recurrent) with one delay per synapse.

The derivation, and what "exact" means here, is in docs/training.md ("EventProp"). In short:

Forward (one step t of layer l, threshold units in float, hardware units quantized)::

    u[t] = alpha u[t-1] + act * a[t]          (quantized: wrap(trunc(u * keep_u) + 64 a))
    v[t] = beta vbar[t-1] + u[t]              (quantized: sat(trunc(vbar * keep_v) + u))
    s[t] = v[t] > theta,  vbar[t] = (1 - s[t]) v[t]

A spike at step t crosses the threshold, by linear interpolation between ``vbar[t-1]`` and
``v[t]``, at ``t - phi`` with ``phi = (v[t] - theta) / (v[t] - vbar[t-1])`` in (0, 1]. The
*sub-step* model delivers it as two grid events, weight ``1 - phi`` at step t and ``phi`` at
step t - 1, each through the synapse's interpolated delay ``d = k + f`` (taps ``1 + k`` and
``2 + k`` steps later, weights ``1 - f`` and ``f``); a recurrent synapse never delivers before
step t + 1 (its ``phi`` part's taps are clamped there). In that model a spike's effect moves
continuously with the parameters while it stays within its step, and the loss (cross-entropy
of the read-out membrane summed over time) is differentiable wherever the spike raster is
locally constant (it jumps where a spike appears, vanishes or changes step). The *grid*
model is what Loihi runs: the whole spike at step t (``phi`` taken as 0 in the forward).

Backward: the adjoints of u and v of every neuron run backward over the same grid
(``lam_u[t] = alpha lam_u[t+1] + lam_v[t]``, ``lam_vbar[t] = beta lam_v[t+1]``), driven by the
read-out's source term (``dL/dv = dL/dlogit * logit_scale`` at every step) and by jumps at the
network's own spikes: at a spike the reset cuts ``lam_v`` and replaces it by the spike-time term
``dphi/dv[t] * lam_phi``, with ``lam_phi`` the difference of the targets' adjoints at the
spike's two delivery times (``dphi/dvbar[t-1] * lam_phi`` goes to step t - 1). Weight and
delay gradients are accumulated only at spikes (input spikes and the network's own):
``dL/dW[j,i] += x * (lam_a_j[near] (1 - f) + lam_a_j[far] f)`` and
``dL/dd[j,i] += W[j,i] x (lam_a_j[far] - lam_a_j[near])`` (seed 003's rules, with ``lam_a =
act * lam_u`` the adjoint of the synaptic input). With ``substep=True`` this is the exact
gradient of the sub-step model (tests/train/test_eventprop.py checks it against autograd of
that model and against finite differences); with ``substep=False`` (training) the forward is
the grid model and the backward is the sub-step model's, evaluated on the grid trajectory
(straight through the rounding of spike times, as QAT passes the gradient straight through
the rounding of weights).

Memory: the forward is event-driven too (every spike is added into ring buffers of the next
``max_delay + 3`` steps of synaptic input), and keeps for the backward only each spike's
index and the two numbers its jump needs (``v[t] - theta`` and ``v[t] - vbar[t-1]``); the
backward holds ring buffers of the adjoints. Nothing of size steps x neurons is kept, except
the read-out's membrane (steps x classes), which the model returns.

Neuron parameters (decays) get no gradient from EventProp; they stay as configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .fixed import saturate_ste, trunc_ste, wrap_current_ste


@dataclass(frozen=True)
class EventLayer:
    """One CUBA layer as EventProp runs it: sizes, the decays as retention factors, the
    threshold and input scale in the units of the forward, and which synapses it has."""

    n_in: int
    n_out: int
    current_keep: float
    voltage_keep: float
    threshold: float
    act_scale: float
    spiking: bool = True
    recurrent: bool = False
    max_delay: int = 0


@dataclass(frozen=True)
class EventNet:
    """The network: layers in order (the last is the non-spiking read-out), and the mode."""

    layers: tuple[EventLayer, ...]
    quantized: bool = False
    #: deliver each spike at its interpolated crossing time (the model whose gradient is exact)
    substep: bool = False
    #: logits = logit_scale * read-out membrane summed over time
    logit_scale: float = 1.0
    #: also return every hidden layer's spikes (B, n, T) (costs steps x neurons of memory)
    record: bool = False

    @property
    def ring(self) -> int:
        """Ring-buffer length: the latest delivery is ``2 + max_delay`` steps ahead."""
        return max(layer.max_delay for layer in self.layers) + 3


@dataclass
class _Taps:
    """A synapse's delays as taps: ``k`` (integer part, long) and ``f`` (fraction), or None
    for a synapse without delays (k = 0, f = 0)."""

    k: torch.Tensor
    f: torch.Tensor
    fractional: bool


def taps(
    delay: torch.Tensor | None,
    shape: tuple[int, int],
    max_delay: int,
    quantized: bool,
    device: torch.device,
    dtype: torch.dtype,
) -> _Taps:
    """Integer part and fraction of each delay: ``round(d)`` and 0 quantized (the exported
    delays; the gradient is the interpolated one at that point), else ``floor(d)`` and
    ``d - floor(d)``, as ``delays.delay_kernel`` (interp) builds its taps."""
    if delay is None:
        zeros = torch.zeros(shape, device=device, dtype=dtype)
        return _Taps(torch.zeros(shape, device=device, dtype=torch.long), zeros, False)
    d = delay.detach().to(dtype)
    if quantized:
        k = torch.round(d).clamp(0, max_delay)
        return _Taps(k.long(), torch.zeros_like(d), False)
    k = torch.floor(d).clamp(0, max_delay)
    f = d - k
    return _Taps(k.long(), f, bool((f != 0).any()))


class _Route:
    """One synapse population (weights (n_out, n_in) and their taps) between a source's spikes
    and a target's ring buffer ``(B, n_out, R)``, in relative time: slot r of the ring is the
    input (forward) or the input's adjoint (backward) ``r`` steps after the current step.

    Everything a spike needs is indexed by its source neuron: the tensors are kept transposed,
    ``(n_in, n_out)``, with each synapse's flat ring offsets ``j * R + r`` precomputed.
    """

    def __init__(self, weight: torch.Tensor, tp: _Taps, size: int, clamp: bool):
        n_out = weight.shape[0]
        self.n_out, self.size = n_out, size
        self.weight = weight.t().contiguous()
        self.f = tp.f.t().contiguous()
        self.fractional = tp.fractional
        self.columns = torch.arange(n_out, device=weight.device).unsqueeze(0)
        row = self.columns * size
        k = tp.k.t()
        self.near = (row + 1 + k).contiguous()  # value near, phi far: r = 1 + k
        # phi near: r = k, at least 1 for a recurrent synapse (never the sending step)
        self.early = (row + (k.clamp(min=1) if clamp else k)).contiguous()

    def _index(self, offsets: torch.Tensor, b: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return offsets[i] + (b * (self.n_out * self.size)).unsqueeze(1)

    def deliver(
        self,
        ring: torch.Tensor,
        b: torch.Tensor,
        i: torch.Tensor,
        w_value: torch.Tensor | None,
        w_phi: torch.Tensor | None,
    ) -> None:
        """Add the spikes ``(b, i)`` of the current step: the value part (weights ``w_value``,
        None = 1) at r = 1 + k and 2 + k, the ``phi`` part (``w_phi``) at r = k and 1 + k."""
        if b.numel() == 0:
            return
        flat = ring.view(-1)
        w = self.weight[i]  # (K, n_out)
        near = self._index(self.near, b, i)
        value = w if w_value is None else w * w_value.unsqueeze(1)
        if self.fractional:
            f = self.f[i]
            flat.index_add_(0, near.view(-1), (value * (1 - f)).view(-1))
            flat.index_add_(0, (near + 1).view(-1), (value * f).view(-1))
        else:
            flat.index_add_(0, near.view(-1), value.reshape(-1))
        if w_phi is not None:
            phi = w * w_phi.unsqueeze(1)
            early = self._index(self.early, b, i)
            if self.fractional:
                flat.index_add_(0, early.view(-1), (phi * (1 - f)).view(-1))
                flat.index_add_(0, near.view(-1), (phi * f).view(-1))
            else:
                flat.index_add_(0, early.view(-1), phi.view(-1))

    def credit(
        self,
        ring: torch.Tensor,
        b: torch.Tensor,
        i: torch.Tensor,
        w_value: torch.Tensor | None,
        w_phi: torch.Tensor | None,
        grad_w: torch.Tensor | None,
        grad_d: torch.Tensor | None,
        spike_time: bool = True,
    ) -> torch.Tensor | None:
        """The backward of :meth:`deliver`, given the targets' input adjoints ``ring``:
        accumulates the weight and delay gradients (transposed, ``(n_in, n_out)``) and, with
        ``spike_time``, returns ``lam_phi`` per spike (K,): d loss / d phi of each spike."""
        flat = ring.view(-1)
        w = self.weight[i]  # (K, n_out)
        f = self.f[i]
        near = self._index(self.near, b, i)
        a1 = flat[near]  # value near, phi far
        a2 = flat[near + 1]  # value far
        value = a1 * (1 - f) + a2 * f if self.fractional else a1
        dvalue = a2 - a1  # d/df of the value part
        if w_value is not None:
            wv = w_value.unsqueeze(1)
            gw, gd = value * wv, dvalue * wv
        else:
            gw, gd = value, dvalue
        lam_phi = None
        if spike_time or w_phi is not None:
            a0 = flat[self._index(self.early, b, i)]  # phi near
            phi = a0 * (1 - f) + a1 * f if self.fractional else a0
            if w_phi is not None:
                wp = w_phi.unsqueeze(1)
                gw = gw + phi * wp
                gd = gd + (a1 - a0) * wp
            if spike_time:
                lam_phi = ((phi - value) * w).sum(1)
        if grad_w is not None or grad_d is not None:
            # flat 1-D index_add_: several times faster on CPU than along dim 0 of a matrix
            rows = (i * self.n_out).unsqueeze(1) + self.columns
            if grad_w is not None:
                grad_w.view(-1).index_add_(0, rows.view(-1), gw.reshape(-1))
            if grad_d is not None:
                grad_d.view(-1).index_add_(0, rows.view(-1), (gd * w).view(-1))
        return lam_phi


def _shift(ring: torch.Tensor, spare: torch.Tensor, forward: bool) -> torch.Tensor:
    """The ring one step on, into ``spare`` (returned): forward in time slot r takes r + 1
    (the last slot empties); backward slot r takes r - 1 (slot 0 empties)."""
    if forward:
        spare[..., :-1].copy_(ring[..., 1:])
        spare[..., -1].zero_()
    else:
        spare[..., 1:].copy_(ring[..., :-1])
        spare[..., 0].zero_()
    return spare


def _input_events(x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per step, the input's non-zero entries: (sample, channel, value)."""
    t_idx, b, i = torch.nonzero(x.permute(2, 0, 1), as_tuple=True)
    counts = torch.bincount(t_idx, minlength=x.shape[-1]).tolist()
    values = x[b, i, t_idx]
    return list(zip(b.split(counts), i.split(counts), values.split(counts), strict=True))


class _EventProp(torch.autograd.Function):
    """Forward: the network on the grid (or sub-step) model, event by event; backward: the
    adjoint run backward over the grid with jumps at the recorded spikes (module docstring).

    ``params`` per layer: weight (n_out, n_in), delay or None, weight_rec or None, delay_rec
    or None; weights are the values each synapse adds (threshold units in float; the integer
    synapse values quantized), delays real (rounded when quantized).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, net: EventNet, *params: torch.Tensor | None):
        # float64 when quantized (integers) or when the caller computes in float64
        dtype = torch.float64 if net.quantized or x.dtype == torch.float64 else torch.float32
        device = x.device
        batch, steps = x.shape[0], x.shape[-1]
        size = net.ring
        x = x.to(dtype)
        layers = net.layers
        routes, recurrent = _routes(net, params, size, dtype, device)
        rings = [torch.zeros(batch, lay.n_out, size, device=device, dtype=dtype) for lay in layers]
        spare = [torch.zeros_like(r) for r in rings]
        u = [torch.zeros(batch, lay.n_out, device=device, dtype=dtype) for lay in layers]
        v = [torch.zeros_like(z) for z in u]
        membrane = torch.zeros(batch, layers[-1].n_out, steps, device=device, dtype=dtype)
        events: list[list[tuple[torch.Tensor, ...]]] = [[] for _ in layers[:-1]]
        hidden = [
            torch.zeros(batch, lay.n_out, steps, device=device, dtype=dtype)
            for lay in (layers[:-1] if net.record else ())
        ]
        inputs = _input_events(x)
        for t in range(steps):
            xb, xi, xv = inputs[t]
            routes[0].deliver(rings[0], xb, xi, xv, None)
            for n, layer in enumerate(layers):
                a_t = rings[n][:, :, 0]
                if net.quantized:
                    un = trunc_ste(u[n] * layer.current_keep) + a_t * layer.act_scale
                    un = wrap_current_ste(un)
                    vn = saturate_ste(trunc_ste(v[n] * layer.voltage_keep) + un)
                else:
                    un = u[n] * layer.current_keep + a_t * layer.act_scale
                    vn = v[n] * layer.voltage_keep + un
                u[n] = un
                if not layer.spiking:
                    membrane[:, :, t] = vn
                    v[n] = vn
                    continue
                fired = vn > layer.threshold
                sb, si = torch.nonzero(fired, as_tuple=True)
                over = vn[sb, si] - layer.threshold
                rise = vn[sb, si] - v[n][sb, si]
                v[n] = vn.masked_fill(fired, 0.0)
                events[n].append((sb, si, over, rise))
                if net.record:
                    hidden[n][:, :, t] = fired.to(dtype)
                w_value, w_phi = _parts(net, over, rise)
                routes[n + 1].deliver(rings[n + 1], sb, si, w_value, w_phi)
                if recurrent[n] is not None:
                    recurrent[n].deliver(rings[n], sb, si, w_value, w_phi)
            for n in range(len(layers)):
                rings[n], spare[n] = _shift(rings[n], spare[n], forward=True), rings[n]
        ctx.net, ctx.routes, ctx.recurrent, ctx.events, ctx.inputs = (
            net,
            routes,
            recurrent,
            events,
            inputs,
        )
        # the dtype of each parameter that wants a gradient (None: no gradient)
        ctx.kinds = [p.dtype if p is not None and p.requires_grad else None for p in params]
        ctx.shape = (batch, steps, dtype, device)
        logits = membrane.sum(-1) * net.logit_scale
        outputs = (logits, membrane, *hidden)
        ctx.mark_non_differentiable(*outputs[1:])
        return outputs

    @staticmethod
    def backward(ctx, grad_logits: torch.Tensor, *_unused):
        net: EventNet = ctx.net
        layers, routes, recurrent, events = net.layers, ctx.routes, ctx.recurrent, ctx.events
        batch, steps, dtype, device = ctx.shape
        size = net.ring
        source = grad_logits.to(dtype) * net.logit_scale  # dL/dv of the read-out, every step
        # gradients, transposed (n_in, n_out) as the routes index them
        grads: list[torch.Tensor | None] = []
        for route_pair in zip(routes, recurrent, strict=True):
            for route in route_pair:
                for _ in range(2):
                    grads.append(
                        None
                        if route is None
                        else torch.zeros(route.weight.shape, device=device, dtype=dtype)
                    )
        lam_a = [torch.zeros(batch, lay.n_out, size, device=device, dtype=dtype) for lay in layers]
        spare = [torch.zeros_like(r) for r in lam_a]
        lam_u = [torch.zeros(batch, lay.n_out, device=device, dtype=dtype) for lay in layers]
        lam_v = [torch.zeros_like(z) for z in lam_u]
        carry = [torch.zeros_like(z) for z in lam_u]  # d phi[t+1] / d vbar[t] * lam_phi[t+1]
        for t in range(steps - 1, -1, -1):
            for n in range(len(layers)):
                lam_a[n], spare[n] = _shift(lam_a[n], spare[n], forward=False), lam_a[n]
            for n in range(len(layers) - 1, -1, -1):
                layer = layers[n]
                if not layer.spiking:
                    lam_v[n] = layer.voltage_keep * lam_v[n] + source
                else:
                    lam_vbar = layer.voltage_keep * lam_v[n] + carry[n]
                    sb, si, over, rise = events[n][t]
                    carry[n] = torch.zeros_like(lam_vbar)
                    if sb.numel():
                        w_value, w_phi = _parts(net, over, rise)
                        lam_phi = routes[n + 1].credit(
                            lam_a[n + 1], sb, si, w_value, w_phi, *grads[4 * n + 4 : 4 * n + 6]
                        )
                        if recurrent[n] is not None:
                            lam_phi = lam_phi + recurrent[n].credit(
                                lam_a[n], sb, si, w_value, w_phi, *grads[4 * n + 2 : 4 * n + 4]
                            )
                        lam_vbar[sb, si] = (rise - over) / rise**2 * lam_phi
                        carry[n][sb, si] = over / rise**2 * lam_phi
                    lam_v[n] = lam_vbar
                lam_u[n] = layer.current_keep * lam_u[n] + lam_v[n]
                lam_a[n][:, :, 0] = layer.act_scale * lam_u[n]
            xb, xi, xv = ctx.inputs[t]
            if xb.numel():
                routes[0].credit(lam_a[0], xb, xi, xv, None, grads[0], grads[1], spike_time=False)
        out: list[torch.Tensor | None] = [None, None]
        for kind, g in zip(ctx.kinds, grads, strict=True):
            out.append(None if kind is None or g is None else g.t().contiguous().to(kind))
        return tuple(out)


def _parts(
    net: EventNet, over: torch.Tensor, rise: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """How each spike is delivered: sub-step, ``1 - phi`` at its step and ``phi`` one step
    earlier; on the grid, whole at its step (None, None)."""
    if not net.substep:
        return None, None
    phi = over / rise
    return 1 - phi, phi


def _routes(
    net: EventNet,
    params: tuple[torch.Tensor | None, ...],
    size: int,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[list[_Route], list[_Route | None]]:
    """Each layer's feed-forward route and recurrent route (None for a feed-forward layer)."""
    routes, recurrent = [], []
    for n, layer in enumerate(net.layers):
        w, d, wr, dr = params[4 * n : 4 * n + 4]
        tp = taps(d, (layer.n_out, layer.n_in), layer.max_delay, net.quantized, device, dtype)
        routes.append(_Route(w.detach().to(dtype), tp, size, clamp=False))
        if layer.recurrent:
            shape = (layer.n_out, layer.n_out)
            tp = taps(dr, shape, layer.max_delay, net.quantized, device, dtype)
            recurrent.append(_Route(wr.detach().to(dtype), tp, size, clamp=True))
        else:
            recurrent.append(None)
    return routes, recurrent


def eventprop(
    x: torch.Tensor, net: EventNet, params: list[torch.Tensor | None]
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """``(logits, read-out membrane (B, C, T), hidden spikes)`` of spikes ``x`` (B, n_in, T),
    with EventProp gradients for ``params`` (4 per layer: weight, delay, weight_rec,
    delay_rec; None where absent). Hidden spikes are returned only with ``net.record``."""
    if len(params) != 4 * len(net.layers):
        raise ValueError(f"expected {4 * len(net.layers)} parameters, got {len(params)}")
    logits, membrane, *hidden = _EventProp.apply(x, net, *params)
    return logits, membrane, list(hidden)


def model_net(model, quantized: bool, *, substep: bool = False, record: bool = False):
    """The :class:`EventNet` and parameter list of a ``SpikingNet`` of CUBA blocks, in the
    units of its float or quantized forward; the parameters are the model's own tensors
    (the quantized synapse values straight-through from the float weights), so EventProp's
    gradients reach the model's parameters through autograd."""
    from .neurons import CubaNeuron, Quant

    layers, params = [], []
    for block in model.blocks:
        neuron = block.neuron
        if not isinstance(neuron, CubaNeuron):
            raise ValueError(f"EventProp trains CUBA neurons, not {neuron.neuron_type}")
        vth_mant = int(block.vth_mant)
        act_scale, threshold = neuron.units(quantized, vth_mant)
        q = Quant(quantized)
        with torch.no_grad():  # in the parameters' dtype, as CubaNeuron and to_ir round them
            keep_u = float(q.keep(neuron.current_decay.detach()))
            keep_v = float(q.keep(neuron.voltage_decay.detach()))
        recurrent = getattr(block, "weight_rec", None) is not None
        layers.append(
            EventLayer(
                n_in=block.weight.shape[1],
                n_out=neuron.n,
                current_keep=keep_u,
                voltage_keep=keep_v,
                threshold=float(threshold),
                act_scale=float(act_scale),
                spiking=neuron.spiking,
                recurrent=recurrent,
                max_delay=block.max_delay,
            )
        )
        if quantized:
            weights = block.synapse_weights() if recurrent else (block.synapse_weight(),)
        else:
            weights = (block.weight, block.weight_rec) if recurrent else (block.weight,)
        params += [weights[0], block.delay]
        params += [weights[1], block.delay_rec] if recurrent else [None, None]
    scale = 1.0
    if quantized:
        scale = 1.0 / (act_scale * int(model.blocks[-1].vth_mant))
    net = EventNet(
        tuple(layers), quantized=quantized, substep=substep, logit_scale=scale, record=record
    )
    return net, params


def eventprop_logits(model, x: torch.Tensor) -> torch.Tensor:
    """The logits of ``model``'s current forward (float or quantized: the grid model, as
    ``model(x)`` computes them) with EventProp gradients; the training step of
    ``[train] gradient = "eventprop"``."""
    net, params = model_net(model, model.quantized)
    logits, _, _ = eventprop(x, net, params)
    return logits


__all__ = ["EventLayer", "EventNet", "eventprop", "eventprop_logits", "model_net", "taps"]
