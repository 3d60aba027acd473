"""The lava parameter mapping (deploy/lava/neurons.py) and the netx patch's reading of a
neuron group (deploy/lava/netx_patch.py): numbers only, no lava needed."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
from ranvier.deploy.lava import LAVA_NEURONS, lava_kwargs, lava_neuron
from ranvier.deploy.lava.netx_patch import neuron_group, process_kwargs
from ranvier.hw_models.neurons import (
    NEURON_TYPES,
    AdlifNeurons,
    AlifNeurons,
    CubaNeurons,
)


def _alif(**overrides) -> AlifNeurons:
    params = dict(
        vth_mant=80,
        vth_step=20,
        i_decay=1024,
        v_decay=128,
        theta_decay=8,
        ref_decay=512,
        bias_mant=[1, 2, 3],
        bias_exp=6,
    )
    return AlifNeurons.create(3, **{**params, **overrides})


def test_every_neuron_type_has_a_lava_process():
    # netx builds SDNN and the resonate-and-fire types itself; netx_patch leaves them alone
    netx_native = {"SDNN", "RF_PHASE", "RF_IZHIKEVICH", "RF_IZ", "RF"}
    assert set(LAVA_NEURONS) == set(NEURON_TYPES) - netx_native
    assert {t: e.process for t, e in LAVA_NEURONS.items()} == {
        "CUBA": "LIF",
        "LOIHI": "LIF",
        "ALIF": "ATRLIF",
        "ADLIF": "AdLIFPlus",
    }
    with pytest.raises(KeyError, match="SDNN"):
        lava_neuron("SDNN")  # netx's own Sigma/Delta/SigmaDelta


def test_atrlif_mapping():
    """ATRLIF's decays are floats k/4096 (delta_i = (iDecay - 1)/4096: lava adds 1 back),
    theta_0/theta_step the threshold mantissas, the bias per neuron."""
    kw = lava_kwargs(_alif())
    assert kw["delta_i"] == 1023 / 4096 and kw["delta_v"] == 128 / 4096
    assert kw["delta_theta"] == 8 / 4096 and kw["delta_r"] == 512 / 4096
    assert all(type(kw[k]) is float for k in ("delta_i", "delta_v", "delta_theta", "delta_r"))
    assert kw["theta_0"] == 80 and type(kw["theta_0"]) is int
    assert kw["theta_step"] == 20 and type(kw["theta_step"]) is int
    assert kw["bias_mant"].tolist() == [1, 2, 3] and kw["bias_exp"] == 6
    assert set(kw) == {
        "delta_i",
        "delta_v",
        "delta_theta",
        "delta_r",
        "theta_0",
        "theta_step",
        "bias_mant",
        "bias_exp",
    }


def test_atrlif_mapping_per_neuron_values():
    """Per-neuron decays and thresholds go over as arrays (ATRLIF computes with them); a
    per-neuron vThStep is refused, naming the layer (ATRLIF's post_spike would crash)."""
    kw = lava_kwargs(_alif(vth_mant=[1, 2, 2], v_decay=[0, 4096, 10], bias_exp=[0, 1, 2]))
    assert kw["theta_0"].dtype == np.int64 and kw["theta_0"].tolist() == [1, 2, 2]
    assert kw["delta_v"].tolist() == [0.0, 1.0, 10 / 4096]
    assert kw["delta_i"] == 1023 / 4096
    assert kw["bias_exp"].tolist() == [0, 1, 2]
    with pytest.raises(
        ValueError,
        match=r"one vThStep per layer: layer 1 has 2 values \(layer/1/neuron/vThStep\)",
    ):
        lava_kwargs(_alif(vth_step=[1, 2, 2]), "layer/1/neuron")


def test_lif_mapping():
    """LIF: ``du = iDecay - 1`` (lava's ds_offset), Python ints when the layer shares a value."""
    kw = lava_kwargs(CubaNeurons.create(4, vth_mant=500, i_decay=4096, v_decay=0, bias_mant=-3))
    assert (kw["vth"], kw["du"], kw["dv"], kw["bias_exp"]) == (500, 4095, 0, 6)
    assert all(type(kw[k]) is int for k in ("vth", "du", "dv", "bias_exp"))
    assert kw["bias_mant"].tolist() == [-3] * 4
    kw = lava_kwargs(CubaNeurons.create(2, vth_mant=[5, 6], i_decay=1, v_decay=2))
    assert kw["vth"].tolist() == [5, 6] and kw["du"] == 0


def test_adlif_mapping():
    neurons = AdlifNeurons.create(
        2, vth_mant=[10, 1 << 17], u_decay=300, w_decay=4096, a_mant=0, b_mant=[7, 8]
    )
    kw = lava_kwargs(neurons)
    assert kw["vth_mant"].tolist() == [10, 1 << 17] and kw["u_decay"].tolist() == [300, 300]
    assert kw["w_decay"].tolist() == [4096, 4096] and kw["b_mant"].tolist() == [7, 8]
    assert kw["a_mant"].tolist() == [0, 0] and kw["bias_exp"] == 6
    kw["u_decay"][0] = 1  # a copy: the group is untouched
    assert neurons.u_decay[0] == 300


class _NetxNeuron:
    """What netx hands get_neuron_params: its NetDict, whose ``f`` is the h5py group."""

    def __init__(self, group: h5py.Group):
        self.f = group


@pytest.fixture
def neuron_file(tmp_path):
    with h5py.File(tmp_path / "n.net", "w") as f:
        yield f


def _group(f: h5py.File, **fields) -> _NetxNeuron:
    g = f.create_group("layer/1/neuron")
    for key, value in fields.items():
        g[key] = value
    return _NetxNeuron(g)


def test_netx_fields_are_read_through_the_schema(neuron_file):
    """ALIF: each FIELD by its netx name (refDelay may be absent), scalars broadcast to the
    longest field; the keywords are the mapping's, less the bias netx hands over itself."""
    cfg = _group(
        neuron_file,
        vThMant=np.array([80.0, 90.0]),  # float-typed datasets holding integers
        vThStep=20,
        iDecay=1024,
        vDecay=128,
        thDecay=8,
        refDecay=512,
    )
    group = neuron_group(cfg, "ALIF")
    assert isinstance(group, AlifNeurons) and group.n == 2
    assert group.vth_mant.tolist() == [80, 90] and group.ref_delay == 1
    kw = process_kwargs(cfg, "ALIF")
    assert "bias_mant" not in kw
    assert kw["theta_0"].tolist() == [80, 90] and kw["delta_i"] == 1023 / 4096
    assert kw["theta_step"] == 20 and kw["bias_exp"] == 6


def test_netx_field_errors_name_the_dataset(neuron_file):
    cfg = _group(neuron_file, vThMant=10, vThStep=0, iDecay=1, vDecay=1, thDecay=1)
    with pytest.raises(ValueError, match="layer/1/neuron/refDecay: missing"):
        neuron_group(cfg, "ALIF")
    del neuron_file["layer"]
    cfg = _group(neuron_file, vThMant=10, uDecay=5000, wDecay=0, aMant=0, bMant=0)
    with pytest.raises(
        ValueError, match=r"layer/1/neuron/uDecay: u_decay must be within 0\.\.4096"
    ):
        neuron_group(cfg, "ADLIF")
    del neuron_file["layer"]
    cfg = _group(neuron_file, vThMant=10.5, iDecay=1, vDecay=1)
    with pytest.raises(ValueError, match="layer/1/neuron/vThMant: must hold integers"):
        neuron_group(cfg, "CUBA")


def test_the_package_imports_without_lava():
    """Only run_lava and its helpers import lava, lazily."""
    code = (
        "import sys, ranvier.deploy.lava, ranvier.deploy.lava.netx_patch; "
        "print(any(m == 'lava' or m.startswith('lava.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
