"""Every reading in its place: positions by time, interpolated between fixes, and counted when there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walks.align import REASONS, place_readings, positions

S = 1_000_000_000  # ns


def _fixes(kit: str, times_s, lats, lons) -> pd.DataFrame:
    return pd.DataFrame({"kit": kit, "t": [int(x * S) for x in times_s], "lat": lats, "lon": lons})


def _readings(kit: str, times_s) -> pd.DataFrame:
    return pd.DataFrame({"kit": kit, "t": [int(x * S) for x in times_s]})


def test_a_small_walk_placed_as_a_whole():
    fixes = pd.concat([_fixes("a", [0, 10, 20, 200], [53.0, 53.001, 53.002, 53.01], [-2.0, -2.0, -2.001, -2.01]),
                       _fixes("b", [0, 10], [40.0, 40.001], [-3.0, -3.0])])
    readings = pd.concat([_readings("a", [10, 5, 15, 25, 100, 205, 300, -30]), _readings("b", [5]), _readings("c", [5])], ignore_index=True)
    placed = place_readings(readings, fixes, tolerance_s=10, max_gap_s=60)
    got = placed.readings
    assert list(got["position"]) == ["fix", "interpolated", "interpolated", "nearest", "gap", "nearest", "off_track", "off_track",
                                     "interpolated", "no_fixes"]
    assert got["lat"].round(7).tolist()[:4] == [53.001, 53.0005, 53.0015, 53.002]
    assert got["lon"].round(7).tolist()[2] == -2.0005
    assert got["lat"].round(7).tolist()[8] == 40.0005  # kit b's own fixes, never kit a's
    assert got["lat"].isna().tolist() == [False] * 4 + [True, False, True, True, False, True]
    assert placed.counts == {"fix": 1, "interpolated": 3, "nearest": 2, "gap": 1, "off_track": 2, "no_fixes": 1}
    assert placed.placed == 6


def test_fixes_without_coordinates_are_not_fixes():
    fixes = _fixes("a", [0, 10], [53.0, np.nan], [-2.0, np.nan])
    got = place_readings(_readings("a", [5]), fixes, tolerance_s=2).readings
    assert got["position"].tolist() == ["off_track"]


def test_a_missing_column_is_named():
    with pytest.raises(ValueError, match="fixes lack the column.*lat"):
        place_readings(_readings("a", [1]), pd.DataFrame({"kit": ["a"], "t": [0]}))


sorted_times = st.lists(st.integers(0, 3600), min_size=2, max_size=40, unique=True).map(sorted)
coords = st.floats(-60, 60, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(times=sorted_times, data=st.data())
def test_a_reading_exactly_at_a_fix_gets_that_fixs_position(times, data):
    lats = data.draw(st.lists(coords, min_size=len(times), max_size=len(times)))
    lons = data.draw(st.lists(coords, min_size=len(times), max_size=len(times)))
    pick = data.draw(st.integers(0, len(times) - 1))
    got = place_readings(_readings("k", [times[pick]]), _fixes("k", times, lats, lons)).readings.iloc[0]
    assert got["position"] == "fix" and got["lat"] == lats[pick] and got["lon"] == lons[pick]


@settings(max_examples=60, deadline=None)
@given(t0=st.integers(0, 1000), span=st.integers(1, 60), frac=st.floats(0.001, 0.999), a=st.tuples(coords, coords), b=st.tuples(coords, coords))
def test_interpolation_stays_on_the_segment_between_two_fixes(t0, span, frac, a, b):
    t = t0 + frac * span
    got = place_readings(_readings("k", [t]), _fixes("k", [t0, t0 + span], [a[0], b[0]], [a[1], b[1]]), max_gap_s=60).readings.iloc[0]
    assert got["position"] in ("interpolated", "fix")
    lat, lon = got["lat"], got["lon"]
    assert min(a[0], b[0]) - 1e-9 <= lat <= max(a[0], b[0]) + 1e-9 and min(a[1], b[1]) - 1e-9 <= lon <= max(a[1], b[1]) + 1e-9
    cross = (b[0] - a[0]) * (lon - a[1]) - (b[1] - a[1]) * (lat - a[0])  # zero on the line through a and b
    assert abs(cross) <= 1e-7 * (1 + abs(b[0] - a[0]) + abs(b[1] - a[1])) ** 2


@settings(max_examples=40, deadline=None)
@given(times=sorted_times, readings=st.lists(st.floats(-100, 3700, allow_nan=False), min_size=1, max_size=30))
def test_every_reading_comes_back_once_in_its_order_with_a_reason(times, readings):
    fixes = _fixes("k", times, [50.0] * len(times), [0.0] * len(times))
    placed = place_readings(_readings("k", readings), fixes)
    assert placed.readings["t"].tolist() == [int(x * S) for x in readings]
    assert sum(placed.counts.values()) == len(readings)
    assert placed.readings["lat"].notna().sum() == placed.placed


def test_the_join_is_exact_to_the_nanosecond_and_takes_fixes_in_any_order():
    base = 1_778_922_000 * S
    fixes = pd.DataFrame({"kit": ["a", "a", "a"], "t": [base + 2 * S, base + 400, base + 100], "lat": [3.0, 2.0, 1.0], "lon": [0.0, 0.0, 0.0]})
    readings = pd.DataFrame({"kit": ["a", "a", "a"], "t": [base + 100, base + 250, base + 400]})  # one microsecond holds it all
    placed = place_readings(readings, fixes)
    assert placed.readings["position"].tolist() == ["fix", "interpolated", "fix"]
    assert placed.readings["lat"].tolist() == [1.0, 1.5, 2.0]


def test_fixes_and_readings_a_century_apart_are_joined_exactly_too():
    # Each kit is searched among its own fixes: no span is too long for a key in nanoseconds.
    base, later = 1_778_922_000 * S, (1_778_922_000 + 100 * 365 * 86400) * S
    fixes = pd.DataFrame({"kit": ["a", "a", "b", "b"], "t": [base + 100, base + 400, later, later + 10 * S],
                          "lat": [1.0, 2.0, 5.0, 6.0], "lon": [0.0, 0.0, 0.0, 0.0]})
    readings = pd.DataFrame({"kit": ["a", "a", "b"], "t": [base + 250, base + 400, later + 5 * S]})
    placed = place_readings(readings, fixes)
    assert placed.readings["position"].tolist() == ["interpolated", "fix", "interpolated"]
    assert placed.readings["lat"].tolist() == [1.5, 2.0, 5.5]


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_readings_and_fixes_of_many_kits_in_any_order_are_placed_as_if_sorted(rnd):
    # Each kit's readings are placed on its own fixes: however the rows come, each reading gets
    # what it gets when the kits come one after the other, and comes back in its own row.
    fixes = pd.concat([_fixes(k, [0, 10, 20, 100, 110], [50.0 + i, 50.1 + i, 50.2 + i, 50.3 + i, 50.4 + i], [0.0] * 5)
                       for i, k in enumerate("abc")], ignore_index=True)
    readings = pd.concat([_readings(k, [-20, 0, 5, 15, 60, 105, 130]) for k in "abcd"], ignore_index=True)
    expected = place_readings(readings, fixes).readings
    shuffle = list(range(len(readings)))
    rnd.shuffle(shuffle)
    fix_shuffle = list(range(len(fixes)))
    rnd.shuffle(fix_shuffle)
    got = place_readings(readings.iloc[shuffle].reset_index(drop=True), fixes.iloc[fix_shuffle].reset_index(drop=True)).readings
    pd.testing.assert_frame_equal(got, expected.iloc[shuffle].reset_index(drop=True))
    assert list(expected["position"][:7]) == ["off_track", "fix", "interpolated", "interpolated", "gap", "interpolated", "off_track"]


@settings(max_examples=60, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_the_fix_a_reading_is_at_is_the_fix_whose_place_it_takes(rnd):
    kits, fixes_t = [], []
    for k in range(3):
        times = sorted(rnd.sample(range(0, 200), rnd.randint(1, 12)))
        fixes_t += [(k, s) for s in times]
    rnd.shuffle(fixes_t)
    fk = np.array([k for k, _ in fixes_t])
    ft = np.array([s for _, s in fixes_t], dtype=np.int64) * S
    flat = np.array([50.0 + rnd.random() for _ in fixes_t])
    flon = np.array([rnd.random() for _ in fixes_t])
    flat[rnd.randrange(len(flat))] = np.nan  # a fix without coordinates is no fix
    readings = [(rnd.randrange(3), rnd.randrange(-20, 220)) for _ in range(40)]
    kit = np.array([k for k, _ in readings])
    t = np.array([s for _, s in readings], dtype=np.int64) * S
    lat, lon, reason, at_fix = positions(kit, t, fk, ft, flat, flon, tolerance_s=10, max_gap_s=30, which_fix=True)
    on_fix = np.isin(reason, [REASONS.index("fix"), REASONS.index("nearest")])
    assert ((at_fix >= 0) == on_fix).all()
    i = at_fix[on_fix]
    assert (fk[i] == kit[on_fix]).all() and (lat[on_fix] == flat[i]).all() and (lon[on_fix] == flon[i]).all()
    assert (ft[i][reason[on_fix] == REASONS.index("fix")] == t[on_fix][reason[on_fix] == REASONS.index("fix")]).all()
    assert positions(kit, t, fk, ft, flat, flon, tolerance_s=10, max_gap_s=30)[0].tobytes() == lat.tobytes()
