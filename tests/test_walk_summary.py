"""The route summary: per segment what the group measured, how far the kits agreed, and where the air stood out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from walks.summary import HOT_SPOT_MIN_READINGS, INDICATIVE, hot_spot_threshold, route_summary, segment_stats


def _points(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    """Readings as (segment, kit, pm25); each kit is carried by its own participant."""
    frame = pd.DataFrame(rows, columns=["segment", "kit", "pm25"])
    return frame.assign(participant="p-" + frame["kit"])[["segment", "participant", "kit", "pm25"]]


def _route(levels: list[float], kits=("k1", "k2"), each: int = 2) -> list[tuple[int, str, float]]:
    """``each`` readings per kit on every segment, at the segment's level."""
    return [(s, kit, float(v)) for s, v in enumerate(levels) for kit in kits for _ in range(each)]


EVEN = [8, 9, 8, 9, 8, 9, 8, 9]  # a route without a hot spot: medians 8 and 9


def test_every_segment_has_a_row_and_one_nobody_passed_has_n_zero_and_no_figures():
    points = _points([(0, "k1", 10.0), (0, "k2", 20.0), (0, "k2", 30.0), (2, "k1", 12.0)])
    stats = segment_stats(points, 4, pollutants=("pm25",))
    na = pd.NA
    expected = pd.DataFrame({
        "segment": np.arange(4, dtype=np.int64),
        "pm25_n": np.array([3, 0, 1, 0], dtype=np.int64),
        "pm25_median": [20.0, np.nan, 12.0, np.nan],
        "pm25_mean": [20.0, np.nan, 12.0, np.nan],
        "pm25_max": [30.0, np.nan, 12.0, np.nan],
        "pm25_kits": np.array([2, 0, 1, 0], dtype=np.int64),
        "pm25_spread": [15.0, np.nan, np.nan, np.nan],  # kit medians 10 and 25; one kit has no spread
        "pm25_difference_real": pd.array([False, na, na, na], dtype="boolean"),  # 20 is 4 above the route's 16; kits differ by 15
        "pm25_daqi": np.array([2, 0, 2, 0], dtype=np.int8),
        "pm25_band": ["low", "", "low", ""],
        "pm25_who_exceeded": pd.array([True, na, False, na], dtype="boolean"),
        "hot_spot": [False, False, False, False],
    })
    pd.testing.assert_frame_equal(stats, expected)


def test_readings_off_the_route_are_left_out():
    points = _points([(0, "k1", 10.0), (-1, "k1", 500.0), (-1, "k2", 500.0)])
    stats = segment_stats(points, 1, pollutants=("pm25",))
    assert (stats.loc[0, "pm25_n"], stats.loc[0, "pm25_max"], stats.loc[0, "pm25_kits"]) == (1, 10.0, 1)


def test_every_pollutant_gets_its_own_columns_and_only_pm25_and_pm10_get_bands_and_the_who_flag():
    points = _points([(0, "k1", 10.0)]).assign(pm10=20.0, pm1=np.nan)
    columns = segment_stats(points, 1).columns.tolist()
    figures = ["n", "median", "mean", "max", "kits", "spread", "difference_real"]
    assert columns == ["segment", *(f"pm25_{c}" for c in [*figures, "daqi", "band", "who_exceeded"]),
                       *(f"pm10_{c}" for c in [*figures, "daqi", "band", "who_exceeded"]),
                       *(f"pm1_{c}" for c in figures), "hot_spot"]


def test_the_spread_is_the_range_of_the_kits_own_medians_not_of_their_readings():
    # k1 reads 5 and 45 (median 25), k2 reads 20 three times, k3 reads 30: medians 25, 20, 30.
    points = _points([(0, "k1", 5.0), (0, "k1", 45.0), (0, "k2", 20.0), (0, "k2", 20.0), (0, "k2", 20.0), (0, "k3", 30.0)])
    stats = segment_stats(points, 1, pollutants=("pm25",))
    assert (stats.loc[0, "pm25_spread"], stats.loc[0, "pm25_kits"]) == (10.0, 3)


