"""SLAYER numpy events (fmt xypt) binned into dense spikes, checked against hand computation.

Channel layout: ``(p * Y + y) * X + x`` with ``X = channels // (P * Y)``; time bin ``round(t)``
(1 ms bins), OR binning (two events in one bin make one spike).
"""

from __future__ import annotations

import numpy as np
import pytest
from ranvier.deploy import InputError, load_spikes
from ranvier.deploy.inputs import events_to_dense


def dense_from(entries, channels, steps):
    out = np.zeros((channels, steps), np.uint8)
    for c, t in entries:
        out[c, t] = 1
    return out


# (x, p, t_ms) for a 10-channel network: P = 2 polarities, so X = 5.
EVENTS_XPT = np.array(
    [
        [0, 0, 0.4],  # channel 0, bin 0
        [4, 1, 2.6],  # channel 1*5+4 = 9, bin 3
        [2, 1, 1.0],  # channel 7, bin 1
        [2, 1, 1.2],  # channel 7, bin 1 again: OR binning
        [3, 0, 4.0],  # channel 3, bin 4
    ]
)
EXPECTED_XPT = dense_from([(0, 0), (9, 3), (7, 1), (3, 4)], 10, 5)

# (x, y, p, t_ms) for a 12-channel network: P = 2, Y = 2, so X = 3.
EVENTS_XYPT = np.array(
    [
        [0, 0, 0, 0.0],  # (0*2+0)*3+0 = 0, bin 0
        [2, 1, 0, 1.6],  # (0*2+1)*3+2 = 5, bin 2
        [1, 0, 1, 3.0],  # (1*2+0)*3+1 = 7, bin 3
        [2, 1, 1, 0.2],  # (1*2+1)*3+2 = 11, bin 0
        [0, 1, 1, 2.0],  # (1*2+1)*3+0 = 9, bin 2
    ]
)
EXPECTED_XYPT = dense_from([(0, 0), (5, 2), (7, 3), (11, 0), (9, 2)], 12, 4)


def test_xpt_events_bin_as_computed_by_hand(tmp_path):
    path = tmp_path / "sample.events.npy"
    np.save(path, EVENTS_XPT)
    got = load_spikes(path, channels=10)
    assert got.shape == (10, 5)
    np.testing.assert_array_equal(got, EXPECTED_XPT)


def test_xypt_events_bin_as_computed_by_hand(tmp_path):
    path = tmp_path / "sample.events.npy"
    np.save(path, EVENTS_XYPT)
    np.testing.assert_array_equal(load_spikes(path, channels=12), EXPECTED_XYPT)


def test_event_order_does_not_matter():
    shuffled = EVENTS_XYPT[::-1].copy()
    np.testing.assert_array_equal(events_to_dense(shuffled, "e", 12), EXPECTED_XYPT)


def test_events_flag_reads_a_plain_npy_as_events(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, EVENTS_XPT)
    np.testing.assert_array_equal(load_spikes(path, channels=10, events=True), EXPECTED_XPT)
    # Without the flag the same file is a dense (5, 3) array with fractional "spikes".
    with pytest.raises(InputError, match="integers"):
        load_spikes(path, channels=10)


@pytest.mark.parametrize("steps", [2, 4, 9])
def test_timesteps_drops_late_events_and_pads(tmp_path, steps):
    path = tmp_path / "sample.events.npy"
    np.save(path, EVENTS_XPT)
    got = load_spikes(path, channels=10, timesteps=steps)
    expected = np.zeros((10, steps), np.uint8)
    k = min(steps, EXPECTED_XPT.shape[1])
    expected[:, :k] = EXPECTED_XPT[:, :k]
    np.testing.assert_array_equal(got, expected)


def test_polarities_that_do_not_divide_the_channels(tmp_path):
    path = tmp_path / "p3.events.npy"
    np.save(path, np.array([[0, 2, 1.0]]))  # 3 polarities, 10 channels
    with pytest.raises(InputError) as info:
        load_spikes(path, channels=10)
    assert str(path) in str(info.value) and "10" in str(info.value)


def test_events_need_the_channel_count(tmp_path):
    path = tmp_path / "x.events.npy"
    np.save(path, EVENTS_XPT)
    with pytest.raises(InputError, match="channel count"):
        load_spikes(path)


def test_nan_event_is_refused(tmp_path):
    path = tmp_path / "nan.events.npy"
    np.save(path, np.array([[0, 0, np.nan]]))
    with pytest.raises(InputError) as info:
        load_spikes(path, channels=10)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_one_late_event_is_refused_before_any_allocation(tmp_path):
    """An event at t = 3e7 ms would bin into 140 x 3e7 bytes (and once asked for PiB in the
    frequency-domain path): refused with the size in one line, before anything is allocated;
    --timesteps runs a prefix of the same file."""
    import tracemalloc

    from ranvier.deploy.inputs import InputError

    events = np.array([[3, 1, 5.0], [7, 0, 3e7]])
    tracemalloc.start()
    with pytest.raises(InputError, match=r"t = 30000000 ms need 140 channels .*--timesteps"):
        events_to_dense(events, "late.events.npy", 140)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20
    dense = events_to_dense(events, "late.events.npy", 140, timesteps=10)
    assert dense.shape == (140, 10) and dense.sum() == 1
