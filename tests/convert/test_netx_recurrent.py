"""netx ``dense_rec`` (recurrent dense) layers: reading, writing, other exporters' layouts and
the notes on where lava-dl's own netx loader runs such a layer differently from the chip.

The round-trip contract is the one of test_netx_roundtrip.py: for a file F1,
``N1 = read(F1)``, ``write(N1) -> F2``, ``N2 = read(F2)``, ``write(N2) -> F3``, ``N3 = read(F3)``
gives networks that are ``same_as`` each other and spike identically, and F2 and F3 hold the
same weights and delays (a network read from a file writes its own file weights back). A
network whose synapses lost their file weights (built in code) is written with a searched
encoding, or refused with one line naming the layer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from ranvier.convert import netx_differences, read_netx, write_netx
from ranvier.hw_models import Block, Network, simulate
from ranvier.hw_models.synapses import DenseSynapse, RecurrentDenseSynapse
from ranvier.testing.random_netx import (
    LayerSpec,
    NetSpec,
    random_recurrent_case,
    random_spikes,
    write_spec,
)

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

FIELDS = ("weight", "weight_rec", "delay", "delay_rec", "bias")


def file_layers(path: Path) -> list[dict]:
    """The dense/dense_rec layers of a file, in order: ``type`` and the synapse fields."""
    out = []
    with h5py.File(path, "r") as f:
        group = f["layer"]
        for i in range(len(group)):
            g = group[str(i)]
            kind = g["type"][()]
            kind = (kind.reshape(-1)[0] if isinstance(kind, np.ndarray) else kind).decode()
            if kind == "input":
                continue
            out.append({"type": kind, **{k: g[k][()] for k in FIELDS if k in g}})
    return out


def assert_same_files(a: Path, b: Path) -> None:
    la, lb = file_layers(a), file_layers(b)
    assert [x["type"] for x in la] == [y["type"] for y in lb]
    for i, (x, y) in enumerate(zip(la, lb, strict=True)):
        assert x.keys() == y.keys(), f"layer {i}: {sorted(x)} vs {sorted(y)}"
        for key in x:
            if key != "type":
                np.testing.assert_array_equal(x[key], y[key], err_msg=f"layer {i} {key}")


def assert_same_spikes(a: Network, b: Network, x: np.ndarray) -> None:
    ra, rb = simulate(a, x), simulate(b, x)
    for la, lb in zip(ra.layers, rb.layers, strict=True):
        np.testing.assert_array_equal(la.spikes, lb.spikes, err_msg=la.name)
        np.testing.assert_array_equal(la.synaptic_events, lb.synaptic_events, err_msg=la.name)


def file_weight_parts(syn) -> list[np.ndarray | None]:
    parts = syn.parts if isinstance(syn, RecurrentDenseSynapse) else (syn,)
    return [p.file_weight for p in parts]


def without_file_weights(net: Network) -> Network:
    """The same network with no file weights on any synapse part (as if built in code)."""

    def strip(syn):
        if isinstance(syn, RecurrentDenseSynapse):
            return RecurrentDenseSynapse(strip(syn.forward), strip(syn.recurrent))
        return dataclasses.replace(syn, file_weight=None)

    blocks = [Block(strip(b.synapse), b.neurons, b.name) for b in net.blocks]
    return Network(net.n_in, blocks, dict(net.meta))


def roundtrip(spec: NetSpec, directory: Path, x: np.ndarray) -> tuple[Network, Network]:
    """The contract on ``spec``; returns (N1, N2)."""
    f1, f2, f3 = (directory / name for name in ("f1.net", "f2.net", "f3.net"))
    for f in (f1, f2, f3):
        f.unlink(missing_ok=True)
    write_spec(spec, f1)
    n1 = read_netx(f1)
    write_netx(n1, f2)
    n2 = read_netx(f2)
    write_netx(n2, f3)
    n3 = read_netx(f3)
    assert n1.same_as(n2) and n2.same_as(n1) and n2.same_as(n3)
    for b1, b2, b3 in zip(n1.blocks, n2.blocks, n3.blocks, strict=True):
        assert type(b1.synapse) is type(b2.synapse) is type(b3.synapse), b1.name
        for w1, w2, w3 in zip(*(file_weight_parts(b.synapse) for b in (b1, b2, b3)), strict=True):
            np.testing.assert_array_equal(w1, w2, err_msg=b1.name)
            np.testing.assert_array_equal(w2, w3, err_msg=b1.name)
    assert_same_files(f2, f3)
    # F2 holds F1's weights as they were and F1's delays as netx broadcasts them
    layers1, layers2 = file_layers(f1), file_layers(f2)
    for k, (l1, l2, block) in enumerate(zip(layers1, layers2, n1.blocks, strict=True)):
        recurrent = spec.layers[k].weight_rec is not None
        assert l1["type"] == l2["type"] == ("dense_rec" if recurrent else "dense")
        np.testing.assert_array_equal(l2["weight"], l1["weight"])
        parts = block.synapse.parts if recurrent else (block.synapse,)
        for key, part in zip(("delay", "delay_rec"), parts, strict=False):
            if part.delay is None:
                assert key not in l2, f"layer {k} {key}"
            else:
                np.testing.assert_array_equal(l2[key], part.delay, err_msg=f"layer {k} {key}")
        if recurrent:
            np.testing.assert_array_equal(l2["weight_rec"], l1["weight_rec"])
            assert isinstance(block.synapse, RecurrentDenseSynapse)
            assert block.synapse.recurrent.weight.shape == (block.neurons.n,) * 2
    assert_same_spikes(n1, n2, x)
    assert_same_spikes(n2, n3, x)
    return n1, n2


def test_the_recurrent_base_file_reads(recurrent_net):
    """Control for the ``rec_*`` bad-file cases: the file they are derived from is valid."""
    net = read_netx(recurrent_net)
    assert net.n_in == 6 and net.layer_sizes == [5, 4]
    rec, dense = net.blocks[0].synapse, net.blocks[1].synapse
    assert isinstance(rec, RecurrentDenseSynapse) and isinstance(dense, DenseSynapse)
    assert rec.recurrent.weight.shape == (5, 5) and rec.recurrent.delay.shape == (5, 5)
    assert rec.forward.delay.shape == (5, 6)
    # one netx mapping for [weight | weight_rec]: both parts share exponent and bit count
    assert rec.forward.weight_exp == rec.recurrent.weight_exp
    assert rec.forward.num_weight_bits == rec.recurrent.num_weight_bits
    with h5py.File(recurrent_net, "r") as f:
        np.testing.assert_array_equal(rec.recurrent.file_weight, f["layer/1/weight_rec"][()])
        np.testing.assert_array_equal(rec.recurrent.delay, f["layer/1/delay_rec"][()])


@pytest.mark.parametrize(
    ("delay", "delay_rec", "forward", "recurrent"),
    [
        # none, scalar
        (None, None, None, None),
        (2, 5, np.full((4, 3), 2), np.full((4, 4), 5)),
        # 1-D: per output neuron (a row each) when it has n values, else per input (a column);
        # a square recurrent synapse always takes n values per output, as netx checks first
        (
            [1, 2, 3, 4],
            [5, 6, 7, 8],
            np.repeat([[1], [2], [3], [4]], 3, 1),
            np.repeat([[5], [6], [7], [8]], 4, 1),
        ),
        ([7, 8, 9], None, np.repeat([[7, 8, 9]], 4, 0), None),
    ],
    ids=["none", "scalar", "per_output", "per_input"],
)
def test_delay_layouts_broadcast_as_netx(tmp_path, delay, delay_rec, forward, recurrent):
    """Both delay fields follow netx's dense broadcasting (3 inputs -> 4 neurons)."""
    rng = np.random.default_rng(5)
    spec = NetSpec(
        n_in=3,
        layers=[
            LayerSpec(
                weight=2 * rng.integers(-50, 50, size=(4, 3)),
                weight_rec=2 * rng.integers(-50, 50, size=(4, 4)),
                delay=None if delay is None else np.asarray(delay),
                delay_rec=None if delay_rec is None else np.asarray(delay_rec),
            )
        ],
    )
    write_spec(spec, tmp_path / "d.net")
    syn = read_netx(tmp_path / "d.net").blocks[0].synapse
    for part, want in ((syn.forward, forward), (syn.recurrent, recurrent)):
        if want is None:
            assert part.delay is None
        else:
            np.testing.assert_array_equal(part.delay, want)


