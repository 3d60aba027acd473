"""The loihi2 profile against Intel's measured PilotNet runs (lava-dl's benchmark notebooks).

The constants shipped in ``hw_models/energy.py`` must be what ``fit_loihi2`` gives on the shipped
network and frame (so they cannot drift from their derivation), the calibrated profile must
reproduce the LIF run's frame rate and energy per inference, and the estimate the SDNN run's
cores; its error on the SDNN power is stated in docs/energy.md (bench/loihi2_calibration.py).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.hw_models.calibration import (
    PILOTNET_LIF,
    PILOTNET_SDNN,
    LayerOps,
    fit_loihi2,
    ops_per_inference,
    predict,
)
from ranvier.hw_models.energy import (
    LOIHI2,
    LOIHI2_DYNAMIC_SCALE,
    LOIHI2_TIME_SCALE,
    energy_breakdown,
)
from ranvier.hw_models.resources import estimate_resources
from ranvier.hw_models.simulator import simulate

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "equivalence" / "data"


@pytest.fixture(scope="module")
def lif():
    return read_netx(DATA / PILOTNET_LIF.network_file)


@pytest.fixture(scope="module")
def lif_ops(lif):
    image = np.load(DATA / "intel_pilotnet_lif_image.npy").reshape(-1).astype(np.int64)
    return ops_per_inference(
        lif, lambda k: np.repeat(image[:, None], 16 * k, axis=1), (2, 3), 16, (16, 3)
    )


def test_shipped_constants_are_the_fit(lif_ops):
    fit = fit_loihi2(lif_ops, PILOTNET_LIF)
    assert math.isclose(fit.dynamic_scale, LOIHI2_DYNAMIC_SCALE, rel_tol=1e-3)
    assert math.isclose(fit.time_scale, LOIHI2_TIME_SCALE, rel_tol=1e-3)
    assert fit.static_chip_w == LOIHI2.static_chip_w == PILOTNET_LIF.static_power_w


def test_lif_run_reproduced_within_ten_percent(lif_ops):
    p = predict(LOIHI2, lif_ops, PILOTNET_LIF.steps_per_inference)
    assert p.cores == PILOTNET_LIF.cores and p.chips == 1
    for ours, measured in (
        (p.fps, PILOTNET_LIF.fps),
        (p.energy_per_inference_j, PILOTNET_LIF.energy_per_inference_j),
        (p.dynamic_energy_per_inference_j, PILOTNET_LIF.dynamic_energy_per_inference_j),
        (p.total_power_w, PILOTNET_LIF.total_power_w),
        (p.static_power_w, PILOTNET_LIF.static_power_w),
    ):
        assert abs(ours - measured) / measured < 0.10


def test_energy_breakdown_agrees_with_the_prediction(lif, lif_ops):
    """The report's energy of one more 16-step frame is the predicted energy per inference."""
    image = np.load(DATA / "intel_pilotnet_lif_image.npy").reshape(-1).astype(np.int64)
    totals = []
    for k in (2, 3):
        x = np.repeat(image[:, None], 16 * k, axis=1)
        totals.append(energy_breakdown(lif, simulate(lif, x, reset=(16, 3)), LOIHI2).total_j)
    p = predict(LOIHI2, lif_ops, 16)
    # the step time of a whole run averages its first frame in: within 1 %
    assert math.isclose(totals[1] - totals[0], p.energy_per_inference_j, rel_tol=0.01)


def test_ops_per_inference_is_the_difference_of_two_runs():
    """One layer, constant drive: the counts of b - a extra inferences, per inference."""
    from ranvier.hw_models.network import Block, DenseSynapse, Network
    from ranvier.hw_models.neurons import CubaNeurons

    w = np.full((3, 2), 40)
    net = Network(
        2, [Block(DenseSynapse(w), CubaNeurons.create(3, vth_mant=10, i_decay=0, v_decay=0))]
    )
    ops = ops_per_inference(net, lambda k: np.ones((2, 4 * k), dtype=np.int64), (1, 3), 4)
    assert ops[0].neuron_updates == 3 * 4
    runs = [simulate(net, np.ones((2, 4 * k), dtype=np.int64)) for k in (1, 3)]
    spikes = [int(r.layers[0].spike_counts.sum()) for r in runs]
    assert ops[0].spikes == (spikes[1] - spikes[0]) / 2


def test_sdnn_cores_equal_and_static_error_stated():
    net = read_netx(DATA / PILOTNET_SDNN.network_file)
    assert estimate_resources(net, skip_layers=1).cores == PILOTNET_SDNN.cores == 61
    ops = [LayerOps(0, 0, 0, r.cores) for r in estimate_resources(net, skip_layers=1).layers]
    p = predict(LOIHI2, ops, 1, fps=PILOTNET_SDNN.fps)
    # the chip's static power, fitted on the LIF run, against the SDNN run's: -17.6 %
    err = (p.static_power_w - PILOTNET_SDNN.static_power_w) / PILOTNET_SDNN.static_power_w
    assert -0.18 < err < -0.17


def test_bench_runs_and_reports_equal_tables(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location(
        "loihi2_calibration", ROOT / "bench" / "loihi2_calibration.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["loihi2_calibration.py", "--seeds", "1", "--frames", "2"])
    assert module.main() == 0
    text = capsys.readouterr().out
    assert "74/74" in text and "61/61" in text and "408.91" in text
