"""Intel's measured Loihi 2 runs of PilotNet, and the fit of the ``loihi2`` profile to them.

The only public measurements of a netx network on the chip are the outputs kept in lava-dl's
benchmark notebooks (``tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb`` and
``pilotnet_sdnn/benchmark.ipynb``, lava-dl commit d825ac5): the compiler's per-core table,
frames per second, the board's power split and energy per inference. :data:`PILOTNET_LIF` and
:data:`PILOTNET_SDNN` transcribe them. :func:`fit_loihi2` turns one run's operation counts
into the three constants the LIF measurement pins (docs/energy.md, "Calibration"):

- the dynamic scale: the measured dynamic energy per inference over the energy Loihi's
  Table 2 costs (Davies et al. 2018: 23.6 pJ per synaptic op, 81 pJ per neuron update, 1.7 pJ
  per spike) give the same counts, so the three costs keep Loihi's ratios;
- the time scale: the measured time per step over the busiest core's time at Loihi's Table 2
  op times (3.5 ns per synaptic op, 8.4 ns per neuron update, 2.1 ns per spike);
- the chip's static power (measured directly).

The shipped ``loihi2`` profile (``hw_models/energy.py``) holds these constants; a test
(tests/hw_models/test_calibration.py) refits them from the shipped network and image and
checks they agree, and bench/loihi2_calibration.py prints measured against predicted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .network import Network
from .resources import LOIHI2_LIMITS, CoreLimits, estimate_resources
from .simulator import simulate

if TYPE_CHECKING:  # energy.py imports this module
    from .energy import CostProfile

#: Loihi's Table 2 (Davies et al., IEEE Micro 2018): energy per op, the prior of the fit.
LOIHI_SYNAPTIC_OP_J = 23.6e-12
LOIHI_NEURON_UPDATE_J = 81e-12
LOIHI_SPIKE_J = 1.7e-12
#: Loihi's Table 2 times: synaptic op (max), neuron update (active), within-tile spike.
LOIHI_SYNAPTIC_OP_S = 3.5e-9
LOIHI_NEURON_UPDATE_S = 8.4e-9
LOIHI_SPIKE_S = 2.1e-9


@dataclass(frozen=True)
class CompilerRow:
    """One row of the compiler's "Per core distribution" table (per-core values)."""

    axons_in: int
    neuron_groups: int
    neurons: int
    synapses: int
    axon_map: int
    axon_mem: int
    cores: int


@dataclass(frozen=True)
class Measurement:
    """One benchmark notebook's measured outputs (a Loihi 2 board, lava's profilers).

    ``rows``: the compiler's table in network order (the notebook prints it output layer
    first); ``skip_layers``: layers netx left off the chip (the SDNN notebook encodes its
    input on the host). Powers are the board's, compensated for idle chips by the notebook;
    ``host_bound``: the frame rate is set by the host's input, not by the chip.
    """

    name: str
    notebook: str
    network_file: str
    rows: tuple[CompilerRow, ...]
    cores: int
    fps: float
    steps_per_inference: int
    total_power_w: float
    static_power_w: float
    dynamic_power_w: float
    vdd_power_w: float
    vddm_power_w: float
    vddio_power_w: float
    energy_per_inference_j: float
    dynamic_energy_per_inference_j: float
    skip_layers: int = 0
    host_bound: bool = False

    @property
    def step_s(self) -> float:
        """Measured wall time of one step."""
        return 1.0 / (self.fps * self.steps_per_inference)


def _rows(*rows: tuple[int, ...]) -> tuple[CompilerRow, ...]:
    """Rows as the notebook prints them (output layer first), returned in network order."""
    return tuple(CompilerRow(*r) for r in reversed(rows))


