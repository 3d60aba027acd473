"""lava itself: the lazy import, the run configuration, the watched run and the teardown.

docs/lava_backend.md ("Robustness") says why each step is needed. Every lava import of the
package happens here (and in adlif_process.py, which only :func:`import_lava` imports), inside
functions, so the package imports without lava.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import types
import warnings
from collections.abc import Sequence

#: Serialises every use of lava (runs, and netx's patched ``get_neuron_params``).
LOCK = threading.RLock()
_LAVA: types.SimpleNamespace | None = None


def lava_available() -> bool:
    """True if lava-nc, lava-dl netx and h5py are importable.

    Only ``importlib.util.find_spec`` is used (no lava import, which pulls in
    torch and takes seconds), so a broken install can still fail later in
    :func:`~ranvier.deploy.lava.run_lava`.
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


def import_lava() -> types.SimpleNamespace:
    """Import the lava pieces once (lazily) and cache them.

    The namespace holds the process classes by the names ``neurons.LAVA_NEURONS`` uses
    (``LIF``, ``ATRLIF`` -- None before lava-nc 0.9 --, ``AdLIFPlus``), netx's ``Network`` and
    blocks, the recurrent block (``RecurrentDelayDense``, ``RecurrentLayers``), the synapses,
    the source, sinks and Var reader, ``RunSteps`` and ``Loihi2SimCfg``.
    lava sets the multiprocessing start method to 'fork' on import; a start method fixed
    before is tolerated when it is 'fork' and forced (with a warning) otherwise.
    """
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
        from . import adlif_process, recurrent_block
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
        AdLIFPlus=adlif_process.AdLIFPlus,
        RecurrentDelayDense=recurrent_block.RecurrentDelayDense,
        RecurrentLayers=recurrent_block.RecurrentLayers,
        Source=SourceRingBuffer,
        Sink=SinkRingBuffer,
        VarReader=VarReader,
    )
    return _LAVA


def fixed_pt_run_cfg(processes: Sequence = ()):
    """``Loihi2SimCfg(select_tag='fixed_pt')`` that maps each AdLIFPlus in ``processes`` to
    ``PyAdLIFPlusModelFixed`` and each RecurrentDelayDense block to its model directly.

    Without the entry lava's compiler would look for the model by executing every ``.py``
    file of the Process's folder and package (compiler_graphs.py:795-900), i.e. every module
    of ``deploy/lava/`` as a stand-alone module, on every build. The compiler tests the *instance*
    (``proc in exception_proc_model_map``, compiler_graphs.py:1031-1033) while
    ``RunConfig.select`` tests the class (run_configs.py:208), so both keys are given.
    """
    lava = import_lava()
    from .adlif_process import PyAdLIFPlusModelFixed
    from .recurrent_block import PyRecurrentDelayDenseModel

    models = {
        lava.AdLIFPlus: PyAdLIFPlusModelFixed,
        lava.RecurrentDelayDense: PyRecurrentDelayDenseModel,
    }
    exceptions: dict = dict(models)
    for proc in processes:
        if type(proc) in models:
            exceptions[proc] = models[type(proc)]
    return lava.Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=exceptions)


# --------------------------------------------------------------------------
# a watched run
# --------------------------------------------------------------------------
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


def wait_for_run(runtime, timeout: float | None) -> None:
    """Wait for a run started with ``RunSteps(blocking=False)``; raise instead of hanging.

    lava deadlocks when a ProcessModel raises, so a worker that exits mid-run raises
    RuntimeError (with the worker's traceback), an ERROR reply RuntimeError, and the
    optional ``timeout`` (seconds) TimeoutError.
    """
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


# --------------------------------------------------------------------------
# teardown
# --------------------------------------------------------------------------
def close_netx_file(net) -> None:
    """Close the h5py handle netx's NetDict opened and never closes."""
    handle = getattr(getattr(net, "net_config", None), "f", None)
    try:
        if handle is not None:
            handle.close()
    except Exception:
        pass


def shutdown(net) -> None:
    """Stop the runtime of ``net`` (any lava Process) and make sure no worker survives.

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
            terminate(actors)
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
        terminate(actors)
        try:
            runtime._messaging_infrastructure.smm.shutdown()
        except Exception:
            pass
    finally:
        terminate(actors, grace=5.0)
        try:
            net._runtime = None
        except Exception:
            pass


def terminate(actors: Sequence, grace: float = 0.0) -> None:
    """Join each worker for ``grace`` seconds, then terminate it, then kill it."""
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


def registry_mark() -> tuple[int, int]:
    """The lengths of lava's global Process and Var lists, for :func:`registry_prune`."""
    from lava.magma.core.process.process import ProcessServer
    from lava.magma.core.process.variable import VarServer

    return len(ProcessServer().processes), len(VarServer().vars)


def registry_prune(mark: tuple[int, int]) -> None:
    """Drop our (stopped) Processes and Vars from lava's global bookkeeping lists.

    ProcessServer/VarServer keep every Process/Var ever created alive (~0.2 MB per
    call otherwise).  The lists are bookkeeping only; the id counters are untouched.
    """
    from lava.magma.core.process.process import ProcessServer
    from lava.magma.core.process.variable import VarServer

    del ProcessServer().processes[mark[0] :]
    del VarServer().vars[mark[1] :]
