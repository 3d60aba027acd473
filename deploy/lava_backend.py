"""Reference backend: run a netx HDF5 network under Intel's lava-nc / lava-dl.

This module is the "golden" side of ranvier's bit-accuracy checks.  It loads a
netx HDF5 file with ``lava.lib.dl.netx.hdf5.Network``, drives the first layer
with ``lava.proc.io.source.RingBuffer``, attaches a
``lava.proc.io.sink.RingBuffer`` to the output port of *every* netx layer
(``net.layers``) and runs everything under
``Loihi2SimCfg(select_tag='fixed_pt')`` (i.e. ``PyLifModelBitAcc``,
``PyDenseModelBitAcc`` / ``PyDelayDenseModelBitAcc``, ``PyATRLIFModelFixed``,
``PyAdLIFPlusModelFixed``).

It is importable without lava: the only module-level imports are numpy and the
standard library; lava (and deploy/lava_adlif.py, which imports lava) is
imported lazily inside :func:`run_lava`.

Public API
----------
``lava_available() -> bool``
    Cheap check (``importlib.util.find_spec``, nothing is imported) that
    lava-nc, lava-dl's netx and h5py are installed.
``run_lava(net_path, spikes, *, reuse=None, timeout=None, membrane_layers=None)``
    ``spikes`` is ``(C, T)`` or ``(N, C, T)`` of non-negative ints.  Returns
    one ``uint8`` array per netx layer, ``(N, C_l, T)`` (or ``(C_l, T)`` for
    2-D input).  Every sample sees a network whose state starts at zero.
    With ``membrane_layers`` (layer indices, negative from the end) it returns
    ``(spikes, membranes)``, ``membranes[i]`` int64 shaped like layer i's spikes.
``fixed_pt_run_cfg(processes=()) -> Loihi2SimCfg``
    The run configuration used here (fixed_pt, AdLIFPlus mapped to its model).

Neuron types
------------
netx 0.6.0 knows CUBA/LOIHI (lava-nc ``LIF``), SDNN and RF only.  While netx
builds the network, ``Network.get_neuron_params`` (the staticmethod
``create_dense`` calls, netx/hdf5.py:358) is replaced under the module lock by
a wrapper (:class:`_NetxAdaptiveNeurons`) that also answers

* ``ALIF`` (SLAYER's fields) with lava-nc's own ``ATRLIF``:
  ``delta_i = (iDecay - 1)/4096``, ``delta_v = vDecay/4096``,
  ``delta_theta = thDecay/4096``, ``delta_r = refDecay/4096`` (floats: an int
  would make ATRLIF's product int32), ``theta_0 = vThMant``,
  ``theta_step = vThStep`` (one value per layer: a per-neuron theta_step
  crashes ATRLIF's post_spike, atrlif/models.py:245, so such a file raises
  ValueError), bias as ``bias_mant`` with ``bias_exp = 6``;
* ``ADLIF`` with :class:`ranvier.deploy.lava_adlif.AdLIFPlus` (uDecay, wDecay,
  aMant, bMant, vThMant; bias as for ALIF).

netx then builds the synapses, weights (its ``optimize_weight_bits``) and
delays exactly as for CUBA.  For CUBA the wrapper keeps netx's dict but turns
vth/du/dv into Python ints (int64 arrays when per neuron): a float-typed
``vThMant`` dataset otherwise crashes ``PyLifModelBitAcc.scale_threshold``
(``np.left_shift`` on a float, lif/models.py:273).

Membrane probes
---------------
Each probed layer gets lava's own ``lava.proc.io.sink.Read`` (fixed_pt model
``PyReadFixed``, int32) connected to the neuron's Var -- ``v`` for LIF and
ATRLIF, ``u`` for AdLIFPlus.  It reads through a RefPort in the
post-management phase of every step, after that step's ``run_spk`` (and LIF's
reset), into column ``counter % T`` -- the same column as the spike sinks.
Checked by hand: 1 input, 1 neuron, weight 200, iDecay = vDecay = 4096,
vThMant = 2**17: an input spike in column t gives v = 200 << 6 = 12800 in
column t + 1 and 0 elsewhere; a spiking neuron reads 0 (after reset) in its
spike column (tests/equivalence/test_adaptive_equivalence.py).

Time alignment (verified with hand-made files, see below)
--------------------------------------------------------
Both ring buffers index their data with ``(time_step - 1) % buffer``
(lava/proc/io/source.py:43, lava/proc/io/sink.py:52), and each sink's buffer
is exactly ``T`` long, so **output column t holds what the layer's neurons
emitted on the lava time step on which the source sent input column t**.

Measured with a 1-input / 1-neuron dense netx file (weight 200, vThMant 10,
iDecay = vDecay = 4096) and a single input spike in column t:

* layer 0 (no ``delay`` dataset) spikes in column ``t + 1``;
* a second identical layer spikes in column ``t + 2``;
* a layer with per-synapse ``delay`` d spikes in column ``t + 1 + d``.

The extra step is the synapse's one-step buffer: ``Dense.run_spk`` first
sends the ``a_buff`` computed on the previous step and only then receives
``s_in`` (lava/proc/dense/models.py:96-107; for DelayDense the delay-0 slot is
rolled into column 0 and sent on the next step, models.py:339-352).  Effects
of input spikes that would land at or after column T are simply not simulated
(the run is exactly T steps long).

Input values: netx dense layers use unary spikes (``num_message_bits=0``), so
the synapse does ``s_in.astype(bool)``: any positive value counts as one spike.

Reuse across samples
--------------------
Build + compile + runtime init + stop costs ~0.5-0.9 s per network.  When every
netx layer is a plain ``Dense``/``DelayDense`` synapse feeding a ``LIF`` or an
``AdLIFPlus`` neuron, one runtime serves all samples of a call: the
source holds all samples back to back (``(C, N*T)``), each sample runs exactly
``T`` steps, and between samples the only state variables of those models --
``a_buff`` of the synapse, ``u`` and ``v`` of LIF, ``u``, ``w`` and ``s`` of
AdLIFPlus -- are zeroed with ``Var.set``.  ATRLIF layers always get a fresh
network per sample (its theta starts at theta_0 and is overwritten on its
first step only).  Channels are empty at step boundaries under the Loihi protocol
and every other model attribute is static, so this is equivalent to a fresh
network (checked sample-by-sample against ``reuse=False``).  ``Var.set`` moves
one element per message (~40 us each), so when zeroing would cost more than
rebuilding (large ``DelayDense`` buffers: netx always allocates
``max_delay=62`` -> 63 slots per neuron; e.g. 140-128-128-20 with delays) a
fresh network is built per sample instead.  Anything else (recurrent, conv,
sigma-delta layers, ``LIFReset``) always gets a fresh network per sample.  A
netx ``input`` layer with a neuron as first layer is rejected: its InPort is
not wired to anything and lava cannot compile it.

Robustness
----------
Runs are serialised by a module lock.  Each run is started non-blocking and
watched: lava itself deadlocks when a ProcessModel raises, so a worker that
exits mid-run (or the optional ``timeout``) raises ``RuntimeError`` /
``TimeoutError`` with the worker traceback instead of hanging.  The runtime is
always torn down in a ``finally`` block: an idle runtime is stopped normally, a
broken one has its workers terminated before its ports, shared memory and
watchdog are released.  netx's never-closed h5py handle is closed, and the
Processes/Vars are dropped from lava's global registries, so hundreds of calls
leave no child processes, threads, fds, /dev/shm segments or memory growth
behind (checked over 300 calls).  If the calling Python process itself is
killed hard, lava's forked workers are orphaned (lava limitation).
lava calls ``multiprocessing.set_start_method('fork')`` on import and crashes
if a start method was already fixed; the import here tolerates a pre-set
'fork' context and forces 'fork' (with a warning) otherwise, since lava's
runtime only works with fork.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import types
import warnings
from collections.abc import Sequence

import numpy as np
from ranvier.hw_models.simulator import layer_indices

__all__ = ["fixed_pt_run_cfg", "lava_available", "run_lava"]

# ~cost of one element through Var.set / Var.get (measured 34-42 us) and of a
# fresh build + compile + runtime init + stop (measured 0.5-0.9 s, 2-core host).
_SET_COST_S = 40e-6
_FRESH_COST_S = 0.6
# Samples per runtime in reuse mode (bounds the source buffer size and limits
# the blast radius of a failure).
_MAX_SAMPLES_PER_RUNTIME = 256

_LOCK = threading.RLock()
_LAVA: types.SimpleNamespace | None = None


def lava_available() -> bool:
    """True if lava-nc, lava-dl netx and h5py are importable.

    Only ``importlib.util.find_spec`` is used (no lava import, which pulls in
    torch and takes seconds), so a broken install can still fail later in
    :func:`run_lava`.
    """
    for name in (
        "h5py",
        "lava.magma.core",
        "lava.proc.lif",
        "lava.proc.dense",
        "lava.proc.io",
        "lava.lib.dl.netx",
    ):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError, AttributeError):
            return False
    return True


def _import_lava() -> types.SimpleNamespace:
    """Import the lava pieces once (lazily) and cache them."""
    global _LAVA
    if _LAVA is not None:
        return _LAVA
    import multiprocessing as mp
    import platform

    orig_set = mp.set_start_method

    def _tolerant_set_start_method(method, force=False):
        try:
            orig_set(method, force=force)
        except RuntimeError:
            current = mp.get_start_method(allow_none=True)
            if current == method:
                return
            warnings.warn(
                f"lava needs the multiprocessing start method {method!r} but "
                f"{current!r} was already set; forcing {method!r}.",
                RuntimeWarning,
                stacklevel=2,
            )
            orig_set(method, force=True)

    mp.set_start_method = _tolerant_set_start_method
    try:
        from lava.lib.dl.netx import hdf5 as netx_hdf5
        from lava.lib.dl.netx.blocks import process as netx_blocks
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.dense.process import DelayDense, Dense
        from lava.proc.io.sink import Read as VarReader
        from lava.proc.io.sink import RingBuffer as SinkRingBuffer
        from lava.proc.io.source import RingBuffer as SourceRingBuffer
        from lava.proc.lif.process import LIF

        try:
            from lava.proc.atrlif import process as atrlif_module
        except ImportError:  # pragma: no cover - lava-nc without ATRLIF (before 0.9)
            atrlif_module = None
        from . import lava_adlif
    finally:
        mp.set_start_method = orig_set
    if platform.system() != "Windows" and mp.get_start_method(allow_none=True) != "fork":
        # Someone changed it after lava was imported elsewhere.
        warnings.warn(
            "multiprocessing start method is not 'fork'; forcing 'fork' for lava.",
            RuntimeWarning,
            stacklevel=2,
        )
        mp.set_start_method("fork", force=True)
    _LAVA = types.SimpleNamespace(
        netx_hdf5=netx_hdf5,
        Network=netx_hdf5.Network,
        NetxDense=netx_blocks.Dense,
        NetxInput=netx_blocks.Input,
        RunSteps=RunSteps,
        Loihi2SimCfg=Loihi2SimCfg,
        Dense=Dense,
        DelayDense=DelayDense,
        LIF=LIF,
        ATRLIF=getattr(atrlif_module, "ATRLIF", None),
        AdLIFPlus=lava_adlif.AdLIFPlus,
        Source=SourceRingBuffer,
        Sink=SinkRingBuffer,
        VarReader=VarReader,
    )
    return _LAVA


# --------------------------------------------------------------------------
# neuron types netx 0.6.0 does not know: ALIF (lava-nc ATRLIF) and ADLIF (AdLIFPlus)
# --------------------------------------------------------------------------
def _neuron_where(neuron_config) -> str:
    """'layer/<i>/neuron' for error messages (the h5py group netx's NetDict wraps)."""
    handle = getattr(neuron_config, "f", None)
    name = getattr(handle, "name", None)
    return name.strip("/") if name else "neuron"


def _raw_field(neuron_config, key: str) -> np.ndarray:
    """One neuron field as a flat numeric array, read from the h5py group itself.

    netx's NetDict hands back ``f[key][()]`` (a numpy scalar or array) only for its
    ``array_keys`` (iDecay, vDecay, vThMant, refDelay, ...); any other key (thDecay,
    refDecay, vThStep, uDecay, ...) comes back as another NetDict wrapping the dataset
    (lava/lib/dl/netx/utils.py:61-75), so every field is read from ``neuron_config.f``.
    """
    where = _neuron_where(neuron_config)
    handle = getattr(neuron_config, "f", None)
    if handle is None or key not in handle:
        raise ValueError(f"{where}/{key}: missing")
    arr = np.asarray(handle[key][()]).reshape(-1)
    if arr.size == 0 or arr.dtype.kind not in "biuf":
        raise ValueError(f"{where}/{key}: expected a number or one number per neuron")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise ValueError(f"{where}/{key}: must hold integers")
    return arr.astype(np.int64)


def _int_param(arr) -> int | np.ndarray:
    """A parameter lava keeps as the raw constructor object (``LavaPyType(int, ...)``, e.g.
    LIF's vth/du/dv, py_builder.py:403-404): a Python int when the layer shares one value
    (int64 arithmetic inside lava, no float or unsigned surprises), else an int64 array."""
    arr = np.asarray(arr, dtype=np.int64).reshape(-1)
    return int(arr[0]) if arr.size == 1 or np.all(arr == arr[0]) else arr


def _fraction(arr) -> float | np.ndarray:
    """An ATRLIF decay: the fraction ``k / 4096`` as float (exact in binary). ATRLIF multiplies
    it back by 4096 (atrlif/models.py:144,175,188,199); a Python int there would turn
    ``self.i * (4096 - decay)`` (models.py:149) into an int32 product that wraps."""
    arr = np.asarray(arr, dtype=np.int64).reshape(-1)
    if arr.size == 1 or np.all(arr == arr[0]):
        return float(arr[0]) / 4096.0
    return arr.astype(np.float64) / 4096.0


def _check_unary(neuron_config) -> None:
    handle = getattr(neuron_config, "f", None)
    if handle is not None and "messageBits" in handle:
        if np.any(_raw_field(neuron_config, "messageBits") != 0):
            raise ValueError(
                f"{_neuron_where(neuron_config)}/messageBits: graded spikes are not supported"
            )


def _alif_params(lava, neuron_config) -> dict:
    """SLAYER's ALIF fields -> lava-nc's ATRLIF (docs/neurons_research.md, sections 1 and 4)."""
    where = _neuron_where(neuron_config)
    if lava.ATRLIF is None:  # pragma: no cover - depends on the lava-nc version
        raise ValueError(f"{where}: ALIF needs lava-nc's ATRLIF (lava-nc >= 0.9)")
    _check_unary(neuron_config)
    step = _raw_field(neuron_config, "vThStep")
    if np.unique(step).size > 1:
        # A per-neuron theta_step crashes ATRLIF's post_spike (atrlif/models.py:245: theta
        # indexed by the spike mask plus the full-length step array).
        parts = where.split("/")
        layer = f"layer {parts[1]}" if len(parts) > 2 and parts[0] == "layer" else where
        raise ValueError(
            f"lava's ATRLIF needs one vThStep per layer: {layer} has "
            f"{np.unique(step).size} values ({where}/vThStep)"
        )
    return {
        "neuron_proc": lava.ATRLIF,
        "bias_key": "bias_mant",
        # ds_offset = 1 is added back to delta_i * 4096 (atrlif/models.py:120,144), as netx
        # does for LIF with du = iDecay - 1 (netx/hdf5.py get_neuron_params).
        "delta_i": _fraction(_raw_field(neuron_config, "iDecay") - 1),
        "delta_v": _fraction(_raw_field(neuron_config, "vDecay")),
        "delta_theta": _fraction(_raw_field(neuron_config, "thDecay")),
        "delta_r": _fraction(_raw_field(neuron_config, "refDecay")),
        "theta_0": _int_param(_raw_field(neuron_config, "vThMant")),
        "theta_step": int(step[0]),
        "bias_exp": 6,
        "num_message_bits": 0,
    }


def _adlif_params(lava, neuron_config) -> dict:
    """ranvier's ADLIF fields -> :class:`ranvier.deploy.lava_adlif.AdLIFPlus`."""
    _check_unary(neuron_config)
    fields = {
        "u_decay": "uDecay",
        "w_decay": "wDecay",
        "a_mant": "aMant",
        "b_mant": "bMant",
        "vth_mant": "vThMant",
    }
    params = {name: _raw_field(neuron_config, key) for name, key in fields.items()}
    return {
        "neuron_proc": lava.AdLIFPlus,
        "bias_key": "bias_mant",
        **params,
        "bias_exp": 6,
        "num_message_bits": 0,
    }


class _NetxAdaptiveNeurons:
    """Context manager: teach netx's ``Network`` the ALIF and ADLIF neuron types.

    ``Network.create_dense`` asks ``Network.get_neuron_params(neuron_config, ...)`` (a
    staticmethod, lava/lib/dl/netx/hdf5.py:111-205, called at hdf5.py:358) which process to
    build and with which keyword arguments; netx then builds the Dense/DelayDense synapse, its
    weights (``optimize_weight_bits``) and delays exactly as for CUBA, and hands the layer bias
    to the neuron under ``bias_key``. This wrapper answers 'ALIF' and 'ADLIF' and delegates
    every other type to the original; for CUBA/LOIHI it replaces the numbers netx read
    (vth, du = iDecay - 1, dv) by Python ints (or int64 arrays for per-neuron values), so a
    float-typed or unsigned dataset behaves like the integers it holds. Only used under
    ``_LOCK``; the original staticmethod is always restored.
    """

    def __init__(self, lava):
        self.lava = lava
        self.network = lava.netx_hdf5.Network
        self.original = None

    def __enter__(self):
        lava, network = self.lava, self.network
        self.original = network.__dict__["get_neuron_params"]
        original = self.original.__func__

        def get_neuron_params(neuron_config, input=False, reset_interval=None, **kwargs):
            kind = neuron_config["type"]
            if kind in ("ALIF", "ADLIF"):
                if reset_interval is not None:
                    raise ValueError(f"{kind}: netx's reset_interval is not supported")
                if kind == "ALIF":
                    return _alif_params(lava, neuron_config)
                return _adlif_params(lava, neuron_config)
            params = original(neuron_config, input=input, reset_interval=reset_interval, **kwargs)
            if kind in ("CUBA", "LOIHI") and isinstance(params, dict):
                if hasattr(neuron_config, "f"):
                    params["vth"] = _int_param(_raw_field(neuron_config, "vThMant"))
                    params["du"] = _int_param(_raw_field(neuron_config, "iDecay") - 1)
                    params["dv"] = _int_param(_raw_field(neuron_config, "vDecay"))
            return params

        network.get_neuron_params = staticmethod(get_neuron_params)
        return self

    def __exit__(self, *exc):
        self.network.get_neuron_params = self.original
        return False


def fixed_pt_run_cfg(processes: Sequence = ()):
    """``Loihi2SimCfg(select_tag='fixed_pt')`` that maps each AdLIFPlus in ``processes`` to
    ``PyAdLIFPlusModelFixed`` directly.

    Without the entry lava's compiler would look for the model by executing every ``.py``
    file of the Process's folder and package (compiler_graphs.py:795-900), i.e. all of
    ``deploy/`` as stand-alone modules, on every build. The compiler tests the *instance*
    (``proc in exception_proc_model_map``, compiler_graphs.py:1031-1033) while
    ``RunConfig.select`` tests the class (run_configs.py:208), so both keys are given.
    """
    lava = _import_lava()
    from .lava_adlif import PyAdLIFPlusModelFixed

    exceptions: dict = {lava.AdLIFPlus: PyAdLIFPlusModelFixed}
    for proc in processes:
        if type(proc) is lava.AdLIFPlus:
            exceptions[proc] = PyAdLIFPlusModelFixed
    return lava.Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=exceptions)