PILOTNET_LIF = Measurement(
    name="PilotNet LIF",
    notebook="lava-dl tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb",
    network_file="intel_pilotnet_lif.net",
    rows=_rows(
        (10, 1, 1, 10, 1, 0, 1),
        (50, 1, 10, 150, 10, 0, 1),
        (100, 1, 50, 1300, 50, 0, 1),
        (2560, 1, 8, 7253, 8, 0, 12),
        (1, 1, 2048, 2880, 1280, 0, 2),
        (1, 1, 2048, 2160, 29, 9, 3),
        (2, 1, 2688, 1620, 112, 46, 3),
        (2, 1, 2160, 864, 113, 32, 13),
        (2, 1, 3072, 81, 253, 93, 25),
        (1, 1, 3168, 0, 1015, 731, 13),
    ),
    cores=74,
    fps=408.91,
    steps_per_inference=16,
    total_power_w=0.679234,
    static_power_w=0.232078,
    dynamic_power_w=0.447156,
    vdd_power_w=0.252728,
    vddm_power_w=0.422127,
    vddio_power_w=0.004379,
    energy_per_inference_j=1.661103e-3,
    dynamic_energy_per_inference_j=1.093544e-3,
)

PILOTNET_SDNN = Measurement(
    name="PilotNet SDNN",
    notebook="lava-dl tutorials/lava/lib/dl/netx/pilotnet_sdnn/benchmark.ipynb",
    network_file="intel_pilotnet_sdnn_tutorial.net",
    rows=_rows(
        (10, 1, 1, 10, 1, 0, 1),
        (50, 1, 10, 150, 10, 0, 1),
        (100, 1, 50, 1500, 50, 0, 1),
        (2560, 1, 8, 7253, 8, 0, 12),
        (1, 1, 2048, 2880, 1280, 0, 2),
        (1, 1, 2048, 2592, 29, 9, 3),
        (2, 1, 2688, 1620, 112, 46, 3),
        (2, 1, 2160, 864, 113, 32, 13),
        (2, 1, 3072, 81, 253, 93, 25),
    ),
    cores=61,
    fps=16.87,
    steps_per_inference=1,
    total_power_w=0.275709,
    static_power_w=0.281775,
    dynamic_power_w=-0.006066,
    vdd_power_w=0.103684,
    vddm_power_w=0.167086,
    vddio_power_w=0.004939,
    energy_per_inference_j=16.343833e-3,
    dynamic_energy_per_inference_j=-0.359587e-3,
    skip_layers=1,
    host_bound=True,
)

MEASUREMENTS = {"lif": PILOTNET_LIF, "sdnn": PILOTNET_SDNN}


@dataclass(frozen=True)
class LayerOps:
    """One layer's operations per inference and the cores it takes."""

    synaptic_events: float
    neuron_updates: float
    spikes: float
    cores: int


@dataclass(frozen=True)
class Loihi2Fit:
    """The constants one measurement pins (see the module docstring)."""

    dynamic_scale: float
    time_scale: float
    static_chip_w: float
    prior_dynamic_j: float
    prior_step_s: float


def core_loads(ops: list[LayerOps], steps: int) -> list[tuple[float, float, float]]:
    """Each layer's ``(synaptic events, neuron updates, spikes)`` per core and per step, its
    operations spread evenly over its cores (layers without cores or steps left out)."""
    return [
        (o.synaptic_events / (o.cores * steps), o.neuron_updates / (o.cores * steps),
         o.spikes / (o.cores * steps))
        for o in ops
        if o.cores and steps
    ]  # fmt: skip


def prior_dynamic_j(ops: list[LayerOps]) -> float:
    """Dynamic energy of ``ops`` at Loihi's Table 2 costs."""
    return sum(
        o.synaptic_events * LOIHI_SYNAPTIC_OP_J
        + o.neuron_updates * LOIHI_NEURON_UPDATE_J
        + o.spikes * LOIHI_SPIKE_J
        for o in ops
    )


def prior_step_s(ops: list[LayerOps], steps: int) -> float:
    """The busiest core's time per step at Loihi's Table 2 op times (loads spread evenly
    over a layer's cores)."""
    return max(
        (
            o.synaptic_events * LOIHI_SYNAPTIC_OP_S
            + o.neuron_updates * LOIHI_NEURON_UPDATE_S
            + o.spikes * LOIHI_SPIKE_S
        )
        / (o.cores * steps)
        for o in ops
        if o.cores
    )