# --- round trips ------------------------------------------------------------------------------

CASES = [
    ("CUBA", "normal", 1),
    ("CUBA", "bias", 2),
    ("CUBA", "saturate", 3),
    ("CUBA", "wrap", 4),
    ("ALIF", "normal", 5),
    ("ALIF", "bias", 6),
    ("ADLIF", "normal", 7),
    ("ADLIF", "saturate", 8),
]


@pytest.mark.parametrize(("neuron", "regime", "seed"), CASES, ids=[f"{n}-{r}" for n, r, _ in CASES])
def test_roundtrip_random_recurrent_networks(tmp_path, neuron, regime, seed):
    """random_recurrent_case -> write_spec -> read -> write -> read: the same network, the same
    file weights and delays, the same spikes (feed-forward and recurrent events included)."""
    spec, x = random_recurrent_case(np.random.default_rng(90_000 + seed), neuron, regime)
    n1, _ = roundtrip(spec, tmp_path, x)
    assert any(isinstance(b.synapse, RecurrentDenseSynapse) for b in n1.blocks)
    assert n1.blocks[0].neurons.neuron_type == neuron


#: (lo, hi) of netx file weights: SLAYER's 8-bit mixed range, one-signed, small (a negative
#: weight exponent), tiny, and mlGeNN's [-128, 127] (exponent -1)
WEIGHT_RANGES = ((-256, 254), (0, 255), (-256, 0), (-8, 8), (-1, 1), (0, 3), (-128, 127))
DELAY_LAYOUTS = ("none", "scalar", "per_output", "per_input", "per_synapse")