# --------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------
def _as_spike_array(spikes) -> tuple[np.ndarray, bool]:
    arr = np.asarray(spikes)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64, copy=False)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError("spikes must hold integers; got non-integral floating-point values")
        arr = arr.astype(np.int64)
    else:
        raise TypeError(f"spikes must be an integer array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        squeeze = True
        arr = arr[None]
    elif arr.ndim == 3:
        squeeze = False
    else:
        raise ValueError(f"spikes must be (C, T) or (N, C, T); got shape {arr.shape}")
    if arr.shape[2] < 1:
        raise ValueError("spikes must have at least one time step")
    if arr.size and arr.min() < 0:
        raise ValueError("spikes must be non-negative")
    if arr.size and arr.max() > np.iinfo(np.int32).max:
        raise ValueError("spike values must fit in int32 (source is int32)")
    return arr, squeeze


# --------------------------------------------------------------------------
# network construction / teardown
# --------------------------------------------------------------------------
class _Built:
    """One netx network wired to a source and per-layer sinks."""

    def __init__(
        self,
        lava,
        net_path: str,
        data: np.ndarray,
        buffer: int,
        membrane_layers: Sequence[int] | None = None,
    ):
        self.lava = lava
        with _NetxAdaptiveNeurons(lava):
            self.net = lava.Network(net_config=net_path)
        # netx's NetDict opens the file with h5py and never closes it; every
        # parameter has been copied into the processes by now, so close it
        # (otherwise each call leaks a handle and the path cannot be
        # rewritten by h5py in this process).
        _close_netx_file(self.net)
        self.layers = list(self.net.layers)
        if not self.layers:
            raise ValueError(f"{net_path}: netx produced no layers")
        if type(self.layers[0]) is lava.NetxInput:
            # netx's Input block never connects its InPort to its neuron (it is
            # driven by bias only, lava/lib/dl/netx/blocks/process.py:101-106);
            # lava then fails to compile ("No subcompiler ... PyInputModel").
            raise ValueError(
                f"{net_path}: first layer is a netx 'input' layer with a neuron; "
                "it cannot be fed by a spike source"
            )
        inp_shape = tuple(self.layers[0].inp.shape)
        if len(inp_shape) != 1:
            raise ValueError(
                f"{net_path}: first layer input shape "
                f"{inp_shape} is not 1-D; only flat inputs are "
                f"supported"
            )
        if data.shape[0] != inp_shape[0]:
            raise ValueError(
                f"{net_path}: network expects {inp_shape[0]} "
                f"input channels, spikes have {data.shape[0]}"
            )
        self.source = lava.Source(data=data.astype(np.int32))
        self.source.s_out.connect(self.layers[0].inp)
        self.sinks = []
        for layer in self.layers:
            sink = lava.Sink(shape=tuple(layer.out.shape), buffer=buffer)
            layer.out.connect(sink.a_in)
            self.sinks.append(sink)
        # Membrane probes: lava's own Var reader (lava/proc/io/sink.py:73-137, fixed_pt model
        # PyReadFixed, int32). It reads the Var through a RefPort in the post-management phase
        # of every step, i.e. after the neuron's run_spk of that step (spike, reset) has run,
        # into column ``counter % buffer``; counter counts the steps from 0, the same column
        # as the sinks' ``(time_step - 1) % buffer``.
        self.probed = layer_indices(membrane_layers, len(self.layers))
        self.probes: dict[int, object] = {}
        for index in self.probed:
            reader = lava.VarReader(buffer=buffer)
            reader.connect_var(self._membrane_var(index))
            self.probes[index] = reader
        self.cfg = fixed_pt_run_cfg([getattr(layer, "neuron", None) for layer in self.layers])
        self.started = False

    def layer_sizes(self) -> list[int]:
        return [int(np.prod(layer.out.shape)) for layer in self.layers]

    def _membrane_var(self, index: int):
        """The Var holding layer ``index``'s membrane: v (LIF, ATRLIF) or u (AdLIFPlus)."""
        lava = self.lava
        neuron = getattr(self.layers[index], "neuron", None)
        if type(neuron) in (lava.LIF, lava.ATRLIF):
            return neuron.v
        if type(neuron) is lava.AdLIFPlus:
            return neuron.u
        raise ValueError(
            f"layer {index}: cannot probe the membrane of a {type(neuron).__name__} neuron"
        )

    def state_vars(self):
        """Vars to zero between samples, or None if the network contains a
        process whose full state is not known to be zero-initialised and held
        in these Vars: (a_buff, u, v) for LIF, (a_buff, u, w, s) for AdLIFPlus
        (lava_adlif.py keeps nothing else). ATRLIF is not eligible: its theta
        starts at theta_0 and is overwritten on its first step only
        (atrlif/models.py:229-232, 260-261), so it gets a fresh network."""
        lava = self.lava
        out = []
        for layer in self.layers:
            if type(layer) is not lava.NetxDense:
                return None
            syn = getattr(layer, "synapse", None)
            neu = getattr(layer, "neuron", None)
            if type(syn) not in (lava.Dense, lava.DelayDense):
                return None
            if type(neu) is lava.LIF:
                out += [syn.a_buff, neu.u, neu.v]
            elif type(neu) is lava.AdLIFPlus:
                out += [syn.a_buff, neu.u, neu.w, neu.s]
            else:
                return None
        return out

    def run(self, steps: int, timeout: float | None = None) -> None:
        """Run ``steps`` lava time steps and return when they are done.

        lava deadlocks when a ProcessModel raises (the runtime service keeps
        waiting for the other models, which wait for the dead one), so the run
        is started non-blocking and watched: a worker that exits mid-run, an
        ERROR reply or the optional timeout raise instead of hanging.
        """
        if self.net.runtime is None:
            self.net.create_runtime(run_cfg=self.cfg)
        runtime = self.net.runtime
        self.started = True
        runtime.start(self.lava.RunSteps(num_steps=steps, blocking=False))
        _wait_for_run(runtime, timeout)

    def read(self, num_steps: int) -> list[np.ndarray]:
        """Sink contents as (C_l, num_steps) uint8 arrays."""
        outs = []
        for sink in self.sinks:
            data = np.asarray(sink.data.get())
            data = data.reshape(-1, data.shape[-1])
            if data.shape[-1] != num_steps:
                raise RuntimeError("sink buffer length mismatch")
            if data.size and (data.min() < 0 or data.max() > 255 or np.any(data != np.round(data))):
                raise RuntimeError(
                    f"unexpected non-binary spike values in sink: [{data.min()}, {data.max()}]"
                )
            outs.append(data.astype(np.uint8))
        return outs

    def read_membranes(self, num_steps: int) -> dict[int, np.ndarray]:
        """Probe contents as (C_l, num_steps) int64 arrays, by layer index."""
        out = {}
        for index, reader in self.probes.items():
            data = np.asarray(reader.data.get())
            data = data.reshape(-1, data.shape[-1])
            if data.shape[-1] != num_steps:
                raise RuntimeError("membrane probe buffer length mismatch")
            values = data.astype(np.int64)
            if np.any(values != data):
                raise RuntimeError(f"layer {index}: non-integral membrane values")
            out[index] = values
        return out

    def close(self) -> None:
        _shutdown(self.net)


def _close_netx_file(net) -> None:
    handle = getattr(getattr(net, "net_config", None), "f", None)
    try:
        if handle is not None:
            handle.close()
    except Exception:
        pass


def _actors(runtime) -> list:
    infra = getattr(runtime, "_messaging_infrastructure", None)
    return list(getattr(infra, "actors", None) or [])


def _exited(actor) -> bool:
    try:
        return actor.exitcode is not None
    except ValueError:  # closed by lava after a join
        return True


def _worker_errors(actors) -> str:
    msgs = []
    for actor in actors:
        try:
            exc = actor.exception  # lava's SystemProcess: (exception, traceback)
        except Exception:
            exc = None
        if exc:
            msgs.append(str(exc[1] if len(exc) > 1 else exc[0]))
    return "\n".join(msgs)


def _wait_for_run(runtime, timeout: float | None) -> None:
    from lava.magma.runtime.mgmt_token_enums import MGMT_RESPONSE, enum_equal

    ports = list(runtime.service_to_runtime)
    actors = _actors(runtime)
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 2e-4
    while not all(port.probe() for port in ports):
        if any(_exited(a) for a in actors):
            time.sleep(0.05)  # let the worker's traceback reach its pipe
            raise RuntimeError(
                "a lava worker process died during the run:\n" + _worker_errors(actors)
            )
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"lava run did not finish within {timeout} s")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.01)
    replies = [port.peek() for port in ports]
    if not all(enum_equal(r, MGMT_RESPONSE.DONE) for r in replies):
        time.sleep(0.05)
        raise RuntimeError(
            f"lava runtime replied {replies} instead of DONE:\n" + _worker_errors(actors)
        )
    runtime.wait()  # consumes the DONE replies, marks the runtime idle


