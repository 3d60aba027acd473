"""Teach lava-dl netx 0.6.0's ``Network`` ranvier's neuron types (docs/lava_backend.md,
"Neuron types").

``Network.create_dense`` asks the staticmethod ``Network.get_neuron_params(neuron_config, ...)``
(lava/lib/dl/netx/hdf5.py:111-205, called at hdf5.py:358) which process to build and with
which keyword arguments; netx then builds the Dense/DelayDense synapse, its weights
(``optimize_weight_bits``) and delays exactly as for CUBA, and hands the layer bias to the
neuron under ``bias_key``. :class:`NetxNeuronTypes` wraps it: every layer of a type in
``neurons.LAVA_NEURONS`` is read into its IR group through the unit's ``FIELDS`` (netx names)
and mapped by the registry. netx knows only CUBA/LOIHI of those (it builds ``LIF``, or
``LIFReset`` with a reset interval): there the wrapper keeps netx's dict and replaces its
numbers by the mapping's Python ints (a float-typed ``vThMant`` dataset otherwise crashes
``PyLifModelBitAcc.scale_threshold``, lif/models.py:273); every other type netx knows (SDNN,
RF) goes to netx untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ranvier.hw_models.fixed_point import NETX_BIAS_EXP
from ranvier.hw_models.neurons import (
    NEURON_TYPES,
    CubaNeurons,
    NeuronGroup,
    ParameterRangeError,
    neuron_unit,
)

from .neurons import LAVA_NEURONS, lava_neuron

#: The types of LAVA_NEURONS that netx 0.6.0 builds itself; only their numbers are replaced.
NETX_NATIVE = tuple(tag for tag, unit in NEURON_TYPES.items() if unit is CubaNeurons)


def neuron_where(neuron_config) -> str:
    """'layer/<i>/neuron' for error messages (the h5py group netx's NetDict wraps)."""
    handle = getattr(neuron_config, "f", None)
    name = getattr(handle, "name", None)
    return name.strip("/") if name else "neuron"


def raw_field(neuron_config, key: str) -> np.ndarray:
    """One neuron field as a flat numeric array, read from the h5py group itself.

    netx's NetDict hands back ``f[key][()]`` (a numpy scalar or array) only for its
    ``array_keys`` (iDecay, vDecay, vThMant, refDelay, ...); any other key (thDecay,
    refDecay, vThStep, uDecay, ...) comes back as another NetDict wrapping the dataset
    (lava/lib/dl/netx/utils.py:61-75), so every field is read from ``neuron_config.f``.
    """
    where = neuron_where(neuron_config)
    handle = getattr(neuron_config, "f", None)
    if handle is None or key not in handle:
        raise ValueError(f"{where}/{key}: missing")
    arr = np.asarray(handle[key][()]).reshape(-1)
    if arr.size == 0 or arr.dtype.kind not in "biuf":
        raise ValueError(f"{where}/{key}: expected a number or one number per neuron")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise ValueError(f"{where}/{key}: must hold integers")
    return arr.astype(np.int64)


def check_unary(neuron_config) -> None:
    """ValueError for graded spikes (a non-zero ``messageBits``)."""
    handle = getattr(neuron_config, "f", None)
    if handle is not None and "messageBits" in handle:
        if np.any(raw_field(neuron_config, "messageBits") != 0):
            raise ValueError(
                f"{neuron_where(neuron_config)}/messageBits: graded spikes are not supported"
            )


def neuron_group(neuron_config, neuron_type: str) -> NeuronGroup:
    """The IR group of a netx neuron config: each of the unit's ``FIELDS`` read by its netx
    name (a per-layer scalar field such as refDelay may be absent), one neuron per value of
    the longest field, bias 0 with netx's exponent (netx hands the layer's bias over itself).
    """
    unit = neuron_unit(neuron_type)
    where = neuron_where(neuron_config)
    handle = getattr(neuron_config, "f", None)
    params = {
        f.name: raw_field(neuron_config, f.netx)
        for f in unit.FIELDS
        if not (f.scalar and (handle is None or f.netx not in handle))
    }
    n = max((arr.size for arr in params.values()), default=1)
    try:
        return unit.create(n, **params, bias_exp=NETX_BIAS_EXP)
    except ParameterRangeError as exc:
        raise ValueError(f"{where}/{exc.field.netx}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def process_kwargs(neuron_config, neuron_type: str) -> dict[str, Any]:
    """The mapping's keywords for a netx neuron config, without ``bias_mant`` (netx passes
    the layer's bias under ``bias_key``)."""
    kwargs = lava_neuron(neuron_type).kwargs(
        neuron_group(neuron_config, neuron_type), neuron_where(neuron_config)
    )
    kwargs.pop("bias_mant")
    return kwargs


class NetxNeuronTypes:
    """Context manager: netx's ``Network.get_neuron_params`` answers every type of
    ``neurons.LAVA_NEURONS`` (see the module docstring). Only used under ``runtime.LOCK``;
    the original staticmethod is always restored."""

    def __init__(self, lava):
        self.lava = lava
        self.network = lava.netx_hdf5.Network
        self.original = None

    def _own_params(self, neuron_config, neuron_type: str) -> dict[str, Any]:
        """The whole answer for a type netx does not know."""
        entry = lava_neuron(neuron_type)
        process = getattr(self.lava, entry.process, None)
        if process is None:  # pragma: no cover - depends on the lava-nc version
            raise ValueError(
                f"{neuron_where(neuron_config)}: {neuron_type} needs lava-nc's "
                f"{entry.process} (lava-nc >= 0.9)"
            )
        check_unary(neuron_config)
        return {
            "neuron_proc": process,
            "bias_key": "bias_mant",
            **process_kwargs(neuron_config, neuron_type),
            "num_message_bits": 0,
        }

    def __enter__(self):
        network = self.network
        self.original = network.__dict__["get_neuron_params"]
        original = self.original.__func__

        def get_neuron_params(neuron_config, input=False, reset_interval=None, **kwargs):
            neuron_type = neuron_config["type"]
            if neuron_type not in LAVA_NEURONS:  # SDNN, RF, ...: netx's own
                return original(neuron_config, input=input, reset_interval=reset_interval, **kwargs)
            if neuron_type not in NETX_NATIVE:
                if reset_interval is not None:
                    raise ValueError(f"{neuron_type}: netx's reset_interval is not supported")
                return self._own_params(neuron_config, neuron_type)
            params = original(neuron_config, input=input, reset_interval=reset_interval, **kwargs)
            if isinstance(params, dict) and hasattr(neuron_config, "f"):
                params.update(process_kwargs(neuron_config, neuron_type))
            return params

        network.get_neuron_params = staticmethod(get_neuron_params)
        return self

    def __exit__(self, *exc):
        self.network.get_neuron_params = self.original
        return False
