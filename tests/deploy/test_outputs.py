"""run_network, summary() and save_spikes()."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy import BackendUnavailableError, run_network, save_spikes, summary
from ranvier.hw_models import simulate


@pytest.fixture
def net(small_net):
    return read_netx(small_net)


@pytest.fixture
def batch():
    rng = np.random.default_rng(11)
    return (rng.random((3, 6, 40)) < 0.4).astype(np.uint8)


def test_small_net_is_active(net, batch):
    """Control for the tests below: every layer fires, so the counts are not trivially 0."""
    result = simulate(net, batch)
    assert all(layer.spikes.sum() > 0 for layer in result.layers)


def test_run_network_on_ranvier_is_simulate(net, batch):
    a, b = run_network(net, batch), simulate(net, batch)
    for la, lb in zip(a.layers, b.layers, strict=True):
        np.testing.assert_array_equal(la.spikes, lb.spikes)


def test_run_network_unknown_backend(net, batch):
    with pytest.raises(ValueError, match="unknown backend 'loihi3'"):
        run_network(net, batch, backend="loihi3")


def test_run_network_lava_unavailable(net, batch, small_net, monkeypatch):
    from ranvier.deploy import lava as lava_backend

    monkeypatch.setattr(lava_backend, "lava_available", lambda: False)
    with pytest.raises(BackendUnavailableError):
        run_network(net, batch, backend="lava", net_path=small_net)


# --- summary ----------------------------------------------------------------------------------


def fan_out(block) -> np.ndarray:
    w = block.synapse.effective_weight
    return np.array([np.count_nonzero(w[:, c]) for c in range(w.shape[1])])


@pytest.mark.parametrize("ts_ms", [None, 0.5, 2.0])
def test_summary_numbers(net, batch, ts_ms):
    if ts_ms is not None:
        net.meta["Ts"] = ts_ms
    result = simulate(net, batch)
    info = summary(net, result)
    n, t = batch.shape[0], batch.shape[2]
    assert (info["samples"], info["timesteps"]) == (n, t)
    assert info["ts_ms"] == (ts_ms or 1.0)
    assert [layer["name"] for layer in info["layers"]] == ["layer_0", "layer_1"]
    sender = batch.astype(np.int64)
    for row, block, layer in zip(info["layers"], net.blocks, result.layers, strict=True):
        spikes = int(layer.spikes.sum())
        assert row["neurons"] == block.neurons.n
        assert row["spikes"] == spikes
        assert row["spike_rate"] == pytest.approx(spikes / (n * block.neurons.n * t))
        assert row["spike_rate_hz"] == pytest.approx(row["spike_rate"] * 1000.0 / (ts_ms or 1.0))
        # every spike sent into the layer, times the sender's non-zero fan-out
        expected_events = sum(
            int(sender[i, c, :].sum()) * int(fan_out(block)[c])
            for i in range(n)
            for c in range(block.synapse.n_in)
        )
        assert row["synaptic_events"] == expected_events
        assert row["neuron_updates"] == n * block.neurons.n * t
        sender = layer.spikes.astype(np.int64)
    for key in ("spikes", "synaptic_events", "neuron_updates"):
        assert info["totals"][key] == sum(row[key] for row in info["layers"])
    assert info["totals"]["spikes"] > 0


def test_summary_single_sample(net, batch):
    result = simulate(net, batch[0])
    info = summary(net, result)
    assert info["samples"] == 1
    assert info["layers"][0]["spikes"] == int(result.layers[0].spikes.sum())


# --- save_spikes ------------------------------------------------------------------------------


def test_save_spikes_batch(tmp_path, net, batch):
    result = simulate(net, batch)
    path = save_spikes(tmp_path / "spikes.npz", result)
    assert path == tmp_path / "spikes.npz"
    with np.load(path) as data:
        assert sorted(data.files) == ["layer_0", "layer_1"]
        for i, (layer, size) in enumerate(zip(result.layers, (5, 4), strict=True)):
            arr = data[f"layer_{i}"]
            assert arr.dtype == np.uint8
            assert arr.shape == (3, size, 40)
            np.testing.assert_array_equal(arr, layer.spikes)


def test_save_spikes_single_sample(tmp_path, net, batch):
    result = simulate(net, batch[1])
    save_spikes(tmp_path / "nested" / "one.npz", result)
    with np.load(tmp_path / "nested" / "one.npz") as data:
        assert data["layer_0"].shape == (5, 40)
        assert data["layer_1"].shape == (4, 40)
        # one sample alone gives what it gives inside the batch
        np.testing.assert_array_equal(data["layer_1"], simulate(net, batch).layers[1].spikes[1])


def test_save_spikes_is_atomic(tmp_path, net, batch, monkeypatch):
    result = simulate(net, batch)
    dest = tmp_path / "spikes.npz"
    dest.write_bytes(b"old")
    real = pathlib.Path.write_bytes

    def half_then_fail(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_bytes", half_then_fail)
    with pytest.raises(OSError):
        save_spikes(dest, result)
    monkeypatch.undo()
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.net", "spikes.npz"]
