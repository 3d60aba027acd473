"""ranvier.train.data: the tempo task (determinism, shapes, count controls, an ideal observer),
SHD/SSC binning on small files in the Zenke-lab layout, and the missing-file/key errors."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ranvier.train import data
from ranvier.train.data import (
    DatasetFormatError,
    DatasetMissingError,
    SpikeDataset,
    bin_spikes,
    load_dataset,
    load_shd,
    load_ssc,
    temporal_task,
)

# --- helpers ----------------------------------------------------------------------------------


def logistic_regression(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, n_classes: int, steps: int = 300
) -> np.ndarray:
    """Multinomial logistic regression (standardised features, full-batch gradient descent,
    small L2); returns the predicted test labels."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mu) / sd, (x_test - mu) / sd
    w = np.zeros((a.shape[1], n_classes))
    bias = np.zeros(n_classes)
    onehot = np.eye(n_classes)[y_train]
    for _ in range(steps):
        z = a @ w + bias
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) / len(a)
        w -= 0.5 * (a.T @ g + 1e-3 * w)
        bias -= 0.5 * g.sum(0)
    return np.argmax(b @ w + bias, 1)


def window_counts(x: np.ndarray, window: int) -> np.ndarray:
    """Spike counts per channel in consecutive windows of ``window`` steps, flattened."""
    n, c, t = x.shape
    k = t // window
    return x[:, :, : k * window].reshape(n, c, k, window).sum(3).reshape(n, -1).astype(float)


def write_hsd(path, times, units, labels, *, drop=()) -> None:
    """An HDF5 file in the Zenke-lab layout (vlen spikes/times and spikes/units, labels)."""
    with h5py.File(path, "w") as f:
        if "spikes/times" not in drop:
            ds = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype("f4"))
            for i, t in enumerate(times):
                ds[i] = np.asarray(t, dtype="f4")
        if "spikes/units" not in drop:
            ds = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype("u2"))
            for i, u in enumerate(units):
                ds[i] = np.asarray(u, dtype="u2")
        if "labels" not in drop:
            f.create_dataset("labels", data=np.asarray(labels, dtype="u1"))


@pytest.fixture(scope="module")
def tempo_pair():
    return temporal_task(2000, seed=11), temporal_task(1000, seed=12)


# --- tempo: determinism, shapes, splits, batches ----------------------------------------------


def test_tempo_is_deterministic_per_seed():
    a, b, c = (temporal_task(300, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)
    assert not np.array_equal(a.y, c.y)


def test_load_dataset_splits_use_distinct_seeds():
    tr, va, te = (
        load_dataset("tempo", split=s, n_samples=200, seed=0) for s in ("train", "valid", "test")
    )
    assert not np.array_equal(tr.x, va.x) and not np.array_equal(va.x, te.x)
    again = load_dataset("tempo", split="valid", n_samples=200, seed=0)
    np.testing.assert_array_equal(va.x, again.x)
    other_seed = load_dataset("tempo", split="valid", n_samples=200, seed=1)
    assert not np.array_equal(va.x, other_seed.x)
    assert len(load_dataset("tempo", split="test")) == data.TASK_SPLIT_SIZES["test"]
    assert len(load_dataset("tempo", split="train", n_samples=50, limit=20)) == 20


@pytest.mark.parametrize("pad", [0, 7])
def test_tempo_shapes_dtypes_padding(pad):
    ds = temporal_task(64, seed=1, pad=pad)
    assert ds.x.shape == (64, data.TEMPO_CHANNELS, data.TEMPO_STEPS + pad)
    assert ds.x.dtype == np.uint8 and ds.y.dtype == np.int64
    assert set(np.unique(ds.x)) <= {0, 1}
    assert ds.n_classes == 8 and ds.name == "tempo"
    assert ds.y.min() >= 0 and ds.y.max() < ds.n_classes
    assert not ds.x[:, :, data.TEMPO_STEPS :].any()
    assert (ds.channels, ds.steps) == (data.TEMPO_CHANNELS, data.TEMPO_STEPS + pad)


def test_tempo_options_and_limits():
    ds = temporal_task(10, seed=0, channels=40, steps=90)
    assert ds.x.shape == (10, 40, 90)
    with pytest.raises(ValueError, match="steps"):
        temporal_task(10, seed=0, steps=data.TEMPO_MIN_STEPS - 1)
    with pytest.raises(ValueError, match="channels"):
        temporal_task(10, seed=0, channels=7)
    assert temporal_task(0, seed=0).x.shape == (0, data.TEMPO_CHANNELS, data.TEMPO_STEPS)


def test_split_is_deterministic_stratified_and_disjoint():
    ds = temporal_task(400, seed=2)
    first, rest = ds.split(0.75, seed=3)
    first2, _ = ds.split(0.75, seed=3)
    np.testing.assert_array_equal(first.x, first2.x)
    assert len(first) + len(rest) == len(ds)
    counts = np.bincount(ds.y, minlength=8)
    np.testing.assert_array_equal(
        np.bincount(first.y, minlength=8), np.round(0.75 * counts).astype(int)
    )
    keys = {row.tobytes() for row in ds.x.reshape(len(ds), -1)}
    assert len(keys) == len(ds)  # samples are distinct, so membership below is meaningful
    first_keys = {row.tobytes() for row in first.x.reshape(len(first), -1)}
    rest_keys = {row.tobytes() for row in rest.x.reshape(len(rest), -1)}
    assert not first_keys & rest_keys and first_keys | rest_keys == keys
    other, _ = ds.split(0.75, seed=4)
    assert not np.array_equal(first.x, other.x)
    assert len(ds.split(0.0)[0]) == 0 and len(ds.split(1.0)[1]) == 0


def test_batches():
    ds = temporal_task(50, seed=0)
    sizes = [len(y) for _, y in ds.batches(16)]
    assert sizes == [16, 16, 16, 2]
    assert [len(y) for _, y in ds.batches(16, drop_last=True)] == [16, 16, 16]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in ds.batches(16)]), ds.x)
    rng = np.random.default_rng(0)
    first = np.concatenate([y for _, y in ds.batches(16, shuffle=True, rng=rng)])
    second = np.concatenate([y for _, y in ds.batches(16, shuffle=True, rng=rng)])
    assert sorted(first) == sorted(ds.y) and not np.array_equal(first, second)
    same = np.concatenate([y for _, y in ds.batches(16, shuffle=True, rng=7)])
    np.testing.assert_array_equal(same, np.concatenate([y for _, y in ds.batches(16, True, 7)]))
    with pytest.raises(ValueError, match="rng"):
        next(ds.batches(16, shuffle=True))


