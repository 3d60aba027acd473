"""Fused neuron recurrences: the whole time loop of CUBA, ALIF and AdLIF+ in one C++ call per
direction (``neurons.cpp``), used by ``train/neurons.py`` in place of its per-step torch loop.

Why a torch C++ extension (``torch.utils.cpp_extension``): measured on the 2-core dev machine
(AMD EPYC with AVX2, torch 2.13 CPU) on one SHD-size layer, B = 128, n = 128, T = 125:

- this extension: forward + backward in 8-19 ms on 2 threads where the torch loop takes
  90-210 ms (``bench/neuron_floor.py``, table in its docstring), about 12x;
- ``torch.compile`` of the torch loop (CUBA, float): 149 s to compile at T = 125 (the graph
  unrolls the T steps, and compiles again for every T, dtype and mode), then 194 ms per
  forward + backward against 301 ms eager in the same run: 1.5x;
- numba (``@njit(parallel=True)``, one row per iteration; CUBA forward only, one thread):
  8.7 ms float / 11.6 ms quantized against 4.6 / 8.8 ms for this forward, and it would add a
  dependency (numba, llvmlite and their numpy pins), a JIT compile in every process and a
  thread pool of its own beside torch's.

The extension is an explicit loop over tiles of (batch x neuron) rows and T, the lanes of a
tile in SIMD vectors (``kernels.h``), tiles split over torch's intra-op threads. It is built
once by ``make install`` (``python -m ranvier.train.fused.build``, ninja and g++) into
``build/`` beside this file; its ops are registered with ``TORCH_LIBRARY`` and loaded with
``torch.ops.load_library`` on first use. Most of its time is memory traffic now (the
transposes between the (B, n, T) tensors and the [t][lane] tiles).

The fused path is taken when ``usable(a)``: the library is built and loads, fused is enabled
(``RANVIER_FUSED=0`` or ``disabled()`` turn it off), and ``a`` is a float32/float64 CPU tensor.
Otherwise the neurons run their reference torch loop (CUDA, no build, a recurrent feedback).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

#: The C++ sources, the build directory (git-ignored) and the build's stamp (hash, library).
SOURCE = Path(__file__).with_name("neurons.cpp")
SOURCES = (SOURCE, Path(__file__).with_name("kernels.h"))
BUILD_DIR = Path(__file__).with_name("build")
STAMP = BUILD_DIR / "stamp.json"
NAME = "ranvier_fused"
#: Compiler flags: no fused multiply-add, so the float forward rounds as torch's ops do.
CFLAGS = ("-O3", "-fopenmp", "-ffp-contract=off", "-Wno-psabi")
LDFLAGS = ("-fopenmp",)


def cpu_flags() -> tuple[str, ...]:
    """Extra flags for this CPU: ``-mavx2`` (32-byte vectors) where an x86-64 CPU has AVX2,
    else none (SSE2 / NEON, 16-byte vectors). Part of the build key, so a build carried to a
    CPU without AVX2 counts as stale and is not loaded."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ()
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")),
        [],
    )
    return ("-mavx2",) if "avx2" in flags else ()


def compile_flags() -> list[str]:
    """``CFLAGS`` and this CPU's ``cpu_flags``."""
    return [*CFLAGS, *cpu_flags()]


#: Learnable per-neuron parameters of each kind, in the C++ order.
PARAMS = {"cuba": 2, "alif": 4, "adlif": 5}

#: Fused forwards run in this process, by kind (tests check the fused path is really taken).
CALLS: Counter[str] = Counter()

_state: dict[str, object] = {"tried": False, "loaded": False, "error": None, "enabled": True}


def build_key() -> str:
    """Hash of what the library is built from: the sources, the flags and the torch version."""
    h = hashlib.sha256()
    for path in SOURCES:
        h.update(path.read_bytes())
    h.update(" ".join((*compile_flags(), *LDFLAGS, torch.__version__)).encode())
    return h.hexdigest()