def _shutdown(net) -> None:
    """Stop the runtime of ``net`` and make sure no worker survives.

    A runtime that is idle (paused after a finished run) is stopped the lava way.
    One that is mid-run (error, timeout, KeyboardInterrupt), never started, or has
    a dead worker would hang Runtime.stop(), so its workers are terminated first
    and only the resources (ports, shared memory, watchdog) are released.
    """
    runtime = getattr(net, "_runtime", None)
    if runtime is None:
        return
    actors = _actors(runtime)
    healthy = (
        getattr(runtime, "_is_started", False)
        and not getattr(runtime, "_is_running", True)
        and not any(_exited(a) for a in actors)
    )
    try:
        if healthy:
            runtime.stop()
        else:
            _terminate(actors)
            runtime._is_running = False
            runtime._is_started = False
            for step in (
                runtime.join,  # parent-side CSP ports and their threads
                runtime._messaging_infrastructure.stop,  # join actors, shm manager
                runtime._watchdog_manager.stop,
            ):
                try:
                    step()
                except Exception:
                    pass
    except Exception:
        _terminate(actors)
        try:
            runtime._messaging_infrastructure.smm.shutdown()
        except Exception:
            pass
    finally:
        _terminate(actors, grace=5.0)
        try:
            net._runtime = None
        except Exception:
            pass


