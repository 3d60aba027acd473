"""The Python API (``ranvier.load`` … ``ranvier.verify``, docs/api.md): the page's code blocks
run as written, each function gives what its command gives, and ``import ranvier`` stays
light."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ranvier
from ranvier.cli import app

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_NET = REPO / "examples" / "shd_like.net"
EXAMPLE_INPUT = REPO / "examples" / "shd_like_input.npy"
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="training needs torch")

runner = CliRunner()

#: A training config that runs in seconds (the built-in task, one epoch, quantized).
TINY = {
    "model": {"hidden": [12], "neuron": "ADLIF", "max_delay": 6, "dropout": 0.0},
    "train": {"epochs": 1, "qat_epochs": 1, "batch_size": 32, "verify_samples": 24},
    "data": {"dataset": "tempo", "train_samples": 48, "valid_samples": 24, "test_samples": 24},
}


def doc_blocks(path: Path) -> list[str]:
    """The ```python blocks of a markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(), flags=re.M | re.S)


def test_api_doc_examples_run(monkeypatch):
    """docs/api.md's code runs as written (from the repository root), so it cannot rot."""
    blocks = doc_blocks(REPO / "docs" / "api.md")
    assert len(blocks) >= 3
    monkeypatch.chdir(REPO)
    namespace: dict = {"__name__": "docs_api"}
    for i, code in enumerate(blocks):
        if "ranvier.train_network(" in code and not HAS_TORCH:
            continue
        exec(compile(code, f"docs/api.md block {i + 1}", "exec"), namespace)


def _modules_after(code: str) -> list[str]:
    probe = (
        "import sys\n"
        f"{code}\n"
        "heavy = ('torch', 'h5py', 'matplotlib', 'numpy')\n"
        "print(' '.join(m for m in heavy if m in sys.modules) or '-')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_ranvier_is_light():
    assert _modules_after("import ranvier") == ["-"]


def test_networks_api_never_imports_torch():
    code = (
        "import ranvier\n"
        f"net = ranvier.load({str(EXAMPLE_NET)!r})\n"
        f"ranvier.simulate(net, {str(EXAMPLE_INPUT)!r})\n"
        f"ranvier.run(net, {str(EXAMPLE_INPUT)!r})\n"
        "ranvier.inspect(net)\n"
    )
    assert "torch" not in _modules_after(code)


def test_public_names():
    from ranvier.hw_models import network, neurons, synapses

    assert ranvier.Network is network.Network
    assert ranvier.Block is network.Block
    assert ranvier.DenseSynapse is synapses.DenseSynapse
    assert ranvier.NEURON_TYPES is neurons.NEURON_TYPES
    assert {ranvier.CubaNeurons, ranvier.AlifNeurons, ranvier.AdlifNeurons} <= set(
        ranvier.NEURON_TYPES.values()
    )
    for name in ranvier.__all__:
        assert getattr(ranvier, name) is not None, name
    assert set(ranvier.__all__) <= set(dir(ranvier))
    with pytest.raises(AttributeError):
        ranvier.no_such_name  # noqa: B018


def test_train_network_is_a_function_and_train_the_subpackage():
    """``ranvier.train_network`` runs training; ``ranvier.train`` stays the subpackage."""
    import ranvier.train.config

    assert callable(ranvier.train_network)
    assert ranvier.train is sys.modules["ranvier.train"]
    assert ranvier.train.config.PRESETS


# --- networks ----------------------------------------------------------------------------------


def _small_network(seed: int = 0) -> ranvier.Network:
    rng = np.random.default_rng(seed)
    return ranvier.Network(
        n_in=4,
        blocks=[
            ranvier.Block(
                ranvier.DenseSynapse(
                    weight=2 * rng.integers(-32, 96, size=(3, 4)),
                    delay=rng.integers(0, 4, size=(3, 4)),
                ),
                ranvier.CubaNeurons.create(3, vth_mant=100, i_decay=1024, v_decay=256),
            )
        ],
    )


def test_load_and_save_round_trip(tmp_path):
    net = _small_network()
    path = ranvier.save(net, tmp_path / "small.net")
    assert path == tmp_path / "small.net"
    assert ranvier.load(path).same_as(net)
    assert ranvier.load(str(path)).same_as(net)
    assert not list(tmp_path.glob("*.tmp")), "temporary file left behind"


def test_load_refuses_a_bad_file_with_one_line(tmp_path):
    from ranvier.convert import NetFileError

    with pytest.raises(NetFileError, match="no such file"):
        ranvier.load(tmp_path / "missing.net")


def test_simulate_is_the_simulator():
    from ranvier.hw_models import simulate as hw_simulate

    net = ranvier.load(EXAMPLE_NET)
    x = np.load(EXAMPLE_INPUT)
    expected = hw_simulate(net, x, record=[0])
    for got in (
        ranvier.simulate(net, x, record=[0]),
        ranvier.simulate(EXAMPLE_NET, EXAMPLE_INPUT, record=[0]),
    ):
        assert got.samples == expected.samples and got.timesteps == expected.timesteps
        for a, b in zip(got.layers, expected.layers, strict=True):
            np.testing.assert_array_equal(a.spikes, b.spikes)
            np.testing.assert_array_equal(a.synaptic_events, b.synaptic_events)
        np.testing.assert_array_equal(got.layers[0].membrane, expected.layers[0].membrane)
    short = ranvier.simulate(net, x, timesteps=20)
    assert short.timesteps == 20


def test_simulate_checks_array_input():
    from ranvier.deploy import InputError

    net = _small_network()
    with pytest.raises(InputError, match="channels"):
        ranvier.simulate(net, np.zeros((5, 10), np.uint8))
    with pytest.raises(InputError, match="non-negative"):
        ranvier.simulate(net, -np.ones((4, 10)))


def test_run_gives_what_the_command_gives(tmp_path):
    """Same summary, same report.json as `ranvier run --labels --report --json`."""
    labels = tmp_path / "y.npy"
    np.save(labels, np.array([0, 1, 2, 3]))
    cli = runner.invoke(
        app,
        [
            "run",
            str(EXAMPLE_NET),
            "--input",
            str(EXAMPLE_INPUT),
            "--labels",
            str(labels),
            "--report",
            str(tmp_path / "cli"),
            "--json",
        ],
    )
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)
    result = ranvier.run(
        EXAMPLE_NET, EXAMPLE_INPUT, labels=labels, report_dir=tmp_path / "api", profile="loihi2"
    )
    got = dict(result.summary)
    assert got.pop("report_dir") == str(tmp_path / "api")
    assert expected.pop("report_dir") == str(tmp_path / "cli")
    assert got == expected
    assert result.accuracy == expected["accuracy"]
    np.testing.assert_array_equal(result.predictions, expected["predictions"])
    assert result.report_dir == tmp_path / "api"
    assert (tmp_path / "api" / "report.json").read_text() == (
        tmp_path / "cli" / "report.json"
    ).read_text()
    assert result.report == json.loads((tmp_path / "api" / "report.json").read_text())
    assert [s.shape[1] for s in result.spikes] == result.network.layer_sizes


def test_run_on_objects_without_report():
    net = ranvier.load(EXAMPLE_NET)
    x = np.load(EXAMPLE_INPUT)
    result = ranvier.run(net, x, labels=[3, 3, 3, 0])
    assert result.summary["network"] is None and result.summary["input"] is None
    assert result.report is None and result.report_dir is None
    assert "energy_j" not in result.summary and "labels" not in result.summary
    assert result.summary["correct"] == int(np.sum(result.predictions == [3, 3, 3, 0]))
    plain = ranvier.run(net, x)
    assert plain.accuracy is None and plain.predictions is None
    assert plain.summary["totals"] == result.summary["totals"]


def test_run_membrane_sum_readout(adaptive_net):
    """A membrane_sum read-out gets its membrane probed: the class is the argmax of the
    last layer's summed membrane."""
    rng = np.random.default_rng(11)
    x = (rng.random((12, 6, 50)) < 0.3).astype(np.uint8)
    v = ranvier.simulate(adaptive_net, x, record=[-1]).layers[-1].membrane
    truth = v.sum(axis=2).argmax(axis=1)
    result = ranvier.run(adaptive_net, x, labels=truth)
    assert result.summary["readout"] == "membrane_sum"
    assert result.accuracy == 1.0


def test_run_refuses_bad_arguments(tmp_path):
    from ranvier.deploy import InputError
    from ranvier.hw_models.energy import ProfileError

    net = ranvier.load(EXAMPLE_NET)
    with pytest.raises(ValueError, match="backend"):
        ranvier.run(net, EXAMPLE_INPUT, backend="loihi3")
    with pytest.raises(InputError, match="3 labels for 4 samples"):
        ranvier.run(net, EXAMPLE_INPUT, labels=[0, 1, 2])
    with pytest.raises(ProfileError):
        ranvier.run(net, EXAMPLE_INPUT, report_dir=tmp_path / "r", profile="loihi3")
    assert not (tmp_path / "r").exists()
    with pytest.raises(ValueError, match="no layer 5"):
        ranvier.run(net, EXAMPLE_INPUT, record=[5])


def test_inspect_gives_what_the_command_gives(adaptive_net):
    for path in (EXAMPLE_NET, adaptive_net):
        cli = runner.invoke(app, ["inspect", str(path), "--json"])
        assert cli.exit_code == 0, cli.output
        assert ranvier.inspect(path) == json.loads(cli.stdout)
        doc = ranvier.inspect(ranvier.load(path))
        assert doc["network"] is None
        assert doc["layers"] == json.loads(cli.stdout)["layers"]


def test_inspect_reports_violations():
    neurons = ranvier.AlifNeurons.create(
        2, vth_mant=100, i_decay=0, v_decay=0, theta_decay=0, ref_decay=0, vth_step=1 << 17
    )
    net = ranvier.Network(n_in=1, blocks=[ranvier.Block(ranvier.DenseSynapse([[2], [4]]), neurons)])
    doc = ranvier.inspect(net)
    assert any("vThStep" in line for line in doc["violations"]), doc["violations"]
    assert doc["layers"][0]["vth_step"] == [1 << 17, 1 << 17]
    assert ranvier.inspect(_small_network())["violations"] == []


# --- training ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("api") / "run"
    events = []
    summary = ranvier.train_network(
        TINY, run_dir, progress=lambda event, info: events.append(event)
    )
    assert events[0] == "epoch_start" and "epoch_end" in events and events[-1] == "done"
    return run_dir, summary


@needs_torch
def test_train_writes_a_verified_run(tiny_run):
    run_dir, summary = tiny_run
    for name in ("checkpoint.pt", "best.pt", "metrics.json", "model.net", "test_input.npy"):
        assert (run_dir / name).is_file(), name
    assert summary["epochs"] == 1
    assert summary["verify"]["mismatches"] == 0
    assert summary["network"] == str(run_dir / "model.net")
    net = ranvier.load(run_dir / "model.net")
    assert [b.neurons.neuron_type for b in net.blocks] == ["ADLIF", "CUBA"]


@needs_torch
def test_train_refuses_an_existing_run(tiny_run):
    run_dir, _ = tiny_run
    with pytest.raises(FileExistsError, match="resume"):
        ranvier.train_network(TINY, run_dir)


@needs_torch
def test_training_config_sources(tmp_path):
    from ranvier.train.config import Config, ConfigError, preset

    from ranvier.api import override_training, training_config

    assert training_config("demo") == preset("demo")
    assert training_config(preset("shd")) == preset("shd")
    from_dict = training_config({"preset": "demo", "train": {"epochs": 3, "qat_epochs": 1}})
    assert from_dict.model == preset("demo").model and from_dict.train.epochs == 3
    toml = tmp_path / "c.toml"
    toml.write_text("[model]\nhidden = [7]\n[train]\nepochs = 2\nqat_epochs = 1\n")
    assert training_config(toml).model.hidden == [7]
    assert training_config(str(toml)).train.epochs == 2
    with pytest.raises(ConfigError, match=r"model\.nope"):
        training_config({"model": {"nope": 1}})
    with pytest.raises(ConfigError, match="no such config file"):
        training_config(tmp_path / "missing.toml")
    cfg = override_training(preset("demo"), seed=5, epochs=2)
    assert isinstance(cfg, Config)
    assert (cfg.train.seed, cfg.train.epochs, cfg.train.qat_epochs) == (5, 2, 2)
    assert override_training(cfg) is cfg


@needs_torch
def test_export_and_verify(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a quantization-aware checkpoint: no warning
        net = ranvier.export(run_dir / "best.pt", tmp_path / "m.net")
    assert ranvier.load(tmp_path / "m.net").same_as(net)
    result = ranvier.verify(run_dir / "best.pt", network=tmp_path / "m.net", samples=8)
    assert result.samples == 8 and result.mismatches == 0 and result.ok
    assert result.as_dict()["mismatches"] == 0
    fresh = ranvier.verify(run_dir, samples=4)  # a run directory: its checkpoint.pt
    assert fresh.ok and fresh.samples == 4


@needs_torch
def test_verify_notices_a_different_file(tiny_run, tmp_path):
    import h5py

    run_dir, _ = tiny_run
    path = tmp_path / "changed.net"
    ranvier.export(run_dir / "best.pt", path)
    with h5py.File(path, "r+") as f:
        w = f["layer/1/weight"][()]
        del f["layer/1/weight"]
        f["layer/1/weight"] = np.clip(w + 40, -256, 254)
    assert not ranvier.verify(run_dir / "best.pt", network=path, samples=8).ok
    with pytest.raises(ValueError, match="layer sizes"):
        ranvier.verify(run_dir / "best.pt", network=_small_network())


@needs_torch
def test_export_and_verify_a_model_object(tmp_path):
    from ranvier.train.config import ModelConfig
    from ranvier.train.model import SpikingNet

    model = SpikingNet(4, 3, ModelConfig(hidden=[5], max_delay=4), seed=0)
    with pytest.warns(UserWarning, match="quantization-aware"):
        net = ranvier.export(model, tmp_path / "m.net")
    assert net.n_in == 4 and net.layer_sizes == [5, 3]
    x = (np.random.default_rng(0).random((3, 4, 20)) < 0.4).astype(np.uint8)
    result = ranvier.verify(model, spikes=x, labels=np.array([0, 1, 2]))
    assert result.ok and result.accuracy is not None
    with pytest.raises(ValueError, match="spikes"):
        ranvier.verify(model)
