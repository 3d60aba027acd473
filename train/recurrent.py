"""The recurrent synaptic input of a hidden block, computed step by step inside the neuron loop.

A recurrent block (``[model] recurrent = true``) has, besides its feed-forward synapse, a
synapse from its own neurons back onto them (``weight_rec``, ``delay_rec``, both ``(n, n)``;
netx ``dense_rec``, run by the simulator's ``RecurrentDenseSynapse``). A spike neuron i sends at
step t reaches neuron j at step ``t + 1 + delay_rec[j, i]``, exactly as a feed-forward spike
reaches the next layer. Since step t's spikes depend on the input of step t, this part cannot be
computed for the whole sequence at once (as ``delays.delayed_dense`` does the feed-forward part):
the neuron loop asks for it step by step.

The synapses are written as tap pairs ``(k_p, C_p)`` (``delays.delay_taps``: the same rules as
the feed-forward delays, interp, DCLS and the quantized straight-through delay)::

    a_rec[b, j, t] = sum_p sum_i C_p[j, i] * s[b, i, t - 1 - k_p[j, i]]

:class:`RecurrentFeedback` keeps a ring of the last ``reach`` spike tensors (at most
``max_delay + 2`` with delays: the interpolated delay ``d = max_delay`` reads one step past
``max_delay`` for its gradient) and computes each step's input with :class:`TapSum`: per tap,
one fused gather-multiply-sum of the window by the tap indices (``embedding_bag`` with the
coefficients as per-sample weights; nothing of size ``P x n x n x B`` is formed). For uniform
taps (no delay, or DCLS, where tap p is delay p for every synapse) it is one matrix product per
tap. The spikes are also copied, detached, into a table in reverse time order, so that each
step's window is one contiguous slice of it (no stack of the window per step).

Memory. :class:`TapSum` keeps nothing per step but references: its inputs are the
coefficients, the tap plan (the indices; no gradient) and the window's spike tensors
themselves, which the neuron loop's graph holds anyway, and its backward gathers again. What a
recurrent block adds to a training step's memory is the ``(P, n, n)`` coefficients and their
gradient, the tap plan and the spike table ``((T + reach) * n, B)``.

Speed. In the quantized forward the coefficients are integers and each target's sum stays
below 2**24, so the sums run in float32 (exact; several times faster than float64 there).
"""

from __future__ import annotations

import torch
from torch import nn

from .delays import Taps, delay_taps


