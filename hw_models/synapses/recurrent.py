"""The recurrent dense synapse (netx ``dense_rec``): a feed-forward dense synapse from the layer
before plus a dense synapse from the layer's own neurons back onto them, each with optional
per-synapse delays; and :class:`RecurrentInput`, the ring buffer that delivers the recurrent
part step by step.

On the chip (and in lava-nc, wired as the hardware runs the file) the recurrent synapse is a
Dense/DelayDense process from the layer's spike output to its own ``a_in``; the feed-forward
synapse feeds the same ``a_in`` and lava's InPort sums the two (int32, wrapping). A spike the
layer sends at step t reaches a recurrent target at ``t + 1 + delay_rec``, as a feed-forward
spike reaches the next layer at ``t + 1 + delay``.

netx derives one weight exponent and one weight-bit count for both weight matrices, from their
concatenation (lava-dl 0.6.0 ``hdf5.py`` ``create_dense`` with ``rec=True``:
``optimize_weight_bits(np.hstack((weight, weight_rec)))``); each lava synapse then picks its
own sign mode from its own mantissas. :meth:`RecurrentDenseSynapse.from_file_weights` does the
same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fixed_point import netx_optimize_weight_bits, shift_activation
from .base import SynapseStorage
from .dense import DenseSynapse, InputStream


@dataclass
class RecurrentDenseSynapse:
    """A feed-forward :class:`DenseSynapse` ``forward`` ``(n_out, n_in)`` and a recurrent one
    ``recurrent`` ``(n_out, n_out)`` onto the same neurons (netx ``dense_rec``)."""

    layer_type: ClassVar[str] = "dense_rec"
    delivers: ClassVar[str] = "real"

    forward: DenseSynapse
    recurrent: DenseSynapse

    def __post_init__(self) -> None:
        n = self.forward.n_out
        if self.recurrent.weight.shape != (n, n):
            raise ValueError(
                f"recurrent weight shape {self.recurrent.weight.shape} is not ({n}, {n}), "
                "the layer's size"
            )

    @classmethod
    def from_file_weights(
        cls,
        weight: np.ndarray,
        weight_rec: np.ndarray,
        delay: np.ndarray | None = None,
        delay_rec: np.ndarray | None = None,
    ) -> RecurrentDenseSynapse:
        """The synapses netx builds from integer file weights: one mantissa/bits/exponent
        mapping of ``[weight | weight_rec]`` (WeightFormatError where netx fails), split back;
        the file weights are kept in each part's ``file_weight``."""
        weight = np.asarray(weight, dtype=np.int64)
        weight_rec = np.asarray(weight_rec, dtype=np.int64)
        mant, bits, exp = netx_optimize_weight_bits(np.hstack((weight, weight_rec)))
        n_in = weight.shape[1]
        return cls(
            DenseSynapse(mant[:, :n_in], exp, bits, delay, file_weight=weight),
            DenseSynapse(mant[:, n_in:], exp, bits, delay_rec, file_weight=weight_rec),
        )

    # --- the file's view ---------------------------------------------------------------------
    @property
    def file_weight(self) -> np.ndarray | None:
        """``[weight | weight_rec]`` as the file held them, when both parts kept theirs."""
        own = (self.forward.file_weight, self.recurrent.file_weight)
        return None if any(w is None for w in own) else np.hstack(own)

    @property
    def values(self) -> np.ndarray:
        """``[forward.values | recurrent.values]``: what each synapse adds per spike."""
        return np.hstack((self.forward.values, self.recurrent.values))

    def with_file_weights(self, weight: np.ndarray) -> RecurrentDenseSynapse:
        """The synapse netx builds from file weights ``[weight | weight_rec]`` with these
        delays."""
        n_in = self.n_in
        return self.from_file_weights(
            weight[:, :n_in], weight[:, n_in:], self.forward.delay, self.recurrent.delay
        )

    # --- the protocol ------------------------------------------------------------------------
    @property
    def message_bits(self) -> int:
        return self.forward.message_bits

    def label(self) -> str:
        return self.layer_type

    @property
    def parts(self) -> tuple[DenseSynapse, ...]:
        return (self.forward, self.recurrent)

    @property
    def n_in(self) -> int:
        return self.forward.n_in

    @property
    def n_out(self) -> int:
        return self.forward.n_out

    @property
    def max_delay(self) -> int:
        return max(self.forward.max_delay, self.recurrent.max_delay)

    @property
    def has_delays(self) -> bool:
        return self.forward.has_delays or self.recurrent.has_delays

    @property
    def synapse_count(self) -> int:
        return self.forward.synapse_count + self.recurrent.synapse_count

    @property
    def entries(self) -> int:
        return self.forward.entries + self.recurrent.entries

    def fan_out(self) -> np.ndarray:
        """Non-zero feed-forward synapses leaving each input neuron, ``(n_in,)``."""
        return self.forward.fan_out()

    def recurrent_fan_out(self) -> np.ndarray:
        """Non-zero recurrent synapses leaving each of the layer's neurons, ``(n_out,)``."""
        return self.recurrent.fan_out()

    def synaptic_input(self, spikes: np.ndarray, method: str = "auto") -> np.ndarray:
        """The feed-forward part of the input, whole-sequence (:meth:`feedback` adds the rest
        while the neurons run)."""
        return self.forward.synaptic_input(spikes, method)

    def input_stream(self, chunk: int | None = None, method: str = "auto") -> InputStream:
        """The feed-forward part's input stream (the recurrent part is :meth:`feedback`)."""
        return self.forward.input_stream(chunk, method)

    def feedback(self, samples: int, steps: int) -> RecurrentInput:
        """A fresh ring buffer for a run of ``samples`` x ``steps``."""
        return RecurrentInput(self.recurrent, samples, steps)

    def delay_histogram(self) -> np.ndarray:
        """Stored synapses per delay value, both parts together."""
        hists = [p.delay_histogram() for p in self.parts]
        out = np.zeros(max(h.size for h in hists), dtype=np.int64)
        for h in hists:
            out[: h.size] += h
        return out

    def storage(self) -> SynapseStorage:
        """The input's lists and one list per own neuron (each core receives the layer's own
        spikes as input axons too)."""
        fwd, rec = self.forward, self.recurrent
        return SynapseStorage(
            "dense",
            fwd.n_in + rec.n_in,
            (fwd.storage_lists(fwd.n_in), rec.storage_lists(rec.n_in)),
        )

    def violations(self, name: str) -> list[str]:
        """Both parts' checks; a finding the parts share (their weight bits) once."""
        out = self.forward.violations(name)
        seen = {line.split(": ", 1)[-1] for line in out}
        rec = self.recurrent.violations(f"{name} (recurrent)")
        return out + [line for line in rec if line.split(": ", 1)[-1] not in seen]

    def describe(self) -> dict:
        """The feed-forward ranges (as a dense layer's; ``synapses`` counts both parts, as the
        resource estimate does) and the recurrent ones under ``recurrent``."""
        rec = self.recurrent.describe()
        return {
            **self.forward.describe(),
            "synapses": self.synapse_count,
            "recurrent": {
                "synapses": rec["synapses"],
                "weight": rec["weight"],
                "sign_mode": rec["sign_mode"],
                "delay": rec["delay"],
            },
        }

    def same_as(self, other: object) -> bool:
        return (
            isinstance(other, RecurrentDenseSynapse)
            and self.forward.same_as(other.forward)
            and self.recurrent.same_as(other.recurrent)
        )


