"""Recurrent hidden blocks trained by BPTT (``[model] recurrent``, train/recurrent.py).

(a) ``TapSum``, the per-step recurrent input with a recomputing backward: its gradients for
    the coefficients and for every spike tensor of the window equal plain autograd of the same
    sum (float64, an einsum reference), and ``gradcheck`` passes.
(b) The taps are the feed-forward delays' rule: their frequency response is ``delay_kernel``'s.
(c) The float (and quantized) forward of a recurrent block equals a straightforward reference
    loop (dense taps, plain autograd), gradients for weight, weight_rec, delay and delay_rec
    included.
(d) The quantized forward is the exported ``dense_rec`` file on the simulator, spike for
    spike, for CUBA, ALIF and AdLIF+ and the delay modes none, interp and dcls, in layers
    where the recurrence changes the spikes.
(e) The rest of the training stack: optimizer groups, calibration, checkpoints, config checks
    and presets, ``--resume`` across recurrent and feed-forward, one ``ranvier train`` run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from ranvier.convert.netx_hdf5 import read_netx
from ranvier.train.checkpoint import load_checkpoint, save_checkpoint
from ranvier.train.config import Config, ConfigError, ModelConfig, memory_parts, preset
from ranvier.train.delays import _phases, _shift_spectrum, delay_kernel, delay_taps, delayed_dense
from ranvier.train.export import network_mismatch, verify
from ranvier.train.loop import make_optimizer, model_difference
from ranvier.train.model import SpikingNet
from ranvier.train.recurrent import TapPlan, TapSum, tap_sum
from typer.testing import CliRunner

from ranvier.cli import app

# --- (a) the custom Function ----------------------------------------------------------------


def _einsum_reference(coeff, index, window):
    """Plain autograd: gather every tap's spikes ``(P, n_out, n_in, B)``, weight, sum."""
    stacked = torch.stack(window)  # (L, B, n_in)
    columns = torch.arange(coeff.shape[-1]).view(1, 1, -1)
    gathered = stacked[index, :, columns]
    return torch.einsum("pji,pjib->bj", coeff, gathered)


@pytest.mark.parametrize("uniform", [False, True])
def test_tap_sum_gradients_equal_autograd(uniform):
    gen = torch.Generator().manual_seed(3)
    p, n_out, n_in, batch, reach = (2, 7, 6, 5, 9) if not uniform else (4, 7, 6, 5, 4)
    coeff = torch.randn(p, n_out, n_in, dtype=torch.float64, generator=gen, requires_grad=True)
    if uniform:
        index = torch.arange(p).view(-1, 1, 1).expand(p, n_out, n_in)
    else:
        index = torch.randint(0, reach, (p, n_out, n_in), generator=gen)
    window = [
        (torch.rand(batch, n_in, generator=gen, dtype=torch.float64) < 0.4)
        .double()
        .requires_grad_()
        for _ in range(reach)
    ]
    ours = tap_sum(coeff, index, window, uniform)
    ref = _einsum_reference(coeff, index, window)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=0)
    grad_out = torch.randn(ours.shape, dtype=torch.float64, generator=gen)
    got = torch.autograd.grad(ours, [coeff, *window], grad_out)
    want = torch.autograd.grad(ref, [coeff, *window], grad_out)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert torch.allclose(a, b, atol=1e-12, rtol=0), f"input {i}"


@pytest.mark.parametrize("uniform", [False, True])
def test_tap_sum_gradcheck(uniform):
    gen = torch.Generator().manual_seed(5)
    p, n, batch, reach = (2, 3, 2, 4) if not uniform else (3, 3, 2, 3)
    coeff = torch.randn(p, n, n, dtype=torch.float64, generator=gen, requires_grad=True)
    index = (
        torch.arange(p).view(-1, 1, 1).expand(p, n, n)
        if uniform
        else torch.randint(0, reach, (p, n, n), generator=gen)
    )
    window = [
        torch.randn(batch, n, dtype=torch.float64, generator=gen).requires_grad_()
        for _ in range(reach)
    ]
    plan = TapPlan(index, uniform)
    assert torch.autograd.gradcheck(lambda c, *w: TapSum.apply(c, plan, None, *w), (coeff, *window))