class TapPlan:
    """The tap indices ``(P, n_out, n_in)`` of a synapse, laid out for :class:`TapSum` once
    per forward (no gradient).

    ``rows[p, j, i] = index[p, j, i] * n_in + i``: the row of the window ``(reach * n_in, B)``
    the tap reads. ``uniform`` taps (``index[p] == p``) need no rows. For the backward pass,
    the taps sorted by the row they read (``order``, with each one's target ``target`` and
    every row's first entry ``offsets``), so the gradient of the window is a gather too.
    """

    def __init__(self, index: torch.Tensor, uniform: bool = False):
        self.taps, self.n_out, self.n_in = index.shape
        self.uniform = uniform
        self.reach = self.taps if uniform else int(index.max()) + 1 if index.numel() else 1
        self.rows = self.order = self.target = self.offsets = None
        if uniform:
            return
        columns = torch.arange(self.n_in, device=index.device)
        self.rows = (index * self.n_in + columns).contiguous()
        flat = self.rows.reshape(-1)
        self.order = torch.argsort(flat, stable=True)
        self.target = (self.order // self.n_in) % self.n_out
        counts = torch.bincount(flat, minlength=self.reach * self.n_in)
        self.offsets = torch.cumsum(counts, 0) - counts
        self._sorted: tuple[torch.Tensor, int, torch.Tensor] | None = None

    def sorted_coeff(self, coeff: torch.Tensor) -> torch.Tensor:
        """``coeff`` flattened in ``order``, computed once for every step that shares it."""
        cached = self._sorted
        if cached is None or cached[0] is not coeff or cached[1] != coeff._version:
            self._sorted = (coeff, coeff._version, coeff.detach().reshape(-1)[self.order])
        return self._sorted[2]


def _window_rows(window: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The spike tensors ``(B, n)`` as the rows ``(len(window) * n, B)`` taps read."""
    batch = window[0].shape[0]
    return torch.stack([s.t() for s in window]).reshape(-1, batch)


def _gather_sum(
    rows: torch.Tensor, table: torch.Tensor, weights: torch.Tensor, offsets=None
) -> torch.Tensor:
    """``out[bag] = sum_q weights[q] * table[rows[q]]`` over each bag's entries: one fused
    gather-multiply-sum (``embedding_bag``), nothing ``(entries, B)``-sized materialised."""
    return nn.functional.embedding_bag(rows, table, offsets, mode="sum", per_sample_weights=weights)


class TapSum(torch.autograd.Function):
    """``out[b, j] = sum_p sum_i coeff[p, j, i] * window[index[p, j, i]][b, i]``.

    ``coeff`` ``(P, n_out, n_in)``; ``plan``: the :class:`TapPlan` of ``index`` (no
    gradient); ``window``: the spike tensors ``(B, n_in)``, ``window[k]`` holding the spikes of
    step ``t - 1 - k``, at least ``plan.reach`` of them. ``table``: None, or the same spikes
    already laid out as rows ``(plan.reach * n_in, B)`` (``RecurrentFeedback`` keeps them so,
    which spares a stack of the window per step; no gradient flows through it). Per tap p, one
    fused gather-multiply-sum of the window rows by the indices (uniform taps: one matrix
    product per tap).

    Saves only references to its inputs (the window's spike tensors are held by the neuron
    loop's graph anyway) and gathers again in the backward pass: the coefficient gradient is
    the gathered window against the output gradient, the window gradient the output gradient
    gathered by the taps sorted by the row they read. Nothing of size
    ``P x n_out x n_in x B`` is kept, or even formed.
    """

    @staticmethod
    def forward(ctx, coeff, plan: TapPlan, table: torch.Tensor | None, *window: torch.Tensor):
        if table is None:
            table = _window_rows(window[: plan.reach]).to(coeff.dtype)
        ctx.plan = plan
        # ``table`` is a view of rows its owner never writes again: kept without a version check
        ctx.table = table
        ctx.save_for_backward(coeff, *window)
        return _tap_sum(coeff, plan, table).t()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        plan: TapPlan = ctx.plan
        table: torch.Tensor = ctx.table
        coeff, *window = ctx.saved_tensors
        p, n_out, n_in = coeff.shape
        batch = grad.shape[0]
        need_coeff = ctx.needs_input_grad[0]
        need_window = ctx.needs_input_grad[3:]
        grad_coeff = None
        grad_t = grad.t().contiguous()  # (n_out, B)
        if plan.uniform:
            if need_coeff:  # grad_coeff[p] = grad.T @ window[p]
                g = grad_t.unsqueeze(0).expand(p, n_out, batch)
                grad_coeff = torch.bmm(g, table.view(p, n_in, batch).transpose(1, 2))
            if any(need_window):  # grad_window[p] = grad @ coeff[p]
                rows = torch.bmm(grad.unsqueeze(0).expand(p, batch, n_out), coeff)
                rows = rows.to(window[0].dtype)
                return grad_coeff, None, None, *_window_grads(rows, need_window, transpose=False)
            return grad_coeff, None, None, *([None] * len(window))
        if need_coeff:  # d out[j] / d coeff[q, j, i] = the window row the tap reads
            with torch.enable_grad():
                weights = coeff.detach().requires_grad_()
                (grad_coeff,) = torch.autograd.grad(_tap_sum(weights, plan, table), weights, grad_t)
        if any(need_window):  # row r gets sum over the taps reading it of coeff * grad[target]
            weights = plan.sorted_coeff(coeff)
            rows = _gather_sum(plan.target, grad_t, weights, plan.offsets)  # (reach * n_in, B)
            rows = rows.view(plan.reach, n_in, batch).to(window[0].dtype)
            return grad_coeff, None, None, *_window_grads(rows, need_window, transpose=True)
        return grad_coeff, None, None, *([None] * len(window))


def _tap_sum(coeff: torch.Tensor, plan: TapPlan, table: torch.Tensor) -> torch.Tensor:
    """The forward sum from the window rows ``table``, transposed: ``(n_out, B)``."""
    p, n_in = coeff.shape[0], coeff.shape[2]
    if plan.uniform:  # sum_p coeff[p] @ rows of window[p]
        return torch.bmm(coeff, table[: p * n_in].view(p, n_in, -1)).sum(0)
    out = _gather_sum(plan.rows[0], table, coeff[0])
    for q in range(1, p):
        out = out + _gather_sum(plan.rows[q], table, coeff[q])
    return out


def _window_grads(rows: torch.Tensor, need: tuple[bool, ...], transpose: bool) -> list:
    """Per window tensor, its gradient (``rows[k]``, transposed from ``(n_in, B)``) or None."""
    out: list[torch.Tensor | None] = [None] * len(need)
    for k in range(min(len(need), rows.shape[0])):
        if need[k]:
            out[k] = rows[k].t() if transpose else rows[k]
    return out


def tap_sum(coeff: torch.Tensor, index: torch.Tensor, window, uniform: bool = False):
    """:class:`TapSum` of ``coeff`` with the tap ``index`` ``(P, n_out, n_in)`` over the spike
    tensors ``window`` (``uniform``: ``index[p] == p``)."""
    return TapSum.apply(coeff, TapPlan(index, uniform), None, *window)


class RecurrentFeedback:
    """What a block's own spikes deliver back to it, step by step (the neuron loops' protocol:
    :meth:`arrive` before a step, :meth:`send` with its spikes after it).

    ``taps``: the recurrent synapse as :class:`~.delays.Taps`; ``batch``: samples. The input
    is in synapse units (threshold units in the float forward, the integer ``a_in`` quantized),
    of the coefficients' dtype; the neuron scales it as the feed-forward input.

    The ring: the spike tensors of the last ``reach`` steps (``window``, what gradients flow
    through). With ``steps`` known, the same spikes are also copied, detached, into a
    ``((steps + reach) * n, B)`` table in reverse time order, so that every step's window is
    one contiguous slice of it (the rows :class:`TapSum` gathers from; one ``(n, B)`` copy
    per step instead of stacking the window).
    """

    def __init__(self, taps: Taps, batch: int, steps: int | None = None):
        self.dtype = taps.coeff.dtype
        self.coeff = taps.coeff
        self.plan = TapPlan(taps.index, taps.uniform)
        n = taps.coeff.shape[-1]
        if _exact_in_float32(taps.coeff):
            self.coeff = taps.coeff.to(torch.float32)
        self.zero = self.coeff.new_zeros(batch, n)
        self.window = [self.zero] * self.plan.reach  # window[k]: the spikes of step t - 1 - k
        self.steps = steps
        self.t = 0
        self.history = None
        if steps is not None:
            with torch.no_grad():
                self.history = self.coeff.new_zeros((steps + self.plan.reach) * n, batch)

    def _rows(self, t: int) -> slice:
        """Rows of the table holding the spikes of step ``t`` (``steps - 1 - t`` counted
        from the top, so later steps lie above earlier ones)."""
        n = self.zero.shape[1]
        return slice((self.steps - 1 - t) * n, (self.steps - t) * n)

    def arrive(self) -> torch.Tensor:
        """The recurrent input of the current step, ``(B, n)``."""
        if self.t == 0:
            return self.zero.to(self.dtype)
        table = None
        if self.history is not None:
            start = self._rows(self.t - 1).start
            table = self.history[start : start + self.plan.reach * self.zero.shape[1]]
        return TapSum.apply(self.coeff, self.plan, table, *self.window).to(self.dtype)

    def send(self, spikes: torch.Tensor) -> None:
        """The current step's spikes ``(B, n)``; then the next step begins."""
        if self.history is not None:
            if self.t >= self.steps:
                raise IndexError(f"step {self.t} of a feedback made for {self.steps} steps")
            with torch.no_grad():
                self.history[self._rows(self.t)] = spikes.detach().t()
        self.window = [spikes, *self.window[:-1]]
        self.t += 1


def _exact_in_float32(coeff: torch.Tensor) -> bool:
    """Whether float32 computes the tap sum of float64 ``coeff`` exactly: integer coefficients
    (the quantized forward's synapse values; the straight-through far tap is 0) whose sum over
    one target's taps stays below 2**24, so every partial sum of 0/1 spikes is an integer
    float32 holds. float32 runs the gather kernels several times faster; the gradients,
    approximate anyway, are computed in float32 too."""
    if coeff.dtype != torch.float64 or not coeff.numel():
        return False
    c = coeff.detach()
    if not torch.equal(c, torch.round(c)):
        return False
    return float(c.abs().sum(dim=(0, 2)).max()) < 2.0**24


def recurrent_feedback(
    weight: torch.Tensor,
    delay: torch.Tensor | None,
    batch: int,
    steps: int | None = None,
    *,
    mode: str,
    max_delay: int,
    sigma: float = 0.5,
    quantized: bool = False,
) -> RecurrentFeedback:
    """A fresh :class:`RecurrentFeedback` of the recurrent synapse ``weight``/``delay``
    ``(n, n)`` for a batch of ``batch`` samples and ``steps`` steps (the taps of
    ``delays.delay_taps``)."""
    taps = delay_taps(
        weight, delay, mode=mode, max_delay=max_delay, sigma=sigma, quantized=quantized
    )
    return RecurrentFeedback(taps, batch, steps)


__all__ = ["RecurrentFeedback", "TapPlan", "TapSum", "recurrent_feedback", "tap_sum"]
