"""A netx ``dense_rec`` layer wired as the chip runs it: the lava reference for recurrent layers.

lava-dl 0.6.0's netx reads ``dense_rec`` layers into its ``RecurrentDense`` block
(``netx/blocks/process.py``), which never sees the file's ``delay_rec``: with a feed-forward
``delay`` it builds the recurrent synapse as a DelayDense with the *feed-forward* delays and
builds both synapses without the weight exponent; without one, both as Dense. Loihi 2 runs the
file's recurrent synapse with its own delays and with the layer's weight exponent.

:class:`RecurrentDelayDense` is that block as the hardware runs it, made of lava-nc's own
processes and nothing of ranvier's arithmetic: the feed-forward synapse (lava-nc ``Dense``, or
``DelayDense`` with the file's ``delay``) and the recurrent synapse (``Dense``, or
``DelayDense`` with ``delay_rec``), both with netx's weight mantissas, bit count and exponent
(``optimize_weight_bits`` of ``[weight | weight_rec]``, netx's own code), feed the neuron's
``a_in`` (lava's InPort sums the two int32 channels); the neuron's ``s_out`` feeds the block's
output and the recurrent synapse. A spike sent at step t reaches a recurrent target at
``t + 1 + delay_rec``, the one-step buffer of lava's synapse models plus the delay slot.

:class:`RecurrentLayers` (a context manager, used under ``runtime.LOCK`` while netx builds a
network) makes netx build this block for ``dense_rec`` layers, handing it the layer's
``delay_rec`` (read from the file, broadcast like netx's ``delay``). Everything else netx does
with the layer (neuron parameters, bias, weight mapping, feed-forward delays) is netx's.

Imports lava at module level: only ``runtime.import_lava`` imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.lib.dl.netx.blocks.models import AbstractPyBlockModel
from lava.lib.dl.netx.blocks.process import AbstractBlock
from lava.magma.core.decorator import implements
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import DelayDense, Dense
from ranvier.convert import expand_delay
from ranvier.hw_models.fixed_point import MAX_DELAY


def _synapse(
    weight: np.ndarray, delay: np.ndarray | None, bits: int, exp: int, msg_bits: int
) -> Dense | DelayDense:
    """lava-nc's Dense, or DelayDense (``max_delay`` 62, as netx builds it) when the synapse
    has delays."""
    if delay is None:
        return Dense(
            weights=weight, weight_exp=exp, num_weight_bits=bits, num_message_bits=msg_bits
        )
    return DelayDense(
        weights=weight,
        delays=np.asarray(delay).astype(int),
        max_delay=MAX_DELAY,
        weight_exp=exp,
        num_weight_bits=bits,
        num_message_bits=msg_bits,
    )


class RecurrentDelayDense(AbstractBlock):
    """netx's RecurrentDense block as Loihi 2 runs a ``dense_rec`` layer (module docstring).

    Keywords as netx's RecurrentDense (``shape``, ``neuron_params``, ``weight``,
    ``weight_rec``, ``delay``, ``num_weight_bits``, ``weight_exponent``, ``bias``,
    ``input_message_bits``), plus ``delay_rec``: the recurrent synapse's delays ``(n, n)`` or
    None.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        weight = kwargs.pop("weight")
        weight_rec = kwargs.pop("weight_rec")
        delay = kwargs.pop("delay", None)
        delay_rec = kwargs.pop("delay_rec", None)
        bits = kwargs.pop("num_weight_bits", 8)
        exp = kwargs.pop("weight_exponent", 0)
        if kwargs.pop("sparse_synapse", False):
            raise ValueError("dense_rec: sparse synapses are not supported")
        msg_bits = self.input_message_bits
        self.synapse = _synapse(weight, delay, bits, exp, msg_bits)
        # it receives the layer's own spikes: the neuron's message bits (0: unary)
        self.synapse_rec = _synapse(weight_rec, delay_rec, bits, exp, self.output_message_bits)
        if self.shape != self.synapse.a_out.shape:
            raise RuntimeError(
                f"Expected synapse output shape to be {self.shape[-1]}, "
                f"found {self.synapse.a_out.shape}."
            )
        self.neuron = self._neuron(kwargs.pop("bias", None))
        self.inp = InPort(shape=self.synapse.s_in.shape)
        self.out = OutPort(shape=self.neuron.s_out.shape)
        self.inp.connect(self.synapse.s_in)
        self.synapse.a_out.connect(self.neuron.a_in)
        self.neuron.s_out.connect(self.out)
        self.neuron.s_out.connect(self.synapse_rec.s_in)
        self.synapse_rec.a_out.connect(self.neuron.a_in)
        self._clean()


@implements(proc=RecurrentDelayDense, protocol=LoihiProtocol)
class PyRecurrentDelayDenseModel(AbstractPyBlockModel):
    """The block's (empty) sub-process model, as netx's PyDenseModel: the block builds its
    processes itself."""

    def __init__(self, proc) -> None:
        super().__init__(proc)


def read_delay_rec(layer_config: Any, n: int) -> np.ndarray | None:
    """The layer's ``delay_rec`` as per-synapse delays ``(n, n)``, broadcast as ranvier's
    reader does (``convert.expand_delay``, netx's rule for ``delay``: a scalar, one value per
    target first, or the full matrix); integers 0..62. None when the file has none.
    ValueError naming the file and field otherwise. (Where netx has no rule, the reference
    has to take ranvier's; the arithmetic it runs is lava's.)"""
    handle = getattr(layer_config, "f", None)
    if handle is None or "delay_rec" not in handle:
        return None
    where = f"{handle.file.filename}: {handle.name.strip('/')}/delay_rec"
    raw = np.asarray(handle["delay_rec"][()])
    if raw.dtype.kind not in "biuf" or (
        raw.dtype.kind == "f" and (not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)))
    ):
        raise ValueError(f"{where}: delays must be integers")
    delay = raw.astype(np.int64)
    if delay.size and (delay.min() < 0 or delay.max() > MAX_DELAY):
        raise ValueError(f"{where}: delays must be within 0..{MAX_DELAY}")
    try:
        return expand_delay(delay, (n, n))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


class RecurrentLayers:
    """Context manager: while netx builds a network, its ``dense_rec`` layers become
    :class:`RecurrentDelayDense` blocks with the file's ``delay_rec`` (module docstring).
    Only used under ``runtime.LOCK``; netx's originals are always restored."""

    def __init__(self, lava: Any):
        self.module = lava.netx_hdf5
        self.network = lava.netx_hdf5.Network
        self.delay_rec: np.ndarray | None = None
        self.saved: tuple[Any, Any] | None = None

    def __enter__(self) -> RecurrentLayers:
        network = self.network
        self.saved = (network.__dict__["create_dense"], self.module.RecurrentDense)
        create_dense = self.saved[0].__func__

        def create(layer_config, *args, rec: bool = False, **kwargs):
            if rec:
                n = int(np.prod(np.asarray(layer_config["shape"])))
                self.delay_rec = read_delay_rec(layer_config, n)
            try:
                return create_dense(layer_config, *args, rec=rec, **kwargs)
            finally:
                self.delay_rec = None

        def block(**params):
            return RecurrentDelayDense(**params, delay_rec=self.delay_rec)

        network.create_dense = staticmethod(create)
        self.module.RecurrentDense = block
        return self

    def __exit__(self, *exc: object) -> bool:
        create_dense, recurrent_dense = self.saved
        self.network.create_dense = create_dense
        self.module.RecurrentDense = recurrent_dense
        return False