# --- (b) one rule for the taps --------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "quantized"), [("interp", False), ("interp", True), ("dcls", False)]
)
def test_taps_have_delay_kernels_frequency_response(mode, quantized):
    gen = torch.Generator().manual_seed(1)
    max_delay, size = 6, 20
    weight = torch.randn(4, 5, dtype=torch.float64, generator=gen)
    delay = torch.rand(4, 5, dtype=torch.float64, generator=gen) * max_delay
    delay[0, 0] = max_delay  # the far tap of the largest delay
    taps = delay_taps(weight, delay, mode=mode, max_delay=max_delay, sigma=0.8, quantized=quantized)
    spec = _shift_spectrum(_phases(size, weight.device), 1 + taps.index, torch.complex128)
    from_taps = (spec * taps.coeff.to(torch.complex128)).sum(1).transpose(1, 2)
    kernel = delay_kernel(
        weight, delay, size, mode=mode, max_delay=max_delay, sigma=0.8, quantized=quantized
    )
    assert torch.allclose(from_taps, kernel, atol=1e-12)


# --- (c) the forward against a reference loop -----------------------------------------------


class DenseFeedback:
    """The recurrent input the plain way: dense taps ``K[m, j, i]`` for every lag m, the whole
    spike history kept, plain autograd."""

    def __init__(self, weight, delay, *, mode, max_delay, sigma, quantized):
        if delay is None or mode == "none":
            self.taps = weight.unsqueeze(0)
        elif mode == "dcls" and not quantized:
            lags = torch.arange(max_delay + 1, dtype=weight.dtype)
            g = torch.softmax(-0.5 * ((lags - delay.unsqueeze(-1)) / sigma) ** 2, dim=-1)
            self.taps = (g * weight.unsqueeze(-1)).permute(2, 0, 1)
        else:
            if quantized:
                base = torch.round(delay.detach()).clamp(0, max_delay)
                frac = delay - delay.detach()
            else:
                base = torch.floor(delay.detach()).clamp(0, max_delay)
                frac = delay - base
            lags = torch.arange(max_delay + 2, dtype=weight.dtype).view(-1, 1, 1)
            near = (lags == base).to(weight.dtype)
            far = (lags == base + 1).to(weight.dtype)
            self.taps = weight * (near * (1 - frac) + far * frac)
        self.history: list[torch.Tensor] = []

    def arrive(self):
        total = 0.0
        for lag, s in enumerate(self.history[: self.taps.shape[0]]):
            total = total + s @ self.taps[lag].t()
        return total if self.history else torch.zeros(1, dtype=self.taps.dtype)

    def send(self, s):
        self.history.insert(0, s)


def _reference_block(block, x, quantized):
    """``Block.forward`` with the recurrent input of :class:`DenseFeedback`."""
    mode = block.delay_mode
    if quantized:
        weight, weight_rec = block.synapse_weights()
        mode = "interp" if mode == "dcls" else mode
        a = delayed_dense(
            x, weight, block.delay, mode=mode, max_delay=block.max_delay, quantized=True
        )
    else:
        weight_rec = block.weight_rec
        a = delayed_dense(
            x, block.weight, block.delay, mode=mode, max_delay=block.max_delay, sigma=block.sigma
        )
    feedback = DenseFeedback(
        weight_rec.to(a.dtype),
        None if block.delay_rec is None else block.delay_rec.to(a.dtype),
        mode=mode,
        max_delay=block.max_delay,
        sigma=block.sigma,
        quantized=quantized,
    )
    return block.neuron(a, quantized, int(block.vth_mant), feedback=feedback)


