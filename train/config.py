"""Training configuration: dataclasses, presets, and TOML files.

A config has three tables, ``[model]``, ``[train]`` and ``[data]``; a TOML file may give any
subset of their keys (the rest take the defaults below), and may start from a preset with a
top-level ``preset = "NAME"``. Unknown keys are errors, named with their table.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (the lava reference environment)
    import tomli as tomllib

from ranvier.hw_models.fixed_point import MAX_DELAY

DELAY_MODES = ("none", "interp", "dcls")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and key."""


@dataclass
class ModelConfig:
    """The network: input -> hidden blocks -> non-spiking read-out (membrane summed over time)."""

    hidden: list[int] = field(default_factory=lambda: [64, 64])
    neuron: str = "ADLIF"
    #: neuron constructor arguments (CUBA/ALIF decays as fractions, ALIF threshold_step)
    neuron_params: dict = field(default_factory=dict)
    delays: str = "interp"
    max_delay: int = 25
    #: initial delays: "zero" (the seed: the network starts without delays) or "uniform"
    #: in [0, max_delay] (DCLS's choice; spreads the taps from the start)
    delay_init: str = "zero"
    dropout: float = 0.5
    #: whether the read-out synapses have delays too (the seed's do)
    readout_delays: bool = True
    #: initial spikes per neuron and step of every hidden layer (data-driven init; 0: off)
    init_rate: float = 0.05

    def check(self) -> None:
        from .neurons import NEURON_TYPES  # the trainable types: one registry, in neurons.py

        if self.neuron not in NEURON_TYPES:
            known = ", ".join(NEURON_TYPES)
            raise ConfigError(f"model.neuron: {self.neuron!r} is not one of {known}")
        if self.delays not in DELAY_MODES:
            raise ConfigError(f"model.delays: {self.delays!r} is not one of {DELAY_MODES}")
        if self.delay_init not in ("zero", "uniform"):
            raise ConfigError(f"model.delay_init: {self.delay_init!r} is not zero or uniform")
        if not 0 <= self.max_delay <= MAX_DELAY:
            raise ConfigError(f"model.max_delay: {self.max_delay} is outside 0..{MAX_DELAY}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ConfigError("model.hidden: give at least one layer size >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout: {self.dropout} is outside [0, 1)")


@dataclass
class TrainConfig:
    """The optimisation: Adam with three learning rates, plateau decay, a QAT phase."""

    epochs: int = 20
    #: the last ``qat_epochs`` of ``epochs`` train with integer weights, delays and decays
    qat_epochs: int = 5
    batch_size: int = 64
    lr: float = 0.01
    #: learning rate of the delays (the seed uses 10x the weights')
    lr_delay: float = 0.1
    lr_neuron: float = 0.01
    plateau_factor: float = 0.7
    plateau_patience: int = 5
    seed: int = 0
    #: DCLS Gaussian width: from max_delay / 2 down to this, over the float epochs
    sigma_end: float = 0.5
    #: samples checked by the verification that ends training (0: the whole test split)
    verify_samples: int = 256

    def check(self) -> None:
        if self.epochs < 1 or not 0 <= self.qat_epochs <= self.epochs:
            raise ConfigError("train.qat_epochs must lie within 0..epochs, epochs >= 1")
        if self.batch_size < 1:
            raise ConfigError("train.batch_size must be >= 1")


@dataclass
class DataConfig:
    """Which dataset and how to bin it (``dataset``: ``shd``, ``ssc`` or a built-in task)."""

    dataset: str = "tempo"
    #: built-in task sizes (ignored for SHD/SSC)
    train_samples: int = 2000
    valid_samples: int = 500
    test_samples: int = 500
    #: SHD/SSC binning (the seed's: 140 channels, 10 ms bins, 100 steps)
    channels: int = 140
    bin_ms: float = 10.0
    steps: int = 100


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    preset: str = ""

    def check(self) -> Config:
        self.model.check()
        self.train.check()
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict, where: str = "config") -> Config:
        """Build from a nested dict (a TOML file or a checkpoint), defaults for what is missing."""
        base = preset(raw["preset"]) if raw.get("preset") else cls()
        parts = {}
        for name, kind in (("model", ModelConfig), ("train", TrainConfig), ("data", DataConfig)):
            table = raw.get(name, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: [{name}] must be a table")
            known = {f.name for f in fields(kind)}
            unknown = sorted(set(table) - known)
            if unknown:
                raise ConfigError(f"{where}: unknown key {name}.{unknown[0]}")
            parts[name] = replace(getattr(base, name), **table)
        extra = sorted(set(raw) - {"model", "train", "data", "preset"})
        if extra:
            raise ConfigError(f"{where}: unknown table or key {extra[0]!r}")
        try:
            return cls(**parts, preset=raw.get("preset", base.preset)).check()
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def load_config(path: str | Path) -> Config:
    """Read a TOML config; ConfigError naming the file for bad TOML or bad keys."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return Config.from_dict(raw, where=str(path))
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _preset_table() -> dict[str, dict]:
    """The presets, as the dicts a TOML file would hold."""
    seed_shd = {
        # Deckers et al., appendix A.1: 2 x 128 AdLIF+, delays in [0, 25], dropout 0.5,
        # Adam lr 0.01 (delays 0.1), batch 128, 100 epochs; read-out membrane summed.
        "model": {"hidden": [128, 128], "neuron": "ADLIF", "delays": "interp", "max_delay": 25},
        "train": {"epochs": 100, "qat_epochs": 10, "batch_size": 128, "lr": 0.01, "lr_delay": 0.1},
        "data": {"dataset": "shd"},
    }
    seed_ssc = {
        "model": {
            "hidden": [512, 512],
            "neuron": "ADLIF",
            "delays": "interp",
            "max_delay": 25,
            "dropout": 0.25,
        },
        "train": {"epochs": 200, "qat_epochs": 10, "batch_size": 32, "lr": 0.001, "lr_delay": 0.01},
        "data": {"dataset": "ssc"},
    }
    demo = {
        # small enough for a few minutes on 2 CPU cores; delays start spread (DCLS-style)
        "model": {
            "hidden": [64, 64],
            "neuron": "ADLIF",
            "delays": "interp",
            "max_delay": 25,
            "delay_init": "uniform",
            "dropout": 0.1,
        },
        "train": {
            "epochs": 20,
            "qat_epochs": 4,
            "batch_size": 64,
            "lr": 0.01,
            "lr_delay": 0.1,
            "verify_samples": 256,
        },
        "data": {
            "dataset": "tempo",
            "train_samples": 2000,
            "valid_samples": 400,
            "test_samples": 500,
        },
    }
    return {"shd": seed_shd, "ssc": seed_ssc, "demo": demo}


PRESETS = tuple(_preset_table())


def preset(name: str) -> Config:
    """A named preset (``shd``, ``ssc``: the seed's setups; ``demo``: minutes on 2 CPU cores)."""
    table = _preset_table()
    if name not in table:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(table)}")
    raw = dict(table[name])
    cfg = Config()
    parts = {k: replace(getattr(cfg, k), **raw.get(k, {})) for k in ("model", "train", "data")}
    return Config(**parts, preset=name).check()
