"""Participants' notes and photos: read from CSV, GeoJSON and EXIF, checked row by row, attached to a published point of the walk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import ExifTags, Image

from walks.observations import COLUMNS, NO_TIME, REASONS, ObservationError, attach, combine, read_notes, read_photos
from walks.privacy import haversine_m

ZONE = "Europe/Madrid"  # UTC+1 in November, so a local time and its UTC differ
M_PER_DEG = 111_195.0  # metres per degree of latitude on the mean sphere


def ns(iso: str) -> int:
    return pd.Timestamp(iso).as_unit("ns").value


def table(rows: list[dict]) -> pd.DataFrame:
    """The observations table as read_notes / read_photos give it, from rows written out in full."""
    empty = {"t": NO_TIME, "has_time": False, "lat": np.nan, "lon": np.nan, "text": "", "participant": "", "photo": ""}
    rows = [{**empty, **row} for row in rows]
    frame = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in COLUMNS})
    return frame.astype({"t": np.int64, "has_time": bool, "lat": float, "lon": float})


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems(exc: pytest.ExceptionInfo) -> list[str]:
    return exc.value.problems


# -- notes as CSV ----------------------------------------------------------------------------------


def test_a_notes_csv_becomes_the_observations_table_with_local_times_in_utc(tmp_path):
    path = write(tmp_path, "notes.csv", "\ufeffTime, Lat ,lon,text,participant,photo\n"
                 "2026-11-21T10:32,,,bus idling at the stop,Heron,\n"
                 "2026-11-21T10:40:05+00:00,53.48,-2.24,bonfire smoke,,IMG_0412.jpg\n"
                 "\n"
                 ",53.481,-2.243,new bike lane,Kestrel,\n"
                 "2026-11-21 10:45:00.250Z,,,\"a quote, with a comma\",,\n")
    assert_frame = table([
        {"t": ns("2026-11-21T09:32Z"), "has_time": True, "text": "bus idling at the stop", "participant": "Heron", "source": "notes.csv:2"},
        {"t": ns("2026-11-21T10:40:05Z"), "has_time": True, "lat": 53.48, "lon": -2.24, "text": "bonfire smoke",
         "photo": "IMG_0412.jpg", "source": "notes.csv:3"},
        {"lat": 53.481, "lon": -2.243, "text": "new bike lane", "participant": "Kestrel", "source": "notes.csv:5"},
        {"t": ns("2026-11-21T10:45:00.25Z"), "has_time": True, "text": "a quote, with a comma", "source": "notes.csv:6"},
    ])
    pd.testing.assert_frame_equal(read_notes(path, ZONE), assert_frame)


def test_a_text_over_two_lines_keeps_the_line_numbers_of_the_rows_after_it(tmp_path):
    path = write(tmp_path, "notes.csv", 'time,text\n2026-11-21T10:00,"two\nlines"\n2026-11-21T10:01,next\nsoon,bad\n')
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == ["line 5: time 'soon' is not an ISO 8601 date and time: write it as 2026-11-21T10:32 "
                             "(local time in Europe/Madrid) or with its offset, 2026-11-21T10:32+01:00"]


def test_every_bad_row_is_listed_with_its_line_and_what_to_change(tmp_path):
    path = write(tmp_path, "notes.csv", "time,lat,lon,text,participant\n"
                 "21/11/2026 10:32,,,date the wrong way round,\n"
                 "2026-11-21T10:33,95.0,-2.24,latitude too big,\n"
                 ",,,nothing to place it by,\n"
                 "2026-11-21T10:35,\"53,48\",-2.24,decimal comma,\n"
                 ",53.48,,half a position,\n"
                 "2026-11-21T10:37,,,,\n"
                 "2026-02-30T10:38,,,no such day,\n"
                 "2026-11-21T10:39,,,fine,Heron\n"
                 "2026-11-21T10:40,,,a real name,jane@example.org\n"
                 "2026-11-21T10:41,,,one too many,,extra\n")
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == [
        "line 2: time '21/11/2026 10:32' is not an ISO 8601 date and time: write it as 2026-11-21T10:32 "
        "(local time in Europe/Madrid) or with its offset, 2026-11-21T10:32+01:00",
        "line 3: lat 95.0 is outside -90..90",
        "line 4: has neither a time nor a position: give it the time it was noted, or its lat and lon",
        "line 5: lat '53,48' is not a number (use a point, not a comma, before the decimals)",
        "line 6: has a lat but no lon; a position needs both",
        "line 7: says nothing: give it a text or a photo",
        "line 8: time '2026-02-30T10:38' is not a real date and time of day",
        "line 10: participant 'jane@example.org' is not a pseudonym (1-32 letters, digits, spaces, ' . - or _)",
        "line 11: has 6 values for 5 columns (a comma in a text? put the text in double quotes)",
    ]
    assert str(exc.value).startswith(f"{path} has 9 problems:\n  - line 2: ")


def test_an_unknown_column_is_an_error_that_names_it_and_the_columns_there_are(tmp_path):
    path = write(tmp_path, "notes.csv", "time,txt,lat,lon\n2026-11-21T10:32,hello,53.4,-2.2\n")
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == [
        "line 1: 'txt' is not a notes column; the columns are time, lat, lon, text, participant, photo: rename or remove it",
        "line 1: there is no text column (nor a photo column): a note needs something to say",
    ]


def test_a_file_separated_by_semicolons_is_refused_with_a_hint(tmp_path):
    path = write(tmp_path, "notes.csv", "time;text\n2026-11-21T10:32;hello\n")
    with pytest.raises(ObservationError, match=r"'time;text' is not a notes column \(the file looks separated by ';'"):
        read_notes(path, ZONE)


def test_a_file_with_neither_a_time_column_nor_both_position_columns_is_refused(tmp_path):
    path = write(tmp_path, "notes.csv", "lat,text\n53.4,hello\n")
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == [
        "line 1: there is no time column, nor lat and lon columns: a note needs a time or a position",
        "line 1: there is a lat column without a lon column; a position needs both",
    ]


def test_a_local_time_when_the_clocks_changed_must_carry_its_offset(tmp_path):
    # Madrid: 02:00-03:00 is skipped on 29 March 2026 and passed twice on 25 October 2026.
    path = write(tmp_path, "notes.csv", "time,text\n2026-03-29T02:30,skipped\n2026-10-25T02:30,twice\n"
                 "2026-10-25T02:30+01:00,the second time\n")
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == [
        f"line {n}: time '{t}' is when the clocks changed in Europe/Madrid (skipped or passed twice): add its UTC offset, e.g. +01:00"
        for n, t in ((2, "2026-03-29T02:30"), (3, "2026-10-25T02:30"))
    ]


@pytest.mark.parametrize("text", ["", "\n \n", "time,lat,lon,text\n"])
def test_an_empty_notes_file_is_an_empty_table(tmp_path, text):
    pd.testing.assert_frame_equal(read_notes(write(tmp_path, "notes.csv", text), ZONE), table([]))


def test_a_file_that_is_not_utf8_names_the_line_to_fix(tmp_path):
    path = write(tmp_path, "notes.csv", "time,text\n2026-11-21T10:32,café\n", encoding="latin-1")
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == ["line 2: is not UTF-8 text; save the file as UTF-8 (in a spreadsheet: CSV UTF-8)"]


def test_a_missing_notes_file_or_one_of_another_kind_is_refused(tmp_path):
    with pytest.raises(ObservationError, match="there is no such file"):
        read_notes(tmp_path / "notes.csv", ZONE)
    with pytest.raises(ObservationError, match=r"a notes file is a \.csv, \.geojson, \.json file, not \.xlsx"):
        read_notes(write(tmp_path, "notes.xlsx", "x"), ZONE)


# -- notes as GeoJSON ----------------------------------------------------------------------------


def _feature(properties: dict, coordinates: list | None) -> dict:
    geometry = None if coordinates is None else {"type": "Point", "coordinates": coordinates}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def test_a_geojson_of_points_becomes_the_same_table_as_a_csv(tmp_path):
    doc = {"type": "FeatureCollection", "features": [
        _feature({"time": "2026-11-21T10:32", "text": "bus idling at the stop", "participant": "Heron"}, None),
        _feature({"time": "2026-11-21T10:40:05Z", "text": "bonfire smoke", "photo": "IMG_0412.jpg", "participant": None},
                 [-2.24, 53.48, 41.0]),
        _feature({"text": "new bike lane"}, [-2.243, 53.481]),
    ]}
    path = write(tmp_path, "notes.geojson", json.dumps(doc))
    pd.testing.assert_frame_equal(read_notes(path, ZONE), table([
        {"t": ns("2026-11-21T09:32Z"), "has_time": True, "text": "bus idling at the stop", "participant": "Heron",
         "source": "notes.geojson:feature 1"},
        {"t": ns("2026-11-21T10:40:05Z"), "has_time": True, "lat": 53.48, "lon": -2.24, "text": "bonfire smoke",
         "photo": "IMG_0412.jpg", "source": "notes.geojson:feature 2"},
        {"lat": 53.481, "lon": -2.243, "text": "new bike lane", "source": "notes.geojson:feature 3"},
    ]))


def test_markers_drawn_in_umap_are_notes_their_name_and_description_the_text_their_styling_left_alone(tmp_path):
    doc = {"type": "FeatureCollection", "_umap_options": {"name": "Our walk"}, "features": [
        _feature({"name": "Bus stop", "description": "bus idling, engine on", "marker-color": "#f00",
                  "_umap_options": {"color": "Red", "iconClass": "Drop"}}, [-2.24, 53.48]),
        _feature({"name": "Bonfire", "time": "2026-11-21T10:40:05Z", "marker-symbol": "fire"}, None),
        _feature({"text": "new bike lane", "description": "the text wins"}, [-2.243, 53.481]),
    ]}
    path = write(tmp_path, "notes.geojson", json.dumps(doc))
    pd.testing.assert_frame_equal(read_notes(path, ZONE), table([
        {"lat": 53.48, "lon": -2.24, "text": "Bus stop — bus idling, engine on", "source": "notes.geojson:feature 1"},
        {"t": ns("2026-11-21T10:40:05Z"), "has_time": True, "text": "Bonfire", "source": "notes.geojson:feature 2"},
        {"lat": 53.481, "lon": -2.243, "text": "new bike lane", "source": "notes.geojson:feature 3"},
    ]))


def test_every_bad_feature_is_listed_with_its_number(tmp_path):
    doc = {"type": "FeatureCollection", "features": [
        _feature({"text": "too far north", "time": "2026-11-21T10:32"}, [-2.24, 95.0]),
        {"type": "Feature", "properties": {"text": "a line"}, "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
        _feature({"text": 42, "time": "2026-11-21T10:32"}, None),
        _feature({"text": "nowhere, no time"}, None),
        _feature({"text": "extra", "colour": "#f00", "time": "2026-11-21T10:32"}, None),
        _feature({"text": "fine", "time": "2026-11-21T10:32"}, None),
    ]}
    path = write(tmp_path, "notes.geojson", json.dumps(doc))
    with pytest.raises(ObservationError) as exc:
        read_notes(path, ZONE)
    assert problems(exc) == [
        "feature 1: lat 95.0 is outside -90..90 (GeoJSON coordinates are [longitude, latitude])",
        "feature 2: its geometry is a LineString, not a Point; has neither a time nor a position: "
        "give it the time it was noted, or its lat and lon",
        "feature 3: its text is not a string (write it in double quotes); says nothing: give it a text or a photo",
        "feature 4: has neither a time nor a position: give it the time it was noted, or its lat and lon",
        "feature 5: the property colour is not a notes property (time, text, participant, photo): rename or remove it",
    ]


def test_a_json_that_is_not_a_feature_collection_or_not_json_at_all_is_refused(tmp_path):
    with pytest.raises(ObservationError, match="is not a GeoJSON FeatureCollection"):
        read_notes(write(tmp_path, "notes.geojson", '{"type": "Feature"}'), ZONE)
    with pytest.raises(ObservationError) as exc:
        read_notes(write(tmp_path, "notes.json", '{"type": "FeatureCollection",\n "features": [,]}'), ZONE)
    assert problems(exc) == ["line 2: is not JSON (Expecting value)"]


# -- photos ---------------------------------------------------------------------------------------------


def _dms(degrees: float) -> tuple[float, float, float]:
    d = int(degrees)
    m = int((degrees - d) * 60)
    return float(d), float(m), round((degrees - d - m / 60) * 3600, 6)


def photo(path: Path, taken: str | None = None, offset: str | None = None, gps: tuple[float, float] | None = None,
          status: str | None = None, kind: str = "JPEG") -> Path:
    """A small image with the EXIF a phone writes: DateTimeOriginal, OffsetTimeOriginal, the GPS IFD."""
    exif = Image.Exif()
    if taken is not None:
        exif[ExifTags.IFD.Exif] = {36867: taken, **({36881: offset} if offset else {})}
    if gps is not None:
        lat, lon = gps
        exif[ExifTags.IFD.GPSInfo] = {1: "N" if lat >= 0 else "S", 2: _dms(abs(lat)), 3: "E" if lon >= 0 else "W",
                                      4: _dms(abs(lon)), **({9: status} if status else {})}
    Image.new("RGB", (8, 8), "green").save(path, kind, exif=exif)
    return path


def test_a_photos_exif_time_offset_and_gps_become_its_row(tmp_path):
    photos = [photo(tmp_path / "IMG_0412.jpg", "2026:11:21 10:32:05", "+01:00", (53.5, -2.25)),
              photo(tmp_path / "IMG_0413.JPG", "2026:11:21 10:40:00", None, (-33.875, 151.2)),
              photo(tmp_path / "IMG_0414.jpeg", None, None, (53.5, -2.25), status="V")]
    pd.testing.assert_frame_equal(read_photos(photos, ZONE, participant="Heron"), table([
        {"t": ns("2026-11-21T09:32:05Z"), "has_time": True, "lat": 53.5, "lon": -2.25, "participant": "Heron",
         "photo": "IMG_0412.jpg", "source": "IMG_0412.jpg"},
        # No offset: local time in the walk's zone.
        {"t": ns("2026-11-21T09:40:00Z"), "has_time": True, "lat": -33.875, "lon": 151.2, "participant": "Heron",
         "photo": "IMG_0413.JPG", "source": "IMG_0413.JPG"},
        # A fix the receiver marked void is no position.
        {"participant": "Heron", "photo": "IMG_0414.jpeg", "source": "IMG_0414.jpeg"},
    ]), check_exact=False, rtol=1e-9)


def test_a_photo_a_note_names_is_one_observation_the_notes_with_the_photos_time_where_the_note_has_none(tmp_path):
    photos = read_photos([photo(tmp_path / "IMG_0412.jpg", "2026:11:21 10:32:05", "+01:00", (53.5, -2.25)),
                          photo(tmp_path / "IMG_0413.jpg", "2026:11:21 10:40:00", "+01:00", None)], ZONE)
    notes = read_notes(write(tmp_path, "notes.csv", "lat,lon,text,photo\n53.48,-2.24,bonfire smoke,img_0412.JPG\n"
                                                    "53.49,-2.23,a bus,\n"), ZONE)
    pd.testing.assert_frame_equal(combine([notes], photos), table([
        # The caption, where its note says, at the time its photo was taken.
        {"t": ns("2026-11-21T09:32:05Z"), "has_time": True, "lat": 53.48, "lon": -2.24, "text": "bonfire smoke",
         "photo": "img_0412.JPG", "source": "notes.csv:2"},
        {"lat": 53.49, "lon": -2.23, "text": "a bus", "source": "notes.csv:3"},
        {"t": ns("2026-11-21T09:40:00Z"), "has_time": True, "photo": "IMG_0413.jpg", "source": "IMG_0413.jpg"},
    ]), check_exact=False, rtol=1e-9)


def test_a_photo_with_no_exif_is_kept_with_neither_time_nor_position_and_counted_when_attaching(tmp_path):
    stripped = photo(tmp_path / "from-a-chat.jpg")
    blank = photo(tmp_path / "blank-clock.jpg", "    :  :     :  :  ")
    read = read_photos([stripped, blank], ZONE)
    pd.testing.assert_frame_equal(read, table([{"photo": "from-a-chat.jpg", "source": "from-a-chat.jpg"},
                                               {"photo": "blank-clock.jpg", "source": "blank-clock.jpg"}]))
    attached = attach(read, points([("Heron", "2026-11-21T09:32Z", 53.5, -2.25)]))
    assert attached.unattached == {**NONE, "no_time_or_position": 2}
    assert attached.left_out.to_dict("list") == {"source": ["from-a-chat.jpg", "blank-clock.jpg"],
                                                  "reason": ["no_time_or_position"] * 2}


def test_a_folder_of_photos_is_read_in_name_order_skipping_hidden_files(tmp_path):
    photo(tmp_path / "b.jpg", "2026:11:21 10:00:02")
    photo(tmp_path / "a.jpg", "2026:11:21 10:00:01")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "sub").mkdir()
    assert read_photos(tmp_path, ZONE)["photo"].tolist() == ["a.jpg", "b.jpg"]


def test_every_file_that_is_not_a_readable_jpeg_is_named_in_one_error(tmp_path):
    photo(tmp_path / "ok.jpg", "2026:11:21 10:00:01")
    photo(tmp_path / "screenshot.png", kind="PNG")
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 32)
    (tmp_path / "notes.txt").write_text("not a photo")
    with pytest.raises(ObservationError) as exc:
        read_photos(tmp_path, ZONE)
    assert str(exc.value).startswith(f"{tmp_path} has 3 problems:")
    assert problems(exc) == [
        f"{tmp_path / 'IMG_0001.HEIC'}: is not an image Pillow can read: an iPhone's HEIC; export it as JPEG, "
        "or set Settings > Camera > Formats to Most Compatible",
        f"{tmp_path / 'notes.txt'}: is not an image Pillow can read",
        f"{tmp_path / 'screenshot.png'}: is a PNG image, not a JPEG; export it as JPEG, which keeps the EXIF time and place",
    ]


def test_a_folder_that_is_not_there_is_refused(tmp_path):
    with pytest.raises(ObservationError, match="is not a folder of photos"):
        read_photos(tmp_path / "photos", ZONE)


# -- attaching --------------------------------------------------------------------------------------------

NONE = dict.fromkeys(REASONS, 0)


def points(rows: list[tuple[str, str, float, float]], first: int = 100) -> pd.DataFrame:
    """Published points with an index of their own (so ``point`` is seen to be the label, not the row)."""
    frame = pd.DataFrame([{"participant": who, "t": ns(t), "lat": lat, "lon": lon} for who, t, lat, lon in rows])
    frame.index = pd.RangeIndex(first, first + len(rows))
    return frame


def notes(rows: list[dict]) -> pd.DataFrame:
    return table([{**row, "source": row.get("source", f"notes.csv:{i + 2}")} for i, row in enumerate(rows)])


def timed(iso: str, **more) -> dict:
    return {"t": ns(iso), "has_time": True, **more}


WALK = points([("Heron", "2026-11-21T10:00:00Z", 53.000, -2.0), ("Heron", "2026-11-21T10:01:00Z", 53.001, -2.0),
               ("Kestrel", "2026-11-21T10:00:50Z", 53.010, -2.0), ("Kestrel", "2026-11-21T10:02:00Z", 53.011, -2.0)])


def test_an_observation_with_a_time_goes_to_its_participants_nearest_point_in_time():
    # At 10:00:52 Kestrel's point (10:00:50) is nearest; Heron's own is 10:01:00.
    got = attach(notes([timed("2026-11-21T10:00:52Z", participant="Heron", text="hello")]), WALK)
    expected = notes([timed("2026-11-21T10:00:52Z", participant="Heron", text="hello", lat=53.001, lon=-2.0)])
    expected["point"], expected["distance_m"], expected["dt_s"] = [101], [np.nan], [-8.0]
    pd.testing.assert_frame_equal(got.observations, expected)
    assert got.unattached == NONE and got.left_out.empty


def test_an_observation_naming_no_one_goes_to_anyones_nearest_point_in_time():
    got = attach(notes([timed("2026-11-21T10:00:52Z", text="hello")]), WALK)
    assert got.observations[["point", "lat", "lon", "dt_s"]].to_dict("records") == [{"point": 102, "lat": 53.010, "lon": -2.0, "dt_s": 2.0}]


def test_a_tie_in_time_goes_to_the_earlier_point():
    got = attach(notes([timed("2026-11-21T10:00:30Z", participant="Heron", text="between")]), WALK)
    assert got.observations["point"].tolist() == [100]


def test_time_decides_when_an_observation_has_both_a_time_and_a_position():
    # Its own position is on Kestrel's point, its time is Heron's first point's; and a time off by an hour is
    # not rescued by a position on the route (a photo from another moment).
    obs = notes([timed("2026-11-21T10:00:05Z", lat=53.011, lon=-2.0, text="stale fix"),
                 timed("2026-11-21T11:00:00Z", lat=53.011, lon=-2.0, text="an hour later")])
    got = attach(obs, WALK)
    assert got.observations[["point", "lat", "lon"]].to_dict("records") == [{"point": 100, "lat": 53.0, "lon": -2.0}]
    assert got.observations["distance_m"].round().tolist() == [round(0.011 * M_PER_DEG)]
    assert got.unattached == {**NONE, "too_far_in_time": 1}


def test_an_observation_with_only_a_position_goes_to_anyones_nearest_point_in_space():
    obs = notes([{"lat": 53.0105, "lon": -2.0, "text": "near Kestrel's", "participant": "Heron"}])
    got = attach(obs, WALK)
    assert got.observations[["point", "lat", "lon", "has_time"]].to_dict("records") == [
        {"point": 102, "lat": 53.010, "lon": -2.0, "has_time": False}]
    assert got.observations["distance_m"].round(1).tolist() == [round(0.0005 * M_PER_DEG, 1)]
    assert np.isnan(got.observations["dt_s"]).all()


def test_the_limits_are_inclusive_and_anything_beyond_is_counted_by_reason():
    north = 53.011 + 100 / M_PER_DEG  # 100 m north of the last point
    obs = notes([timed("2026-11-21T10:04:00Z", text="120 s after the last point"),
                 timed("2026-11-21T10:04:00.001Z", text="just over"),
                 {"lat": north - 1e-9, "lon": -2.0, "text": "just within 100 m"},
                 {"lat": north + 1e-6, "lon": -2.0, "text": "just beyond"},
                 timed("2026-11-21T10:00:00Z", participant="Osprey", text="no points of Osprey's"),
                 {"text": "neither"}])
    got = attach(obs, WALK)
    assert got.observations["text"].tolist() == ["120 s after the last point", "just within 100 m"]
    assert got.unattached == {**NONE, "too_far_in_time": 1, "too_far_away": 1, "participant_has_no_points": 1,
                              "no_time_or_position": 1}
    pd.testing.assert_frame_equal(got.left_out, pd.DataFrame(
        {"source": ["notes.csv:3", "notes.csv:5", "notes.csv:6", "notes.csv:7"],
         "reason": ["too_far_in_time", "too_far_away", "participant_has_no_points", "no_time_or_position"]},
        index=[1, 3, 4, 5]).astype(object))


def test_a_participant_without_points_is_not_given_someone_elses():
    got = attach(notes([timed("2026-11-21T10:00:00Z", participant="Osprey", text="x", lat=53.0, lon=-2.0)]), WALK)
    assert got.observations.empty and got.unattached == {**NONE, "participant_has_no_points": 1}


def test_participants_as_a_category_attach_as_their_names_do_also_one_left_without_points():
    observations = notes([timed("2026-11-21T10:00:00Z", participant="Osprey", text="x", lat=53.0, lon=-2.0),
                          *(timed(t, participant=who, text=who) for who, t, _, _ in WALK.itertuples(index=False))])
    as_names = attach(observations, WALK)
    # The walk build's points: a category that also holds Osprey, whose points the privacy filter removed.
    categories = sorted({*WALK["participant"], "Osprey"})
    as_category = attach(observations, WALK.assign(participant=pd.Categorical(WALK["participant"], categories=categories)))
    pd.testing.assert_frame_equal(as_category.observations, as_names.observations)
    assert as_category.unattached == as_names.unattached and as_names.unattached["participant_has_no_points"] == 1
    assert len(as_names.observations) == len(WALK)


def test_with_no_points_nothing_is_attached_and_everything_is_counted():
    empty = WALK.iloc[:0]
    got = attach(notes([timed("2026-11-21T10:00:00Z", text="a"), {"lat": 53.0, "lon": -2.0, "text": "b"}, {"text": "c"}]), empty)
    assert list(got.observations.columns) == [*COLUMNS, "point", "distance_m", "dt_s"] and got.observations.empty
    assert got.unattached == {**NONE, "no_points": 2, "no_time_or_position": 1}


def test_no_observations_attach_to_an_empty_table():
    got = attach(table([]), WALK)
    assert got.observations.empty and got.unattached == NONE and got.left_out.empty


def test_the_published_position_is_the_points_never_the_photos_own_gps(tmp_path):
    # Photos whose GPS is someone's front door, 60 m east of the published trace: one with a time, one without.
    home = (53.0008, -2.0 + 60 / (M_PER_DEG * np.cos(np.radians(53.0008))))
    read = read_photos([photo(tmp_path / "door.jpg", "2026:11:21 11:00:20", "+01:00", home),
                        photo(tmp_path / "home-again.jpg", None, None, home)], ZONE, participant="Heron")
    got = attach(read, WALK)
    published = got.observations
    assert published[["photo", "point", "lat", "lon"]].to_dict("records") == [
        {"photo": "door.jpg", "point": 100, "lat": 53.0, "lon": -2.0},
        {"photo": "home-again.jpg", "point": 101, "lat": 53.001, "lon": -2.0}]
    assert (haversine_m(published["lat"], published["lon"], *home) > 50).all()


def test_points_without_a_position_are_refused():
    unplaced = WALK.copy()
    unplaced.loc[101, "lat"] = np.nan
    with pytest.raises(ValueError, match="points must all be placed"):
        attach(notes([{"text": "x", "lat": 53.0, "lon": -2.0}]), unplaced)