def test_spike_dataset_validates():
    with pytest.raises(ValueError, match="uint8"):
        SpikeDataset(np.zeros((2, 3, 4), np.float32), np.zeros(2, np.int64), 2, "bad")
    with pytest.raises(ValueError, match="int64"):
        SpikeDataset(np.zeros((2, 3, 4), np.uint8), np.zeros(3, np.int64), 2, "bad")
    with pytest.raises(ValueError, match="labels"):
        SpikeDataset(np.zeros((2, 3, 4), np.uint8), np.array([0, 5]), 2, "bad")


# --- tempo: what carries the class ------------------------------------------------------------


def test_tempo_channel_counts_carry_no_class(tempo_pair):
    """Rate-coding control: per-channel spike counts give chance-level accuracy."""
    train, test = tempo_pair
    pred = logistic_regression(
        train.x.sum(2).astype(float), train.y, test.x.sum(2).astype(float), 8
    )
    acc = float((pred == test.y).mean())
    assert acc < 1 / 8 + 0.15, acc


def test_tempo_linear_readout_of_time_bins_cannot_pass_the_cue_xor(tempo_pair):
    """Counts in 10-step windows carry some timing (above chance), but any linear read-out is
    additive over events, so it cannot combine the early cue with the order of the pattern
    (an XOR): it stays below the 50 % that a cue-blind observer can reach."""
    train, test = tempo_pair
    pred = logistic_regression(window_counts(train.x, 10), train.y, window_counts(test.x, 10), 8)
    acc = float((pred == test.y).mean())
    assert 1 / 8 + 0.04 < acc < 0.5, acc


def ideal_observer(ds: SpikeDataset) -> np.ndarray:
    """Decode tempo from the raster the way the task is defined: the cue group active early,
    then the times of the A, B, C events and their order and intervals."""
    width = ds.channels // len(data.TEMPO_SYMBOLS)
    groups = ds.x[:, : 8 * width].reshape(len(ds), 8, width, ds.steps).sum(2).astype(float)
    early = data.TEMPO_CUE[1] + data.TEMPO_JITTER + data.TEMPO_CUE_LEN
    cue_y = groups[:, 4, :early].sum(1) > groups[:, 3, :early].sum(1)
    start = data.TEMPO_CUE[0] + data.TEMPO_GAP[0] - data.TEMPO_JITTER
    t_abc = groups[:, :3, start:].argmax(2) + start  # (N, 3): time of A, B, C
    forward = t_abc[:, 0] < t_abc[:, 2]
    first = np.where(forward, t_abc[:, 0], t_abc[:, 2])
    last = np.where(forward, t_abc[:, 2], t_abc[:, 0])
    mid = (data.TEMPO_SHORT + data.TEMPO_LONG) / 2
    d1_long = (t_abc[:, 1] - first) > mid
    d2_long = (last - t_abc[:, 1]) > mid
    pattern = d1_long * 4 + d2_long * 2 + ~forward
    return (pattern ^ cue_y).astype(np.int64)