def fit_loihi2(ops: list[LayerOps], measured: Measurement = PILOTNET_LIF) -> Loihi2Fit:
    """The dynamic scale, time scale and static chip power that make ``ops`` (per inference,
    the measured run's) cost and last what ``measured`` reports."""
    dyn = prior_dynamic_j(ops)
    step = prior_step_s(ops, measured.steps_per_inference)
    return Loihi2Fit(
        dynamic_scale=measured.dynamic_energy_per_inference_j / dyn,
        time_scale=measured.step_s / step,
        static_chip_w=measured.static_power_w,
        prior_dynamic_j=dyn,
        prior_step_s=step,
    )


def ops_per_inference(
    network: Network,
    drive: Callable[[int], np.ndarray],
    inferences: tuple[int, int],
    steps: int,
    reset: tuple[int, int] | None = None,
    skip_layers: int = 0,
    limits: CoreLimits = LOIHI2_LIMITS,
) -> list[LayerOps]:
    """Each on-chip layer's operations per inference in steady state: two runs of
    ``inferences = (a, b)`` inferences (``drive(k)`` gives the input ``(C, k * steps)``),
    their counts' difference divided by ``b - a`` (so the first inference's start-up is left
    out). ``skip_layers`` leaves the first layers off the chip, as netx's ``skip_layers``."""
    a, b = inferences
    if not 0 < a < b:
        raise ValueError(f"inferences must be 0 < a < b, got {inferences}")
    runs = [simulate(network, drive(k), reset=reset, keep_spikes=False) for k in (a, b)]
    cores = [r.cores for r in estimate_resources(network, limits, skip_layers).layers]
    ops = []
    for i, c in zip(range(skip_layers, len(network.blocks)), cores, strict=True):
        la, lb = runs[0].layers[i], runs[1].layers[i]
        ops.append(
            LayerOps(
                synaptic_events=(int(lb.synaptic_events.sum()) - int(la.synaptic_events.sum()))
                / (b - a),
                neuron_updates=(int(lb.neuron_updates.sum()) - int(la.neuron_updates.sum()))
                / (b - a),
                spikes=(int(lb.spike_counts.sum()) - int(la.spike_counts.sum())) / (b - a),
                cores=c,
            )
        )
    return ops


@dataclass(frozen=True)
class Prediction:
    """What a profile predicts for a measured run: time per step, frames per second, the
    power split and the energy per inference (the notebook's quantities)."""

    cores: int
    chips: int
    step_s: float
    fps: float
    static_power_w: float
    dynamic_power_w: float
    total_power_w: float
    energy_per_inference_j: float
    dynamic_energy_per_inference_j: float


def predict(
    profile: CostProfile,
    ops: list[LayerOps],
    steps: int,
    fps: float | None = None,
    cores_per_chip: int = LOIHI2_LIMITS.cores_per_chip,
) -> Prediction:
    """``profile``'s prediction for ``ops`` (per inference of ``steps`` steps). The frame rate
    is the profile's step time's unless ``fps`` is given (a host-bound run: the chip waits for
    its input, which ranvier does not model). Static power is the chip's for a chip-static
    profile, else its per-core static over the layers' cores."""
    cores = sum(o.cores for o in ops)
    chips = -(-cores // cores_per_chip)
    step = profile.step_time(core_loads(ops, steps)) or 0.0
    frame_rate = fps if fps is not None else (1.0 / (step * steps) if step else float("inf"))
    dynamic = sum(
        o.synaptic_events * profile.synaptic_event_j
        + o.neuron_updates * profile.neuron_update_j
        + o.spikes * profile.spike_j
        for o in ops
    )
    if profile.static_chip_w is not None:
        static_w = chips * profile.static_chip_w
    else:
        static_w = cores * profile.static_core_step_j / step if step else 0.0
    dynamic_w = dynamic * frame_rate
    return Prediction(
        cores=cores,
        chips=chips,
        step_s=step,
        fps=frame_rate,
        static_power_w=static_w,
        dynamic_power_w=dynamic_w,
        total_power_w=static_w + dynamic_w,
        energy_per_inference_j=(static_w + dynamic_w) / frame_rate,
        dynamic_energy_per_inference_j=dynamic,
    )
