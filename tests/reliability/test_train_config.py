"""Every field of a training config is typed and ranged when the config is loaded, before any
data is read: ``ranvier train --config FILE`` refuses a bad value with one line naming the
file and the field, exit 2, and creates nothing.

The table below keeps every case (issue 12, item 3); each config also asks for SHD from a
directory that does not exist, so a config error that came after reading data would show as
a missing-dataset error instead.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from one_line import one_line
from ranvier.train.config import (
    PRESETS,
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    load_config,
    preset,
    training_memory,
)
from typer.testing import CliRunner

from ranvier.cli import app

runner = CliRunner()
DOCS = Path(__file__).resolve().parents[2] / "docs"

#: name -> (config text, or bytes for a file that is not UTF-8; what the message must name)
CASES: dict[str, tuple[str | bytes, list[str]]] = {
    "hidden_not_a_list": ('[model]\nhidden = "abc"\n', ["model.hidden", "list"]),
    "hidden_fraction": ("[model]\nhidden = [8.5]\n", ["model.hidden[0]", "integer", "8.5"]),
    "hidden_zero": ("[model]\nhidden = [16, 0]\n", ["model.hidden[1]", "0"]),
    "hidden_empty": ("[model]\nhidden = []\n", ["model.hidden", "at least 1"]),
    "hidden_beyond_a_chip": ("[model]\nhidden = [10000000]\n", ["model.hidden[0]", "524160"]),
    "hidden_beyond_memory": (
        "[model]\nhidden = [500000, 500000]\n",
        ["model.hidden", "memory", "this machine"],
    ),
    "neuron_unknown": ('[model]\nneuron = "IZH"\n', ["model.neuron", "IZH", "ADLIF"]),
    "current_decay_5": (
        '[model]\nneuron = "CUBA"\nneuron_params = { current_decay = 5.0 }\n',
        ["model.neuron_params.current_decay", "5.0"],
    ),
    "neuron_param_unknown": (
        '[model]\nneuron = "ALIF"\nneuron_params = { decay = 0.5 }\n',
        ["model.neuron_params.decay", "threshold_step"],
    ),
    "adlif_takes_no_params": (
        '[model]\nneuron = "ADLIF"\nneuron_params = { alpha = 0.9 }\n',
        ["model.neuron_params.alpha", "no neuron_params"],
    ),
    "threshold_step_beyond_register": (
        '[model]\nneuron = "ALIF"\nneuron_params = { threshold_step = 100.0 }\n',
        ["model.neuron_params.threshold_step", "100.0"],
    ),
    "neuron_params_not_a_table": ("[model]\nneuron_params = 3\n", ["model.neuron_params"]),
    "delays_unknown": ('[model]\ndelays = "cubic"\n', ["model.delays", "cubic"]),
    "delay_init_unknown": ('[model]\ndelay_init = "random"\n', ["model.delay_init"]),
    "max_delay_63": ("[model]\nmax_delay = 63\n", ["model.max_delay", "63", "0..62"]),
    "dropout_one": ("[model]\ndropout = 1.0\n", ["model.dropout", "[0, 1)"]),
    "init_rate_negative": ("[model]\ninit_rate = -1\n", ["model.init_rate", "-1"]),
    "readout_delays_string": ('[model]\nreadout_delays = "yes"\n', ["model.readout_delays"]),
    "lr_string": ('[train]\nlr = "fast"\n', ["train.lr", "number", "fast"]),
    "lr_negative": ("[train]\nlr = -0.01\n", ["train.lr", "-0.01"]),
    "lr_nan": ("[train]\nlr = nan\n", ["train.lr", "finite"]),
    "lr_delay_zero": ("[train]\nlr_delay = 0.0\n", ["train.lr_delay"]),
    "lr_neuron_inf": ("[train]\nlr_neuron = inf\n", ["train.lr_neuron", "finite"]),
    "batch_size_fraction": ("[train]\nbatch_size = 2.5\n", ["train.batch_size", "integer"]),
    "batch_size_zero": ("[train]\nbatch_size = 0\n", ["train.batch_size"]),
    "epochs_1e9": ("[train]\nepochs = 1e9\n", ["train.epochs", "integer"]),
    "epochs_huge": ("[train]\nepochs = 1000000000\n", ["train.epochs", "1..100000"]),
    "epochs_bool": ("[train]\nepochs = true\n", ["train.epochs", "integer"]),
    "qat_epochs_beyond_epochs": (
        "[train]\nepochs = 2\nqat_epochs = 3\n",
        ["train.qat_epochs", "train.epochs"],
    ),
    "seed_negative": ("[train]\nseed = -1\n", ["train.seed", "-1"]),
    "plateau_factor_one": ("[train]\nplateau_factor = 1.0\n", ["train.plateau_factor"]),
    "plateau_patience_negative": ("[train]\nplateau_patience = -2\n", ["train.plateau_patience"]),
    "sigma_end_zero": ("[train]\nsigma_end = 0\n", ["train.sigma_end"]),
    "verify_samples_negative": ("[train]\nverify_samples = -1\n", ["train.verify_samples"]),
    "dataset_unknown": ('[data]\ndataset = "mnist"\n', ["data.dataset", "mnist", "tempo"]),
    "train_samples_zero": ("[data]\ntrain_samples = 0\n", ["data.train_samples", "0"]),
    "valid_samples_zero": ("[data]\nvalid_samples = 0\n", ["data.valid_samples", "0"]),
    "test_samples_zero": ("[data]\ntest_samples = 0\n", ["data.test_samples", "0"]),
    "channels_beyond_700": ("[data]\nchannels = 701\n", ["data.channels", "1..700"]),
    "bin_ms_zero": ("[data]\nbin_ms = 0\n", ["data.bin_ms"]),
    "steps_zero": ("[data]\nsteps = 0\n", ["data.steps"]),
    "unknown_key": ("[model]\nhiden = [3]\n", ["model.hiden", "did you mean model.hidden"]),
    "unknown_table": ("[optim]\nlr = 0.1\n", ["[optim]"]),
    "unknown_top_level_key": ("epochz = 3\n", ["'epochz'"]),
    "table_not_a_table": ("model = 3\n", ["[model]"]),
    "preset_unknown": ('preset = "huge"\n', ["preset", "huge"]),
    "preset_not_a_string": ("preset = 3\n", ["preset"]),
    "not_toml": ("[model\n", ["not valid TOML"]),
    "not_utf8": (b'[model]\nneuron = "\xff\xfe"\n', ["not UTF-8"]),
}

#: Lines added to every case: SHD from a directory that does not exist (see the docstring).
SHD = '\n[data]\ndataset = "shd"\n'


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif "[data]" in text or "dataset" in text.split("\n", 1)[0]:
        path.write_text(text)  # the case is about [data] itself
    else:
        path.write_text(text + SHD)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_refused_naming_file_and_field(tmp_path, case):
    text, expect = CASES[case]
    cfg = _write(tmp_path / "bad.toml", text)
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["train", "--config", str(cfg), "--out", str(out), "--data", str(tmp_path / "none")]
    )
    one_line(result, [str(cfg), *expect])
    assert "not found" not in result.stderr  # refused before any data was read
    assert not out.exists()


def test_config_directory_is_refused(tmp_path):
    directory = tmp_path / "conf.toml"
    directory.mkdir()
    result = runner.invoke(
        app, ["train", "--config", str(directory), "--out", str(tmp_path / "run")]
    )
    one_line(result, [str(directory), "directory"])


def test_missing_config_is_refused(tmp_path):
    missing = tmp_path / "nope.toml"
    result = runner.invoke(app, ["train", "--config", str(missing), "--out", str(tmp_path / "r")])
    one_line(result, [str(missing), "no such config file"])


@pytest.mark.parametrize(
    ("option", "field"),
    [(["--seed", "-1"], "train.seed"), (["--epochs", "1000001"], "train.epochs")],
)
def test_command_line_overrides_are_ranged(tmp_path, option, field):
    result = runner.invoke(
        app, ["train", "--preset", "demo", "--out", str(tmp_path / "r"), *option]
    )
    one_line(result, [field])
    assert not (tmp_path / "r").exists()


def test_presets_and_the_documented_example_stay_valid(tmp_path):
    for name in PRESETS:
        assert preset(name).preset == name
    # the TOML block of docs/training.md, "Configuration", loads as written
    text = (DOCS / "training.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block is not None
    path = tmp_path / "documented.toml"
    path.write_text(block.group(1))
    cfg = load_config(path)
    assert cfg.preset == "demo" and cfg.model.hidden == [64, 64]
    # integers where a float is declared are numbers too; the defaults are valid
    path.write_text("[train]\nlr = 1\n[data]\nbin_ms = 5\n")
    assert load_config(path).train.lr == 1
    assert Config().check() == Config()


def test_every_field_declares_its_allowed_values():
    """The ranges live in one place: each field's own declaration (``metadata=spec(...)``)."""
    for table in (ModelConfig, TrainConfig, DataConfig):
        for f in fields(table):
            assert "spec" in f.metadata, f"{table.__name__}.{f.name} declares no spec"


def test_python_configs_are_held_to_the_same_rules():
    from ranvier.api import training_config

    with pytest.raises(ConfigError, match=r"model\.hidden\[0\]: must be an integer"):
        training_config(Config(model=ModelConfig(hidden=[8.5])))
    with pytest.raises(ConfigError, match=r"config: train\.lr"):
        training_config({"train": {"lr": "fast"}})


def test_memory_estimate_grows_with_the_network():
    small = preset("demo")
    big = Config(model=ModelConfig(hidden=[4096, 4096]), data=small.data)
    assert 0 < training_memory(small) < 1 << 30 < training_memory(big)