def test_tempo_ideal_observer_decodes_timing_and_cue(tempo_pair):
    """The label is what docs/datasets.md says it is: an observer that reads the cue and the
    event intervals is nearly always right (the errors are distractors and missed events)."""
    _, test = tempo_pair
    acc = float((ideal_observer(test) == test.y).mean())
    assert acc > 0.85, acc


def test_tempo_events_match_the_pattern_table():
    y, symbol, time, active = data.tempo_events(500, np.random.default_rng(0))
    c = data.TEMPO_CUE_LEN  # the cue burst fills the first c slots, then A/B/C events
    assert np.isin(symbol[:, 0], (3, 4)).all()
    assert (symbol[:, :c] == symbol[:, :1]).all()
    assert (np.diff(time[:, :c], axis=1) == 1).all()
    pattern = y ^ (symbol[:, 0] == 4)
    for n in range(500):
        order, d1, d2 = data.TEMPO_PATTERNS[pattern[n]]
        assert tuple(symbol[n, c : c + 3]) == order
        gaps = np.diff(time[n, c : c + 3])
        assert abs(gaps[0] - d1) <= 2 * data.TEMPO_JITTER
        assert abs(gaps[1] - d2) <= 2 * data.TEMPO_JITTER
        gap = time[n, c] - time[n, 0]
        assert data.TEMPO_GAP[0] - 2 <= gap <= data.TEMPO_GAP[1] + 2
    assert active[:, : c + 3].all()
    assert time[:, : c + 3].min() >= 0 and time[:, : c + 3].max() < data.TEMPO_MIN_STEPS - 3
    assert time[active].max() < data.TEMPO_STEPS
    # patterns 2k and 2k+1 share their intervals and differ in order only
    for k in range(0, data.TEMPO_CLASSES, 2):
        (o1, *d_a), (o2, *d_b) = data.TEMPO_PATTERNS[k], data.TEMPO_PATTERNS[k + 1]
        assert d_a == d_b and o1 == o2[::-1]


# --- SHD / SSC --------------------------------------------------------------------------------


def test_shd_binning_pooling_edges_padding_labels(tmp_path):
    times = [
        [0.0, 0.0099, 0.01, 0.03, 0.995, 1.0, 1.5, 0.5],
        [0.02, 0.02, 0.021],
        [],
    ]
    units = [
        [0, 4, 5, 699, 10, 3, 3, 344],
        [7, 8, 9],
        [],
    ]
    write_hsd(tmp_path / "shd_train.h5", times, units, [3, 19, 0])
    ds = load_shd(tmp_path, "train", pad=5)
    assert ds.x.shape == (3, 140, 105) and ds.x.dtype == np.uint8
    assert ds.y.tolist() == [3, 19, 0] and ds.y.dtype == np.int64
    assert ds.n_classes == 20 and ds.name == "shd-train"
    x0 = ds.x[0]
    expected = {(0, 0), (0, 0), (1, 1), (139, 3), (2, 99), (68, 50)}  # (channel, step)
    assert {tuple(p) for p in np.argwhere(x0)} == expected
    # units 7, 8, 9 pool into channel 1; three events in bin 2 clip to one spike
    assert {tuple(p) for p in np.argwhere(ds.x[1])} == {(1, 2)}
    assert not ds.x[2].any()
    assert not ds.x[:, :, 100:].any()
    counts = load_shd(tmp_path, "train", binary=False)
    assert counts.x[1, 1, 2] == 3 and counts.x[0, 0, 0] == 2
    assert counts.x.shape == (3, 140, 100)