@st.composite
def weights(draw, shape: tuple[int, int]) -> np.ndarray:
    lo, hi = draw(st.sampled_from(WEIGHT_RANGES))
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(lo, hi)))


@st.composite
def delays(draw, shape: tuple[int, int]):
    """A netx delay field for a weight of ``shape``, in any of netx's layouts (or none)."""
    layout = draw(st.sampled_from(DELAY_LAYOUTS))
    values = st.integers(0, draw(st.sampled_from((0, 3, 62))))
    if layout == "none":
        return None
    if layout == "scalar":
        return draw(values)
    size = {"per_output": (shape[0],), "per_input": (shape[1],), "per_synapse": shape}[layout]
    return draw(hnp.arrays(np.int64, size, elements=values))


@st.composite
def recurrent_specs(draw) -> NetSpec:
    """One or two small layers, the first always dense_rec, CUBA neurons."""
    n_in = draw(st.integers(1, 6))
    spec = NetSpec(n_in=n_in, input_layer=draw(st.booleans()))
    width = n_in
    for k in range(draw(st.integers(1, 2))):
        n = draw(st.integers(1, 6))
        w = draw(weights((n, width)))
        recurrent = k == 0 or draw(st.booleans())
        w_rec = draw(weights((n, n))) if recurrent else None
        if not w.any() and (w_rec is None or not w_rec.any()):
            w[0, 0] = 2  # netx cannot scale an all-zero matrix (a bad-file case, not this one)
        spec.layers.append(
            LayerSpec(
                weight=w,
                weight_rec=w_rec,
                delay=draw(delays((n, width))),
                delay_rec=draw(delays((n, n))) if recurrent else None,
                i_decay=draw(st.sampled_from((0, 1024, 4096))),
                v_decay=draw(st.sampled_from((0, 256, 4096))),
                vth_mant=draw(st.sampled_from((1, 8, 40, 200))),
                bias=draw(st.sampled_from((None, np.arange(n) * 8 - 8))),
            )
        )
        width = n
    return spec


