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
_OPTIONAL_FIELDS = {"name": str, "source": str, "notes": str, "step_s": float}


class ProfileError(ValueError):
    """A cost profile file that cannot be used; the message is one line naming file and field."""


@dataclass(frozen=True)
class CostProfile:
    """Energy per operation, in joules (see docs/energy.md for each built-in value's source).

    ``static_core_step_j`` is the static (leakage) energy of one core for one time step:
    static power per core times the assumed wall time of a step, ``step_s``.
    ``estimated`` names the cost fields that are estimates rather than published values.
    """

    name: str
    synaptic_event_j: float
    neuron_update_j: float
    spike_j: float
    static_core_step_j: float
    step_s: float | None = None
    source: str = ""
    notes: str = ""
    estimated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in COST_FIELDS:
            value = getattr(self, key)
            if not _is_cost(value):
                raise ValueError(f"{key} must be a finite non-negative number, got {value!r}")

    def costs(self) -> dict[str, float]:
        """The four costs keyed by field name (for reports)."""
        return {key: float(getattr(self, key)) for key in COST_FIELDS}

    def cost_of(self, operation: str) -> float:
        """Joules per unit of ``operation`` (one of :data:`OPERATIONS`)."""
        return float(getattr(self, COST_FIELDS[OPERATIONS.index(operation)]))


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
    synaptic_event_j=23.6e-12,  # energy per synaptic spike op (min)
    neuron_update_j=81e-12,  # energy per neuron update, active (inactive: 52 pJ)
    spike_j=1.7e-12,  # within-tile spike energy (each tile hop adds 3.0-4.0 pJ)
    static_core_step_j=_LOIHI_STATIC_W_PER_CORE * _LOIHI_STEP_S,
    step_s=_LOIHI_STEP_S,
    source=f"{_DAVIES}; static: {_FRADY}",
    notes="per-op costs simulated pre-silicon at 0.75 V; static power measured on 32 chips",
    estimated=("static_core_step_j",),
)

LOIHI2 = CostProfile(
    name="loihi2",
    synaptic_event_j=2600.0 / 380e12,  # max power / peak 8-bit synaptic ops per second
    neuron_update_j=2600.0 / 240e12,  # max power / peak neuron operations per second
    spike_j=1.7e-12,  # Loihi's within-tile spike energy, carried over
    static_core_step_j=_LOIHI_STATIC_W_PER_CORE * _LOIHI_STEP_S,  # Loihi's, carried over
    step_s=_LOIHI_STEP_S,
    source=f"{_HALA}; spike and static carried over from {_DAVIES} and {_FRADY}",
    notes=(
        "estimates: Intel publishes no per-operation energy for Loihi 2; synaptic and neuron "
        "costs are upper bounds (all of Hala Point's 2,600 W charged to one operation at its "
        "peak rate), spike and static costs are Loihi's"
    ),
    estimated=COST_FIELDS,
)

PROFILES: dict[str, CostProfile] = {p.name: p for p in (LOIHI1, LOIHI2)}


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


def _profile_from_dict(data: dict, path: Path) -> CostProfile:
    for key in data:
        if key not in COST_FIELDS and key not in _OPTIONAL_FIELDS:
            allowed = ", ".join((*COST_FIELDS, *_OPTIONAL_FIELDS))
            raise ProfileError(f"{path}: unknown field '{key}' (fields: {allowed})")
    costs = {}
    for key in COST_FIELDS:
        if key not in data:
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
            if not _is_cost(value) or value == 0:
                raise ProfileError(
                    f"{path}: field '{key}' must be a finite positive number of seconds, "
                    f"got {value!r}"
                )
            value = float(value)
        extra[key] = value
    name = extra.pop("name", path.stem)
    return CostProfile(name=name, **costs, **extra)


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

    - ``total_j == sum(layer.total_j) == sum(by_operation.values())``
    - ``total_j == sum of all neuron_energy_j + input_synaptic_j + static_j``, where
      ``input_synaptic_j`` is the energy of the first layer's synaptic events that the input
      caused (no simulated neuron sent them; a recurrent first layer's own events are its
      neurons' share) and ``static_j`` the static energy of all cores.
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
    layers = []
    for i, (block, layer, res) in enumerate(
        zip(network.blocks, result.layers, resources.layers, strict=True)
    ):
        n = block.neurons.n
        spikes = np.asarray(layer.spike_counts, dtype=np.int64).reshape(-1, n).sum(axis=0)
        updates_total = int(np.asarray(layer.neuron_updates, dtype=np.int64).sum())
        # every neuron is updated the same number of times (simulator.layer_result)
        updates = np.full(n, updates_total // n if n else 0, dtype=np.int64)
        caused = spikes * network.fan_out(i)
        counts = {
            "synaptic": int(np.asarray(layer.synaptic_events, dtype=np.int64).sum()),
            "neuron": updates_total,
            "spike": int(spikes.sum()),
            "static": res.cores * t_steps * samples,
        }
        energy = {op: counts[op] * profile.cost_of(op) for op in OPERATIONS}
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
    by_operation = {op: math.fsum(e.energy_j[op] for e in layers) for op in OPERATIONS}
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
    )
