"""load_spikes: dense .npy/.npz inputs, and every malformed input refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from ranvier.deploy import InputError, load_spikes


@pytest.fixture
def spikes_ct():
    rng = np.random.default_rng(3)
    return (rng.random((6, 12)) < 0.5).astype(np.uint8)


@pytest.fixture
def spikes_nct():
    rng = np.random.default_rng(4)
    return (rng.random((3, 6, 12)) < 0.5).astype(np.uint8)


def test_npy_single_sample(tmp_path, spikes_ct):
    np.save(tmp_path / "x.npy", spikes_ct)
    got = load_spikes(tmp_path / "x.npy", channels=6)
    assert got.shape == (6, 12)
    np.testing.assert_array_equal(got, spikes_ct)


def test_npy_batch(tmp_path, spikes_nct):
    np.save(tmp_path / "x.npy", spikes_nct)
    got = load_spikes(str(tmp_path / "x.npy"), channels=6)
    assert got.shape == (3, 6, 12)
    np.testing.assert_array_equal(got, spikes_nct)


def test_npz_prefers_the_spikes_key(tmp_path, spikes_nct):
    np.savez(tmp_path / "x.npz", labels=np.zeros((3, 6, 12)), spikes=spikes_nct)
    got = load_spikes(tmp_path / "x.npz", channels=6)
    np.testing.assert_array_equal(got, spikes_nct)


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_with_one_unnamed_array(tmp_path, spikes_ct, compressed):
    (np.savez_compressed if compressed else np.savez)(tmp_path / "x.npz", spikes_ct)
    got = load_spikes(tmp_path / "x.npz", channels=6)
    np.testing.assert_array_equal(got, spikes_ct)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, bool, np.int32, np.uint16])
def test_integer_valued_dtypes_are_accepted(tmp_path, spikes_ct, dtype):
    np.save(tmp_path / "x.npy", spikes_ct.astype(dtype))
    got = load_spikes(tmp_path / "x.npy", channels=6)
    assert got.dtype.kind in "iu"
    np.testing.assert_array_equal(got, spikes_ct)


def test_spike_counts_above_one_are_kept(tmp_path):
    x = np.zeros((6, 4), np.int64)
    x[1, 2] = 3
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_spikes(tmp_path / "x.npy", channels=6), x)


def test_channel_count_is_optional(tmp_path, spikes_nct):
    np.save(tmp_path / "x.npy", spikes_nct)
    assert load_spikes(tmp_path / "x.npy").shape == (3, 6, 12)


@pytest.mark.parametrize("steps, expected", [(5, 5), (12, 12), (50, 12)])
def test_timesteps_keeps_the_first_steps(tmp_path, spikes_nct, steps, expected):
    np.save(tmp_path / "x.npy", spikes_nct)
    got = load_spikes(tmp_path / "x.npy", channels=6, timesteps=steps)
    assert got.shape == (3, 6, expected)
    np.testing.assert_array_equal(got, spikes_nct[..., :expected])


def test_bad_input_is_refused_with_one_line(bad_input_case, one_line_error):
    with pytest.raises(InputError) as info:
        load_spikes(bad_input_case.path, channels=6)
    one_line_error(str(info.value), bad_input_case.path, bad_input_case.expect)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)
