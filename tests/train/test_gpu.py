"""Training on a CUDA GPU: the exactness checks of the CPU suite, run on the GPU.

Marked ``gpu`` and skipped where torch sees no CUDA device (CI and the development machines have
none; run ``pytest -m gpu tests/train/test_gpu.py`` on a machine with one). What must hold on
the GPU as on the CPU:

- the quantized forward (float64 holding integers) is bit-identical to the CPU's, for every
  neuron type, with and without delays, so a model trained on the GPU exports to the file the
  simulator runs spike for spike;
- the float forward and the gradients agree with the CPU's to float rounding;
- ``train_network(device="cuda")`` trains, exports and verifies with zero mismatches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ranvier.train.config import ModelConfig
from ranvier.train.model import SpikingNet

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

CASES = [(neuron, delays) for neuron in ("CUBA", "ALIF", "ADLIF") for delays in ("none", "interp")]


def _pair(neuron: str, delays: str, seed: int = 0) -> tuple[SpikingNet, SpikingNet]:
    cfg = ModelConfig(hidden=[24, 16], neuron=neuron, delays=delays, max_delay=9, dropout=0.0)
    cpu = SpikingNet(20, 5, cfg, seed=seed)
    with torch.no_grad():
        for block in cpu.blocks[:-1]:
            block.weight.mul_(6.0)  # make the hidden layers spike
    gpu = SpikingNet(20, 5, cfg, seed=seed)
    gpu.load_state_dict(cpu.state_dict())
    return cpu.eval(), gpu.cuda().eval()


def _input(seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.random((8, 20, 60)) < 0.15).astype(np.float32))


@pytest.mark.parametrize(("neuron", "delays"), CASES)
def test_quantized_forward_is_bit_identical_on_cuda(neuron, delays):
    cpu, gpu = _pair(neuron, delays)
    cpu.start_qat()
    gpu.start_qat()
    x = _input()
    with torch.no_grad():
        logits_c, spikes_c, mem_c = cpu(x)
        logits_g, spikes_g, mem_g = gpu(x.cuda())
    assert sum(int(s.sum()) for s in spikes_c) > 0
    for a, b in zip(spikes_c, spikes_g, strict=True):
        assert torch.equal(a, b.cpu())
    assert torch.equal(mem_c, mem_g.cpu()) and torch.equal(logits_c, logits_g.cpu())


@pytest.mark.parametrize(("neuron", "delays"), CASES)
def test_float_forward_and_gradients_agree_on_cuda(neuron, delays):
    cpu, gpu = _pair(neuron, delays)
    cpu.train()
    gpu.train()
    x = _input(1)
    y = torch.arange(8) % 5
    losses = []
    for net, xx, yy in ((cpu, x, y), (gpu, x.cuda(), y.cuda())):
        logits, _, _ = net(xx, quantized=False)
        loss = torch.nn.functional.cross_entropy(logits, yy)
        loss.backward()
        losses.append(loss.detach().cpu())
    assert torch.allclose(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    for (name, p_c), p_g in zip(cpu.named_parameters(), gpu.parameters(), strict=True):
        if p_c.grad is None:
            continue
        assert torch.allclose(p_c.grad, p_g.grad.cpu(), rtol=1e-4, atol=1e-6), name


def test_train_export_verify_on_cuda(tmp_path):
    import ranvier

    config = {
        "model": {"hidden": [12], "neuron": "ADLIF", "max_delay": 6, "dropout": 0.0},
        "train": {"epochs": 1, "qat_epochs": 1, "batch_size": 32, "verify_samples": 24},
        "data": {"dataset": "tempo", "train_samples": 48, "valid_samples": 24, "test_samples": 24},
    }
    summary = ranvier.train_network(config, tmp_path / "run", device="cuda")
    assert summary["verify"]["mismatches"] == 0
    result = ranvier.verify(tmp_path / "run" / "best.pt", samples=16)
    assert result.mismatches == 0