def _terminate(actors: Sequence, grace: float = 0.0) -> None:
    import multiprocessing as mp

    for actor in actors:
        try:
            if grace:
                # mp.Process.join (SystemProcess.join would close() it).
                mp.Process.join(actor, grace)
            if actor.is_alive():
                actor.terminate()
                mp.Process.join(actor, 2.0)
                if actor.is_alive():
                    actor.kill()
                    mp.Process.join(actor, 2.0)
        except ValueError:
            # process object already closed (joined by lava) -> nothing to do
            pass
        except Exception:
            pass


# --------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------
def run_lava(
    net_path: str | os.PathLike,
    spikes: np.ndarray,
    *,
    reuse: bool | None = None,
    timeout: float | None = None,
    membrane_layers: Sequence[int] | None = None,
) -> list[np.ndarray] | tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Run a netx HDF5 file under lava-dl netx + lava-nc
    ``Loihi2SimCfg(select_tag='fixed_pt')``, fed by
    ``lava.proc.io.source.RingBuffer`` and read by
    ``lava.proc.io.sink.RingBuffer`` on EVERY layer.

    Dense layers may use CUBA/LOIHI (lava-nc ``LIF``), ALIF (lava-nc ``ATRLIF``)
    or ADLIF (:class:`ranvier.deploy.lava_adlif.AdLIFPlus`) neurons.

    spikes: (C, T) or (N, C, T) non-negative ints.  Returns one array per netx
    layer (``net.layers``), each (N, C_l, T) uint8 ((C_l, T) when the input
    was 2-D).  Column t of an output holds what that layer emitted on the lava
    time step at which the source sent input column t (so a layer-0 spike
    caused by an input spike in column t lands in column t + 1 + delay).

    Every sample starts from a zero-state network.  ``reuse``: None (auto)
    shares one runtime between samples when that is exact and cheaper;
    False forces a fresh network per sample; True requests sharing whenever
    the network is eligible (dense + LIF or AdLIFPlus layers).  ``timeout``:
    optional wall-clock limit in seconds for each lava run (one sample); a dead
    lava worker or an overrun raises instead of hanging, and the runtime is torn
    down.

    ``membrane_layers``: layer indices (negative ones count from the end) whose
    membrane state is probed every step.  When given (even empty), the return
    value is ``(spikes, membranes)`` with ``membranes[i]`` an int64 array shaped
    like layer i's spikes: column t holds the state at the END of the step whose
    spikes are in column t -- ``v`` after the reset of neurons that spiked (LIF),
    ``v`` (ATRLIF), ``u`` (AdLIFPlus; its reset happens in the next step).
    """
    path = os.fspath(net_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    arr, squeeze = _as_spike_array(spikes)
    n_samples, _, num_steps = arr.shape

    with _LOCK:
        lava = _import_lava()
        mark = _registry_mark()
        try:
            if n_samples == 0:
                built = _Built(
                    lava, path, np.zeros((arr.shape[1], 1), np.int32), 1, membrane_layers
                )
                built.close()
                sizes, probed = built.layer_sizes(), built.probed
                outs = [np.zeros((0, c, num_steps), np.uint8) for c in sizes]
                mems = {i: np.zeros((0, sizes[i], num_steps), np.int64) for i in probed}
            else:
                outs, mems = _run_samples(lava, path, arr, reuse, timeout, membrane_layers)
        finally:
            _registry_prune(mark)
    if squeeze:
        outs = [o[0] for o in outs]
        mems = {i: m[0] for i, m in mems.items()}
    if membrane_layers is None:
        return outs
    return outs, mems


def _registry_mark() -> tuple[int, int]:
    from lava.magma.core.process.process import ProcessServer
    from lava.magma.core.process.variable import VarServer

    return len(ProcessServer().processes), len(VarServer().vars)


def _registry_prune(mark: tuple[int, int]) -> None:
    """Drop our (stopped) Processes and Vars from lava's global bookkeeping lists.

    ProcessServer/VarServer keep every Process/Var ever created alive (~0.2 MB per
    call otherwise).  The lists are bookkeeping only; the id counters are untouched.
    """
    from lava.magma.core.process.process import ProcessServer
    from lava.magma.core.process.variable import VarServer

    del ProcessServer().processes[mark[0] :]
    del VarServer().vars[mark[1] :]


def _run_samples(
    lava,
    path: str,
    arr: np.ndarray,
    reuse: bool | None,
    timeout: float | None,
    membrane_layers: Sequence[int] | None = None,
) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    n_samples, _, num_steps = arr.shape
    results: list[list[np.ndarray]] = []  # per sample, per layer
    membranes: list[dict[int, np.ndarray]] = []  # per sample, by layer
    probed: list[int] = []
    i = 0
    while i < n_samples:
        group = 1 if reuse is False else min(n_samples - i, _MAX_SAMPLES_PER_RUNTIME)
        chunk = arr[i : i + group]
        # The samples of the group back to back on the source's time axis;
        # sample k occupies lava steps k*T+1 .. (k+1)*T.
        data = np.concatenate(list(chunk), axis=1) if group > 1 else chunk[0]
        built = _Built(lava, path, data, num_steps, membrane_layers)
        probed = built.probed
        try:
            state = built.state_vars()
            share = group > 1 and state is not None
            if share and reuse is None:
                n_elems = sum(int(np.prod(v.shape)) for v in state)
                share = n_elems * _SET_COST_S < _FRESH_COST_S
            n_run = group if share else 1
            for k in range(n_run):
                if k:
                    for var in state:
                        var.set(np.zeros(var.shape, dtype=np.int32))
                built.run(num_steps, timeout)
                results.append(built.read(num_steps))
                membranes.append(built.read_membranes(num_steps))
        finally:
            built.close()
        if group > 1 and not share:
            reuse = False  # not eligible / not worth it: fresh per sample
        i += n_run
    n_layers = len(results[0])
    outs = [np.stack([r[j] for r in results]) for j in range(n_layers)]
    mems = {j: np.stack([m[j] for m in membranes]) for j in probed}
    return outs, mems
