"""A phone's GPX as timed fixes: real files from gpxpy's test suite, and the edge cases, each with a clear outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from walks.gpx import GpxError, _finish, _gpxpy, _scan, read_track

GPXPY_FILES = Path(__file__).parent / "data" / "gpxpy"
NO_POINTS = "has no track or route points"
NO_TIMES = "has no times"

# What each of gpxpy's own test files gives: (fixes, without time) or the error it must say.
EXPECTED = {
    "Mojstrovka.gpx": (184, 0), "around-visnjan-with-car.gpx": (104, 0), "cerknicko-jezero-no-creator.gpx": (296, 0),
    "cerknicko-jezero-with-elevations-zero.gpx": (296, 0), "cerknicko-jezero-without-elevations.gpx": (295, 1),
    "cerknicko-jezero.gpx": (296, 0), "cerknicko-without-times.gpx": (5, 291), "first_and_last_elevation.gpx": (10, 0),
    "gpx-with-node-with-comments.gpx": (1, 0), "gpx1.0_with_all_fields.gpx": (1, 0), "gpx1.1_with_all_fields.gpx": (1, 0),
    "korita-zbevnica.gpx": (513, 358), "track-with-empty-segment.gpx": (9, 0), "track-with-less-sec-time.gpx": (2, 0),
    "track_with_speed.gpx": (3, 0), "validation_gpx10.gpx": (1, 0), "validation_gpx11.gpx": (1, 0),
    "route.gpx": "holds a route without times", "track-with-extremes.gpx": NO_TIMES, "track-with-small-floats.gpx": NO_TIMES,
    "track_with_dilution_errors.gpx": NO_TIMES,
    **{name: NO_POINTS for name in ("custom_schema_locations.gpx", "default_schema_locations.gpx", "gpx1.1_with_extensions.gpx",
                                    "gpx1.1_with_extensions_without_namespaces.gpx", "gpx_with_garmin_extension.gpx", "unicode.gpx",
                                    "unicode2.gpx", "unicode_with_bom.gpx", "unicode_with_bom_noencoding.gpx")},
}


def test_every_gpxpy_test_file_is_listed_here():
    assert sorted(p.name for p in GPXPY_FILES.glob("*.gpx")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gpxpys_own_test_files_give_fixes_or_a_clear_error(name):
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(GpxError, match=expected):
            read_track(GPXPY_FILES / name)
        return
    track = read_track(GPXPY_FILES / name)
    assert (len(track), track.without_time) == expected
    assert np.all(np.diff(track.t) >= 0)
    assert np.all(np.abs(track.lat) <= 90) and np.all(np.abs(track.lon) <= 180)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if not isinstance(e, str)))
def test_the_fast_scanner_and_gpxpy_agree_wherever_the_scanner_reads_a_file(name):
    path = GPXPY_FILES / name
    data = path.read_bytes()
    scanned = _scan(data)
    if scanned is None:
        pytest.skip("gpxpy reads this file alone")
    fast, slow = _finish(path, *scanned, reader="scan"), _finish(path, *_gpxpy(path, data), reader="gpxpy")
    assert np.all(np.abs(fast.t - slow.t) < 1000)  # gpxpy keeps microseconds, the scanner nanoseconds
    assert np.array_equal(fast.lat, slow.lat) and np.array_equal(fast.lon, slow.lon)
    assert np.array_equal(fast.ele, slow.ele, equal_nan=True) and fast.without_time == slow.without_time


def test_the_scanner_reads_the_common_layout_of_a_recorded_track():
    assert read_track(GPXPY_FILES / "cerknicko-jezero.gpx").reader == "scan"


def _gpx(tmp_path: Path, body: str, version: str = "1.1") -> Path:
    path = tmp_path / "phone.gpx"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="{version}" creator="test" '
                    f'xmlns="http://www.topografix.com/GPX/1/1">{body}</gpx>')
    return path


def _pt(lat: float, lon: float, time: str | None, tag: str = "trkpt") -> str:
    return f'<{tag} lat="{lat}" lon="{lon}"><ele>40</ele>' + (f"<time>{time}</time>" if time else "") + f"</{tag}>"


def test_times_with_an_offset_are_turned_into_utc_and_naive_times_are_utc(tmp_path):
    path = _gpx(tmp_path, "<trk><trkseg>" + _pt(53.0, -2.0, "2026-11-21T11:00:00+01:00") + _pt(53.1, -2.1, "2026-11-21T10:00:01")
                + "</trkseg></trk>")
    ten = int(datetime(2026, 11, 21, 10, tzinfo=UTC).timestamp()) * 10**9
    assert read_track(path).t.tolist() == [ten, ten + 10**9]


def test_points_without_a_time_are_left_out_and_counted(tmp_path):
    path = _gpx(tmp_path, "<trk><trkseg>" + _pt(53.0, -2.0, "2026-11-21T10:00:00Z") + _pt(53.1, -2.1, None)
                + _pt(53.2, -2.2, "2026-11-21T10:00:02Z") + "</trkseg></trk>")
    track = read_track(path)
    assert (len(track), track.without_time, track.lat.tolist()) == (2, 1, [53.0, 53.2])


def test_fixes_come_back_in_time_order_across_segments(tmp_path):
    path = _gpx(tmp_path, "<trk><trkseg>" + _pt(53.2, -2.2, "2026-11-21T10:00:05Z") + "</trkseg><trkseg></trkseg><trkseg>"
                + _pt(53.0, -2.0, "2026-11-21T10:00:01Z") + "</trkseg></trk>")
    assert read_track(path).lat.tolist() == [53.0, 53.2]


def test_a_timed_route_without_a_track_is_used_as_a_route(tmp_path):
    path = _gpx(tmp_path, "<rte>" + _pt(53.0, -2.0, "2026-11-21T10:00:00Z", "rtept") + _pt(53.1, -2.1, "2026-11-21T10:01:00Z", "rtept")
                + "</rte>")
    track = read_track(path)
    assert (track.kind, len(track), track.reader) == ("route", 2, "gpxpy")


def test_a_track_without_any_time_is_an_error_that_says_what_to_do(tmp_path):
    path = _gpx(tmp_path, "<trk><trkseg>" + _pt(53.0, -2.0, None) + "</trkseg></trk>")
    with pytest.raises(GpxError, match="has no times.*export the GPX again with timestamps"):
        read_track(path)


def test_a_file_that_is_not_gpx_is_named(tmp_path):
    path = tmp_path / "notes.gpx"
    path.write_text("Walk notes: bus stop smelled of diesel")
    with pytest.raises(GpxError, match="notes.gpx"):
        read_track(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(GpxError, match="cannot read the GPX file .*nope.gpx"):
        read_track(tmp_path / "nope.gpx")