def _recurrent_net(neuron, delays, seed, n_in=12, hidden=10, max_delay=5, gain=None):
    cfg = ModelConfig(
        hidden=[hidden],
        neuron=neuron,
        delays=delays,
        max_delay=max_delay,
        dropout=0.0,
        recurrent=True,
    )
    net = SpikingNet(n_in, 3, cfg, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    ff, rec = gain or GAIN[neuron]
    with torch.no_grad():
        for b in net.blocks:
            b.weight.mul_(ff)
            if b.weight_rec is not None:
                b.weight_rec.mul_(rec)
            for d in (b.delay, b.delay_rec):
                if d is not None:  # fractional delays spread over the whole range
                    d.copy_(0.2 + torch.rand(d.shape, generator=gen) * (b.max_delay - 0.4))
    return net


#: (feed-forward, recurrent) weight multipliers: every hidden layer spikes, and the recurrent
#: input is strong enough to change its spikes (AdLIF+ feeds (1 - alpha) of its input)
GAIN = {"CUBA": (3.0, 4.0), "ALIF": (3.0, 4.0), "ADLIF": (12.0, 16.0)}


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("delays", ["none", "interp", "dcls"])
def test_forward_and_gradients_equal_reference_loop(delays, quantized):
    net = _recurrent_net("CUBA", delays, seed=2)
    block = net.blocks[0]
    block.sigma = 1.3
    if quantized:
        net.start_qat()
    x = torch.tensor((np.random.default_rng(4).random((3, 12, 30)) < 0.3), dtype=torch.float64)
    params = [
        p for p in (block.weight, block.weight_rec, block.delay, block.delay_rec) if p is not None
    ]
    gen = torch.Generator().manual_seed(9)
    results = []
    for run in (block, lambda x_, q: _reference_block(block, x_, q)):
        s, v = run(x, quantized)
        probe_s = torch.randn(s.shape, dtype=s.dtype, generator=gen)
        probe_v = torch.randn(v.shape, dtype=v.dtype, generator=gen)
        scale = 1.0 if not quantized else 1.0 / (64 * int(block.vth_mant))
        loss = (s * probe_s).sum() + (v * probe_v).sum() * scale
        results.append((s.detach(), v.detach(), torch.autograd.grad(loss, params)))
        gen.manual_seed(9)
    (s0, v0, g0), (s1, v1, g1) = results
    assert s0.sum() > 0
    assert torch.equal(s0, s1)
    assert torch.allclose(v0, v1, atol=1e-6, rtol=1e-6)
    # quantized, the recurrent sums run in float32 (exact forward; the gradient is float32's)
    tol = 1e-5 if quantized else 1e-6
    for p, a, b in zip(params, g0, g1, strict=True):
        assert a.abs().max() > 0 or p is block.delay_rec
        top = float(b.abs().max())
        assert torch.allclose(a, b, atol=tol * max(top, 1.0), rtol=tol), p.shape


# --- (d) the exported dense_rec file on the simulator --------------------------------------

CASES = [(n, d) for n in ("CUBA", "ALIF", "ADLIF") for d in ("none", "interp", "dcls")]


@pytest.mark.parametrize(("neuron", "delays"), CASES)
def test_recurrent_model_runs_spike_for_spike_on_the_simulator(neuron, delays):
    net = _recurrent_net(neuron, delays, seed=0)
    net.start_qat()
    net.eval()
    x = (np.random.default_rng(7).random((5, 12, 40)) < 0.25).astype(np.uint8)
    result = verify(net, x)
    assert result.layer_names == ["layer_0", "layer_1"]
    assert result.layer_spikes[0] > 0, "the recurrent layer never spikes: the case tests nothing"
    assert result.mismatches == 0, result.layer_mismatches
    assert result.file_matches
    assert result.predictions_equal
    network = net.to_network()
    assert network.blocks[0].synapse.layer_type == "dense_rec"
    assert network.blocks[1].synapse.layer_type == "dense"
    if delays != "none":
        (rec_delays, _) = net.delays_int(recurrent=True)
        assert np.array_equal(network.blocks[0].synapse.recurrent.delay, rec_delays)
        assert len(np.unique(rec_delays)) >= 4, "several recurrent delay values"
    # the recurrence matters: without it the layer spikes differently
    with torch.no_grad():
        _, hidden, _ = net(torch.tensor(x))
        net.blocks[0].weight_rec.zero_()
        _, alone, _ = net(torch.tensor(x))
    assert not torch.equal(hidden[0], alone[0])


def test_calibration_reaches_the_rate_with_recurrence():
    for neuron in ("CUBA", "ADLIF"):
        cfg = ModelConfig(hidden=[24], neuron=neuron, max_delay=8, recurrent=True, dropout=0.0)
        net = SpikingNet(16, 3, cfg, seed=1)
        x = torch.tensor(np.random.default_rng(0).random((16, 16, 60)) < 0.1, dtype=torch.uint8)
        block = net.blocks[0]
        ratio = float(block.weight_rec.detach().abs().max() / block.weight.detach().abs().max())
        (factor,) = net.calibrate_(x, 0.05)
        net.eval()
        with torch.no_grad():
            _, hidden, _ = net(x)
        assert abs(float(hidden[0].mean()) - 0.05) < 0.015, neuron
        after = float(block.weight_rec.detach().abs().max() / block.weight.detach().abs().max())
        assert math.isclose(ratio, after, rel_tol=1e-5) and factor != 1.0


def test_layer_scale_covers_both_matrices_and_mapping_is_joint():
    net = _recurrent_net("CUBA", "interp", seed=3)
    block = net.blocks[0]
    with torch.no_grad():
        block.weight_rec[0, 0] = 4 * float(block.weight.abs().max())
    net.start_qat()
    assert int(block.file_weight_rec().abs().max()) >= 250  # the recurrent matrix sets the scale
    ff, rec = block.synapse_weights()
    synapse = block.to_block("layer_0").synapse
    assert np.array_equal(ff.detach().numpy(), synapse.forward.values)
    assert np.array_equal(rec.detach().numpy(), synapse.recurrent.values)


# --- (e) the training stack -----------------------------------------------------------------


def test_optimizer_groups_hold_recurrent_weights_and_delays():
    cfg = Config(model=ModelConfig(hidden=[8], neuron="CUBA", max_delay=4, recurrent=True))
    net = SpikingNet(5, 2, cfg.model)
    groups = {
        g["name"]: {id(p) for p in g["params"]} for g in make_optimizer(net, cfg).param_groups
    }
    block = net.blocks[0]
    assert id(block.weight_rec) in groups["weights"]
    assert id(block.delay_rec) in groups["delays"]
    assert not ({id(block.weight_rec), id(block.delay_rec)} & groups["neuron"])
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert sum(len(v) for v in groups.values()) == len(trainable)


def test_clip_clamps_recurrent_delays():
    net = SpikingNet(5, 2, ModelConfig(hidden=[6], max_delay=4, recurrent=True))
    with torch.no_grad():
        net.blocks[0].delay_rec.fill_(9.0)
        net.blocks[0].delay_rec[0, 0] = -1.0
    net.clip_()
    assert float(net.blocks[0].delay_rec.detach().max()) == 4.0
    assert float(net.blocks[0].delay_rec.detach().min()) == 0.0


def test_checkpoint_round_trips_a_recurrent_model(tmp_path):
    cfg = Config(model=ModelConfig(hidden=[6], neuron="ALIF", max_delay=4, recurrent=True))
    net = SpikingNet(5, 2, cfg.model, seed=1)
    net.start_qat()
    save_checkpoint(tmp_path / "c.pt", net, cfg)
    loaded = load_checkpoint(tmp_path / "c.pt")
    keys = set(loaded.model.state_dict())
    assert {"blocks.0.weight_rec", "blocks.0.delay_rec"} <= keys
    assert "blocks.1.weight_rec" not in keys  # the read-out is never recurrent
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k
    assert loaded.model.quantized and loaded.config.model.recurrent


def test_network_mismatch_names_the_layer_type():
    rec = _recurrent_net("CUBA", "interp", seed=0)
    ff = SpikingNet(12, 3, ModelConfig(hidden=[10], neuron="CUBA", max_delay=5), seed=0)
    for net in (rec, ff):
        with torch.no_grad():
            net.blocks[0].weight.mul_(3.0)
        net.start_qat()
    assert network_mismatch(rec, rec.to_network()) is None
    assert network_mismatch(ff, ff.to_network()) is None
    assert "dense layer, the checkpoint's is dense_rec" in network_mismatch(rec, ff.to_network())
    assert "dense_rec layer, the checkpoint's is dense" in network_mismatch(ff, rec.to_network())


def test_config_recurrent_checks_presets_and_memory():
    with pytest.raises(ConfigError, match=r"model\.recurrent: must be true or false"):
        Config.from_dict({"model": {"recurrent": "yes"}})
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"model": {"recurrent": True, "max_delay": 63}})
    assert "model.max_delay" in str(info.value) and "\n" not in str(info.value)
    for name in ("demo-rec", "shd-rec"):
        cfg = preset(name)
        assert cfg.model.recurrent and cfg.model.neuron in ("CUBA", "ALIF", "ADLIF")
        assert "model.recurrent" in memory_parts(cfg)
    shd = preset("shd-rec").model
    assert (shd.hidden, shd.neuron, shd.delays, shd.max_delay) == ([512], "CUBA", "interp", 62)
    assert shd.readout_delays
    assert "model.recurrent" not in memory_parts(preset("demo"))
    assert model_difference(preset("demo-rec"), preset("demo-rec")) is None


