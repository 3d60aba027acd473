"""ranvier's conv synapse, input neurons and flatten against lava itself.

Two sweeps (lava reference environment, ``make equivalence``):

1. The convolution as lava's fixed_pt model computes it (``PyConvModelFixed.run_spk``:
   ``utils.conv`` of the binarised or graded input with the int32 kernel, then
   ``utils.signed_clamp(x, bits=24)``), lava's own functions called on random geometries
   (kernel 1..5, stride 1..3, padding 0..2, dilation 1..2, groups), unary and graded inputs,
   weights and payloads large enough to wrap: ``RANVIER_CONV_CASES`` cases (default 400).
2. Whole random networks (testing/random_netx.py ``random_conv_spec``: image input with or
   without CUBA input neurons, or sigma-delta networks (Delta input, graded payloads into
   conv and dense, Sigma read-outs); one to three convs, optionally flatten + dense) written as netx
   files and run by lava-dl's netx under lava-nc's fixed_pt models and by ranvier, every
   layer compared: ``RANVIER_CONV_NETS`` networks (default 16; each lava build costs seconds).

Zero differing entries is the only pass; a summary line per sweep is printed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models import simulate
from ranvier.hw_models.synapses.conv import ConvSynapse, conv_output_size
from ranvier.testing.random_netx import (
    CONV_REGIMES,
    random_conv_input,
    random_conv_spec,
    write_spec,
)

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: run `make equivalence`", allow_module_level=True)

N_CASES = int(os.environ.get("RANVIER_CONV_CASES", "400"))
N_NETS = int(os.environ.get("RANVIER_CONV_NETS", "16"))


def _random_geometry(rng: np.random.Generator):
    while True:
        w, h = int(rng.integers(1, 14)), int(rng.integers(1, 14))
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 4))
        c_out = groups * int(rng.integers(1, 4))
        k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))  # (kH, kW), file order
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        p = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        if (
            conv_output_size(h, k[0], s[0], p[0], d[0]) >= 1
            and conv_output_size(w, k[1], s[1], p[1], d[1]) >= 1
        ):
            return (w, h, c_in), c_out, k, s, p, d, groups


def test_conv_function_sweep():
    lava_backend.import_lava()
    from lava.proc.conv import utils

    rng = np.random.default_rng(2026)
    stats = {"cases": 0, "entries": 0, "nonzero": 0, "wrapped": 0, "graded": 0, "mismatches": 0}
    for _ in range(N_CASES):
        shape, c_out, k, s, p, d, groups = _random_geometry(rng)
        graded = bool(rng.random() < 0.5)
        big = bool(rng.random() < 0.3)
        limit = 256 if big else 40
        file_w = rng.integers(-limit, limit, size=(c_out, shape[2] // groups, *k))
        syn = ConvSynapse.from_file(file_w, shape, s, p, d, groups, message_bits=16 * graded)
        batch = int(rng.integers(1, 4))
        if graded:
            scale = 1 << int(rng.integers(4, 22)) if big else 100
            x = rng.integers(-scale, scale, size=(batch, *shape))
        else:
            x = (rng.random((batch, *shape)) < rng.random()).astype(np.int64)
        ours = syn.convolve(x.astype(np.float64))
        # what PyConvModelFixed.run_spk does with s_in, netx's kernel and lava's (W, H) pairs
        weight = syn.weight.astype(np.int32)
        for b in range(batch):
            s_in = x[b].astype(np.int32) if graded else x[b].astype(bool)
            raw = utils.conv(
                s_in,
                weight,
                np.array(syn.kernel),
                np.array(syn.stride),
                np.array(syn.padding),
                np.array(syn.dilation),
                syn.groups,
            )
            theirs = utils.signed_clamp(raw, bits=24)
            assert theirs.shape == ours[b].shape
            diff = int(np.count_nonzero(theirs != ours[b]))
            stats["mismatches"] += diff
            stats["entries"] += theirs.size
            stats["nonzero"] += int(np.count_nonzero(theirs))
            stats["wrapped"] += int(np.count_nonzero(theirs != raw))
        stats["cases"] += 1
        stats["graded"] += graded
    print(f"\nconv function sweep: {stats}")
    assert stats["mismatches"] == 0, stats
    assert stats["wrapped"] > 0  # the sweep reaches the 24-bit wrap


def test_random_conv_networks():
    rng = np.random.default_rng(7)
    stats = {
        "networks": 0,
        "layers": 0,
        "entries": 0,
        "nonzero": 0,
        "mismatches": 0,
        "graded_conv_layers": 0,
    }
    regimes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(N_NETS):
            regime = CONV_REGIMES[i % len(CONV_REGIMES)]
            family = "sdnn" if i % 3 == 2 else "cuba"  # graded payloads into conv and dense
            spec, shape, graded = random_conv_spec(1000 + i, regime, family)
            path = Path(tmp) / f"conv_{i}.net"
            write_spec(spec, path)
            network = read_netx(path)
            steps = int(rng.integers(6, 14))
            x = random_conv_input(rng, shape, graded, int(rng.integers(1, 3)), steps, regime)
            ours = simulate(network, x)
            theirs = lava_backend.run_lava(path, x)
            for mine, ref in zip(ours.layers, theirs, strict=True):
                assert mine.spikes.shape == ref.shape
                stats["mismatches"] += int(np.count_nonzero(mine.spikes != ref))
                stats["entries"] += ref.size
                stats["nonzero"] += int(np.count_nonzero(ref))
                stats["layers"] += 1
            stats["networks"] += 1
            regimes[f"{family}/{regime}"] = regimes.get(f"{family}/{regime}", 0) + 1
            for block in network.blocks:
                if block.synapse.layer_type == "conv" and block.synapse.message_bits:
                    stats["graded_conv_layers"] += 1
    print(f"\nrandom conv networks: {stats} regimes {regimes}")
    assert stats["mismatches"] == 0, stats
    assert stats["nonzero"] > 0
    assert stats["graded_conv_layers"] > 0
