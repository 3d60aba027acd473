"""The complex dense synapse: the two all-to-all synapses that feed resonate-and-fire neurons
(lava-dl netx's ``ComplexDense`` block).

In a netx file it is a ``dense`` layer whose weight group holds ``weight/real`` and
``weight/imag`` (SLAYER's complex blocks export them so, slayer/block/base.py
``export_hdf5``); ranvier's IR calls it ``dense_complex`` (``dense`` is
:class:`~.dense.DenseSynapse`'s). netx (lava-dl 0.6.0 ``hdf5.py`` ``create_dense``, branch
``"weight/imag" in layer_config.f``) maps each matrix on its own with
``optimize_weight_bits`` and builds ``ComplexDense`` (``netx/blocks/process.py``): two lava
``Dense`` processes without sign mode (each picks its own from its mantissas), fed by the
same input spikes, the real one into the neurons' ``a_real_in``, the imaginary one into
``a_imag_in``. The block takes no delays and no bias: netx's complex branch reads neither
(a ``delay`` or ``bias`` in the file is ignored by lava), so this synapse refuses delays.

A spike sent at step t reaches both inputs at step t + 1, as through any Dense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import SynapseStorage
from .dense import DenseSynapse


@dataclass
class ComplexDenseSynapse:
    """A real and an imaginary :class:`DenseSynapse`, both ``(n_out, n_in)``, without delays,
    delivering ``real + 1j * imag`` to resonate-and-fire neurons (netx ``ComplexDense``)."""

    layer_type: ClassVar[str] = "dense_complex"
    #: what it delivers to the neurons (their ``NeuronGroup.INPUT``)
    delivers: ClassVar[str] = "complex"

    real: DenseSynapse
    imag: DenseSynapse

    def __post_init__(self) -> None:
        if self.real.weight.shape != self.imag.weight.shape:
            raise ValueError(
                f"weight/real {self.real.weight.shape} and weight/imag "
                f"{self.imag.weight.shape} differ in shape"
            )
        if self.real.has_delays or self.imag.has_delays:
            raise ValueError(
                "a complex dense layer takes no delays: netx's ComplexDense builds two plain "
                "Dense synapses and ignores a 'delay' in the file"
            )

    @classmethod
    def from_file_weights(
        cls, weight_real: np.ndarray, weight_imag: np.ndarray
    ) -> ComplexDenseSynapse:
        """The synapses netx builds from integer file weights ``weight/real`` and
        ``weight/imag`` (each ``(n_out, n_in)``), each mapped on its own by
        ``optimize_weight_bits`` (:meth:`DenseSynapse.from_file_weights`; WeightFormatError
        where netx fails, e.g. an all-zero matrix)."""
        return cls(
            DenseSynapse.from_file_weights(weight_real),
            DenseSynapse.from_file_weights(weight_imag),
        )

    # --- the file's view ---------------------------------------------------------------------
    @property
    def file_weight(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(weight/real, weight/imag)`` as the file held them, when both parts kept theirs."""
        own = (self.real.file_weight, self.imag.file_weight)
        return None if any(w is None for w in own) else own

    @property
    def values(self) -> np.ndarray:
        """What each synapse adds per spike, ``real.values + 1j * imag.values`` (complex128)."""
        return self.real.values + 1j * self.imag.values

    # --- the protocol ------------------------------------------------------------------------
    @property
    def parts(self) -> tuple[DenseSynapse, DenseSynapse]:
        return (self.real, self.imag)

    @property
    def message_bits(self) -> int:
        return self.real.message_bits

    def label(self) -> str:
        return "dense (weight/real, weight/imag)"

    @property
    def n_in(self) -> int:
        return self.real.n_in

    @property
    def n_out(self) -> int:
        return self.real.n_out

    @property
    def max_delay(self) -> int:
        return 0

    @property
    def has_delays(self) -> bool:
        return False

    @property
    def synapse_count(self) -> int:
        return self.real.synapse_count + self.imag.synapse_count

    @property
    def entries(self) -> int:
        return self.real.entries + self.imag.entries

    def fan_out(self) -> np.ndarray:
        """Non-zero synapses leaving each input neuron, both parts: a spike drives both."""
        return self.real.fan_out() + self.imag.fan_out()

    def recurrent_fan_out(self) -> None:
        """None: a complex dense synapse is feed-forward."""
        return None

    def synaptic_input(self, spikes: np.ndarray, method: str = "auto") -> np.ndarray:
        """The input arriving at each neuron at each step, ``(T, N, n_out)`` complex128: the
        real synapse's :meth:`DenseSynapse.synaptic_input` plus 1j times the imaginary one's
        (each float64 holding integers, wrapped at 32 bits as lava's int32 ports)."""
        return _combine(
            self.real.synaptic_input(spikes, method), self.imag.synaptic_input(spikes, method)
        )

    def input_stream(
        self, chunk: int | None = None, method: str = "auto"
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A fresh stream of :meth:`synaptic_input` for a run in chunks: called with each
        chunk's spikes ``(N, n_in, K)``, it returns ``(K, N, n_out)`` complex128."""
        real = self.real.input_stream(chunk, method)
        imag = self.imag.input_stream(chunk, method)

        def stream(spikes: np.ndarray) -> np.ndarray:
            return _combine(real(spikes), imag(spikes))

        return stream

    def feedback(self, samples: int, steps: int) -> None:
        """None: a complex dense synapse is feed-forward."""
        return None

    def delay_histogram(self) -> np.ndarray:
        """Stored synapses per delay value: one bin (delay 0), both parts."""
        return np.array([self.synapse_count])

    def storage(self) -> SynapseStorage:
        """Two dense lists per input axon (real and imaginary), each with its own weight
        bits."""
        n = self.real.n_in
        return SynapseStorage("dense", n, (self.real.storage_lists(n), self.imag.storage_lists(n)))

    def violations(self, name: str) -> list[str]:
        """Both parts' checks, each named by its weight matrix."""
        return self.real.violations(f"{name} (weight/real)") + self.imag.violations(
            f"{name} (weight/imag)"
        )

    def describe(self) -> dict:
        """The real part's ranges (as a dense layer's; ``synapses`` counts both parts) and
        the imaginary part's under ``imag``."""
        imag = self.imag.describe()
        return {
            **self.real.describe(),
            "synapses": self.synapse_count,
            "imag": {
                k: imag[k]
                for k in ("synapses", "weight", "weight_exp", "num_weight_bits", "sign_mode")
            },
        }

    def same_as(self, other: object) -> bool:
        """Same class, and both parts the same synapse values."""
        return (
            isinstance(other, ComplexDenseSynapse)
            and self.real.same_as(other.real)
            and self.imag.same_as(other.imag)
        )


def _combine(real: np.ndarray, imag: np.ndarray) -> np.ndarray:
    out = np.empty(real.shape, dtype=np.complex128)
    out.real = real
    out.imag = imag
    return out