TINY_REC = """
[model]
hidden = [10]
neuron = "CUBA"
delays = "interp"
max_delay = 5
delay_init = "uniform"
dropout = 0.0
recurrent = {recurrent}

[train]
epochs = 2
qat_epochs = 1
batch_size = 24
verify_samples = 16

[data]
dataset = "tempo"
train_samples = 48
valid_samples = 16
test_samples = 16
"""


def test_cli_trains_exports_verifies_and_refuses_resume_as_feed_forward(tmp_path: Path):
    runner = CliRunner()
    config = tmp_path / "rec.toml"
    config.write_text(TINY_REC.format(recurrent="true"))
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--config", str(config), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["verify"]["mismatches"] == 0 and summary["verify"]["file_matches"]
    net = read_netx(out / "model.net")
    assert [b.synapse.layer_type for b in net.blocks] == ["dense_rec", "dense"]
    assert summary["verify"]["layers"][0]["spikes"] > 0
    # --resume with the feed-forward twin of the config: one line, exit 2
    feed_forward = tmp_path / "ff.toml"
    feed_forward.write_text(TINY_REC.format(recurrent="false"))
    again = runner.invoke(
        app, ["train", "--config", str(feed_forward), "--out", str(out), "--resume"]
    )
    assert again.exit_code == 2, again.output
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in again.output
    assert "holds a recurrent model, the config's [model] is feed-forward" in lines[0]
