"""Nothing private is published: no point in a privacy zone, none near where a trace starts or ends."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from walks.privacy import Zone, haversine_m, privacy_filter

M_PER_DEG = 111_195.0  # metres per degree of latitude on the mean sphere


def _trace(who: str, lats, lons, start_s: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"participant": who, "t": [(start_s + i) * 10**9 for i in range(len(lats))], "lat": lats, "lon": lons})


def test_a_straight_walk_loses_its_ends_and_its_zone_and_counts_them():
    # 1,000 m due north in 10 m steps, with a 55 m zone at 500 m (away from the 10 m grid, so no point sits on its edge).
    lats = 53.0 + np.arange(101) * 10 / M_PER_DEG
    points = _trace("Heron", lats, np.full(101, -2.0))
    out = privacy_filter(points, [Zone(53.0 + 500 / M_PER_DEG, -2.0, 55)], trim_m=205)
    kept_m = np.round((out.points["lat"].to_numpy() - 53.0) * M_PER_DEG).astype(int)
    assert kept_m.min() == 210 and kept_m.max() == 790
    assert not any(450 <= m <= 550 for m in kept_m)
    assert out.removed == {"privacy_zone": 11, "trimmed_start": 21, "trimmed_end": 21}
    assert len(out.points) == 101 - 11 - 21 - 21


def test_a_walk_round_the_block_loses_the_points_that_pass_close_to_home():
    # Out 600 m east, 150 m north, back west: the way back passes 150 m from the start.
    east = np.arange(61) * 10
    lat = np.concatenate([np.zeros(61), np.arange(1, 16) * 10, np.full(61, 150.0)])
    lon = np.concatenate([east, np.full(15, 600.0), east[::-1]])
    points = _trace("Kestrel", 53.0 + lat / M_PER_DEG, -2.0 + lon / (M_PER_DEG * np.cos(np.radians(53.0))))
    out = privacy_filter(points, [], trim_m=200)
    start = (points["lat"].iloc[0], points["lon"].iloc[0])
    assert (haversine_m(out.points["lat"], out.points["lon"], *start) >= 200).all()


def test_unplaced_points_in_a_trimmed_stretch_of_time_go_too():
    lats = 53.0 + np.arange(50) * 10 / M_PER_DEG
    points = _trace("Heron", lats, np.full(50, -2.0))
    points.loc[[0, 25, 49], ["lat", "lon"]] = np.nan  # no fix at the very start and end, nor in the middle
    out = privacy_filter(points, [], trim_m=100)
    assert 0 not in out.points.index and 49 not in out.points.index
    assert 25 in out.points.index  # no place, and not at an end: nothing to hide


def test_each_participants_trace_is_trimmed_on_its_own():
    a = _trace("A", 53.0 + np.arange(30) * 10 / M_PER_DEG, np.full(30, -2.0))
    b = _trace("B", 40.0 + np.arange(30) * 10 / M_PER_DEG, np.full(30, -3.0))
    out = privacy_filter(pd.concat([b, a], ignore_index=True), [], trim_m=50)
    assert out.points.groupby("participant").size().to_dict() == {"A": 20, "B": 20}


steps = st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=2, max_size=80)


@settings(max_examples=60, deadline=None)
@given(traces=st.lists(steps, min_size=1, max_size=3), trim=st.floats(0, 300),
       zone=st.tuples(st.floats(-300, 300), st.floats(-300, 300), st.floats(1, 200)))
def test_no_published_point_is_in_a_zone_or_within_the_trim_of_its_traces_ends(traces, trim, zone):
    frames = []
    for k, moves in enumerate(traces):
        north = np.cumsum([m[0] for m in moves])
        east = np.cumsum([m[1] for m in moves])
        frames.append(_trace(f"p{k}", 53.0 + north / M_PER_DEG, -2.0 + east / (M_PER_DEG * 0.6018), start_s=k * 1000))
    points = pd.concat(frames, ignore_index=True)
    z = Zone(53.0 + zone[0] / M_PER_DEG, -2.0 + zone[1] / (M_PER_DEG * 0.6018), zone[2])
    out = privacy_filter(points, [z], trim_m=trim)
    kept = out.points
    assert (haversine_m(kept["lat"], kept["lon"], z.lat, z.lon) > z.radius_m).all()
    for who, trace in points.groupby("participant"):
        mine = kept[kept["participant"] == who]
        ends = trace.iloc[[0, -1]]
        for _, end in ends.iterrows():
            assert (haversine_m(mine["lat"], mine["lon"], end["lat"], end["lon"]) >= trim).all()
        along = np.concatenate([[0], np.cumsum(haversine_m(trace["lat"].to_numpy()[:-1], trace["lon"].to_numpy()[:-1],
                                                           trace["lat"].to_numpy()[1:], trace["lon"].to_numpy()[1:]))])
        kept_along = along[trace.index.isin(mine.index)]
        assert (kept_along >= trim).all() and (along[-1] - kept_along >= trim).all()
    assert len(kept) + sum(out.removed.values()) == len(points)


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_points_in_any_order_are_filtered_as_if_each_trace_came_in_time_order(rnd):
    # Each trace is filtered on its own, along itself in time order: however the rows come, the
    # same points are kept, and they come back in the input's order.
    lats = 53.0 + np.arange(80) * 10 / M_PER_DEG
    lons = np.full(80, -2.0)
    lats[[5, 40, 41]] = np.nan  # unplaced points, at the start and in the middle
    points = pd.concat([_trace(who, lats + i * 0.01, lons) for i, who in enumerate(("Heron", "Kestrel", "Wren"))],
                       ignore_index=True)
    zone = [Zone(53.0 + 400 / M_PER_DEG, -2.0, 55)]
    expected = privacy_filter(points, zone, trim_m=150)
    shuffle = list(range(len(points)))
    rnd.shuffle(shuffle)
    got = privacy_filter(points.iloc[shuffle].reset_index(drop=True), zone, trim_m=150)
    assert got.removed == expected.removed == {"privacy_zone": 9, "trimmed_start": 45, "trimmed_end": 45}
    key = ["participant", "t"]
    pd.testing.assert_frame_equal(got.points.sort_values(key).reset_index(drop=True),
                                  expected.points.sort_values(key).reset_index(drop=True))