@SETTINGS
@given(spec=recurrent_specs(), seed=st.integers(0, 2**32 - 1))
def test_roundtrip_any_small_recurrent_network(tmp_path, spec, seed):
    """Any dense_rec layer (every weight range, delays none/scalar/per output/per input/per
    synapse on either part): write -> read -> write -> read is stable and simulates alike.
    Without file weights, the writer finds an encoding that behaves the same, or refuses
    in one line naming the layer."""
    rng = np.random.default_rng(seed)
    x = random_spikes(rng, spec.n_in, 30, float(rng.uniform(0.1, 0.6)), samples=2)
    n1, _ = roundtrip(spec, tmp_path, x)
    built = without_file_weights(n1)
    f4 = tmp_path / "f4.net"
    f4.unlink(missing_ok=True)
    try:
        write_netx(built, f4)
    except ValueError as exc:
        message = str(exc)
        refusals = ("no netx file encoding", "fractional synapse values", "every synapse weight")
        assert any(r in message for r in refusals) and "\n" not in message, message
        assert message.startswith("layer_"), message
        assert not f4.exists()
        return
    n4 = read_netx(f4)
    assert n4.same_as(n1)
    assert_same_spikes(n1, n4, x)


# --- other exporters' layouts -----------------------------------------------------------------


def mlgenn_file(path: Path, w_ff, w_rec, d_ff, d_rec, w_out, v_decay: int, vth: int) -> Path:
    """What genn-team/ml_genn_netx ``export`` writes for input -> recurrent LIF -> LI read-out
    (dtypes, empty datasets and string types as it creates them)."""
    n_in, n, n_out = w_ff.shape[1], w_ff.shape[0], w_out.shape[0]
    with h5py.File(path, "w") as f:
        g = f.create_group("/layer/0")
        g.create_dataset("shape", data=(n_in,), dtype="i8")
        g.create_dataset("type", data="input", dtype="S10")
        for i, (kind, shape) in enumerate((("dense_rec", n), ("dense", n_out)), start=1):
            g = f.create_group(f"/layer/{i}")
            g.create_dataset("shape", data=(shape,), dtype="i8")
            g.create_dataset("inFeatures", dtype="i4")
            g.create_dataset("outFeatures", dtype="i4")
            g.create_dataset("type", data=kind, dtype="S10")
            if kind == "dense_rec":
                g.create_dataset("weight", data=w_ff, dtype="f4")
                g.create_dataset("weight_rec", data=w_rec, dtype="f4")
                g.create_dataset("delay", data=d_ff, dtype="i4")
                g.create_dataset("delay_rec", data=d_rec, dtype="i4")
            else:
                g.create_dataset("weight", data=w_out, dtype="f4")
            ng = g.create_group("neuron")
            ng.create_dataset("gradedSpike", dtype="b1")
            ng.create_dataset("iDecay", data=4096, dtype="i4")
            ng.create_dataset("type", data="CUBA")
            ng.create_dataset("vDecay", data=v_decay, dtype="i4")
            ng.create_dataset("vThMant", data=vth if kind == "dense_rec" else 2**16, dtype="i4")
            ng.create_dataset("refDelay", data=0, dtype="i4")
    return path


