"""The conv synapse, the input port, flatten and netx's reset, against direct definitions.

The definitions here are naive loops written from lava's documented semantics (a conv layer
is PyTorch's ``conv2d`` of a (C, H, W) image with the file's kernel and (H, W) parameters,
lava-nc proc/conv/utils.py; the output wraps to 24 signed bits). lava itself judges these in
tests/equivalence/test_conv_lava.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.hw_models import simulate
from ranvier.hw_models.network import Block, Network
from ranvier.hw_models.neurons import CubaNeurons
from ranvier.hw_models.simulator import reset_steps
from ranvier.hw_models.synapses import ConvSynapse, DenseSynapse, Flattened, InputPort
from ranvier.hw_models.synapses.conv import conv_output_size, geometry_problem, signed_clamp


def naive_conv(x, file_weight, stride, padding, dilation, groups):
    """``x`` (W, H, C); file weight (C_out, C_in/g, kH, kW); pairs in (H, W) order."""
    w_in, h_in, _c_in = x.shape
    c_out, cg, kh, kw = file_weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    wo = conv_output_size(w_in, kw, sw, pw, dw)
    ho = conv_output_size(h_in, kh, sh, ph, dh)
    out = np.zeros((wo, ho, c_out), dtype=np.int64)
    per_group = c_out // groups
    for k in range(c_out):
        g = k // per_group
        for xo in range(wo):
            for yo in range(ho):
                total = 0
                for c in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            xi = xo * sw + j * dw - pw
                            yi = yo * sh + i * dh - ph
                            if 0 <= xi < w_in and 0 <= yi < h_in:
                                total += int(x[xi, yi, g * cg + c]) * int(file_weight[k, c, i, j])
                out[xo, yo, k] = total
    return out


def naive_fan_out(shape, file_weight, stride, padding, dilation, groups):
    w_in, h_in, _c_in = shape
    c_out, cg, kh, kw = file_weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    wo = conv_output_size(w_in, kw, sw, pw, dw)
    ho = conv_output_size(h_in, kh, sh, ph, dh)
    counts = np.zeros(shape, dtype=np.int64)
    per_group = c_out // groups
    for k in range(c_out):
        g = k // per_group
        for xo in range(wo):
            for yo in range(ho):
                for c in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            xi, yi = xo * sw + j * dw - pw, yo * sh + i * dh - ph
                            if 0 <= xi < w_in and 0 <= yi < h_in and file_weight[k, c, i, j]:
                                counts[xi, yi, g * cg + c] += 1
    return counts.reshape(-1)


@st.composite
def geometries(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    w = draw(st.integers(1, 9))
    h = draw(st.integers(1, 9))
    if conv_output_size(h, k[0], s[0], p[0], d[0]) < 1:
        h = d[0] * (k[0] - 1) + 1
    if conv_output_size(w, k[1], s[1], p[1], d[1]) < 1:
        w = d[1] * (k[1] - 1) + 1
    seed = draw(st.integers(0, 2**31))
    return (w, h, c_in), c_out, k, s, p, d, groups, seed


@settings(max_examples=60, deadline=None)
@given(geometries(), st.booleans())
def test_convolution_equals_the_definition(geometry, graded):
    shape, c_out, k, s, p, d, groups, seed = geometry
    rng = np.random.default_rng(seed)
    file_w = rng.integers(-256, 255, size=(c_out, shape[2] // groups, *k))
    syn = ConvSynapse.from_file(file_w, shape, s, p, d, groups, message_bits=16 * graded)
    if graded:
        x = rng.integers(-(1 << 16), 1 << 16, size=shape)
    else:
        x = (rng.random(shape) < 0.5).astype(np.int64)
    expected = signed_clamp(naive_conv(x, file_w, s, p, d, groups))
    assert syn.output_shape == expected.shape
    assert np.array_equal(syn.convolve(x[None].astype(np.float64))[0], expected)
    assert np.array_equal(syn.fan_out(), naive_fan_out(shape, file_w, s, p, d, groups))


def test_whole_sequence_input_has_one_step_latency_and_streams_in_chunks():
    rng = np.random.default_rng(0)
    shape = (6, 5, 2)
    file_w = rng.integers(-20, 20, size=(3, 2, 3, 3))
    syn = ConvSynapse.from_file(file_w, shape, (1, 2), (1, 0), (1, 1), 1)
    x = (rng.random((2, int(np.prod(shape)), 9)) < 0.4).astype(np.uint8)
    whole = syn.synaptic_input(x)
    assert not whole[0].any()
    for t in range(8):
        for n in range(2):
            direct = naive_conv(x[n, :, t].reshape(shape), file_w, (1, 2), (1, 0), (1, 1), 1)
            assert np.array_equal(whole[t + 1, n], direct.reshape(-1))
    stream = syn.input_stream(4)
    pieces = np.concatenate([stream(x[:, :, t : t + 4]) for t in range(0, 9, 4)])
    assert np.array_equal(pieces, whole)


@pytest.mark.parametrize(
    ("shape", "weight", "stride", "padding", "dilation", "groups", "words"),
    [
        ((4, 4, 2), (3, 2, 5, 5), (1, 1), (0, 0), (1, 1), 1, "larger than the padded"),
        ((8, 8, 3), (4, 1, 3, 3), (1, 1), (0, 0), (1, 1), 2, "must divide both"),
        ((8, 8, 2), (2, 2, 3, 3), (0, 1), (0, 0), (1, 1), 1, "stride"),
        ((8, 8, 2), (2, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1, "channels per group"),
    ],
)
def test_geometry_problems_are_named(shape, weight, stride, padding, dilation, groups, words):
    c_out, cg, kh, kw = weight
    problem = geometry_problem(shape, (c_out, kw, kh, cg), stride, padding, dilation, groups)
    assert problem is not None and words in problem


def test_flattened_dense_reads_netx_flatten_order():
    """A dense layer after netx's flatten weighs input (x, y, c) by its column c*H*W + y*W + x
    (``out.transpose([2, 1, 0]).flatten()``)."""
    shape = (3, 2, 4)
    n_in = int(np.prod(shape))
    rng = np.random.default_rng(1)
    weight = 2 * rng.integers(-60, 60, size=(5, n_in))
    inner = DenseSynapse.from_file_weights(weight)
    flat = Flattened(inner, shape)
    x = (rng.random((1, n_in, 4)) < 0.5).astype(np.uint8)  # (W, H, C) order
    chw = x.reshape(1, *shape, 4).transpose(0, 3, 2, 1, 4).reshape(1, n_in, 4)
    assert np.array_equal(flat.synaptic_input(x), inner.synaptic_input(chw))
    fan = flat.fan_out().reshape(shape)
    assert np.array_equal(fan.transpose(2, 1, 0).reshape(-1), inner.fan_out())


def test_input_port_passes_values_in_the_same_step():
    port = InputPort(3)
    x = np.array([[[5, -2], [0, 7], [-9, 1]]])
    assert np.array_equal(port.synaptic_input(x), x.transpose(2, 0, 1))
    assert not port.fan_out().any()


def test_reset_steps_follow_netx_offsets():
    # netx: layer k gets offset r + 1 + k, LIFReset resets when time_step % K == offset % K,
    # time_step = t + 1
    assert reset_steps((16, 3), 0, 0, 40) == [3, 19, 35]
    assert reset_steps((16, 3), 2, 0, 40) == [5, 21, 37]
    assert reset_steps((16, 3), 2, 20, 40) == [21, 37]
    assert reset_steps(None, 0, 0, 40) == []


def test_reset_restarts_input_neurons_from_zero():
    """With a reset every K steps, the input layer behaves as fresh neurons on each window."""
    neurons = CubaNeurons.create(4, vth_mant=30, i_decay=900, v_decay=300)
    net = Network(n_in=4, blocks=[Block(InputPort(4), neurons)])
    rng = np.random.default_rng(2)
    x = rng.integers(-5, 40, size=(2, 4, 24))
    k, r = 8, 5
    with_reset = simulate(net, x, reset=(k, r)).layers[0].spikes
    starts = [0, *reset_steps((k, r), 0, 0, 24), 24]
    for s0, s1 in itertools.pairwise(starts):
        alone = simulate(net, x[:, :, s0:s1]).layers[0].spikes
        assert np.array_equal(with_reset[:, :, s0:s1], alone)
    assert not np.array_equal(with_reset, simulate(net, x).layers[0].spikes)


def test_reset_is_the_same_in_chunks_of_any_length():
    """A reset falling inside a chunk, on its first step, or on a chunk boundary: the run in
    chunks equals the run in one piece, layer by layer (input neurons, conv, flatten, dense)."""
    from ranvier.convert import read_netx
    from ranvier.testing.random_netx import random_conv_input, random_conv_spec, write_spec

    changed = []
    for seed in range(6):
        spec, shape, graded = random_conv_spec(seed + 40)
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            write_spec(spec, Path(tmp) / "n.net")
            net = read_netx(Path(tmp) / "n.net")
        x = random_conv_input(np.random.default_rng(seed), shape, graded, 2, 37)
        whole = simulate(net, x, reset=(6, 2))
        for chunk in (1, 5, 6, 7):
            pieces = simulate(net, x, reset=(6, 2), chunk=chunk)
            for a, b in zip(whole.layers, pieces.layers, strict=True):
                assert np.array_equal(a.spikes, b.spikes)
        plain = simulate(net, x)
        changed.append(
            any(
                not np.array_equal(a.spikes, b.spikes)
                for a, b in zip(whole.layers, plain.layers, strict=True)
            )
        )
    assert any(changed)  # the resets did something
