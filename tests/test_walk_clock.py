"""A kit's clock offset, found from the air it measured beside kits whose clocks were right."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walks.clock import estimate_offset

WALK_S = 75 * 60  # a 75-minute walk
T0 = 1_795_000_000.0


def _air(seed: int, span_s: float = WALK_S + 4 * 3600) -> tuple[np.ndarray, np.ndarray]:
    """PM2.5 along a walk, one value a second: a slow background with hot spots (traffic, a bus stop)."""
    rng = np.random.default_rng(seed)
    t = np.arange(-2 * 3600, span_s - 2 * 3600)
    background = 8 + 3 * np.sin(t / 900) + np.cumsum(rng.normal(0, 0.05, len(t)))
    spikes = np.zeros(len(t))
    for centre in rng.uniform(t[0], t[-1], size=int(len(t) / 240)):
        spikes += rng.uniform(5, 40) * np.exp(-0.5 * ((t - centre) / rng.uniform(5, 40)) ** 2)
    return T0 + t, np.clip(background, 1, None) + spikes


def _kit(air_t, air_pm, offset_s: float, seed: int, gain: float = 1.3, every_s: int = 10):
    """What a kit records on the walk: its own gain and noise, a reading every ``every_s`` s, stamped by a clock
    that is ``-offset_s`` off (true = kit + offset)."""
    rng = np.random.default_rng(seed)
    walk = (air_t >= T0) & (air_t < T0 + WALK_S)
    t, pm = air_t[walk][::every_s], air_pm[walk][::every_s]
    return t - offset_s, gain * pm * rng.lognormal(0, 0.08, len(pm))


def _reference(air_t, air_pm):
    walk = (air_t >= T0 - 600) & (air_t < T0 + WALK_S + 600)
    return air_t[walk][::5], air_pm[walk][::5]


@pytest.mark.parametrize("offset_s", [-40.0, 10_800.0, 0.0, 3 * 3600 + 17.0, -26 * 3600 + 5])
def test_the_offset_of_a_kit_shifted_by_a_known_amount_is_found(offset_s):
    air_t, air_pm = _air(seed=7)
    kit_t, kit_pm = _kit(air_t, air_pm, offset_s, seed=1)
    found = estimate_offset(kit_t, kit_pm, *_reference(air_t, air_pm))
    assert found is not None and found.confident, found
    assert abs(found.offset_s - offset_s) <= 3


@settings(max_examples=12, deadline=None)
@given(offset_s=st.floats(-8 * 3600, 8 * 3600), seed=st.integers(0, 10_000))
def test_any_shift_within_the_search_is_found_to_within_3_s(offset_s, seed):
    air_t, air_pm = _air(seed=seed)
    kit_t, kit_pm = _kit(air_t, air_pm, offset_s, seed=seed + 1)
    found = estimate_offset(kit_t, kit_pm, *_reference(air_t, air_pm))
    assert found is not None and found.confident
    assert abs(found.offset_s - offset_s) <= 3


def test_unrelated_air_gives_a_low_confidence_estimate_not_a_silent_one():
    air_t, air_pm = _air(seed=1)
    other_t, other_pm = _air(seed=2)
    kit_t, kit_pm = _kit(other_t, other_pm, 0.0, seed=3)  # a kit that was somewhere else
    found = estimate_offset(kit_t, kit_pm, *_reference(air_t, air_pm))
    assert found is None or not found.confident


def test_too_little_data_is_no_estimate():
    assert estimate_offset([T0], [5.0], [T0, T0 + 1], [5.0, 6.0]) is None


def test_the_direct_correlation_is_the_fft_correlation_where_the_kit_lies_within_the_reference():
    from walks.clock import _correlation, _correlation_direct

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=200), rng.normal(size=500)
    mx, my = (rng.random(200) > 0.2).astype(float), (rng.random(500) > 0.3).astype(float)
    r_fft, n_fft = _correlation(x * mx, mx, y * my, my, 10)
    r_direct, n_direct = _correlation_direct(x * mx, mx, y * my, my, 10)
    inside = slice(200 - 1, 200 - 1 + 301)  # the FFT's lags 0 .. 300 (reference bin - kit bin)
    assert np.allclose(r_direct, r_fft[inside]) and (n_direct == n_fft[inside]).all()


def test_the_moving_sum_is_a_centred_window_also_when_the_series_is_shorter_than_it():
    from walks.clock import _moving_sum

    v = np.arange(1.0, 8.0)  # 1..7
    assert np.allclose(_moving_sum(v, 3), np.convolve(v, np.ones(3), mode="same"))
    assert _moving_sum(v, 9).tolist() == [v[: i + 5].sum() for i in range(5)] + [v[i - 4:].sum() for i in range(5, 7)]


def test_the_reference_is_each_bins_median_across_the_synced_kits_means_at_its_readings_mean_time():
    import pandas as pd

    from walks.offsets import REFERENCE_BIN_S, reference_series

    b = REFERENCE_BIN_S
    rows = [  # kit, ts, clk, pm25
        ("a", 0, "ntp", 10.0), ("a", 1, "ntp", 20.0), ("b", 2, "gps", 40.0), ("c", 3, "ntp", 1.0),  # 15, 40, 1: 15
        ("a", b, "ntp", 7.0), ("b", b + 4, "ntp", 9.0),                                            # 7, 9: 8
        ("c", 2 * b, "ntp", 5.0), ("a", 2 * b + 1, "rtc", 99.0), ("b", 2 * b + 2, "ntp", float("nan")),  # 5 alone
        ("a", 4 * b, "ntp", 3.0), ("b", 4 * b, "ntp", 4.0), ("c", 4 * b, "ntp", 6.0), ("d", 4 * b, "ntp", 100.0),  # 5
    ]
    frame = pd.DataFrame(rows, columns=["kit", "ts", "clk", "pm25"])
    times, median = reference_series(frame)
    assert median.tolist() == [15.0, 8.0, 5.0, 5.0]  # the empty bin 3 is no bin; unsynced and missing values do not count
    assert times.tolist() == [1.5, b + 2.0, 2.0 * b, 4.0 * b]
