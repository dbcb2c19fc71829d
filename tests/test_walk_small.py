"""A walk small enough to check by hand: two participants, three readings each, compared as whole files."""

from __future__ import annotations

import json

import numpy as np

from airkit_host.pull import write_csv
from walks.build import assemble, load_inputs
from walks.outputs import write_walk
from walks.plan import load_plan
from walks.sources import PullSource

T0 = 1_778_922_060  # 2026-05-16T09:01:00Z, 10:01 in London
LAT, LON = 53.0, -2.0
M_PER_DEG_LON = np.radians(1) * 6_371_008.8 * np.cos(np.radians(LAT))


def _lon(metres_east: float) -> float:
    return LON + metres_east / M_PER_DEG_LON


def _walk(folder, ash_strays_m: float = 0.0):
    """The walk; ``ash_strays_m``: how far north of the route Ash's last reading was taken."""
    (folder / "pulls").mkdir()
    (folder / "route.geojson").write_text(json.dumps({"type": "LineString", "coordinates": [[LON, LAT], [_lon(1000), LAT]]}))
    # Ash's kit has its own GPS; Birch's kit has none, and Birch's phone recorded two fixes.
    write_csv("walk-a", [{"ts": T0 + 10 * i, "seq": 1 + i, "clk": "gps", "pm25": 10.0 + i,
                          "lat": round(LAT + (ash_strays_m / 111_195 if i == 2 else 0), 7), "lon": round(_lon(10 * i), 7),
                          "flags": []} for i in range(3)], folder / "pulls" / "walk-a-20260516T100000Z.csv")
    write_csv("walk-b", [{"ts": T0 + 5 + 5 * i, "seq": 7 + i, "clk": "ntp", "pm25": 20.0, "flags": ["rh_high"] if i == 1 else []}
                         for i in range(3)], folder / "pulls" / "walk-b-20260516T100000Z.csv")
    (folder / "birch.gpx").write_text(
        '<?xml version="1.0"?>\n<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n'
        f'<trkpt lat="{LAT}" lon="{_lon(100):.7f}"><time>2026-05-16T09:01:00Z</time></trkpt>\n'
        f'<trkpt lat="{LAT}" lon="{_lon(120):.7f}"><time>2026-05-16T09:01:20Z</time></trkpt>\n</trkseg></trk></gpx>\n')
    (folder / "walk.toml").write_text('''title = "Two by three"
date = 2026-05-16
timezone = "Europe/London"
licence = "CC0-1.0"

[window]
start = 10:00:00
end = 10:10:00

[route]
file = "route.geojson"
segment_m = 50

[readings]
source = "pull"
folder = "pulls"

[privacy]
trim_m = 0

[[participants]]
pseudonym = "Ash"
kit = "walk-a"

[[participants]]
pseudonym = "Birch"
kit = "walk-b"
gpx = "birch.gpx"
''')
    plan = load_plan(folder / "walk.toml")
    return assemble(plan, load_inputs(plan, PullSource(folder / "pulls")))


def test_readings_csv_of_a_hand_built_walk_is_exactly_what_it_should_be(tmp_path):
    walk = _walk(tmp_path)
    csv = write_walk(walk, tmp_path / "out")["readings.csv"].read_text()
    # Coordinates to 6 decimals, in their shortest form (a whole number without ".0").
    lon = {m: repr(round(float(_lon(m)), 6)).removesuffix(".0") for m in (0, 10, 20, 105, 110, 115)}
    assert csv.splitlines() == [
        "device,time,ts,clk,seq,pm25,lat,lon,flags,participant,walk_time,clock,clock_offset_s,position,position_source,segment,"
        "route_distance_m",
        f"walk-a,2026-05-16T09:01:00Z,{T0},gps,1,10,53,{lon[0]},,Ash,2026-05-16T09:01:00Z,synced,0,fix,kit_gps,0,0",
        f"walk-a,2026-05-16T09:01:10Z,{T0 + 10},gps,2,11,53,{lon[10]},,Ash,2026-05-16T09:01:10Z,synced,0,fix,kit_gps,0,0",
        f"walk-a,2026-05-16T09:01:20Z,{T0 + 20},gps,3,12,53,{lon[20]},,Ash,2026-05-16T09:01:20Z,synced,0,fix,kit_gps,0,0",
        f"walk-b,2026-05-16T09:01:05Z,{T0 + 5},ntp,7,20,53,{lon[105]},,Birch,2026-05-16T09:01:05Z,synced,0,interpolated,gpx,2,0",
        f"walk-b,2026-05-16T09:01:10Z,{T0 + 10},ntp,8,20,53,{lon[110]},rh_high,Birch,2026-05-16T09:01:10Z,synced,0,interpolated,gpx,2,0",
        f"walk-b,2026-05-16T09:01:15Z,{T0 + 15},ntp,9,20,53,{lon[115]},,Birch,2026-05-16T09:01:15Z,synced,0,interpolated,gpx,2,0",
    ]


def test_the_summary_of_a_hand_built_walk_counts_every_reading_and_the_segments_have_their_figures(tmp_path):
    walk = _walk(tmp_path)
    assert walk.summary["readings"] == {
        "found": 6, "outside_walk": 0, "colocation": 0, "in_walk": 6,
        "position": {"fix": 3, "interpolated": 3, "nearest": 0, "gap": 0, "off_track": 0, "no_fixes": 0},
        "removed": {"privacy_zone": 0, "trimmed_start": 0, "trimmed_end": 0},
        "published": 6, "published_placed": 6, "off_route": 0,
    }
    stats = walk.stats.set_index("segment")
    assert stats.loc[0, ["pm25_n", "pm25_median", "pm25_mean", "pm25_max", "pm25_kits"]].tolist() == [3, 11.0, 11.0, 12.0, 1]
    assert stats.loc[2, ["pm25_n", "pm25_median", "pm25_kits"]].tolist() == [3, 20.0, 1]
    assert stats.loc[2, "pm25_band"] == "low" and bool(stats.loc[2, "pm25_who_exceeded"]) is True
    assert stats.loc[1, "pm25_n"] == 0 and np.isnan(stats.loc[1, "pm25_median"])
    assert len(walk.segments) == 20


def test_a_reading_off_the_route_is_published_and_counted_but_left_out_of_the_segments_figures(tmp_path):
    walk = _walk(tmp_path, ash_strays_m=200)  # beyond the default 50 m from the route
    assert walk.summary["readings"]["off_route"] == 1 and walk.summary["readings"]["published"] == 6
    assert walk.readings["segment"].tolist() == [0, 0, -1, 2, 2, 2]
    stats = walk.stats.set_index("segment")
    assert stats.loc[0, ["pm25_n", "pm25_median", "pm25_mean", "pm25_max", "pm25_kits"]].tolist() == [2, 10.5, 10.5, 11.0, 1]
    assert stats.loc[2, ["pm25_n", "pm25_median", "pm25_kits"]].tolist() == [3, 20.0, 1]
