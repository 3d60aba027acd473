"""ranvier: spiking networks from training to Loihi 2.

Stages are subpackages: ``ranvier.hw_models`` (fixed point, IR, simulator),
``ranvier.convert`` (netx HDF5), ``ranvier.deploy`` (run on a backend), ``ranvier.train``
(torch). The command line is ``ranvier`` (``ranvier.cli``).

The Python API (docs/api.md) is available from this package, loaded on first use so that
``import ranvier`` stays light (it imports neither torch nor h5py)::

    import ranvier

    net = ranvier.load("examples/shd_like.net")
    result = ranvier.run(net, "examples/shd_like_input.npy", report_dir="report/")
    ranvier.inspect(net)["violations"]

Networks: :func:`load`, :func:`save`, :func:`simulate`, :func:`run` (with labels and a
report), :func:`inspect`. Training: :func:`train_network`, :func:`export`, :func:`verify`.
The network IR: :class:`Network`, :class:`Block`, :class:`DenseSynapse`,
:class:`RecurrentDenseSynapse`, the neuron groups
:class:`CubaNeurons`, :class:`AlifNeurons`, :class:`AdlifNeurons` and the registry
:data:`NEURON_TYPES`.

Training is ``train_network`` (``ranvier.train`` is the training subpackage).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "load": "ranvier.api",
    "save": "ranvier.api",
    "simulate": "ranvier.api",
    "run": "ranvier.api",
    "inspect": "ranvier.api",
    "train_network": "ranvier.api",
    "export": "ranvier.api",
    "verify": "ranvier.api",
    "RunResult": "ranvier.api",
    "Network": "ranvier.hw_models.network",
    "Block": "ranvier.hw_models.network",
    "DenseSynapse": "ranvier.hw_models.synapses",
    "RecurrentDenseSynapse": "ranvier.hw_models.synapses",
    "NeuronGroup": "ranvier.hw_models.neurons",
    "CubaNeurons": "ranvier.hw_models.neurons",
    "AlifNeurons": "ranvier.hw_models.neurons",
    "AdlifNeurons": "ranvier.hw_models.neurons",
    "NEURON_TYPES": "ranvier.hw_models.neurons",
    "SimResult": "ranvier.hw_models.simulator",
    "LayerResult": "ranvier.hw_models.simulator",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ranvier' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