def test_shd_options_limit_and_channels(tmp_path):
    write_hsd(tmp_path / "shd_test.h5", [[0.0151], [0.5], [0.7]], [[699], [1], [2]], [1, 2, 3])
    ds = load_shd(tmp_path, "test", channels=700, bin_ms=5.0, steps=10, limit=2)
    assert ds.x.shape == (2, 700, 10)
    assert ds.x[0, 699, 3] == 1 and ds.x[0].sum() == 1
    assert not ds.x[1].any()  # 0.5 s is past 10 bins of 5 ms
    assert ds.y.tolist() == [1, 2]
    via = load_dataset("shd", tmp_path, "test", channels=700, bin_ms=5.0, steps=10, limit=2)
    np.testing.assert_array_equal(via.x, ds.x)


def test_ssc_splits(tmp_path):
    write_hsd(tmp_path / "ssc_valid.h5", [[0.001]], [[5]], [34])
    ds = load_ssc(tmp_path, "valid")
    assert ds.n_classes == 35 and ds.y.tolist() == [34] and ds.x[0, 1, 0] == 1
    with pytest.raises(ValueError, match="validation split"):
        load_shd(tmp_path, "valid")
    with pytest.raises(ValueError, match="unknown split"):
        load_ssc(tmp_path, "dev")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 1_200_000), st.integers(0, 699)), max_size=40),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([1, 7, 140, 700]),
    st.sampled_from([1.0, 4.0, 10.0]),
    st.integers(1, 120),
    st.integers(0, 3),
)
def test_binning_counts_every_event_in_the_window(samples, channels, bin_ms, steps, pad):
    """Unclipped, the binned total per sample and per channel equals the events that fall in
    the window (times in whole microseconds, so the window edge is exact)."""
    times = [np.array([t for t, _ in s], dtype=np.float64) / 1e6 for s in samples]
    units = [np.array([u for _, u in s], dtype=np.int64) for s in samples]
    x = bin_spikes(
        times, units, channels=channels, bin_ms=bin_ms, steps=steps, pad=pad, binary=False
    )
    assert x.shape == (len(samples), channels, steps + pad)
    window_us = steps * bin_ms * 1000
    for n, s in enumerate(samples):
        inside = [(t, u) for t, u in s if t < window_us]
        per_channel = np.bincount(
            [u * channels // 700 for _, u in inside], minlength=channels
        ).astype(int)
        np.testing.assert_array_equal(x[n].sum(1, dtype=int), per_channel)
        assert not x[n, :, steps:].any()
    binary = bin_spikes(times, units, channels=channels, bin_ms=bin_ms, steps=steps, pad=pad)
    np.testing.assert_array_equal(binary, np.minimum(x, 1))


# --- errors -----------------------------------------------------------------------------------


def test_missing_file_names_path_and_source(tmp_path):
    with pytest.raises(DatasetMissingError) as info:
        load_shd(tmp_path, "train")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "shd_train.h5") in msg
    assert "https://zenkelab.org/datasets/" in msg and "shd_train.h5.gz" in msg
    assert "gunzip" in msg and "\n" not in msg
    with pytest.raises(DatasetMissingError, match=r"ssc_test\.h5"):
        load_dataset("ssc", tmp_path, "test")


def test_gz_only_is_not_decompressed(tmp_path):
    gz = tmp_path / "shd_test.h5.gz"
    gz.write_bytes(b"not really gzip")
    with pytest.raises(DatasetMissingError) as info:
        load_shd(tmp_path, "test")
    msg = str(info.value)
    assert str(gz) in msg and "gunzip -k" in msg and "\n" not in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shd_test.h5.gz"]


@pytest.mark.parametrize("key", ["spikes/times", "spikes/units", "labels"])
def test_missing_key_names_file_and_key(tmp_path, key):
    path = tmp_path / "shd_train.h5"
    write_hsd(path, [[0.1]], [[1]], [0], drop=(key,))
    with pytest.raises(DatasetFormatError) as info:
        load_shd(tmp_path, "train")
    assert str(path) in str(info.value) and f"'{key}'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_files_are_format_errors(tmp_path):
    (tmp_path / "shd_train.h5").write_bytes(b"plain text, not HDF5")
    with pytest.raises(DatasetFormatError, match="HDF5"):
        load_shd(tmp_path, "train")
    write_hsd(tmp_path / "shd_test.h5", [[0.1]], [[700]], [0])
    with pytest.raises(DatasetFormatError, match="unit index"):
        load_shd(tmp_path, "test")
    write_hsd(tmp_path / "ssc_train.h5", [[0.1]], [[1]], [35])
    with pytest.raises(DatasetFormatError, match="labels"):
        load_ssc(tmp_path, "train")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="tempo"):
        load_dataset("mnist")


def test_data_layer_does_not_import_torch():
    code = "import sys, ranvier.train.data; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