def test_mlgenn_layout_reads_and_simulates(tmp_path):
    """Empty inFeatures/outFeatures, S10 layer types, a variable-length neuron type, an empty
    boolean gradedSpike, i4 scalars, f4 weights, i4 (n, n_in)/(n, n) delays, i8 shapes: read
    as the same network as the SLAYER layout of the same numbers, and run alike."""
    rng = np.random.default_rng(11)
    n_in, n, n_out = 7, 5, 3
    # mlGeNN quantises into [-128, 127] (netx maps that with weight exponent -1)
    w_ff = rng.integers(-40, 128, size=(n, n_in)).astype(np.float32)
    w_rec = rng.integers(-128, 100, size=(n, n)).astype(np.float32)
    w_out = rng.integers(-128, 128, size=(n_out, n)).astype(np.float32)
    d_ff = rng.integers(0, 6, size=(n, n_in))
    d_rec = rng.integers(0, 4, size=(n, n))
    path = mlgenn_file(tmp_path / "mlgenn.net", w_ff, w_rec, d_ff, d_rec, w_out, 300, 90)
    with h5py.File(path, "r") as f:  # the layout really is mlGeNN's
        assert f["layer/1/inFeatures"].shape is None
        assert h5py.check_string_dtype(f["layer/1/neuron/type"].dtype).length is None
        assert f["layer/1/neuron/gradedSpike"].shape is None
    net = read_netx(path)
    assert net.n_in == n_in and net.layer_sizes == [n, n_out]
    rec = net.blocks[0].synapse
    assert isinstance(rec, RecurrentDenseSynapse)
    assert isinstance(net.blocks[1].synapse, DenseSynapse)
    np.testing.assert_array_equal(rec.forward.delay, d_ff)
    np.testing.assert_array_equal(rec.recurrent.delay, d_rec)
    assert rec.forward.weight_exp == rec.recurrent.weight_exp == -1
    assert net.blocks[0].neurons.ref_delay == 0

    slayer = NetSpec(
        n_in=n_in,
        layers=[
            LayerSpec(
                weight=w_ff.astype(np.int64),
                weight_rec=w_rec.astype(np.int64),
                delay=d_ff,
                delay_rec=d_rec,
                i_decay=4096,
                v_decay=300,
                vth_mant=90,
                ref_delay=0,
            ),
            LayerSpec(
                weight=w_out.astype(np.int64),
                i_decay=4096,
                v_decay=300,
                vth_mant=2**16,
                ref_delay=0,
            ),
        ],
    )
    write_spec(slayer, tmp_path / "slayer.net")
    assert net.same_as(read_netx(tmp_path / "slayer.net"))

    x = random_spikes(rng, n_in, 40, 0.3, samples=2)
    result = simulate(net, x)
    assert result.layers[0].spike_counts.sum() > 0
    assert_same_spikes(net, read_netx(tmp_path / "slayer.net"), x)
    # written back (SLAYER's layout) it is still the same network
    write_netx(net, tmp_path / "back.net")
    assert read_netx(tmp_path / "back.net").same_as(net)
    # lava-dl's netx would build this layer differently: said once, for the recurrent layer
    (line,) = netx_differences(net)
    assert line.startswith("layer_0: ") and "fails to build" in line
    assert "weight exponent (-1)" in line


# --- where lava-dl's netx loader differs ------------------------------------------------------


def rec_network(
    directory: Path,
    *,
    n_in: int = 4,
    n: int = 4,
    delay=None,
    delay_rec=None,
    small: bool = False,
    seed: int = 0,
) -> Network:
    """One dense_rec layer (mixed-sign weights; ``small`` ones get weight exponent -5)."""
    rng = np.random.default_rng(seed)
    hi = 4 if small else 100
    w = 2 * rng.integers(-hi, hi, size=(n, n_in))
    w_rec = 2 * rng.integers(-hi, hi, size=(n, n))
    w[0, 0], w_rec[0, 0] = 2 * hi - 2, -2 * hi  # both signs, full range
    spec = NetSpec(
        n_in=n_in,
        layers=[LayerSpec(weight=w, weight_rec=w_rec, delay=delay, delay_rec=delay_rec)],
    )
    path = directory / f"rec_{seed}.net"
    write_spec(spec, path)
    return read_netx(path)


def only_line(net: Network) -> str:
    lines = netx_differences(net)
    assert len(lines) == 1, lines
    (line,) = lines
    assert "\n" not in line
    assert line.startswith("layer_0: lava-dl's netx loader (0.6.0) runs this dense_rec layer")
    assert line.endswith("(docs/file_format.md).")
    return line


