"""The route in pieces, and each reading on the piece nearest to it."""

from __future__ import annotations

import numpy as np
import pytest

from walks.segments import assign, split_route

M_PER_DEG = 111_195.0
LAT0 = 53.0
M_PER_DEG_LON = M_PER_DEG * np.cos(np.radians(LAT0))


def _east(metres) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(metres, float)
    return np.full(len(m), LAT0), -2.0 + m / M_PER_DEG_LON


def test_a_route_is_cut_every_n_metres_with_a_shorter_last_piece():
    segments = split_route(*_east([0, 120]), every_m=50)
    assert np.round(segments.cuts_m).tolist() == [0, 50, 100, 120]
    assert segments.names == ("0–50 m", "50–100 m", "100–120 m")


def test_a_segments_polyline_follows_the_route_round_its_corners():
    lat = np.array([LAT0, LAT0, LAT0 + 100 / M_PER_DEG])  # 100 m east, then 100 m north
    lon = np.array([-2.0, -2.0 + 100 / M_PER_DEG_LON, -2.0 + 100 / M_PER_DEG_LON])
    segments = split_route(lat, lon, every_m=150)
    seg_lat, seg_lon = segments.polyline(0)
    assert len(seg_lat) == 3  # start, the corner, the cut 50 m up the second leg
    assert round((seg_lat[-1] - LAT0) * M_PER_DEG) == 50


def test_named_stops_cut_the_route_where_it_passes_them():
    lat, lon = _east([0, 1000])
    stops = [("Bridge", LAT0 + 0.0001, -2.0 + 400 / M_PER_DEG_LON), ("Market", LAT0, -2.0 + 700 / M_PER_DEG_LON)]
    segments = split_route(lat, lon, stops=stops)
    assert np.round(segments.cuts_m).tolist() == [0, 400, 700, 1000]
    assert segments.names == ("start → Bridge", "Bridge → Market", "Market → end")


def test_each_reading_is_on_its_nearest_piece_and_far_ones_are_off_the_route():
    segments = split_route(*_east([0, 200]), every_m=50)
    lat = np.array([LAT0, LAT0 + 20 / M_PER_DEG, LAT0 + 80 / M_PER_DEG, np.nan, LAT0])
    lon = -2.0 + np.array([10, 60, 60, 60, 199]) / M_PER_DEG_LON
    index, distance = assign(segments, lat, lon, max_distance_m=50)
    assert index.tolist() == [0, 1, -1, -1, 3]
    assert np.round(distance[:3]).tolist() == [0, 20, 80] and np.isinf(distance[3])


@pytest.mark.parametrize(("lat", "lon", "says"), [([LAT0], [-2.0], "at least two points"), ([LAT0, LAT0], [-2.0, -2.0], "no length")])
def test_a_route_that_cannot_be_cut_says_why(lat, lon, says):
    with pytest.raises(ValueError, match=says):
        split_route(lat, lon)


@pytest.mark.parametrize("every_m", [50, 37])  # cuts on the route's 2 m samples, and cuts inside its pieces
def test_matching_by_cell_agrees_with_a_brute_force_search_all_round_the_route(every_m):
    # Points on every side of the route's middle (negative and positive plane coordinates).
    rng = np.random.default_rng(4)
    lat = np.array([LAT0, LAT0, LAT0 + 300 / M_PER_DEG, LAT0 + 300 / M_PER_DEG])
    lon = -2.0 + np.array([0, 400, 400, 100]) / M_PER_DEG_LON
    segments = split_route(lat, lon, every_m=every_m)
    e, n = rng.uniform(-60, 460, 3000), rng.uniform(-60, 360, 3000)
    plat, plon = LAT0 + n / M_PER_DEG, -2.0 + e / M_PER_DEG_LON
    index, distance = assign(segments, plat, plon, max_distance_m=40)
    along = segments.route.along()
    x, y = segments.route.xy(segments.route.lat, segments.route.lon)
    fine = np.linspace(0, along[-1], 20_000)
    fx, fy = np.interp(fine, along, x), np.interp(fine, along, y)
    px, py = segments.route.xy(plat, plon)
    d = np.hypot(px[:, None] - fx[None, :], py[:, None] - fy[None, :])
    true_d, at = d.min(axis=1), fine[d.argmin(axis=1)]
    true_index = np.where(true_d <= 40, np.searchsorted(segments.cuts_m, at, side="right") - 1, -1)
    near_a_cut = np.min(np.abs(at[:, None] - segments.cuts_m[None, :]), axis=1) < 2.5
    # A near tie between two pieces (round a corner) may go either way within the snap of a cell.
    fine_index = np.searchsorted(segments.cuts_m, fine, side="right") - 1
    other = np.where(fine_index[None, :] != np.clip(true_index, 0, None)[:, None], d, np.inf).min(axis=1)
    clear = ~near_a_cut & (np.abs(true_d - 40) > 2.5) & (other - true_d > 2.5)
    assert (index[clear] == true_index[clear]).all()
    assert np.abs(distance - true_d).max() < 1.5


def test_points_projected_in_blocks_on_two_threads_match_one_pass(monkeypatch):
    # The projection runs block by block (on both cores for many points): the blocks change nothing.
    import walks.segments as seg

    rng = np.random.default_rng(9)
    lat = np.array([LAT0, LAT0, LAT0 + 300 / M_PER_DEG])
    lon = -2.0 + np.array([0, 400, 400]) / M_PER_DEG_LON
    segments = split_route(lat, lon, every_m=37)
    e, n = rng.uniform(-60, 460, 5000), rng.uniform(-60, 360, 5000)
    plat, plon = LAT0 + n / M_PER_DEG, -2.0 + e / M_PER_DEG_LON
    plat[::7] = np.nan  # unplaced points among them
    whole = assign(segments, plat, plon, max_distance_m=40, workers=1)
    monkeypatch.setattr(seg, "BLOCK", 333)
    for workers in (1, 2):
        index, distance = assign(segments, plat, plon, max_distance_m=40, workers=workers)
        assert np.array_equal(index, whole[0]) and np.array_equal(distance, whole[1])
    assert (whole[0] >= 0).sum() > 1000 and (whole[0] == -1).sum() > 700
