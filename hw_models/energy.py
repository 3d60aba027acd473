"""Energy model: cost profiles and the energy of a simulated run, per layer, operation and neuron.

A :class:`CostProfile` prices four operations: a synaptic event (one spike reaching one
non-zero synapse), a neuron update (one neuron advanced by one time step), a spike sent, and
the static energy of one active core for one time step. :func:`energy_breakdown` multiplies
the simulator's counters (:class:`~ranvier.hw_models.simulator.LayerResult`) by those costs.
Built-in profiles ``loihi1`` and ``loihi2`` carry their sources; docs/energy.md gives every
number, which are measured and which estimated, and every formula.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .calibration import (
    LOIHI_NEURON_UPDATE_J,
    LOIHI_NEURON_UPDATE_S,
    LOIHI_SPIKE_J,
    LOIHI_SPIKE_S,
    LOIHI_SYNAPTIC_OP_J,
    LOIHI_SYNAPTIC_OP_S,
    PILOTNET_LIF,
    LayerOps,
    core_loads,
)
from .network import Network
from .resources import LOIHI2_LIMITS, CoreLimits, NetworkResources, estimate_resources
from .simulator import SimResult

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]

#: The four priced operations, in report order, and the profile field that prices each.
COST_FIELDS = ("synaptic_event_j", "neuron_update_j", "spike_j", "static_core_step_j")
OPERATIONS = ("synaptic", "neuron", "spike", "static")
#: The per-operation times of the step-time model (seconds on the busiest core).
TIME_FIELDS = ("synaptic_op_s", "neuron_update_s", "spike_s")
_OPTIONAL_FIELDS = {
    "name": str,
    "source": str,
    "notes": str,
    "step_s": float,
    "static_chip_w": float,
    "step_overhead_s": float,
    **dict.fromkeys(TIME_FIELDS, float),
}


class ProfileError(ValueError):
    """A cost profile file that cannot be used; the message is one line naming file and field."""


@dataclass(frozen=True)
class CostProfile:
    """Energy per operation, in joules, and how long a step takes (docs/energy.md gives each
    built-in value's source).

    ``static_core_step_j`` is the static (leakage) energy of one core for one time step:
    static power per core times the wall time of a step, ``step_s``. A profile with
    ``static_chip_w`` (watts of one chip) instead charges the chip's static power for the run's
    wall time to every core of the chips the network takes, idle cores included (what a
    measurement of the chip sees); its static cost per core-step is then derived per run.

    The step's wall time: ``step_s``, or, when any per-operation time is set
    (``synaptic_op_s``, ``neuron_update_s``, ``spike_s``), the busiest core's work plus
    ``step_overhead_s`` (:meth:`step_time`). ``estimated`` names the fields that are estimates
    rather than measured or published values.
    """

    name: str
    synaptic_event_j: float
    neuron_update_j: float
    spike_j: float
    static_core_step_j: float = 0.0
    step_s: float | None = None
    source: str = ""
    notes: str = ""
    estimated: tuple[str, ...] = ()
    static_chip_w: float | None = None
    synaptic_op_s: float | None = None
    neuron_update_s: float | None = None
    spike_s: float | None = None
    step_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        for key in (*COST_FIELDS, "step_overhead_s"):
            value = getattr(self, key)
            if not _is_cost(value):
                raise ValueError(f"{key} must be a finite non-negative number, got {value!r}")
        for key in TIME_FIELDS:
            value = getattr(self, key)
            if value is not None and not _is_cost(value):
                raise ValueError(f"{key} must be a finite non-negative number, got {value!r}")
        if self.static_chip_w is not None and not self.timed and self.step_s is None:
            raise ValueError("static_chip_w needs a step time: step_s or per-operation times")

    @property
    def timed(self) -> bool:
        """True when the step time is modelled from the busiest core's operations."""
        return any(getattr(self, key) is not None for key in TIME_FIELDS)

    def costs(self) -> dict[str, float]:
        """The four costs keyed by field name (for reports)."""
        return {key: float(getattr(self, key)) for key in COST_FIELDS}

    def cost_of(self, operation: str) -> float:
        """Joules per unit of ``operation`` (one of :data:`OPERATIONS`); ``static`` is the
        profile's ``static_core_step_j`` (a chip-static profile's per-run value is
        :attr:`EnergyReport.static_core_step_j`)."""
        return float(getattr(self, COST_FIELDS[OPERATIONS.index(operation)]))

    def step_time(self, loads: list[tuple[float, float, float]]) -> float | None:
        """Wall time of one step from each layer's per-core, per-step load
        ``(synaptic events, neuron updates, spikes)``: the cores run in parallel and a barrier
        ends the step, so the busiest core sets it. ``step_s`` when no per-op time is set."""
        if not self.timed:
            return self.step_s
        t_syn, t_upd, t_spk = (float(getattr(self, k) or 0.0) for k in TIME_FIELDS)
        busiest = max((e * t_syn + u * t_upd + k * t_spk for e, u, k in loads), default=0.0)
        return self.step_overhead_s + busiest

    def static_core_step(self, step_s: float | None, cores_per_chip: int) -> float:
        """Static joules of one core for one step of ``step_s`` seconds."""
        if self.static_chip_w is None:
            return float(self.static_core_step_j)
        return self.static_chip_w / cores_per_chip * float(step_s or 0.0)


def _is_cost(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


# --- built-in profiles (docs/energy.md, "Cost profiles") -------------------------------------

_DAVIES = "Davies et al., IEEE Micro 38(1):82-99, 2018, Table 2 (0.75 V; pre-silicon SDF/SPICE)"
_FRADY = "Frady et al., NICE 2020 (Pohoiki Springs), Table 1 and Sec. 5"
_HALA = "Intel newsroom, Hala Point announcement, 17 Apr 2024"
#: Loihi static power per neuromorphic core: 3.34 W static over 32 chips, / 128 cores.
_LOIHI_STATIC_W_PER_CORE = 3.34 / 32 / 128
#: Unthrottled time step measured on Pohoiki Springs (76,800-pattern workload).
_LOIHI_STEP_S = 5.8e-6

LOIHI1 = CostProfile(
    name="loihi1",
    synaptic_event_j=LOIHI_SYNAPTIC_OP_J,  # energy per synaptic spike op (min)
    neuron_update_j=LOIHI_NEURON_UPDATE_J,  # per neuron update, active (inactive: 52 pJ)
    spike_j=LOIHI_SPIKE_J,  # within-tile spike energy (each tile hop adds 3.0-4.0 pJ)
    static_core_step_j=_LOIHI_STATIC_W_PER_CORE * _LOIHI_STEP_S,
    step_s=_LOIHI_STEP_S,
    source=f"{_DAVIES}; static: {_FRADY}",
    notes="per-op costs simulated pre-silicon at 0.75 V; static power measured on 32 chips",
    estimated=("static_core_step_j",),
)

#: The constants Intel's PilotNet LIF run on Loihi 2 pins (hw_models/calibration.py
#: ``fit_loihi2`` on Intel's test frame, bench/loihi2_calibration.py; the test
#: tests/hw_models/test_calibration.py refits them): Loihi's Table 2 energies and op times
#: scaled by one factor each, and the chip's measured static power.
LOIHI2_DYNAMIC_SCALE = 0.9337
LOIHI2_TIME_SCALE = 0.5782
LOIHI2_STATIC_CHIP_W = PILOTNET_LIF.static_power_w

LOIHI2 = CostProfile(
    name="loihi2",
    synaptic_event_j=LOIHI2_DYNAMIC_SCALE * LOIHI_SYNAPTIC_OP_J,
    neuron_update_j=LOIHI2_DYNAMIC_SCALE * LOIHI_NEURON_UPDATE_J,
    spike_j=LOIHI2_DYNAMIC_SCALE * LOIHI_SPIKE_J,
    static_chip_w=LOIHI2_STATIC_CHIP_W,
    synaptic_op_s=LOIHI2_TIME_SCALE * LOIHI_SYNAPTIC_OP_S,
    neuron_update_s=LOIHI2_TIME_SCALE * LOIHI_NEURON_UPDATE_S,
    spike_s=LOIHI2_TIME_SCALE * LOIHI_SPIKE_S,
    source=(
        f"calibrated on {PILOTNET_LIF.notebook} (Loihi 2 board, lava-dl commit d825ac5): "
        f"static chip power measured; dynamic energies and op times {_DAVIES}, each set "
        "scaled by one factor so that the notebook's run costs and lasts as measured"
    ),
    notes=(
        "fitted to one measured network (PilotNet LIF, 74 cores, 16 steps per frame): "
        "the totals are reproduced, the split between synaptic, neuron and spike energy "
        "and between op times is Loihi's, not measured on Loihi 2 (docs/energy.md)"
    ),
    estimated=("synaptic_event_j", "neuron_update_j", "spike_j"),
)

LOIHI2_UPPER = CostProfile(
    name="loihi2-upper",
    synaptic_event_j=2600.0 / 380e12,  # max power / peak 8-bit synaptic ops per second
    neuron_update_j=2600.0 / 240e12,  # max power / peak neuron operations per second
    spike_j=LOIHI_SPIKE_J,  # Loihi's within-tile spike energy, carried over
    static_core_step_j=_LOIHI_STATIC_W_PER_CORE * _LOIHI_STEP_S,  # Loihi's, carried over
    step_s=_LOIHI_STEP_S,
    source=f"{_HALA}; spike and static carried over from {_DAVIES} and {_FRADY}",
    notes=(
        "upper bounds: Intel publishes no per-operation energy for Loihi 2; synaptic and "
        "neuron costs charge all of Hala Point's 2,600 W to one operation at its peak rate, "
        "spike and static costs are Loihi's (the loihi2 profile before its calibration)"
    ),
    estimated=COST_FIELDS,
)

PROFILES: dict[str, CostProfile] = {p.name: p for p in (LOIHI1, LOIHI2, LOIHI2_UPPER)}


def load_profile(name_or_path: str | os.PathLike) -> CostProfile:
    """A built-in profile by name, or a user profile from a TOML file.

    The file holds the four costs as top-level numbers (joules), and optionally ``name``,
    ``source``, ``notes`` (strings) and ``step_s`` (seconds per time step)::

        name = "my-chip"
        synaptic_event_j = 5e-12
        neuron_update_j = 10e-12
        spike_j = 2e-12
        static_core_step_j = 1e-9

    Raises :class:`ProfileError` (one line naming the file and the field) for an unreadable
    file, a file that is not TOML, a missing, negative, non-finite or non-numeric cost, or an
    unknown field.
    """
    if isinstance(name_or_path, str) and name_or_path in PROFILES:
        return PROFILES[name_or_path]
    path = Path(name_or_path)
    if _toml is None:  # pragma: no cover - Python 3.10 without tomli
        raise ProfileError(
            f"{path}: reading a TOML profile on Python 3.10 needs 'pip install tomli'"
        )
    if not path.exists() and path.suffix == "" and os.sep not in str(name_or_path):
        known = ", ".join(sorted(PROFILES))
        raise ProfileError(f"{path}: no such profile or file (built-in profiles: {known})")
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ProfileError(f"{path}: is a directory, not a profile file") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile ({exc.strerror or exc})") from None
    try:
        data = _toml.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except _toml.TOMLDecodeError as exc:
        reason = " ".join(str(exc).split())
        raise ProfileError(f"{path}: not a TOML file ({reason})") from None
    return _profile_from_dict(data, path)


_UNITS = {"static_chip_w": "watts", "step_overhead_s": "seconds"}


def _profile_from_dict(data: dict, path: Path) -> CostProfile:
    for key in data:
        if key not in COST_FIELDS and key not in _OPTIONAL_FIELDS:
            allowed = ", ".join((*COST_FIELDS, *_OPTIONAL_FIELDS))
            raise ProfileError(f"{path}: unknown field '{key}' (fields: {allowed})")
    costs = {}
    for key in COST_FIELDS:
        if key not in data:
            if key == "static_core_step_j" and "static_chip_w" in data:
                continue  # derived per run from the chip's static power
            raise ProfileError(f"{path}: field '{key}' is missing (joules per operation)")
        value = data[key]
        if not _is_cost(value):
            raise ProfileError(
                f"{path}: field '{key}' must be a finite non-negative number of joules, "
                f"got {value!r}"
            )
        costs[key] = float(value)
    extra: dict = {}
    for key, kind in _OPTIONAL_FIELDS.items():
        if key not in data:
            continue
        value = data[key]
        if kind is str and not isinstance(value, str):
            raise ProfileError(f"{path}: field '{key}' must be a string, got {value!r}")
        if kind is float:
            zero_ok = key in TIME_FIELDS or key == "step_overhead_s"
            if not _is_cost(value) or (value == 0 and not zero_ok):
                sign = "non-negative" if zero_ok else "positive"
                unit = _UNITS.get(key, "seconds")
                raise ProfileError(
                    f"{path}: field '{key}' must be a finite {sign} number of {unit}, got {value!r}"
                )
            value = float(value)
        extra[key] = value
    name = extra.pop("name", path.stem)
    try:
        return CostProfile(name=name, **costs, **extra)
    except ValueError as exc:
        raise ProfileError(f"{path}: {exc}") from None


# --- energy of a run --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerEnergy:
    """Energy of one layer over the whole run (all samples).

    ``counts`` and ``energy_j`` are keyed by :data:`OPERATIONS`: ``synaptic`` counts this
    layer's own synaptic events (spikes arriving from the layer before or from the input),
    ``neuron`` its neuron updates, ``spike`` the spikes its neurons sent, ``static`` its
    core-steps (``cores * timesteps * samples``). ``total_j = sum(energy_j.values())``.

    Per neuron (arrays of length ``neurons``): ``neuron_spikes``, ``neuron_updates``,
    ``events_caused`` (the neuron's spikes times its non-zero fan-out into the next layer;
    0 for the last layer) and ``neuron_energy_j`` =
    ``spikes * spike_j + updates * neuron_update_j + events_caused * synaptic_event_j``.
    """

    name: str
    neurons: int
    cores: int
    counts: dict[str, int]
    energy_j: dict[str, float]
    total_j: float
    neuron_spikes: np.ndarray = field(repr=False, compare=False)
    neuron_updates: np.ndarray = field(repr=False, compare=False)
    events_caused: np.ndarray = field(repr=False, compare=False)
    neuron_energy_j: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class EnergyReport:
    """Energy of a run: per layer, per operation, per neuron, and in total (joules).

    Identities (tests/hw_models/test_energy.py checks them):

    - ``total_j == sum(layer.total_j) + idle_static_j == sum(by_operation.values())``
    - ``total_j == sum of all neuron_energy_j + input_synaptic_j + static_j``, where
      ``input_synaptic_j`` is the energy of the first layer's synaptic events that the input
      caused (no simulated neuron sent them; a recurrent first layer's own events are its
      neurons' share) and ``static_j`` the static energy of all cores (``idle_static_j``
      included: the cores of the network's chips that no layer takes, charged by a
      chip-static profile, 0 otherwise).

    ``step_s`` is the wall time of one step the run was priced with (the profile's, or its
    step-time model's for this run; None when the profile has neither) and
    ``static_core_step_j`` the static joules of one core per step.
    """

    profile: CostProfile
    samples: int
    timesteps: int
    layers: tuple[LayerEnergy, ...]
    by_operation: dict[str, float]
    total_j: float
    input_synaptic_j: float
    static_j: float
    resources: NetworkResources = field(repr=False, compare=False)
    step_s: float | None = None
    static_core_step_j: float = 0.0
    idle_static_j: float = 0.0

    @property
    def latency_s(self) -> float | None:
        """Wall time of the whole run (all samples, back to back) at ``step_s``."""
        return None if self.step_s is None else self.step_s * self.timesteps * self.samples

    @property
    def per_sample_j(self) -> float:
        """Mean energy of one sample."""
        return self.total_j / self.samples if self.samples else 0.0

    @property
    def neurons_j(self) -> float:
        """Sum of every neuron's energy share."""
        return math.fsum(float(e.neuron_energy_j.sum()) for e in self.layers)


def _input_events(network: Network, layers: list[LayerEnergy]) -> int:
    """Synaptic events the input caused: the first layer's, less those its own spikes caused
    through a recurrent synapse (charged to its neurons)."""
    if not layers:
        return 0
    own = network.blocks[0].synapse.recurrent_fan_out()
    recurrent = 0 if own is None else int((layers[0].neuron_spikes * own).sum())
    return layers[0].counts["synaptic"] - recurrent


def energy_breakdown(
    network: Network,
    result: SimResult,
    profile: CostProfile,
    timesteps: int | None = None,
    limits: CoreLimits = LOIHI2_LIMITS,
) -> EnergyReport:
    """Energy of ``result`` (a run of ``network``) priced by ``profile``, over all samples.

    ``timesteps`` (default ``result.timesteps``) sets the static energy: every core of every
    layer is charged ``static_core_step_j`` per time step per sample; the cores per layer come
    from :func:`~ranvier.hw_models.resources.estimate_resources` with ``limits``.
    """
    if len(result.layers) != len(network.blocks):
        raise ValueError(
            f"result has {len(result.layers)} layers, the network {len(network.blocks)}"
        )
    t_steps = result.timesteps if timesteps is None else int(timesteps)
    if t_steps < 0:
        raise ValueError(f"timesteps must be non-negative, got {t_steps}")
    samples = int(result.samples)
    resources = estimate_resources(network, limits)
    counted = []
    for block, layer in zip(network.blocks, result.layers, strict=True):
        n = block.neurons.n
        spikes = np.asarray(layer.spike_counts, dtype=np.int64).reshape(-1, n).sum(axis=0)
        counted.append(
            (
                spikes,
                int(np.asarray(layer.neuron_updates, dtype=np.int64).sum()),
                int(np.asarray(layer.synaptic_events, dtype=np.int64).sum()),
            )
        )
    core_steps = t_steps * samples
    loads = core_loads(
        [
            LayerOps(events, updates, int(spikes.sum()), res.cores)
            for (spikes, updates, events), res in zip(counted, resources.layers, strict=True)
        ],
        core_steps,
    )
    step_s = profile.step_time(loads)
    static_cost = profile.static_core_step(step_s, limits.cores_per_chip)
    layers = []
    for i, (block, layer, res, (spikes, updates_total, events)) in enumerate(
        zip(network.blocks, result.layers, resources.layers, counted, strict=True)
    ):
        n = block.neurons.n
        # every neuron is updated the same number of times (simulator.layer_result)
        updates = np.full(n, updates_total // n if n else 0, dtype=np.int64)
        caused = spikes * network.fan_out(i)
        counts = {
            "synaptic": events,
            "neuron": updates_total,
            "spike": int(spikes.sum()),
            "static": res.cores * core_steps,
        }
        unit = {op: profile.cost_of(op) for op in OPERATIONS}
        unit["static"] = static_cost
        energy = {op: counts[op] * unit[op] for op in OPERATIONS}
        share = (
            spikes * profile.spike_j
            + updates * profile.neuron_update_j
            + caused * profile.synaptic_event_j
        )
        layers.append(
            LayerEnergy(
                name=layer.name,
                neurons=n,
                cores=res.cores,
                counts=counts,
                energy_j=energy,
                total_j=math.fsum(energy.values()),
                neuron_spikes=spikes,
                neuron_updates=updates,
                events_caused=caused,
                neuron_energy_j=share.astype(np.float64),
            )
        )
    idle_cores = 0
    if profile.static_chip_w is not None:
        idle_cores = resources.chips * limits.cores_per_chip - resources.cores
    idle_static = idle_cores * core_steps * static_cost
    by_operation = {op: math.fsum(e.energy_j[op] for e in layers) for op in OPERATIONS}
    by_operation["static"] = math.fsum([by_operation["static"], idle_static])
    return EnergyReport(
        profile=profile,
        samples=samples,
        timesteps=t_steps,
        layers=tuple(layers),
        by_operation=by_operation,
        total_j=math.fsum(by_operation.values()),
        input_synaptic_j=_input_events(network, layers) * profile.synaptic_event_j,
        static_j=by_operation["static"],
        resources=resources,
        step_s=step_s,
        static_core_step_j=static_cost,
        idle_static_j=idle_static,
    )