class RecurrentInput:
    """What a layer's own spikes deliver back to it, step by step: a ring buffer of the next
    ``max_delay + 1`` steps' arrivals, ``(slots, N, n)``, batched over samples.

    The neuron kernel asks for step t's arrivals (:meth:`arriving`) before it integrates step
    t and hands back the spikes of step t (:meth:`send`), which are added to the slots of steps
    ``t + 1 + delay``. It counts the steps itself, so one object serves a run in chunks.
    Exact: integer sums in float64 (|sum| < 2**53). Three paths:

    - one delay value (or none): one matrix product per step with spikes;
    - several delay values: a scatter-add of each spiking neuron's column into the slots its
      synapses' delays name (cost proportional to spikes x fan-out, not to neurons squared);
    - synapse values that are not integers (a negative weight exponent with weights that keep
      fractions, see ``DenseSynapse.values_are_integers``): lava floors each step's sum per
      delay slot, so one product per delay value on the effective weights, then the shift.

    ``bound`` bounds the input it can add to one neuron in one step, for the kernels'
    overflow-pass decisions: each synapse carries at most one spike per step, so
    ``sum |values|`` over a neuron's synapses; on the fractional path lava floors each delay
    slot's sum, which can add up to 1 per slot, so there each slot's sum is rounded up.
    """

    def __init__(self, synapse: DenseSynapse, samples: int, steps: int):
        n = synapse.n_out
        self.steps = int(steps)
        self.t = 0  # the current step
        self.slots = synapse.max_delay + 1
        self.ring = np.zeros((self.slots, samples, n))
        delays = (
            np.zeros(synapse.weight.shape, np.int64) if synapse.delay is None else synapse.delay
        )
        linear = synapse.values_are_integers
        weights = synapse.values if linear else synapse.effective_weight.astype(np.float64)
        used = np.unique(delays[weights != 0])
        magnitude = np.abs(synapse.values)
        if linear:
            self.bound = float(magnitude.sum(axis=1).max(initial=0.0))
        else:
            per_slot = [np.ceil(np.where(delays == d, magnitude, 0.0).sum(axis=1)) for d in used]
            self.bound = float(np.sum(per_slot, axis=0).max(initial=0.0)) if per_slot else 0.0
        self.weight_exp = synapse.weight_exp
        if not linear:
            self.mode = "per_delay"
            self.per_delay = [
                (int(d), np.ascontiguousarray(np.where(delays == d, weights, 0.0).T)) for d in used
            ]
        elif used.size <= 1:
            self.mode = "single"
            self.single_delay = int(used[0]) if used.size else 0
            self.weight_t = np.ascontiguousarray(weights.T)  # (source, target)
        else:
            self.mode = "scatter"
            self.weight_t = np.ascontiguousarray(weights.T)
            self.delay_t = np.ascontiguousarray(delays.T)
            self.targets = np.arange(n)

    def arriving(self) -> np.ndarray:
        """The input the layer's earlier spikes deliver at the current step t, ``(N, n)``;
        the slot is freed for step ``t + slots``."""
        slot = self.ring[self.t % self.slots]
        out = slot.copy()
        slot.fill(0.0)
        return out

    def send(self, fired: np.ndarray) -> None:
        """Spikes ``(N, n)`` (bool or 0/1) of the current step t into the slots of their
        arrival steps; then step t + 1 begins."""
        t = self.t
        self.t += 1
        if not fired.any():
            return
        if self.mode == "single":
            arrive = t + 1 + self.single_delay
            if arrive < self.steps:
                self.ring[arrive % self.slots] += fired.astype(np.float64) @ self.weight_t
        elif self.mode == "scatter":
            samples, sources = np.nonzero(fired)
            arrive = t + 1 + self.delay_t[sources]  # (K, n)
            # slot-major flat index; arrivals past the run land in slots no later step reads
            _, batch, n = self.ring.shape
            index = ((arrive % self.slots) * batch + samples[:, None]) * n + self.targets
            np.add.at(self.ring.reshape(-1), index.ravel(), self.weight_t[sources].ravel())
        else:
            x = fired.astype(np.float64)
            for d, w_d in self.per_delay:
                arrive = t + 1 + d
                if arrive < self.steps:
                    acc = np.rint(x @ w_d).astype(np.int64)
                    self.ring[arrive % self.slots] += shift_activation(acc, self.weight_exp)
