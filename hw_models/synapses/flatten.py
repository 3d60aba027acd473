"""A synapse behind a netx ``flatten`` layer.

netx connects a ``(W, H, C)`` layer to the dense layer after a ``flatten`` through
``out.transpose([2, 1, 0]).flatten()`` (lava-dl ``netx/hdf5.py`` ``_create``): the dense
weights' columns follow the ``(C, H, W)`` order (PyTorch's flatten of a CHW tensor), while
ranvier numbers a layer's neurons in lava's ``(W, H, C)`` order. :class:`Flattened` wraps the
synapse and reorders its input; everything else is the inner synapse's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


def flatten_order(shape: tuple[int, ...]) -> np.ndarray:
    """For each column of the flattened input, the ``(W, H, C)``-order index of the neuron it
    reads: ``transpose([2, 1, 0]).flatten()`` of lava's array."""
    n = int(np.prod(shape))
    return np.arange(n).reshape(shape).transpose(*range(len(shape) - 1, -1, -1)).reshape(-1)


@dataclass
class Flattened:
    """``inner`` (a dense synapse) fed by a layer of shape ``source_shape`` (W, H, C) through
    netx's flatten."""

    layer_type: ClassVar[str] = "flatten"

    inner: Any
    source_shape: tuple[int, ...]
    order: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.source_shape = tuple(int(v) for v in self.source_shape)
        self.order = flatten_order(self.source_shape)
        if self.order.size != self.inner.n_in:
            raise ValueError(
                f"flatten of {self.source_shape} gives {self.order.size} inputs, "
                f"the layer takes {self.inner.n_in}"
            )

    def __getattr__(self, name: str) -> Any:
        # everything not about the input order is the inner synapse's
        if name in ("inner", "order", "source_shape"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def n_in(self) -> int:
        return self.inner.n_in

    @property
    def n_out(self) -> int:
        return self.inner.n_out

    def label(self) -> str:
        shape = "x".join(str(v) for v in self.source_shape)
        return f"{self.inner.label()} (flatten {shape})"

    def fan_out(self) -> np.ndarray:
        out = np.empty(self.order.size, dtype=np.int64)
        out[self.order] = self.inner.fan_out()
        return out

    def synaptic_input(self, spikes: np.ndarray, method: str = "auto") -> np.ndarray:
        return self.inner.synaptic_input(spikes[:, self.order], method)

    def input_stream(self, chunk: int | None = None, method: str = "auto") -> Callable:
        stream = self.inner.input_stream(chunk, method)
        order = self.order
        return lambda spikes: stream(spikes[:, order])

    def same_as(self, other: object) -> bool:
        return (
            isinstance(other, Flattened)
            and other.source_shape == self.source_shape
            and self.inner.same_as(other.inner)
        )
