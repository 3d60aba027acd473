"""The shipped example network reads, and examples/make_example.py regenerates it exactly."""

from __future__ import annotations

import runpy
import shutil

import numpy as np
from ranvier.convert import read_netx
from ranvier.hw_models.limits import loihi2_violations


def assert_same_ir(a, b):
    assert a.n_in == b.n_in
    assert a.layer_sizes == b.layer_sizes
    for x, y in zip(a.blocks, b.blocks, strict=True):
        np.testing.assert_array_equal(x.synapse.weight, y.synapse.weight)
        assert (x.synapse.weight_exp, x.synapse.num_weight_bits) == (
            y.synapse.weight_exp,
            y.synapse.num_weight_bits,
        )
        np.testing.assert_array_equal(x.synapse.delay, y.synapse.delay)
        for key in ("vth_mant", "i_decay", "v_decay", "bias_mant", "bias_exp"):
            np.testing.assert_array_equal(getattr(x.neurons, key), getattr(y.neurons, key))


def test_shipped_example_reads(example_net, example_input):
    net = read_netx(example_net)
    assert net.n_in == 140
    assert net.layer_sizes == [128, 128, 20]
    for block in net.blocks:
        assert block.synapse.delay is not None
        assert block.synapse.delay.shape == block.synapse.weight.shape
        assert 0 <= block.synapse.delay.min() and block.synapse.max_delay <= 25
        assert block.synapse.effective_weight.any()
    assert loihi2_violations(net) == []
    x = np.load(example_input)
    assert x.shape == (4, 140, 125)
    assert set(np.unique(x)) <= {0, 1}


def test_make_example_regenerates_identical_ir(tmp_path, example_net, example_input, capsys):
    script = tmp_path / "make_example.py"
    shutil.copy(example_net.parent / "make_example.py", script)
    runpy.run_path(str(script), run_name="__main__")  # writes next to the script
    assert "wrote" in capsys.readouterr().out
    assert_same_ir(read_netx(example_net), read_netx(tmp_path / "shd_like.net"))
    regenerated = np.load(tmp_path / "shd_like_input.npy")
    shipped = np.load(example_input)
    assert regenerated.dtype == shipped.dtype
    np.testing.assert_array_equal(regenerated, shipped)
