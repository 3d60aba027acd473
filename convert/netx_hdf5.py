"""netx HDF5 ⇄ IR.

Reads files the way lava-dl 0.6.0's ``lava.lib.dl.netx.hdf5.Network`` reads them, and writes
them the way SLAYER's ``export_hdf5`` does, so a file written here loads in lava-dl netx
unchanged. Layout (one group per layer, numbered from 0)::

    layer/<i>/type          b'input' | b'dense' | b'dense_rec'
    layer/<i>/shape         neuron shape, e.g. [128]
    layer/<i>/inFeatures    (dense, optional) fan-in, checked against weight
    layer/<i>/outFeatures   (dense, optional) neurons, checked against weight
    layer/<i>/weight        (dense) (outFeatures, inFeatures) integers, netx's 8-bit scale
    layer/<i>/bias          (dense, optional) per-neuron bias mantissa (exponent 6)
    layer/<i>/delay         (dense, optional) integer delays 0..62: scalar, per output neuron,
                            per input neuron, or per synapse (outFeatures, inFeatures)
    layer/<i>/weight_rec    (dense_rec) (outFeatures, outFeatures) recurrent weights, mapped
                            together with weight (one exponent)
    layer/<i>/delay_rec     (dense_rec, optional) recurrent delays 0..62: scalar, per neuron
                            or per synapse; netx itself ignores it (netx_differences)
    layer/<i>/neuron/type   b'CUBA' | b'LOIHI' | b'ALIF' | b'ADLIF'
    layer/<i>/neuron/...    CUBA: iDecay, vDecay, vThMant, refDelay, gradedSpike
                            ALIF (SLAYER): iDecay, vDecay, thDecay, refDecay, vThMant,
                            vThStep, refDelay;  ADLIF (ranvier): uDecay, wDecay, aMant, bMant,
                            vThMant. Each a scalar or one value per neuron.
    simulation/{Ts, tSample} (optional)
    readout/mode            (optional) b'spike_count' | b'membrane_sum'

netx itself (lava-dl 0.6.0) loads only the CUBA layers; ALIF and ADLIF files run on ranvier
and, through deploy/lava/, on lava-nc's ATRLIF and ranvier's AdLIF+ process.

Every problem is reported as one :class:`NetFileError` line naming the file, the layer and the
field. See docs/file_format.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
from ranvier.hw_models.fixed_point import (
    DECAY_UNITY,
    INT32_LIMIT,
    MAX_DELAY,
    NETX_BIAS_EXP,
    NETX_WEIGHT_MIN,
    NON_SPIKING_VTH_MANT,
)
from ranvier.hw_models.network import (
    Block,
    ComplexDenseSynapse,
    ConvSynapse,
    DenseSynapse,
    Flattened,
    InputPort,
    Network,
    RecurrentDenseSynapse,
)
from ranvier.hw_models.neurons import NEURON_TYPES, CubaNeurons, NeuronGroup
from ranvier.hw_models.readout import READOUT_MODES
from ranvier.hw_models.synapses.conv import geometry_problem

from .atomic import atomic_path


class NetFileError(ValueError):
    """A netx file that cannot be read; the message is one line naming file, layer and field."""


def _fail(path: Path, where: str, msg: str) -> NetFileError:
    return NetFileError(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")


def _read_str(ds: h5py.Dataset) -> str:
    """netx's string fields: a 1-element or scalar bytes dataset."""
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else b""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def _read_array(group: h5py.Group, key: str, path: Path, where: str) -> np.ndarray:
    ds = group[key]
    if not isinstance(ds, h5py.Dataset):
        raise _fail(path, f"{where}/{key}", "expected a dataset, found a group")
    try:
        arr = np.asarray(ds[()])
    except Exception as exc:  # corrupt chunk, unreadable dtype
        raise _fail(path, f"{where}/{key}", f"unreadable ({exc.__class__.__name__})") from None
    if arr.dtype.kind not in "biuf":
        raise _fail(path, f"{where}/{key}", f"expected numbers, found dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise _fail(path, f"{where}/{key}", "contains NaN or infinite values")
    return arr


def _read_scalar(group: h5py.Group, key: str, path: Path, where: str) -> np.ndarray:
    """A parameter that netx passes through as a number (scalar or one value per neuron)."""
    if key not in group:
        raise _fail(path, f"{where}/{key}", "missing")
    arr = _read_array(group, key, path, where)
    if arr.size == 0:
        raise _fail(path, f"{where}/{key}", "empty")
    if np.abs(arr).max() >= INT32_LIMIT:
        raise _fail(path, f"{where}/{key}", f"value {np.abs(arr).max():.3g} is beyond 32 bits")
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        raise _fail(path, f"{where}/{key}", f"must be an integer, found {arr.reshape(-1)[0]}")
    return arr.astype(np.int64)


def _read_neurons(
    layer: h5py.Group, n: int, path: Path, where: str, input_layer: bool = False
) -> NeuronGroup:
    """The layer's neuron group, read through its unit's field schema (the unit may pick a
    variant for an input layer, as netx picks SDNN's Delta encoder there)."""
    if "neuron" not in layer:
        return _default_neurons(n)
    ng = layer["neuron"]
    wn = f"{where}/neuron"
    if "type" not in ng:
        raise _fail(path, f"{wn}/type", "missing")
    neuron_type = _read_str(ng["type"])
    unit = NEURON_TYPES.get(neuron_type)
    if unit is None:
        raise _fail(
            path,
            f"{wn}/type",
            f"unknown neuron type {neuron_type!r} (supported: {', '.join(NEURON_TYPES)})",
        )
    unit = unit.variant(ng, input_layer=input_layer)
    if "messageBits" in ng and not unit.graded_output:
        if np.any(_read_scalar(ng, "messageBits", path, wn) != 0):
            raise _fail(
                path, f"{wn}/messageBits", f"{neuron_type} neurons send unary spikes, not graded"
            )
    try:
        params: dict[str, np.ndarray | int | str] = unit.read_extra(ng, where=wn)
    except ValueError as exc:
        raise NetFileError(f"{path}: {exc}") from None
    for f in unit.FIELDS:
        if f.scalar:  # one value per layer, optional (refDelay)
            if f.netx in ng:
                params[f.name] = int(_read_scalar(ng, f.netx, path, wn).reshape(-1)[0])
            continue
        arr = _read_scalar(ng, f.netx, path, wn)
        if arr.size not in (1, n):
            raise _fail(path, f"{wn}/{f.netx}", f"{arr.size} values for {n} neurons")
        if arr.min() < f.lo or arr.max() > f.hi:
            bad = arr.min() if arr.min() < f.lo else arr.max()
            raise _fail(path, f"{wn}/{f.netx}", f"{bad} is outside {f.lo}..{f.hi}")
        params[f.name] = arr.reshape(-1)
    try:
        return unit.create(n, **params)
    except ValueError as exc:
        raise _fail(path, wn, str(exc)) from None


def _default_neurons(n: int) -> NeuronGroup:
    """netx's neuron for a dense layer without a neuron group (hdf5.py create_dense): CUBA,
    iDecay 0, vDecay 4096, vThMant 1 << 17: a non-leaky integrator that never spikes."""
    return CubaNeurons.create(n, vth_mant=NON_SPIKING_VTH_MANT, i_decay=0, v_decay=DECAY_UNITY)


def expand_delay(delay: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Broadcast a netx delay field to per-synapse delays ``shape`` = (targets, sources)
    exactly as netx's create_dense broadcasts ``delay``: a scalar; a 1-D array of one value
    per target (checked first) or per source; or the full matrix. ``delay_rec`` follows the
    same rule. ValueError for any other shape."""
    n_out, n_in = shape
    if delay.ndim == 0:
        return np.full(shape, int(delay.reshape(-1)[0]), dtype=np.int64)
    if delay.ndim == 1:
        if delay.size == n_out:  # netx checks the output count first
            return np.repeat(delay.reshape(-1, 1), n_in, axis=1)
        if delay.size == n_in:
            return np.repeat(delay.reshape(1, -1), n_out, axis=0)
    elif delay.shape == shape:
        return delay
    raise ValueError(
        f"shape {delay.shape} fits neither the weight {shape}, its {n_out} outputs "
        f"nor its {n_in} inputs"
    )


def _declared(layer: h5py.Group, key: str, path: Path, where: str) -> int | None:
    """An optional size field (``inFeatures``/``outFeatures``); None when absent or empty (an
    HDF5 null dataspace, as mlGeNN's exporter writes them)."""
    if key not in layer:
        return None
    ds = layer[key]
    if isinstance(ds, h5py.Dataset) and ds.shape is None:
        return None
    return int(_read_scalar(layer, key, path, where).reshape(-1)[0])


def _read_weight(
    layer: h5py.Group, key: str, n: int, n_in: int, path: Path, where: str
) -> np.ndarray:
    """An integer weight matrix ``(n, n_in)`` as netx reads it (1-D fills ``n`` rows; values
    truncated toward zero, as netx's ``astype(int)``)."""
    if key not in layer:
        raise _fail(path, f"{where}/{key}", "missing")
    if isinstance(layer[key], h5py.Group):
        raise _fail(path, f"{where}/{key}", "expected a dataset, found a group")
    raw = _read_array(layer, key, path, where)
    if raw.size and np.abs(raw).max() >= INT32_LIMIT:
        raise _fail(path, f"{where}/{key}", f"value {np.abs(raw).max():.3g} is beyond 32 bits")
    weight = raw.astype(np.int64)
    if weight.ndim == 1:
        if n == 0 or weight.size % n:
            raise _fail(path, f"{where}/{key}", f"{weight.size} values do not fill {n} rows")
        weight = weight.reshape(n, -1)
    if weight.ndim != 2:
        raise _fail(path, f"{where}/{key}", f"expected 2 dimensions, found {weight.ndim}")
    if weight.shape[0] != n:
        raise _fail(path, f"{where}/{key}", f"has {weight.shape[0]} rows but shape says {n}")
    if weight.shape[1] != n_in:
        if key == "weight_rec":
            msg = f"shape {weight.shape} is not ({n}, {n}): it maps the layer onto itself"
        else:
            msg = (
                f"shape {weight.shape} expects {weight.shape[1]} inputs, "
                f"the layer before has {n_in}"
            )
        raise _fail(path, f"{where}/{key}", msg)
    return weight


def _read_delay(
    layer: h5py.Group, key: str, shape: tuple[int, int], path: Path, where: str
) -> np.ndarray | None:
    """Optional integer delays 0..62 broadcast to per-synapse ``shape`` (netx's rules)."""
    if key not in layer:
        return None
    d = _read_array(layer, key, path, where)
    if d.dtype.kind == "f" and np.any(d != np.round(d)):
        raise _fail(path, f"{where}/{key}", "delays must be integers")
    d = d.astype(np.int64)
    if d.size and d.min() < 0:
        raise _fail(path, f"{where}/{key}", f"negative delay {d.min()}")
    if d.size and d.max() > MAX_DELAY:
        raise _fail(
            path, f"{where}/{key}", f"delay {d.max()} exceeds Loihi 2's maximum {MAX_DELAY}"
        )
    try:
        return expand_delay(d, shape)
    except ValueError as exc:
        raise _fail(path, f"{where}/{key}", str(exc)) from None


def _layer_size(layer: h5py.Group, path: Path, where: str) -> int:
    if "shape" not in layer:
        raise _fail(path, f"{where}/shape", "missing")
    return int(np.prod(_read_scalar(layer, "shape", path, where)))


def _check_features(
    layer: h5py.Group, weight: np.ndarray, n_in: int, path: Path, where: str
) -> None:
    """``outFeatures``/``inFeatures``, when the file declares them, against the weight."""
    for key, axis in (("outFeatures", 0), ("inFeatures", 1)):
        declared = _declared(layer, key, path, where)
        if declared is None:
            continue
        if declared != weight.shape[axis]:
            raise _fail(
                path, f"{where}/weight", f"shape {weight.shape} does not match {key}={declared}"
            )
        if axis == 1 and declared != n_in:
            raise _fail(path, f"{where}/inFeatures", f"{declared} but the layer before has {n_in}")


def _read_block_neurons(
    layer: h5py.Group, shape: tuple[int, ...], path: Path, where: str
) -> NeuronGroup:
    """The layer's neuron group with the layer's ``bias``: one value, one per neuron, or, for
    a ``(W, H, C)`` layer, one per channel (netx's ``AbstractBlock._neuron``)."""
    n = int(np.prod(shape))
    neurons = _read_neurons(layer, n, path, where)
    if "bias" in layer:
        raw = _read_array(layer, "bias", path, where).astype(np.int64)
        bias = raw.reshape(-1)
        if len(shape) == 1 and bias.size in (1, n):
            neurons.bias_mant = np.broadcast_to(bias, (n,)).copy()
        elif len(shape) > 1 and raw.ndim == 1 and bias.size == shape[-1]:
            neurons.bias_mant = np.tile(bias, n // shape[-1])  # (W, H, C) order: C fastest
        elif len(shape) > 1 and raw.shape == tuple(shape):  # one per neuron, lava's order
            neurons.bias_mant = bias.copy()
        else:
            expected = f"{n} values" if len(shape) == 1 else f"{shape[-1]} (one per channel)"
            raise _fail(
                path,
                f"{where}/bias",
                f"shape {raw.shape} for neurons of shape {shape}: netx takes {expected}"
                + ("" if len(shape) == 1 else f" or an array of shape {tuple(shape)}"),
            )
    return neurons


@dataclass
class Upstream:
    """What a layer's reader knows of the layer before: its neurons' shape (lava's order), the
    bits of its messages (0: unary spikes) and, after a ``flatten``, the shape it flattens."""

    shape: tuple[int, ...]
    message_bits: int = 0
    flatten_from: tuple[int, ...] | None = None
    #: True while no layer has been built: the host's input itself (an input layer without
    #: neurons only gives its shape; netx connects nothing through a flatten there)
    host: bool = False

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


def _flat_input(up: Upstream, path: Path, where: str) -> int:
    """The input size of a dense layer: the layer before must be flat or flattened (the
    host's input may have any shape: netx feeds the first layer's flat port)."""
    if len(up.shape) > 1 and up.flatten_from is None and not up.host:
        raise _fail(
            path,
            where,
            f"the layer before has shape {up.shape} (W, H, C); a dense layer takes a flat "
            "input: netx needs a 'flatten' layer between them",
        )
    return up.n


def _flattened(synapse, up: Upstream):
    """The synapse behind netx's flatten when a ``flatten`` layer came before."""
    if up.flatten_from is None or len(up.flatten_from) < 2:
        return synapse
    return Flattened(synapse, up.flatten_from)


def _read_complex_dense(
    layer: h5py.Group, up: Upstream, n: int, n_in: int, path: Path, where: str
) -> Block:
    """A dense layer with ``weight/real`` and ``weight/imag`` (netx's ComplexDense, feeding
    resonate-and-fire neurons): each part mapped by netx's weight optimiser on its own; netx
    reads no ``bias`` and no ``delay`` for it."""
    group = layer["weight"]
    parts = []
    for key in ("real", "imag"):
        if key not in group:
            raise _fail(path, f"{where}/weight/{key}", "missing")
        parts.append(_read_weight(group, key, n, n_in, path, where + "/weight"))
    try:
        synapse = ComplexDenseSynapse.from_file_weights(*parts)
    except ValueError as exc:
        raise _fail(path, f"{where}/weight", str(exc)) from None
    for part in synapse.parts:
        part.message_bits = up.message_bits
    neurons = _read_neurons(layer, n, path, where)
    return Block(synapse=_flattened(synapse, up), neurons=neurons)


def _read_dense(layer: h5py.Group, up: Upstream, path: Path, where: str) -> Block:
    n_in = _flat_input(up, path, where)
    n = _layer_size(layer, path, where)
    if isinstance(layer.get("weight"), h5py.Group):
        return _read_complex_dense(layer, up, n, n_in, path, where)
    for key in ("weight_rec", "delay_rec"):
        if key in layer:
            raise _fail(
                path,
                f"{where}/{key}",
                "a 'dense' layer has no recurrent synapse; "
                "recurrent layers are of type 'dense_rec'",
            )
    weight = _read_weight(layer, "weight", n, n_in, path, where)
    _check_features(layer, weight, n_in, path, where)
    try:
        synapse = DenseSynapse.from_file_weights(weight)
    except ValueError as exc:
        raise _fail(path, f"{where}/weight", str(exc)) from None
    delay = _read_delay(layer, "delay", weight.shape, path, where)
    neurons = _read_block_neurons(layer, (n,), path, where)
    synapse = replace(synapse, delay=delay, message_bits=up.message_bits)
    return Block(
        synapse=_flattened(synapse, up), neurons=neurons, default_neurons="neuron" not in layer
    )


def _read_dense_rec(layer: h5py.Group, up: Upstream, path: Path, where: str) -> Block:
    """A recurrent dense layer: ``weight``/``delay`` from the layer before, ``weight_rec``/
    ``delay_rec`` (n, n) from its own neurons; one weight mapping for both, as netx's."""
    n_in = _flat_input(up, path, where)
    if up.message_bits:
        raise _fail(path, where, "graded input to a recurrent layer is not supported")
    n = _layer_size(layer, path, where)
    weight = _read_weight(layer, "weight", n, n_in, path, where)
    _check_features(layer, weight, n_in, path, where)
    if "weight_rec" not in layer:
        missing = "delay_rec without weight_rec" if "delay_rec" in layer else "missing"
        raise _fail(path, f"{where}/weight_rec", missing)
    if isinstance(layer["weight_rec"], h5py.Dataset) and layer["weight_rec"].ndim == 1:
        if layer["weight"].ndim != 1:  # netx reshapes weight_rec only with a flat weight
            raise _fail(
                path,
                f"{where}/weight_rec",
                "flat while weight is not: netx reshapes weight_rec only when weight is flat too",
            )
    weight_rec = _read_weight(layer, "weight_rec", n, n, path, where)
    delay = _read_delay(layer, "delay", weight.shape, path, where)
    delay_rec = _read_delay(layer, "delay_rec", weight_rec.shape, path, where)
    try:
        synapse = RecurrentDenseSynapse.from_file_weights(weight, weight_rec, delay, delay_rec)
    except ValueError as exc:
        raise _fail(path, f"{where}/weight, {where}/weight_rec", str(exc)) from None
    neurons = _read_block_neurons(layer, (n,), path, where)
    return Block(synapse=_flattened(synapse, up), neurons=neurons)


def _file_shape(layer: h5py.Group, path: Path, where: str) -> tuple[int, ...]:
    """``layer/<i>/shape`` in lava's order: netx reverses the file's (C, H, W) to (W, H, C)."""
    if "shape" not in layer:
        raise _fail(path, f"{where}/shape", "missing")
    shape = tuple(int(v) for v in _read_scalar(layer, "shape", path, where).reshape(-1)[::-1])
    if not shape or min(shape) < 1:
        raise _fail(path, f"{where}/shape", f"{shape[::-1]} is not a positive size")
    return shape


def _pair_field(layer: h5py.Group, key: str, default: int, path: Path, where: str) -> tuple:
    """A conv geometry field as netx reads it: one number or a (H, W) pair (file order)."""
    if key not in layer:
        return (default, default)
    arr = _read_scalar(layer, key, path, where).reshape(-1)
    if arr.size == 1:
        return (int(arr[0]), int(arr[0]))
    if arr.size != 2:
        raise _fail(path, f"{where}/{key}", f"expected one number or two, found {arr.size}")
    return (int(arr[0]), int(arr[1]))


def _read_conv(layer: h5py.Group, up: Upstream, path: Path, where: str) -> Block:
    """A conv layer (netx ``create_conv``): the file's weight ``(C_out, C_in/groups, kH, kW
    [, 1])``, stride/padding/dilation in (H, W) order, groups; neurons of shape (W, H, C_out)
    with a per-channel bias."""
    if len(up.shape) != 3 or up.flatten_from is not None:
        raise _fail(
            path, where, f"a conv layer takes a (W, H, C) input; the layer before has {up.shape}"
        )
    if "weight" not in layer or not isinstance(layer["weight"], h5py.Dataset):
        raise _fail(path, f"{where}/weight", "missing")
    raw = _read_array(layer, "weight", path, where)
    if raw.ndim not in (4, 5) or (raw.ndim == 5 and raw.shape[4] != 1):
        raise _fail(
            path, f"{where}/weight", f"shape {raw.shape} is not (C_out, C_in/groups, kH, kW[, 1])"
        )
    if raw.size and np.abs(raw).max() >= INT32_LIMIT:
        raise _fail(path, f"{where}/weight", f"value {np.abs(raw).max():.3g} is beyond 32 bits")
    groups = 1
    if "groups" in layer:
        groups = int(_read_scalar(layer, "groups", path, where).reshape(-1)[0])
    geometry = {
        key: _pair_field(layer, key, default, path, where)
        for key, default in (("stride", 1), ("padding", 0), ("dilation", 1))
    }
    lava_weight_shape = (raw.shape[0], raw.shape[3], raw.shape[2], raw.shape[1])
    problem = geometry_problem(
        up.shape,
        lava_weight_shape,
        geometry["stride"][::-1],
        geometry["padding"][::-1],
        geometry["dilation"][::-1],
        groups,
    )
    if problem:
        raise _fail(path, where, f"conv geometry does not fit: {problem}")
    synapse = ConvSynapse.from_file(
        raw, up.shape, geometry["stride"], geometry["padding"], geometry["dilation"], groups,
        up.message_bits,
    )  # fmt: skip
    shape = _file_shape(layer, path, where)
    if shape != synapse.output_shape:
        raise _fail(
            path,
            f"{where}/shape",
            f"{shape[::-1]} (C, H, W) but the convolution of {up.shape[::-1]} gives "
            f"{synapse.output_shape[::-1]}",
        )
    if "neuron" not in layer:  # netx's create_conv reads layer_config['neuron']
        raise _fail(path, f"{where}/neuron", "missing (netx builds a conv layer with neurons)")
    neurons = _read_block_neurons(layer, shape, path, where)
    return Block(synapse=synapse, neurons=neurons, shape=shape)


#: Readers of the layer types that make a block, by ``layer/<i>/type``.
BLOCK_READERS: dict[str, Callable[[h5py.Group, Upstream, Path, str], Block]] = {
    DenseSynapse.layer_type: _read_dense,
    RecurrentDenseSynapse.layer_type: _read_dense_rec,
    ConvSynapse.layer_type: _read_conv,
}


def _read_input(layer: h5py.Group, path: Path, where: str) -> tuple[Block | None, tuple, dict]:
    """An input layer: its shape; with a neuron group, the block of input neurons the host's
    values drive (netx's ``Input``: no synapse, no bias on the neurons) and netx's input
    transform (``weight``, default 64, and ``bias``, default 0: what Intel's data loaders apply
    to images, ``x * 2 weight - weight + bias``)."""
    shape = _file_shape(layer, path, where)
    if "neuron" not in layer:
        return None, shape, {}
    transform = {}
    for key, default in (("weight", 64), ("bias", 0)):
        value = default
        if key in layer:
            arr = _read_array(layer, key, path, where).reshape(-1)
            if arr.size != 1:
                raise _fail(path, f"{where}/{key}", f"expected one number, found {arr.size}")
            value = int(arr[0])  # netx: int(layer_config[key])
        transform[key] = value
    n = int(np.prod(shape))
    neurons = _read_neurons(layer, n, path, where, input_layer=True)
    if neurons.INPUT != "real":
        raise _fail(
            path,
            f"{where}/neuron/type",
            f"netx cannot build an input layer of {neurons.neuron_type} neurons (they have no "
            "a_in port)",
        )
    block = Block(synapse=InputPort(n), neurons=neurons, shape=shape)
    return block, shape, transform


@contextmanager
def _open(path: Path) -> Iterator[h5py.File]:
    if not path.exists():
        raise NetFileError(f"{path}: no such file")
    if path.is_dir():
        raise NetFileError(f"{path}: is a directory, expected a netx HDF5 file")
    if path.stat().st_size == 0:
        raise NetFileError(f"{path}: empty file, expected a netx HDF5 file")
    try:
        is_hdf5 = h5py.is_hdf5(str(path))
    except OSError as exc:
        raise NetFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not is_hdf5:
        raise NetFileError(f"{path}: not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise NetFileError(f"{path}: truncated or corrupt HDF5 file ({exc})") from None
    try:
        yield f
    finally:
        f.close()


def read_netx(path: str | os.PathLike, input_channels: int | None = None) -> Network:
    """Read and validate a netx HDF5 file into a :class:`Network`.

    Input layers carry only a shape (the channel count); a file that starts with a dense layer
    takes its channel count from that layer's weight. Raises :class:`NetFileError`.
    """
    path = Path(path)
    with _open(path) as f:
        try:
            return _read_network(f, path, input_channels)
        except NetFileError:
            raise
        except (OSError, KeyError, RuntimeError) as exc:
            raise NetFileError(f"{path}: corrupt HDF5 content ({exc})") from None


def _read_network(f: h5py.File, path: Path, input_channels: int | None) -> Network:
    if "layer" not in f or not isinstance(f["layer"], h5py.Group):
        raise NetFileError(f"{path}: missing group 'layer'")
    group = f["layer"]
    keys = list(group.keys())
    if not keys:
        raise NetFileError(f"{path}: group 'layer' is empty")
    if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
        raise NetFileError(f"{path}: layer: groups must be numbered 0..{len(keys) - 1}, got {keys}")
    up: Upstream | None = None if input_channels is None else Upstream((input_channels,))
    input_shape: tuple[int, ...] | None = None
    blocks: list[Block] = []
    transform: dict = {}
    for i in range(len(keys)):
        where = f"layer/{i}"
        layer = group[str(i)]
        if not isinstance(layer, h5py.Group):
            raise _fail(path, where, "expected a group")
        if "type" not in layer:
            raise _fail(path, f"{where}/type", "missing")
        kind = _read_str(layer["type"])
        if kind == "input":
            if blocks or input_shape is not None:
                raise _fail(path, where, "an input layer may only come first")
            block, input_shape, transform = _read_input(layer, path, where)
            if block is not None:
                block.name = "layer_0"
                blocks.append(block)
                up = Upstream(block.shape, block.neurons.message_bits)
            else:
                up = Upstream(input_shape, host=True)
        elif kind == Flattened.layer_type:
            if up is None:
                raise _fail(path, where, "a flatten layer needs a layer before it")
            if up.flatten_from is not None:
                raise _fail(path, where, "two flatten layers in a row")
            if up.host:  # netx flattens only between two built layers (_create)
                up = replace(up, shape=(up.n,))
            else:
                up = replace(up, shape=(up.n,), flatten_from=up.shape)
        elif kind in BLOCK_READERS:
            if up is None:
                up = Upstream((_inferred_input(layer, kind, path, where),), host=True)
            if input_shape is None and not blocks:
                input_shape = up.shape
            block = BLOCK_READERS[kind](layer, up, path, where)
            _check_input_kind(block, path, where)
            block.name = f"layer_{len(blocks)}"
            blocks.append(block)
            up = Upstream(block.shape, block.neurons.message_bits)
        else:
            known = ", ".join(("input", Flattened.layer_type, *BLOCK_READERS))
            raise _fail(path, f"{where}/type", f"layer type {kind!r} is not supported ({known})")
    if not blocks:
        raise NetFileError(f"{path}: no layer with neurons to run")
    if up is not None and up.flatten_from is not None:
        raise _fail(path, f"layer/{len(keys) - 1}", "a flatten layer must be followed by a dense")
    first = blocks[0].synapse
    if not isinstance(first, (InputPort, ConvSynapse)):
        input_shape = (first.n_in,)  # a dense layer takes the flat input
    meta: dict = {}
    if "simulation" in f and isinstance(f["simulation"], h5py.Group):
        sim = f["simulation"]
        for key in ("Ts", "tSample"):
            if key in sim:
                value = _read_array(sim, key, path, "simulation").reshape(-1)
                if value.size != 1:
                    raise _fail(
                        path, f"simulation/{key}", f"expected one number, found {value.size}"
                    )
                meta[key] = float(value[0])
        if meta.get("Ts", 1.0) <= 0:
            raise _fail(path, "simulation/Ts", f"time step must be positive, found {meta['Ts']}")
    if "readout" in f:
        ro = f["readout"]
        if not isinstance(ro, h5py.Group) or "mode" not in ro:
            raise _fail(path, "readout/mode", "missing")
        mode = _read_str(ro["mode"])
        if mode not in READOUT_MODES:
            raise _fail(
                path, "readout/mode", f"unknown read-out {mode!r} ({', '.join(READOUT_MODES)})"
            )
        meta["readout"] = mode
    if transform:
        meta["input_transform"] = transform
    return Network(n_in=blocks[0].synapse.n_in, blocks=blocks, meta=meta, input_shape=input_shape)


def _check_input_kind(block: Block, path: Path, where: str) -> None:
    """The neurons take what the synapse delivers: resonate-and-fire neurons the complex input
    of a ``weight/real`` + ``weight/imag`` layer, every other type a real one."""
    delivers = block.synapse.delivers
    wants = block.neurons.INPUT
    if delivers == wants:
        return
    if wants == "complex":
        msg = (
            f"{block.neurons.neuron_type} neurons take complex input: the layer needs "
            "weight/real and weight/imag"
        )
    else:
        msg = (
            "weight/real and weight/imag feed only resonate-and-fire neurons, not "
            f"{block.neurons.neuron_type}"
        )
    raise _fail(path, f"{where}/neuron/type", msg)


def _inferred_input(layer: h5py.Group, kind: str, path: Path, where: str) -> int:
    """The input size of a file whose first layer is dense: its weight's columns."""
    if kind == ConvSynapse.layer_type:
        raise _fail(
            path,
            where,
            "a conv layer first needs an 'input' layer giving its (C, H, W) shape (netx "
            "cannot infer it either)",
        )
    w = layer.get("weight")
    if isinstance(w, h5py.Group):  # weight/real + weight/imag
        w = w.get("real")
    if isinstance(w, h5py.Dataset) and w.ndim == 2:
        return int(w.shape[1])
    if "inFeatures" in layer:
        return int(_read_scalar(layer, "inFeatures", path, where).reshape(-1)[0])
    raise _fail(path, f"{where}/weight", "cannot infer the input size")


# --- writing ---------------------------------------------------------------------------------


def file_weights(synapse: DenseSynapse | RecurrentDenseSynapse, where: str = "") -> np.ndarray:
    """Integer weights in netx's file scale that netx maps back onto the same synapse values
    (a recurrent synapse: ``[weight | weight_rec]``, mapped together as netx maps them).

    netx derives the exponent and weight bits from the file weights, and the model then
    clips and truncates them (docs/file_format.md), so writing ``eff * 2**weight_exp`` does
    not always come back unchanged: inhibitory weights with a zero, say, lose one bit. The
    writer therefore writes the synapse's own file weights when it has them (read from a file
    or exported by training) and netx maps them back onto its values; otherwise it tries
    ``values * 2**k`` for k = 0, 1, … and keeps the first that netx maps back exactly. It
    raises ValueError when none does (or every weight is zero).
    """
    from ranvier.hw_models.fixed_point import WeightFormatError

    values = synapse.values
    label = f"{where}: " if where else ""

    def maps_back(candidate: np.ndarray) -> bool:
        try:
            return synapse.with_file_weights(candidate).same_as(synapse)
        except WeightFormatError:
            return False

    own = synapse.file_weight
    if own is not None and own.any() and own.shape == values.shape and maps_back(own):
        return own
    if not values.any():
        raise ValueError(f"{label}every synapse weight is zero; netx cannot load such a layer")
    if np.any(values != np.round(values)):
        raise ValueError(f"{label}fractional synapse values cannot be written as netx weights")
    for k in range(9):
        candidate = np.ldexp(values, k)
        if np.abs(candidate).max() > -NETX_WEIGHT_MIN:
            break
        cand = candidate.astype(np.int64)
        if maps_back(cand):
            return cand
    raise ValueError(f"{label}these synapse weights have no netx file encoding")


@dataclass
class LayerSpec:
    """The raw netx fields of one dense layer, as they are written to the file.

    ``i_decay``, ``v_decay``, ``vth_mant`` are the CUBA fields (``iDecay``, ``vDecay``,
    ``vThMant``; ALIF uses them too, ADLIF only ``vth_mant``); ``neuron_fields`` holds the
    other fields of ``neuron_type`` by their file names (ALIF: ``thDecay``, ``refDecay``,
    ``vThStep``; ADLIF: ``uDecay``, ``wDecay``, ``aMant``, ``bMant``).
    """

    weight: np.ndarray
    i_decay: int | np.ndarray = DECAY_UNITY
    v_decay: int | np.ndarray = DECAY_UNITY
    vth_mant: int | np.ndarray = NON_SPIKING_VTH_MANT
    delay: np.ndarray | int | None = None
    bias: np.ndarray | None = None
    ref_delay: int = 1
    name: str = ""
    neuron_type: str = CubaNeurons.neuron_type
    neuron_fields: dict = field(default_factory=dict)
    #: the recurrent synapse of a ``dense_rec`` layer, (n, n), and its delays (None: a
    #: ``dense`` layer, or no recurrent delays)
    weight_rec: np.ndarray | None = None
    delay_rec: np.ndarray | int | None = None
    #: the layer type: "" for dense / dense_rec (by ``weight_rec``), "conv", or "input" (an
    #: input layer's neurons: no weight)
    kind: str = ""
    #: the neuron shape in the file's order, (C, H, W) for conv; None: ``(n,)``
    shape: tuple[int, ...] | None = None
    #: conv geometry in the file's (H, W) order: stride, padding, dilation (pairs), groups
    conv: dict | None = None
    #: the file-order shape a ``flatten`` layer written before this one flattens
    flatten_from: tuple[int, ...] | None = None
    #: False for netx's default neuron (a dense layer written without a neuron group)
    with_neurons: bool = True
    #: extra neuron-group datasets (SDNN's activation, sigma_output) written as they are
    neuron_extra: dict = field(default_factory=dict)
    #: a complex dense layer's ``weight/imag`` (``weight`` is then ``weight/real``)
    weight_imag: np.ndarray | None = None


@dataclass
class NetSpec:
    """A whole netx file: the input (channel count, or file-order shape, with an optional
    neuron group and netx's input transform) and the layers."""

    n_in: int
    layers: list[LayerSpec] = field(default_factory=list)
    input_layer: bool = True
    ts: float = 1.0
    t_sample: float = 0.0
    readout: str | None = None
    input_shape: tuple[int, ...] | None = None
    input_neurons: LayerSpec | None = None
    input_transform: dict | None = None


def write_spec(spec: NetSpec, path: str | os.PathLike) -> None:
    """Write a :class:`NetSpec` as netx HDF5, atomically; the one writer of the layout.

    The layout is SLAYER's export_hdf5: ``simulation/{Ts, tSample}``, an optional ``input``
    layer with the channel count, then one ``dense`` layer per entry with shape,
    in/outFeatures, weight, bias, delay and the neuron group's fields (its unit's schema).
    """
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=float(spec.ts))
        sim.create_dataset("tSample", data=float(spec.t_sample))
        layers = f.create_group("layer")
        index = 0
        if spec.input_layer or spec.input_neurons is not None:
            g = layers.create_group("0")
            g.create_dataset("type", (1,), "S10", [b"input"])
            g.create_dataset("shape", data=np.array(spec.input_shape or [spec.n_in]))
            if spec.input_neurons is not None:
                for key, value in (spec.input_transform or {}).items():
                    g.create_dataset(key, data=np.array([value], dtype=np.float32))
                _write_neuron_group(g, spec.input_neurons)
            index = 1
        for layer in spec.layers:
            if layer.flatten_from is not None:
                g = layers.create_group(str(index))
                g.create_dataset("type", (1,), "S10", [b"flatten"])
                g.create_dataset("shape", data=np.array([int(np.prod(layer.flatten_from)), 1, 1]))
                index += 1
            writer = _write_conv if layer.kind == ConvSynapse.layer_type else _write_dense
            writer(layers.create_group(str(index)), layer)
            index += 1
        if spec.readout is not None:
            f.create_group("readout").create_dataset("mode", (1,), "S16", [spec.readout.encode()])


def _write_dense(g: h5py.Group, layer: LayerSpec) -> None:
    recurrent = layer.weight_rec is not None or layer.delay_rec is not None
    kind = RecurrentDenseSynapse if recurrent else DenseSynapse
    g.create_dataset("type", (1,), "S10", [kind.layer_type.encode()])
    g.create_dataset("shape", data=np.array([layer.weight.shape[0]]))
    g.create_dataset("inFeatures", data=layer.weight.shape[1])
    g.create_dataset("outFeatures", data=layer.weight.shape[0])
    if layer.weight_imag is not None:  # netx's ComplexDense: weight/real, weight/imag
        g.create_dataset("weight/real", data=np.asarray(layer.weight, dtype=np.float32))
        g.create_dataset("weight/imag", data=np.asarray(layer.weight_imag, dtype=np.float32))
    else:
        g.create_dataset("weight", data=np.asarray(layer.weight, dtype=np.float32))
    if layer.bias is not None:
        g.create_dataset("bias", data=np.asarray(layer.bias, dtype=np.float32))
    if layer.delay is not None:
        g.create_dataset("delay", data=np.asarray(layer.delay, dtype=np.float32))
    if layer.weight_rec is not None:
        g.create_dataset("weight_rec", data=np.asarray(layer.weight_rec, dtype=np.float32))
    if layer.delay_rec is not None:
        g.create_dataset("delay_rec", data=np.asarray(layer.delay_rec, dtype=np.float32))
    _write_neuron_group(g, layer)


def _write_conv(g: h5py.Group, layer: LayerSpec) -> None:
    """A conv layer as SLAYER's export writes it: (C, H, W) shape, the (C_out, C_in/groups,
    kH, kW[, 1]) weight, (H, W) geometry pairs, groups, per-channel bias, neurons."""
    geometry = layer.conv or {}
    g.create_dataset("type", (1,), "S10", [b"conv"])
    g.create_dataset("shape", data=np.array(layer.shape))
    weight = np.asarray(layer.weight)
    g.create_dataset("inChannels", data=int(weight.shape[1]) * int(geometry.get("groups", 1)))
    g.create_dataset("outChannels", data=int(weight.shape[0]))
    g.create_dataset("kernelSize", data=np.array(weight.shape[2:4]))
    for key in ("stride", "padding", "dilation"):
        g.create_dataset(
            key, data=np.array(geometry.get(key, (1, 1) if key != "padding" else (0, 0)))
        )
    g.create_dataset("groups", data=int(geometry.get("groups", 1)))
    g.create_dataset("weight", data=weight.astype(np.float32))
    if layer.bias is not None:
        g.create_dataset("bias", data=np.asarray(layer.bias, dtype=np.float32))
    _write_neuron_group(g, layer)


def _write_neuron_group(g: h5py.Group, layer: LayerSpec) -> None:
    """The layer's ``neuron`` group: the type and its unit's fields by their file names."""
    if not layer.with_neurons:
        return
    n = g.create_group("neuron")
    tag = layer.neuron_type.encode()
    n.create_dataset("type", (1,), f"S{max(10, len(tag))}", [tag])
    # the type's fields by their file names: LayerSpec's own attributes (CUBA's iDecay, vDecay,
    # vThMant, refDelay) where the type has them, then neuron_fields; an unknown type (a test
    # of the reader) is written with CUBA's layout
    unit = NEURON_TYPES.get(layer.neuron_type, CubaNeurons)
    values = {f.netx: getattr(layer, f.name) for f in unit.FIELDS if hasattr(layer, f.name)}
    values.update(layer.neuron_fields)
    values.update(layer.neuron_extra)
    for key, value in values.items():
        n.create_dataset(key, data=value)
    if "gradedSpike" not in values:
        n.create_dataset("gradedSpike", data=False)


def _compact(values: np.ndarray) -> np.ndarray | int:
    """A per-neuron vector as SLAYER writes it: a scalar when all neurons share the value."""
    return int(values[0]) if values.size and np.all(values == values[0]) else values


def _neuron_fields(block: Block) -> dict:
    """The neuron group's fields by their netx names (any unit, through its schema)."""
    neu = block.neurons
    if np.any(neu.bias_exp != NETX_BIAS_EXP):
        raise ValueError(f"{block.name}: netx fixes the bias exponent at {NETX_BIAS_EXP}")
    return {
        f.netx: int(getattr(neu, f.name)) if f.scalar else _compact(getattr(neu, f.name))
        for f in neu.FIELDS
        if f.netx  # fields netx does not read from a file (SDNN's spike_exp, ...) stay out
    }


def _layer_spec(block: Block, weight: np.ndarray, delay: np.ndarray | None) -> LayerSpec:
    """A block's netx fields around its synapse's: bias and the neuron group."""
    neu = block.neurons
    return LayerSpec(
        weight=weight,
        delay=delay,
        bias=neu.bias_mant if np.any(neu.bias_mant != 0) else None,
        name=block.name,
        neuron_type=neu.file_type,
        neuron_fields=_neuron_fields(block),
        with_neurons=not block.default_neurons,
        neuron_extra=neu.file_extra(),
    )


def _channel_bias(bias: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A (W, H, C) layer's bias as netx takes it: one per channel when every position shares
    it, else one per neuron in lava's (W, H, C) array."""
    if bias is None:
        return None
    per_position = bias.reshape(-1, shape[-1])
    if np.all(per_position == per_position[0]):
        return per_position[0]
    return bias.reshape(shape)


def _conv_layer(block: Block) -> LayerSpec:
    """A conv block as netx fields: the file's kernel, (H, W) geometry, shape (C, H, W)."""
    syn = block.synapse
    weight = syn.file_weight
    if weight is None:  # lava's layout back to the file's (C_out, C_in/g, kH, kW)
        weight = syn.weight.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]
    spec = _layer_spec(block, np.asarray(weight), None)
    spec.kind = ConvSynapse.layer_type
    spec.shape = tuple(block.shape[::-1])
    spec.bias = _channel_bias(spec.bias, block.shape)
    spec.conv = {
        "stride": syn.stride[::-1],
        "padding": syn.padding[::-1],
        "dilation": syn.dilation[::-1],
        "groups": syn.groups,
    }
    return spec


def _dense_complex_layer(block: Block) -> LayerSpec:
    """A complex dense block (resonate-and-fire): ``weight/real`` and ``weight/imag``, each
    in its own netx scale; no bias, no delays (netx reads neither)."""
    syn = block.synapse
    spec = _layer_spec(block, file_weights(syn.real, block.name), None)
    spec.weight_imag = file_weights(syn.imag, block.name)
    return spec


def _flattened_layer(block: Block) -> LayerSpec:
    """A dense block behind a ``flatten``: the inner synapse's layer, a flatten before it."""
    inner = Block(
        block.synapse.inner, block.neurons, block.name, default_neurons=block.default_neurons
    )
    spec = BLOCK_WRITERS[inner.synapse.layer_type](inner)
    spec.flatten_from = tuple(block.synapse.source_shape[::-1])
    return spec


def _dense_layer(block: Block) -> LayerSpec:
    """A dense block as netx fields: file weights, delays, bias and the neuron group."""
    syn = block.synapse
    return _layer_spec(block, file_weights(syn, block.name), syn.delay)


def _dense_rec_layer(block: Block) -> LayerSpec:
    """A recurrent block as netx fields: ``weight``/``weight_rec`` mapped together, both
    delays, bias and the neuron group."""
    syn = block.synapse
    both = file_weights(syn, block.name)
    spec = _layer_spec(block, both[:, : syn.n_in], syn.forward.delay)
    spec.weight_rec = both[:, syn.n_in :]
    spec.delay_rec = syn.recurrent.delay
    return spec


#: Writers of the block layer types, by ``Synapse.layer_type`` (the readers' counterpart).
BLOCK_WRITERS: dict[str, Callable[[Block], LayerSpec]] = {
    DenseSynapse.layer_type: _dense_layer,
    RecurrentDenseSynapse.layer_type: _dense_rec_layer,
    ConvSynapse.layer_type: _conv_layer,
    Flattened.layer_type: _flattened_layer,
    ComplexDenseSynapse.layer_type: _dense_complex_layer,
}


def network_spec(network: Network, *, input_layer: bool = True) -> NetSpec:
    """The netx fields of an IR network; raises ValueError for what netx cannot express."""
    spec = NetSpec(
        n_in=network.n_in,
        input_layer=input_layer,
        ts=float(network.meta.get("Ts", 1.0)),
        t_sample=float(network.meta.get("tSample", 0)),
        readout=network.meta.get("readout"),
        input_shape=tuple(network.input_shape[::-1]),
    )
    blocks = list(network.blocks)
    if not input_layer and len(network.input_shape) > 1:
        raise ValueError(
            f"an input of shape {network.input_shape} needs the input layer that gives it"
        )
    if blocks and isinstance(blocks[0].synapse, InputPort):
        first = blocks.pop(0)
        spec.input_neurons = _layer_spec(first, np.zeros((0, 0)), None)
        spec.input_neurons.bias = None  # netx gives an input layer's neurons no bias
        if np.any(first.neurons.bias_mant != 0):
            raise ValueError(f"{first.name}: netx gives an input layer's neurons no bias")
        spec.input_transform = dict(network.meta.get("input_transform") or {})
    for block in blocks:
        writer = BLOCK_WRITERS.get(block.synapse.layer_type)
        if writer is None:
            raise ValueError(f"{block.name}: no netx writer for {block.synapse.layer_type!r}")
        spec.layers.append(writer(block))
    return spec


def write_netx(network: Network, path: str | os.PathLike, *, input_layer: bool = True) -> None:
    """Write ``network`` as netx HDF5, atomically (a temporary file renamed into place).

    Weights are written in netx's scale (see :func:`file_weights`), per-neuron parameters
    that all neurons share as scalars, as SLAYER writes them. Everything netx cannot express
    is refused with a ValueError before the file is opened.
    """
    write_spec(network_spec(network, input_layer=input_layer), path)


# --- where lava-dl's own netx loader runs a file differently ---------------------------------


def netx_differences(network: Network) -> list[str]:
    """One line per layer that lava-dl 0.6.0's netx loader would run differently from the chip.

    netx's ``create_dense`` never reads ``delay_rec``: when a ``dense_rec`` layer has a
    feed-forward ``delay`` it builds both synapses as DelayDense with those delays and without
    the weight exponent (netx/blocks/process.py ``RecurrentDense``), else both as Dense
    without delays. ranvier, and its lava reference, run the file as the hardware would.
    """
    out: list[str] = []
    for block in network.blocks:
        syn = block.synapse
        if not isinstance(syn, RecurrentDenseSynapse):
            continue
        fwd, rec = syn.forward, syn.recurrent
        lines = []
        if fwd.delay is not None:
            if fwd.delay.shape != rec.weight.shape:
                lines.append(
                    f"it gives the recurrent synapse the feed-forward delays, shape "
                    f"{fwd.delay.shape}, and fails to build the layer"
                )
            else:
                own = np.zeros_like(fwd.delay) if rec.delay is None else rec.delay
                if not np.array_equal(own, fwd.delay):
                    kind = "instead of delay_rec" if rec.delay is not None else "(it has none)"
                    lines.append(f"it gives the recurrent synapse the feed-forward delays {kind}")
            if fwd.weight_exp != 0:
                lines.append(f"it drops the weight exponent ({fwd.weight_exp}) from both synapses")
        elif rec.delay is not None and rec.max_delay > 0:
            lines.append("it ignores delay_rec (recurrent spikes arrive after 1 step)")
        if lines:
            out.append(
                f"{block.name}: lava-dl's netx loader (0.6.0) runs this dense_rec layer "
                "differently from the chip: " + "; ".join(lines) + ". ranvier and "
                "`--backend lava` run it as the hardware would (docs/file_format.md)."
            )
    return out