def is_built() -> bool:
    """Whether a build exists in ``BUILD_DIR`` (current or stale)."""
    return STAMP.exists()


def _load() -> None:
    """Load the built library once, if it is there and built from the current source."""
    if _state["tried"]:
        return
    _state["tried"] = True
    if os.environ.get("RANVIER_FUSED", "1") == "0":
        _state["error"] = "disabled by RANVIER_FUSED=0"
        return
    if not STAMP.exists():
        _state["error"] = "not built (make install, or python -m ranvier.train.fused.build)"
        return
    try:
        stamp = json.loads(STAMP.read_text())
        if stamp.get("key") != build_key():
            _state["error"] = "stale build (source, flags or torch changed): run make install"
            return
        torch.ops.load_library(str(BUILD_DIR / stamp["library"]))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        _state["error"] = f"failed to load: {exc}"
        return
    _state["loaded"], _state["error"] = True, None


def available() -> bool:
    """Whether the fused kernels are loaded (whatever ``enabled``); loads them on first call."""
    _load()
    return bool(_state["loaded"])


def load_error() -> str | None:
    """Why the fused kernels are not loaded, or None."""
    _load()
    return _state["error"]  # type: ignore[return-value]


@contextmanager
def disabled() -> Iterator[None]:
    """Run the reference torch loops inside the block (tests, benchmarks)."""
    before = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = before


def usable(a: torch.Tensor) -> bool:
    """Whether the fused kernels can run on input ``a``: loaded, enabled, a float CPU tensor."""
    _load()
    return (
        bool(_state["loaded"] and _state["enabled"])
        and a.device.type == "cpu"
        and a.dtype in (torch.float32, torch.float64)
        and a.dim() == 3
    )


class _Fused(torch.autograd.Function):
    """One fused forward over ``a`` (B, n, T); its backward recomputes the states in C++ and
    returns the gradients of ``a`` and of the (P, n) per-neuron parameters."""

    @staticmethod
    def forward(ctx, a, params, kind, scalars, quantized, spiking):
        op = getattr(torch.ops.ranvier_fused, f"{kind}_forward")
        s, v = op(a, params, list(scalars), quantized, spiking)
        ctx.save_for_backward(a, params)
        ctx.cfg = (kind, scalars, quantized, spiking)
        return s, v

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s, grad_v):
        a, params = ctx.saved_tensors
        kind, scalars, quantized, spiking = ctx.cfg
        grad_s = grad_s.to(a.dtype).contiguous()
        grad_v = grad_v.to(a.dtype).contiguous()
        op = getattr(torch.ops.ranvier_fused, f"{kind}_backward")
        da, dp = op(a, params, grad_s, grad_v, list(scalars), quantized, spiking)
        dparams = dp.view(params.shape[0], a.shape[0], a.shape[1]).sum(1).to(params.dtype)
        return da, dparams, None, None, None, None


def run(
    kind: str,
    a: torch.Tensor,
    params: list[torch.Tensor],
    scalars: tuple[float, ...],
    quantized: bool,
    spiking: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and voltage ``(B, n, T)`` of neuron ``kind`` on input ``a`` (B, n, T).

    ``params`` are the per-layer (1,) or per-neuron (n,) factors in the C++ order (autograd
    carries their gradients back to the neuron's parameters); ``scalars`` the constants
    (input scale, threshold, ...). See ``neurons.cpp`` for each kind's rule.
    """
    if len(params) != PARAMS[kind]:
        raise ValueError(f"{kind} takes {PARAMS[kind]} parameters, not {len(params)}")
    a = a.contiguous()
    n = a.shape[1]
    stacked = torch.stack([p.to(a.dtype).reshape(-1).expand(n) for p in params]).contiguous()
    CALLS[kind] += 1
    return _Fused.apply(a, stacked, kind, tuple(float(x) for x in scalars), quantized, spiking)


__all__ = [
    "BUILD_DIR",
    "CALLS",
    "available",
    "build_key",
    "disabled",
    "is_built",
    "load_error",
    "run",
    "usable",
]