def test_the_daqi_band_is_that_of_the_median_not_of_the_mean_or_the_peak():
    points = _points([(0, "k1", 30.0), (0, "k1", 40.0), (0, "k2", 75.0)])  # median 40, mean 48.3, max 75
    stats = segment_stats(points, 1, pollutants=("pm25",))
    assert (stats.loc[0, "pm25_daqi"], stats.loc[0, "pm25_band"]) == (4, "moderate")


def test_the_who_flag_is_the_median_above_the_24_hour_level_and_na_without_data():
    points = _points([(0, "k1", 15.0), (0, "k2", 15.0), (0, "k2", 90.0), (1, "k1", 15.5)])
    stats = segment_stats(points, 3, pollutants=("pm25",))
    assert stats["pm25_who_exceeded"].tolist() == [False, True, pd.NA]


def test_one_kits_blip_is_not_a_hot_spot():
    rows = _route(EVEN) + [(3, "k1", 90.0)]  # k1 once at 90 where both read 9
    assert segment_stats(_points(rows), 8, pollutants=("pm25",))["hot_spot"].tolist() == [False] * 8


def test_a_lone_kits_few_high_readings_are_not_a_hot_spot():
    rows = [r for r in _route(EVEN) if r[0] != 3] + [(3, "k1", 90.0)] * (HOT_SPOT_MIN_READINGS - 1)
    stats = segment_stats(_points(rows), 8, pollutants=("pm25",))
    assert stats.loc[3, "pm25_median"] == 90.0 and not stats["hot_spot"].any()


def test_a_lone_kit_lingering_high_is_a_hot_spot():
    rows = [r for r in _route(EVEN) if r[0] != 3] + [(3, "k1", 90.0)] * HOT_SPOT_MIN_READINGS
    assert segment_stats(_points(rows), 8, pollutants=("pm25",))["hot_spot"].tolist() == [False] * 3 + [True] + [False] * 4


def test_two_kits_agreeing_high_are_a_hot_spot():
    levels = EVEN[:5] + [30] + EVEN[6:]
    stats = segment_stats(_points(_route(levels)), 8, pollutants=("pm25",))
    assert stats["hot_spot"].tolist() == [False] * 5 + [True] + [False] * 2


def test_two_kits_disagreeing_are_not_a_hot_spot_even_if_their_readings_push_the_median_up():
    rows = [r for r in _route(EVEN) if r[0] != 5] + [(5, "k1", 90.0)] * 3 + [(5, "k2", 9.0)] * 2  # median 90
    stats = segment_stats(_points(rows), 8, pollutants=("pm25",))
    assert stats.loc[5, "pm25_median"] == 90.0 and not stats["hot_spot"].any()


def test_a_segment_a_little_above_an_even_route_is_not_a_hot_spot():
    # On an even route the IQR is 0, so the Tukey fence alone would call 11 a hot spot;
    # it is not half as much again as the route's 8.
    levels = [8] * 7 + [11]
    stats = segment_stats(_points(_route(levels)), 8, pollutants=("pm25",))
    assert hot_spot_threshold(stats["pm25_median"]) == 12.0 and not stats["hot_spot"].any()


def test_the_threshold_is_the_tukey_fence_where_it_is_above_one_and_a_half_times_the_route_median():
    assert hot_spot_threshold([4, 8, 12, 16, np.nan]) == 13 + 1.5 * (13 - 7)  # Q1 7, Q3 13, median 10: the fence, 22, is above 15
    assert np.isnan(hot_spot_threshold([np.nan, np.nan]))


def test_hot_spots_can_be_found_on_another_pollutant():
    points = _points(_route(EVEN)).assign(pm10=lambda f: np.where(f["segment"] == 2, 80.0, 20.0))
    stats = segment_stats(points, 8, pollutants=("pm25", "pm10"), hot_spot_on="pm10")
    assert stats["hot_spot"].tolist() == [False, False, True] + [False] * 5


def test_a_difference_is_real_only_when_it_is_larger_than_the_kits_spread():
    # Route median 10. Segment 1: 16 vs 10 with the kits 4 apart -> real.
    # Segment 2: 16 vs 10 with the kits 8 apart (12 and 20) -> could be the kits.
    rows = _route([10, 16, 10, 10, 10])
    rows = [r for r in rows if r[0] != 2] + [(2, "k1", 12.0), (2, "k2", 20.0)]
    rows = [(s, k, v + (2.0 if s == 1 and k == "k1" else -2.0 if s == 1 else 0.0)) for s, k, v in rows]
    stats = segment_stats(_points(rows), 5, pollutants=("pm25",))
    assert stats["pm25_spread"].tolist() == [0.0, 4.0, 8.0, 0.0, 0.0]
    assert stats["pm25_difference_real"].tolist() == [False, True, False, False, False]