def test_no_note_for_a_recurrent_layer_without_delays(tmp_path, small_net):
    assert netx_differences(rec_network(tmp_path)) == []
    # a non-zero weight exponent alone: netx builds Dense synapses with it, as the chip
    net = rec_network(tmp_path, small=True)
    assert net.blocks[0].synapse.forward.weight_exp != 0
    assert netx_differences(net) == []
    # all-zero recurrent delays arrive after one step in netx too
    assert netx_differences(rec_network(tmp_path, delay_rec=0)) == []
    assert netx_differences(read_netx(small_net)) == []  # dense layers: never a note


def test_note_delay_rec_only_is_ignored(tmp_path):
    d_rec = np.random.default_rng(1).integers(0, 5, size=(4, 4))
    line = only_line(rec_network(tmp_path, delay_rec=d_rec))
    assert "ignores delay_rec" in line
    assert "feed-forward delays" not in line and "weight exponent" not in line
    # even with a weight exponent: without a feed-forward delay netx keeps it
    line = only_line(rec_network(tmp_path, delay_rec=d_rec, small=True))
    assert "ignores delay_rec" in line and "weight exponent" not in line


def test_note_square_feed_forward_delays_replace_delay_rec(tmp_path):
    rng = np.random.default_rng(2)
    d, d_rec = rng.integers(0, 5, size=(4, 4)), rng.integers(5, 9, size=(4, 4))
    line = only_line(rec_network(tmp_path, delay=d, delay_rec=d_rec))
    assert "gives the recurrent synapse the feed-forward delays instead of delay_rec" in line
    assert "fails to build" not in line and "weight exponent" not in line
    line = only_line(rec_network(tmp_path, delay=d))
    assert "feed-forward delays (it has none)" in line
    # a missing delay_rec is delay 0: all-zero feed-forward delays change nothing
    assert netx_differences(rec_network(tmp_path, delay=np.zeros((4, 4), np.int64))) == []
    # the same delays on both parts: netx happens to run it as the chip does
    assert netx_differences(rec_network(tmp_path, delay=d, delay_rec=d)) == []


def test_note_feed_forward_delays_of_another_shape_fail_to_build(tmp_path):
    line = only_line(rec_network(tmp_path, n_in=3, delay=np.ones((4, 3), np.int64)))
    assert "shape (4, 3), and fails to build the layer" in line
    # netx broadcasts a scalar (or per-neuron) delay to the weight's shape first: the same
    line = only_line(rec_network(tmp_path, n_in=3, delay=2, delay_rec=2))
    assert "fails to build" in line


def test_note_weight_exponent_dropped_with_delays(tmp_path):
    d = np.random.default_rng(3).integers(0, 5, size=(4, 4))
    net = rec_network(tmp_path, delay=d, delay_rec=d, small=True)
    exp = net.blocks[0].synapse.forward.weight_exp
    assert exp < 0
    line = only_line(net)
    assert f"drops the weight exponent ({exp}) from both synapses" in line
    assert "feed-forward delays" not in line
    # several differences of one layer: one line, every reason
    line = only_line(rec_network(tmp_path, n_in=3, delay=1, small=True))
    assert "fails to build" in line and f"weight exponent ({exp})" in line


def test_one_note_per_recurrent_layer(tmp_path):
    rng = np.random.default_rng(4)
    spec = NetSpec(
        n_in=3,
        layers=[
            LayerSpec(
                weight=2 * rng.integers(-50, 50, size=(4, 3)),
                weight_rec=2 * rng.integers(-50, 50, size=(4, 4)),
                delay_rec=rng.integers(1, 4, size=(4, 4)),
            ),
            LayerSpec(weight=2 * rng.integers(-50, 50, size=(2, 4)), delay=1),
            LayerSpec(
                weight=2 * rng.integers(-50, 50, size=(3, 2)),
                weight_rec=2 * rng.integers(-50, 50, size=(3, 3)),
                delay=1,
            ),
        ],
    )
    write_spec(spec, tmp_path / "three.net")
    lines = netx_differences(read_netx(tmp_path / "three.net"))
    assert [line.split(":")[0] for line in lines] == ["layer_0", "layer_2"]
    assert "ignores delay_rec" in lines[0] and "fails to build" in lines[1]
