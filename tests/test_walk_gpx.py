"""A phone's GPX as timed fixes: real files from gpxpy's test suite, and the edge cases, each with a clear outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from walks.gpx import _PAD, GpxError, Track, _decimals, _finish, _gpxpy, _iso_times, _scan, read_track

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


def test_the_scanner_reads_these_of_gpxpys_files_and_leaves_the_rest_to_gpxpy():
    scanned = {p.name for p in GPXPY_FILES.glob("*.gpx") if _scan(p.read_bytes()) is not None}
    assert scanned == {
        "Mojstrovka.gpx", "around-visnjan-with-car.gpx", "cerknicko-jezero-no-creator.gpx", "cerknicko-jezero-with-elevations-zero.gpx",
        "cerknicko-jezero.gpx", "first_and_last_elevation.gpx", "gpx1.0_with_all_fields.gpx", "track-with-empty-segment.gpx",
        "track-with-less-sec-time.gpx", "track_with_speed.gpx", "validation_gpx10.gpx", "validation_gpx11.gpx",
    }


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


# -- the fast scanner against gpxpy, on files laid out as phones write them ---------------------------------------

START = datetime(2026, 5, 1, 10, tzinfo=UTC)


def _phone_gpx(tmp_path: Path, n: int = 40, fraction: int = 0, offset: str = "Z", extensions: bool = True,
               point: str = '<trkpt lat="{lat}" lon="{lon}">', ele: bool = True, name: str = "phone.gpx") -> Path:
    """A recording as phone apps write it: metadata with its own time, one fix a second, every third with extensions."""
    points = []
    for i in range(n):
        when = START + timedelta(seconds=i, microseconds=(i * 123_457) % 1_000_000 if fraction else 0)
        shift = timedelta() if offset in ("Z", "") else timedelta(hours=int(offset[:3]), minutes=int(offset[0] + offset[4:]))
        stamp = (when + shift).strftime("%Y-%m-%dT%H:%M:%S") + ((when.strftime(".%f")[: fraction + 1]) if fraction else "") + offset
        lat, lon = f"{53.4808 + i * 1.7e-5:.7f}", f"{-2.2426 - i * 2.3e-5:.7f}"
        body = (f"<ele>{40 + i * 0.1:.1f}</ele>" if ele else "") + f"\n   <time>{stamp}</time>"
        if extensions and i % 3 == 0:
            body += f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{90 + i}</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions>"
        points.append("  " + point.format(lat=lat, lon=lon) + "\n   " + body + "\n  </trkpt>\n")
    path = tmp_path / name
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="OsmAnd" '
                    'xmlns="http://www.topografix.com/GPX/1/1" xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
                    "<metadata><time>2026-05-01T09:00:00Z</time></metadata><trk><name>Heron's walk</name><trkseg>\n"
                    + "".join(points) + "</trkseg></trk></gpx>\n")
    return path


def _by_gpxpy(path: Path) -> Track:
    return _finish(path, *_gpxpy(path, path.read_bytes()), reader="gpxpy")


def _same_fixes(fast: Track, slow: Track) -> bool:
    return (np.array_equal(fast.t, slow.t) and np.array_equal(fast.lat, slow.lat) and np.array_equal(fast.lon, slow.lon)
            and np.array_equal(fast.ele, slow.ele, equal_nan=True) and (fast.without_time, fast.kind) == (slow.without_time, slow.kind))


@pytest.mark.parametrize("layout", [
    {}, {"fraction": 3}, {"fraction": 6}, {"offset": "+01:00"}, {"offset": "-05:30", "fraction": 3}, {"offset": ""},
    {"extensions": False}, {"ele": False}, {"point": '<trkpt lon="{lon}" lat="{lat}">'}, {"point": "<trkpt lat='{lat}' lon='{lon}'>"},
    {"point": '<trkpt lat="{lat}"\nlon="{lon}">'},
], ids=repr)
def test_the_scanner_reads_a_phones_recording_exactly_as_gpxpy_does(tmp_path, layout):
    path = _phone_gpx(tmp_path, **layout)
    fast = read_track(path)
    assert fast.reader == "scan" and len(fast) == 40
    assert _same_fixes(fast, _by_gpxpy(path))


def test_the_scanner_reads_every_time_itself_when_they_share_one_layout(tmp_path):
    times = _scan(_phone_gpx(tmp_path, fraction=3, offset="+02:00").read_bytes())[0]
    assert times.dtype == np.int64 and times[0] == int((START + timedelta(seconds=0)).timestamp()) * 10**9


def test_times_of_mixed_layouts_are_left_to_pandas_and_still_agree_with_gpxpy(tmp_path):
    path = _phone_gpx(tmp_path)
    path.write_text(path.read_text().replace("10:00:05Z", "11:00:05+01:00").replace("10:00:07Z", "10:00:07.5Z"))
    assert not isinstance(_scan(path.read_bytes())[0], np.ndarray)
    fast = read_track(path)
    assert fast.reader == "scan" and _same_fixes(fast, _by_gpxpy(path))


def test_a_recording_with_one_point_missing_its_time_is_read_by_gpxpy_and_the_point_counted(tmp_path):
    path = _phone_gpx(tmp_path, extensions=False)
    text = path.read_text()
    cut = text.index("<time>2026-05-01T10:00:07Z</time>")
    path.write_text(text[:cut] + text[cut + len("<time>2026-05-01T10:00:07Z</time>"):])
    track = read_track(path)
    seconds = (track.t - int(START.timestamp()) * 10**9) // 10**9
    assert (track.reader, track.without_time, seconds.tolist()) == ("gpxpy", 1, [s for s in range(40) if s != 7])


@pytest.mark.parametrize("change", [
    ("</trkpt>", "</trkpt><!-- <trkpt lat=\"1\" lon=\"2\"><time>2026-05-01T11:00:00Z</time></trkpt> -->"),
    ("<ele>40.0</ele>", "<![CDATA[x]]><ele>40.0</ele>"),
    ("\n   <time>2026-05-01T10:00:00Z", "<hdop>3</hdop><time>2026-05-01T10:00:00Z"),
    ('lon="-2.2426000">', 'lon="-2.2426000" >'),
    ('lat="53.4808000"', 'lat="5&#51;.4808000"'),
    ("<ele>40.0</ele>", "<ele/>"),
], ids=["comment", "cdata", "other child first", "space before >", "entity", "self-closed ele"])
def test_a_layout_the_scanner_does_not_cover_is_left_to_gpxpy(tmp_path, change):
    path = _phone_gpx(tmp_path, n=5)
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    assert _scan(path.read_bytes()) is None
    assert read_track(path).reader == "gpxpy"


def test_a_number_float_reads_but_digit_arithmetic_does_not_is_read_by_float(tmp_path):
    path = _phone_gpx(tmp_path, n=3)
    path.write_text(path.read_text().replace('lat="53.4808000"', 'lat="5.34808E1"').replace("<ele>40.1</ele>", "<ele> 40.1 </ele>"))
    fast = read_track(path)
    assert fast.reader == "scan" and fast.lat[0] == 53.4808 and fast.ele[1] == 40.1 and _same_fixes(fast, _by_gpxpy(path))


def test_a_date_that_does_not_exist_is_an_error_that_names_the_file(tmp_path):
    path = _phone_gpx(tmp_path, n=3)
    path.write_text(path.read_text().replace("2026-05-01T10:00:01Z", "2026-02-30T10:00:01Z"))
    with pytest.raises(GpxError, match="phone.gpx has a time that is not an ISO 8601 date and time"):
        read_track(path)


def _columns(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """texts laid end to end (with a separator, as in a file, and padding after it) and their byte spans."""
    data = b"<" + b"|".join(t.encode() for t in texts) + b">"
    lengths = np.array([len(t.encode()) for t in texts])
    start = 1 + np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    return np.frombuffer(data + bytes(_PAD), np.uint8), start, start + lengths


decimal_text = st.one_of(
    st.floats(-180, 180, allow_nan=False).map(repr), st.integers(-10**16, 10**16).map(str),
    st.builds(lambda i, f, neg: ("-" if neg else "") + f"{i}.{f}", st.integers(0, 999), st.text("0123456789", min_size=0, max_size=16),
              st.booleans()),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(decimal_text, min_size=1, max_size=30))
@example(["91.0000000000001", "-0.0", "1234567890.12345678"])  # 16 columns: past 2**53 had the sum been in floats
def test_reading_decimals_by_digit_arithmetic_gives_exactly_what_float_gives(texts):
    got = _decimals(*_columns(texts))
    assert got is not None and got.tolist() == [float(t) for t in texts]


# As a GPS writes them: one number of decimals for the whole column (the scanner's quickest path).
fixed_point_column = st.integers(0, 12).flatmap(lambda places: st.lists(
    st.one_of(st.floats(-180, 180, allow_nan=False), st.floats(-1, 1, allow_nan=False)).map(lambda x: f"{x:.{places}f}"), min_size=1, max_size=30))


@settings(max_examples=200, deadline=None)
@given(fixed_point_column)
def test_reading_a_column_of_fixed_point_decimals_gives_exactly_what_float_gives(texts):
    assert _decimals(*_columns(texts)).tolist() == [float(t) for t in texts]


zones = st.one_of(st.just("Z"), st.just(""), st.builds(lambda h, m, s: f"{s}{h:02d}:{m:02d}", st.integers(0, 14), st.sampled_from([0, 30, 45]),
                                                         st.sampled_from("+-")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.datetimes(datetime(1700, 1, 1), datetime(2250, 1, 1)), min_size=1, max_size=20), st.integers(0, 9), zones)
def test_reading_times_of_one_layout_by_digit_arithmetic_gives_exactly_what_pandas_gives(moments, fraction, zone):
    texts = [m.strftime("%Y-%m-%dT%H:%M:%S") + (f".{m.microsecond:06d}{m.microsecond % 1000:03d}"[: fraction + 1] if fraction else "") + zone
             for m in moments]
    expected = pd.to_datetime(pd.Series(texts), format="ISO8601", utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    assert _iso_times(*_columns(texts)).tolist() == expected.tolist()