def test_a_segment_index_beyond_the_route_is_a_programming_error():
    with pytest.raises(ValueError, match="segment indices must be -1"):
        segment_stats(_points([(3, "k1", 1.0)]), 3, pollutants=("pm25",))


def test_the_route_summary_counts_hot_spots_and_who_exceedances_over_the_segment_medians():
    levels = [8, 9, 8, 30, 8, 9, 16, 9]
    points = _points(_route(levels)).assign(pm10=lambda f: f["pm25"] * 2)
    stats = segment_stats(points, 9, pollutants=("pm25", "pm10"))  # segment 8: nobody passed
    # Segment medians sorted: 8 8 8 9 9 9 16 30 -> Q1 8, Q3 10.75, route median 9; the kits agree everywhere
    # (spread 0), so every segment off the route median differs for real.
    summary = route_summary(stats)
    assert summary == {
        "segments": 9,
        "segments_with_data": 8,
        "indicative": INDICATIVE,
        "pollutants": {
            "pm25": {"readings": 32, "segments_with_data": 8, "median_of_segment_medians": 9.0,
                     "highest_segment_median": 30.0, "differences_real": 5, "who_24h_level": 15.0,
                     "who_exceedances": 2, "daqi_of_route_median": 1, "band_of_route_median": "low"},
            "pm10": {"readings": 32, "segments_with_data": 8, "median_of_segment_medians": 18.0,
                     "highest_segment_median": 60.0, "differences_real": 5, "who_24h_level": 45.0,
                     "who_exceedances": 1, "daqi_of_route_median": 2, "band_of_route_median": "low"},
        },
        "hot_spots": {"pollutant": "pm25", "threshold": 10.75 + 1.5 * (10.75 - 8), "count": 2, "segments": [3, 6]},
    }
    json.dumps(summary, allow_nan=False)


def test_the_summary_of_a_walk_without_readings_is_still_plain_json():
    summary = route_summary(segment_stats(_points([]), 2, pollutants=("pm25",)))
    assert summary["pollutants"]["pm25"]["median_of_segment_medians"] is None
    assert summary["hot_spots"] == {"pollutant": "pm25", "threshold": None, "count": 0, "segments": []}
    json.dumps(summary, allow_nan=False)


@pytest.mark.parametrize("decimals", [1, None])  # sensor readings (tenths), and floats of every digit
def test_medians_means_and_maxima_are_those_of_each_segment_and_kit_whatever_the_values(decimals):
    rng = np.random.default_rng(7)
    values = rng.lognormal(2.0, 0.6, 3000)
    values = np.round(values, decimals) if decimals is not None else values
    values[rng.random(3000) < 0.05] = np.nan
    points = pd.DataFrame({"segment": rng.integers(-1, 6, 3000), "kit": rng.choice(["k1", "k2", "k3"], 3000), "pm25": values})
    stats = segment_stats(points, 6, pollutants=("pm25",))
    on = points[(points["segment"] >= 0) & points["pm25"].notna()]
    by_segment = on.groupby("segment")["pm25"]
    assert np.allclose(stats["pm25_median"], by_segment.median().reindex(range(6)), equal_nan=True, rtol=0, atol=0)
    assert np.allclose(stats["pm25_max"], by_segment.max().reindex(range(6)), equal_nan=True, rtol=0, atol=0)
    assert np.allclose(stats["pm25_mean"], by_segment.mean().reindex(range(6)), equal_nan=True, rtol=1e-12)
    kit_medians = on.groupby(["segment", "kit"])["pm25"].median().groupby(level=0)
    assert np.allclose(stats["pm25_spread"], (kit_medians.max() - kit_medians.min()).reindex(range(6)), equal_nan=True, rtol=0, atol=0)
    assert stats["pm25_n"].tolist() == by_segment.size().reindex(range(6), fill_value=0).tolist()
