"""Run an IR on a backend (ranvier's simulator or lava-nc), inputs and outputs."""

from .inputs import InputError, load_spikes
from .run import (
    BACKENDS,
    BackendUnavailableError,
    run_network,
    save_membranes,
    save_spikes,
    summary,
)

__all__ = [
    "BACKENDS",
    "BackendUnavailableError",
    "InputError",
    "load_spikes",
    "run_network",
    "save_membranes",
    "save_spikes",
    "summary",
]
