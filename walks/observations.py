"""Participants' notes and photos, each attached to the nearest point of the walk.

On a data walk people note what they see ("bus idling at the stop", a photo
of a bonfire). Those notes come as a CSV or a GeoJSON file the facilitator
collects, and as photos whose EXIF says when (and often where) they were
taken. ``read_notes`` and ``read_photos`` turn them into one table; ``attach``
ties each to a point of the walk that survived the privacy filter.

The table (``COLUMNS``): ``t`` int64 nanoseconds UTC with ``has_time`` saying
whether there is one (where not, ``t`` holds ``NO_TIME``, the integer of
NaT, so ``pd.to_datetime(t)`` is NaT there); ``lat``/``lon`` (NaN when none);
``text``; ``participant`` (a pseudonym, "" when unknown); ``photo`` (a file
name, "" when none); ``source`` ("notes.csv:7", "notes.geojson:feature 3",
"IMG_0412.jpg"): where the row came from, for messages and provenance.

Reading a notes file:
  - a CSV (UTF-8, a byte-order mark is fine) has a header row naming some of
    time, lat, lon, text, participant, photo (any case); another column is an
    error, so a misspelt one cannot silently lose data;
  - a GeoJSON FeatureCollection has Point features with the properties time,
    text, participant, photo; the geometry may be null. Markers drawn in uMap
    or geojson.io are read as they are: their name and description are the
    text when there is no ``text``, and their styling properties (simplestyle,
    and uMap's "_..." ones) are left alone; any other property is an error;
  - a time is ISO 8601 with a date and a time of day; without a UTC offset it
    is local time in the walk's time zone (a local time the clocks skipped or
    repeated must carry its offset);
  - every row needs a time or a position (or both) and a text or a photo;
  - every bad row is reported at once, with its line (or feature number) and
    what to change; an empty file is an empty table.

Reading photos: DateTimeOriginal (with OffsetTimeOriginal when the camera
wrote one, else local in the walk's time zone) and the GPS position. A photo
whose EXIF has neither (messaging apps strip it) is *kept* with neither, and
``attach`` counts it as "no_time_or_position": it cannot be placed, and the
summary should say so; giving it a row in the notes file (its name in
``photo``, with a time) places it. A file that is not a JPEG Pillow can read
is an error naming the file.

Attaching (see ``attach``): time decides when there is one; a position only
when there is no time; the published place is always the walk point's.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from airkit.errors import ConfigError

from .plan import PSEUDONYM
from .privacy import EARTH_RADIUS_M, haversine_m

__all__ = ["COLUMNS", "NO_TIME", "REASONS", "Attached", "ObservationError", "attach", "combine", "read_notes", "read_photos"]

COLUMNS = ("t", "has_time", "lat", "lon", "text", "participant", "photo", "source")
NOTE_FIELDS = ("time", "lat", "lon", "text", "participant", "photo")
NO_TIME = int(np.iinfo(np.int64).min)  # NaT as an integer: the t of an observation without a time
# Why an observation was not attached; every key is always in Attached.unattached.
REASONS = ("no_points", "no_time_or_position", "participant_has_no_points", "too_far_in_time", "too_far_away")
NOTES_SUFFIXES = (".csv", ".geojson", ".json")
# Properties drawing tools write for a marker's looks (the simplestyle spec of geojson.io and
# uMap; uMap's own start with "_", as "_umap_options"): not notes, and left alone.
STYLE_PROPERTIES = ("marker-color", "marker-size", "marker-symbol", "stroke", "stroke-width", "stroke-opacity", "fill",
                    "fill-opacity")
# A marker's name and description there: the note's text when it has no "text".
TEXT_ALIASES = ("name", "title", "description")
_NS = 1_000_000_000


class ObservationError(ConfigError):
    """Notes or photos with problems; the message lists each with its line, feature or file and what to change."""

    def __init__(self, where: Path | str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        listed = "".join(f"\n  - {problem}" for problem in problems)
        super().__init__(f"{where} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:{listed}")


# -- notes ---------------------------------------------------------------------------


def read_notes(path: Path, timezone: str) -> pd.DataFrame:
    """The notes of a CSV or GeoJSON file as an observations table (``COLUMNS``)."""
    _check_zone(timezone)
    if path.suffix.lower() not in NOTES_SUFFIXES:
        raise ObservationError(path, [f"a notes file is a {', '.join(NOTES_SUFFIXES)} file, not {path.suffix or 'a file without an ending'}"])
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ObservationError(path, ["there is no such file: check its path, or copy the notes there"]) from None
    except OSError as exc:
        raise ObservationError(path, [f"cannot be read: {exc.strerror}"]) from None
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ObservationError(path, [f"line {line}: is not UTF-8 text; save the file as UTF-8 (in a spreadsheet: CSV UTF-8)"]) from None
    if not text.strip():
        return _empty()
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _geojson_rows(path, text)
    return _finish(path, rows, timezone)


@dataclass
class _Rows:
    """Notes as parsed, before the checks: one entry per row or feature."""

    labels: list[str]  # "line 7" / "feature 3", for messages
    sources: list[str]
    fields: dict[str, list[str]]  # time, text, participant, photo, lat, lon as written ("" when absent)
    problems: list[list[str]]  # what parsing already found wrong with each row
    coordinates: tuple[np.ndarray, np.ndarray] | None = None  # GeoJSON's numbers; a CSV's are text in fields


def _csv_rows(path: Path, text: str) -> _Rows:
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    try:
        start = 1
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ObservationError(path, [f"line {reader.line_num}: is not CSV ({exc})"]) from None
    if not records:
        return _Rows([], [], {name: [] for name in NOTE_FIELDS}, [])
    header_line, header = records[0]
    names = [cell.strip().lower() for cell in header]
    problems = []
    unknown = [cell for cell, name in zip(header, names) if name not in NOTE_FIELDS]
    if unknown:
        hint = " (the file looks separated by ';': save it as CSV with commas)" if any(";" in cell for cell in unknown) else ""
        problems.append(f"line {header_line}: {', '.join(repr(c) for c in unknown)} {'is not a notes column' if len(unknown) == 1 else 'are not notes columns'}"
                        f"{hint}; the columns are {', '.join(NOTE_FIELDS)}: rename or remove {'it' if len(unknown) == 1 else 'them'}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        problems.append(f"line {header_line}: the column(s) {', '.join(twice)} appear more than once; keep one of each")
    if "text" not in names and "photo" not in names:
        problems.append(f"line {header_line}: there is no text column (nor a photo column): a note needs something to say")
    if "time" not in names and not {"lat", "lon"} <= set(names):
        problems.append(f"line {header_line}: there is no time column, nor lat and lon columns: a note needs a time or a position")
    if ("lat" in names) != ("lon" in names):
        problems.append(f"line {header_line}: there is a {'lat' if 'lat' in names else 'lon'} column without a "
                        f"{'lon' if 'lat' in names else 'lat'} column; a position needs both")
    if problems:
        raise ObservationError(path, problems)
    body = records[1:]
    labels = [f"line {line}" for line, _ in body]
    row_problems = [[f"has {len(cells)} values for {len(names)} columns (a comma in a text? put the text in double quotes)"]
                    if len(cells) > len(names) else [] for _, cells in body]
    fields = {name: [""] * len(body) for name in NOTE_FIELDS}
    for column, name in enumerate(names):
        fields[name] = [cells[column].strip() if column < len(cells) else "" for _, cells in body]
    return _Rows(labels, [f"{path.name}:{line}" for line, _ in body], fields, row_problems)


def _geojson_rows(path: Path, text: str) -> _Rows:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ObservationError(path, [f"line {exc.lineno}: is not JSON ({exc.msg})"]) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ObservationError(path, ["is not a GeoJSON FeatureCollection (an object with \"type\": \"FeatureCollection\" "
                                      "and a list of \"features\"): export the notes as GeoJSON"])
    features = doc["features"]
    fields: dict[str, list[str]] = {name: [] for name in NOTE_FIELDS}
    lat = np.full(len(features), np.nan)
    lon = np.full(len(features), np.nan)
    problems: list[list[str]] = []
    for i, feature in enumerate(features):
        issues: list[str] = []
        feature = feature if isinstance(feature, dict) else {}
        if feature.get("type") != "Feature":
            issues.append("is not a GeoJSON Feature")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            issues.append("its properties are not an object")
            properties = {}
        unknown = sorted(k for k in set(properties) - {"time", "text", "participant", "photo", *STYLE_PROPERTIES, *TEXT_ALIASES}
                         if not k.startswith("_"))
        if unknown:
            one = len(unknown) == 1
            issues.append(f"the propert{'y' if one else 'ies'} {', '.join(unknown)} {'is not a notes property' if one else 'are not notes properties'}"
                          f" (time, text, participant, photo): rename or remove {'it' if one else 'them'}")
        for name in ("time", "text", "participant", "photo", *TEXT_ALIASES):
            value = properties.get(name)
            if value is not None and not isinstance(value, str):
                issues.append(f"its {name} is not a string (write it in double quotes)")
                properties = {**properties, name: None}
        for name in ("time", "text", "participant", "photo"):
            value = (properties.get(name) or "").strip()
            if name == "text" and not value:  # a marker drawn in uMap or geojson.io: its name and description
                value = " — ".join(t for t in ((properties.get(a) or "").strip() for a in TEXT_ALIASES) if t)
            fields[name].append(value)
        geometry = feature.get("geometry")
        if geometry is not None:
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if not isinstance(geometry, dict) or geometry.get("type") != "Point":
                kind = geometry.get("type") if isinstance(geometry, dict) else None
                issues.append(f"its geometry is {'a ' + str(kind) if kind else 'not a GeoJSON geometry'}, not a Point")
            elif (not isinstance(coordinates, list) or len(coordinates) not in (2, 3)
                  or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coordinates)):
                issues.append("its Point's coordinates are not [longitude, latitude]")
            else:
                lon[i], lat[i] = float(coordinates[0]), float(coordinates[1])
        problems.append(issues)
    fields["lat"] = fields["lon"] = [""] * len(features)
    labels = [f"feature {i}" for i in range(1, len(features) + 1)]
    return _Rows(labels, [f"{path.name}:{label}" for label in labels], fields, problems, (lat, lon))


def _finish(path: Path, rows: _Rows, timezone: str) -> pd.DataFrame:
    """Check the parsed rows (every problem of every row at once) and build the table."""
    n = len(rows.labels)
    if n == 0:
        return _empty()
    problems = rows.problems
    f = {name: pd.Series(values, dtype=object) for name, values in rows.fields.items()}

    def flag(mask: np.ndarray, say) -> None:
        for i in np.flatnonzero(mask):
            problems[i].append(say(i))

    if rows.coordinates is None:  # a CSV: numbers written as text
        lat, lon = (pd.to_numeric(f[name], errors="coerce").to_numpy(float) for name in ("lat", "lon"))
        for name, values in (("lat", lat), ("lon", lon)):
            written = (f[name] != "").to_numpy()
            flag(written & ~np.isfinite(values),
                 lambda i, name=name: f"{name} {f[name][i]!r} is not a number" + (" (use a point, not a comma, before the decimals)"
                                                                                   if "," in f[name][i] else ""))
        lat_given, lon_given = (f["lat"] != "").to_numpy(), (f["lon"] != "").to_numpy()
        hint = ""
    else:
        lat, lon = rows.coordinates
        lat_given = lon_given = np.isfinite(lat)
        hint = " (GeoJSON coordinates are [longitude, latitude])"
    flag(np.abs(lat) > 90, lambda i: f"lat {lat[i]} is outside -90..90{hint}")
    flag(np.abs(lon) > 180, lambda i: f"lon {lon[i]} is outside -180..180{hint}")
    flag(lat_given & ~lon_given, lambda i: "has a lat but no lon; a position needs both")
    flag(lon_given & ~lat_given, lambda i: "has a lon but no lat; a position needs both")
    placed = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)

    t, has_time, time_problem = _parse_times(f["time"], timezone)
    flag(time_problem != "", lambda i: time_problem[i])
    time_given = (f["time"] != "").to_numpy()
    flag(~time_given & ~lat_given & ~lon_given,
         lambda i: "has neither a time nor a position: give it the time it was noted, or its lat and lon")
    flag(((f["text"] == "") & (f["photo"] == "")).to_numpy(), lambda i: "says nothing: give it a text or a photo")
    named = (f["participant"] != "").to_numpy()
    flag(named & ~f["participant"].map(lambda p: bool(PSEUDONYM.match(p))).to_numpy(bool),
         lambda i: f"participant {f['participant'][i]!r} is not a pseudonym (1-32 letters, digits, spaces, ' . - or _)")

    listed = [f"{label}: {'; '.join(issues)}" for label, issues in zip(rows.labels, problems) if issues]
    if listed:
        raise ObservationError(path, listed)
    return _table(t, has_time, np.where(placed, lat, np.nan), np.where(placed, lon, np.nan),
                  f["text"], f["participant"], f["photo"], rows.sources)


# A date and a time of day, optionally seconds, fractions and a UTC offset ("Z", "+01:00", "+0100", "+01").
_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
_ZONED = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _parse_times(texts: pd.Series, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, has_time, problem) for ISO 8601 texts; "" is no time; naive times are local in ``timezone``."""
    s = texts.astype(str).str.strip().str.upper()
    n = len(s)
    given = (s != "").to_numpy()
    valid = s.str.fullmatch(_ISO).to_numpy(bool)
    zoned = valid & s.str.contains(_ZONED).to_numpy(bool)
    naive = valid & ~zoned
    stamps = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    parsed_naive = np.zeros(n, dtype=bool)
    if zoned.any():
        stamps[zoned] = pd.to_datetime(s[zoned], format="ISO8601", utc=True, errors="coerce").dt.as_unit("ns")
    if naive.any():
        local = pd.to_datetime(s[naive], format="ISO8601", errors="coerce")
        parsed_naive[naive] = local.notna().to_numpy()
        # A local time the clocks skipped, or passed twice, names no instant: it needs its offset.
        stamps[naive] = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC").dt.as_unit("ns")
    has_time = stamps.notna().to_numpy()
    t = np.where(has_time, stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64), NO_TIME)
    problem = np.full(n, "", dtype=object)
    written = texts.astype(str).str.strip().to_numpy(dtype=object)
    for i in np.flatnonzero(given & ~valid):
        problem[i] = (f"time {written[i]!r} is not an ISO 8601 date and time: write it as 2026-11-21T10:32 "
                      f"(local time in {timezone}) or with its offset, 2026-11-21T10:32+01:00")
    for i in np.flatnonzero((zoned & ~has_time) | (naive & ~parsed_naive)):  # month 13, 25:00, ...
        problem[i] = f"time {written[i]!r} is not a real date and time of day"
    for i in np.flatnonzero(naive & parsed_naive & ~has_time):
        problem[i] = (f"time {written[i]!r} is when the clocks changed in {timezone} (skipped or passed twice): "
                      "add its UTC offset, e.g. +01:00")
    return t, has_time, problem


# -- photos ------------------------------------------------------------------------------

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _SUBSEC_ORIGINAL, _OFFSET_ORIGINAL = 36867, 37521, 36881
_GPS_STATUS, _LAT_REF, _LAT, _LON_REF, _LON = 9, 1, 2, 3, 4
_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


def read_photos(photos: list[Path] | Path, timezone: str, participant: str = "") -> pd.DataFrame:
    """The photos (a list of files, or every file in a folder, by name) as an observations table.

    ``text`` is empty and ``photo`` and ``source`` are the file's name;
    ``participant`` is given to every photo (say, one phone's folder). A
    photo without an EXIF time or GPS position has neither (see the module
    docstring); a file that is not a readable JPEG is an error.
    """
    from PIL import Image, UnidentifiedImageError

    _check_zone(timezone)
    where: Path | str = photos if isinstance(photos, Path) else "the photos"
    if isinstance(photos, Path):
        if not photos.is_dir():
            raise ObservationError(photos, ["is not a folder of photos: check its path"])
        photos = sorted((p for p in photos.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)
    problems, times, lats, lons = [], [], [], []
    for path in photos:
        try:
            with Image.open(path) as image:
                kind = image.format
                exif = image.getexif()
                taken, gps = exif.get_ifd(_EXIF_IFD), exif.get_ifd(_GPS_IFD)
        except FileNotFoundError:
            problems.append(f"{path}: there is no such file")
            continue
        except UnidentifiedImageError:
            heic = (": an iPhone's HEIC; export it as JPEG, or set Settings > Camera > Formats to Most Compatible"
                    if path.suffix.lower() in (".heic", ".heif") else "")
            problems.append(f"{path}: is not an image Pillow can read{heic}")
            continue
        except (OSError, SyntaxError, ValueError) as exc:  # a truncated or corrupt file Pillow recognised
            problems.append(f"{path}: cannot be read as an image ({exc})")
            continue
        if kind != "JPEG":
            problems.append(f"{path}: is a {kind} image, not a JPEG; export it as JPEG, which keeps the EXIF time and place")
            continue
        times.append(_exif_time(taken))
        lat, lon = _exif_position(gps)
        lats.append(lat)
        lons.append(lon)
    if problems:
        raise ObservationError(where, problems)
    t, has_time, _ = _parse_times(pd.Series(times, dtype=object), timezone)
    names = [p.name for p in photos]
    n = len(names)
    return _table(t, has_time, np.array(lats, float), np.array(lons, float), [""] * n, [participant] * n, names, names)


def _exif_time(taken: dict[int, Any]) -> str:
    """DateTimeOriginal as ISO 8601 text (with its offset when the camera wrote one), "" when there is none.

    Cameras write blanks or zeros for an unknown time; that, or anything not
    in EXIF's "YYYY:MM:DD HH:MM:SS", is no time. DateTime (0x0132) is not
    used: it is when the file was last changed (an edit), not when it was taken.
    """
    value = str(taken.get(_DATETIME_ORIGINAL, "")).strip("\x00 ")
    match = _EXIF_TIME.match(value)
    if not match or match.group(1) == "0000":
        return ""
    y, mo, d, h, mi, s = match.groups()
    fraction = str(taken.get(_SUBSEC_ORIGINAL, "")).strip("\x00 ")
    offset = str(taken.get(_OFFSET_ORIGINAL, "")).strip("\x00 ")
    return (f"{y}-{mo}-{d}T{h}:{mi}:{s}" + (f".{fraction[:9]}" if fraction.isdigit() else "")
            + (offset if _OFFSET.match(offset) else ""))


def _exif_position(gps: dict[int, Any]) -> tuple[float, float]:
    """(lat, lon) from a GPS IFD (degrees, minutes, seconds as rationals and N/S/E/W), NaN when absent or void."""
    if str(gps.get(_GPS_STATUS, "A")).strip("\x00 ").upper() == "V":  # the receiver said its fix is void
        return math.nan, math.nan
    try:
        degrees = [sum(float(part) / 60**k for k, part in enumerate(gps[tag])) for tag in (_LAT, _LON)]
        refs = [str(gps[tag]).strip("\x00 ").upper() for tag in (_LAT_REF, _LON_REF)]
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return math.nan, math.nan
    if refs[0] not in ("N", "S") or refs[1] not in ("E", "W"):
        return math.nan, math.nan
    lat = -degrees[0] if refs[0] == "S" else degrees[0]
    lon = -degrees[1] if refs[1] == "W" else degrees[1]
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return math.nan, math.nan
    return lat, lon


# -- attaching ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attached:
    # The attached observations, in their order: COLUMNS (lat, lon now the point's), then point, distance_m, dt_s.
    observations: pd.DataFrame
    unattached: dict[str, int]  # how many were not attached, by reason (every key of REASONS)
    left_out: pd.DataFrame  # source and reason of each observation not attached, for the walk summary


def combine(notes: list[pd.DataFrame], photos: pd.DataFrame | None) -> pd.DataFrame:
    """The walk's observations: every note, and every photo no note names. A note that names a
    photo (its ``photo``) is that photo's caption: one observation, placed by the note, not two.
    A photo a note names but whose note lacks a time or a position lends it its own."""
    table = pd.concat(notes, ignore_index=True) if notes else _empty()
    if photos is None or not len(photos):
        return table
    named = table["photo"].str.casefold()
    own = photos.assign(key=photos["photo"].str.casefold()).drop_duplicates("key").set_index("key")
    captions = named.isin(own.index).to_numpy() & (named != "").to_numpy()
    if captions.any():
        exif = own.loc[named[captions]]
        no_time = ~table.loc[captions, "has_time"].to_numpy()
        no_place = table.loc[captions, "lat"].isna().to_numpy()
        rows = np.flatnonzero(captions)
        table.loc[rows[no_time], ["t", "has_time"]] = exif[["t", "has_time"]].to_numpy()[no_time]
        table.loc[rows[no_place], ["lat", "lon"]] = exif[["lat", "lon"]].to_numpy()[no_place]
        table = table.astype({"t": np.int64, "has_time": bool, "lat": float, "lon": float})
    alone = photos[~photos["photo"].str.casefold().isin(set(named[captions]))]
    return pd.concat([table, alone], ignore_index=True)[list(COLUMNS)]


def attach(observations: pd.DataFrame, points: pd.DataFrame, max_time_s: float = 120.0, max_distance_m: float = 100.0) -> Attached:
    """Attach each observation to one of ``points`` (the walk's published points: participant, t, lat, lon).

    The rule:
      - an observation with a time goes to the point nearest in time: of the
        same participant when it names one, else of anyone; if that point is
        more than ``max_time_s`` away it is not attached ("too_far_in_time"),
        even when its position is on the route: a time that far off is
        another moment (a photo from the day before), and time also decides
        when the observation's own position disagrees (a phone's last fix can
        be stale). A participant with no point left: "participant_has_no_points";
      - one with only a position goes to the point nearest in space, of
        anyone (a place is a place), if within ``max_distance_m``
        (great-circle metres), else "too_far_away";
      - one with neither: "no_time_or_position"; no points at all: "no_points".
    On a tie in time, the earlier point. The published ``lat``/``lon`` are the
    point's, never the observation's own: a photo's GPS can be a home, and only
    places that survived the privacy filter are published. ``point`` is the
    point's index label, ``dt_s`` the observation's time minus the point's
    (NaN without a time), ``distance_m`` from the observation's own position
    to the point (NaN without a position).
    """
    for name, frame, needed in (("observations", observations, COLUMNS),
                                ("points", points, ("participant", "t", "lat", "lon"))):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lack the column(s) {', '.join(missing)}")
    p_lat, p_lon = points["lat"].to_numpy(float), points["lon"].to_numpy(float)
    if not (np.isfinite(p_lat).all() and np.isfinite(p_lon).all()):
        raise ValueError("points must all be placed (published points have a lat and lon)")
    n = len(observations)
    has_time = observations["has_time"].to_numpy(bool)
    t = observations["t"].to_numpy(np.int64)
    o_lat, o_lon = observations["lat"].to_numpy(float), observations["lon"].to_numpy(float)
    placed = np.isfinite(o_lat) & np.isfinite(o_lon)
    who = observations["participant"].fillna("").astype(str).to_numpy(dtype=object)

    p_t = points["t"].to_numpy(np.int64)
    match = np.full(n, -1, dtype=np.int64)  # the point, as a row of ``points``
    reason = np.full(n, "", dtype=object)
    reason[~has_time & ~placed] = "no_time_or_position"
    if len(points) == 0:
        reason[has_time | placed] = "no_points"
    else:
        code, p_code = _participant_codes(who, points["participant"])
        named = has_time & (who != "")
        known = named & (code >= 0)
        reason[named & ~known] = "participant_has_no_points"
        match[known] = _nearest_in_time(t[known], code[known], p_t, p_code)
        anyone = has_time & (who == "")
        match[anyone] = _nearest_in_time(t[anyone], None, p_t, None)
        timed = known | anyone
        late = timed.copy()
        late[timed] = np.abs(t[timed] - p_t[match[timed]]) > max_time_s * _NS
        match[late], reason[late] = -1, "too_far_in_time"
        where = ~has_time & placed
        match[where] = _nearest_in_space(o_lat[where], o_lon[where], p_lat, p_lon)
        far = where & (haversine_m(o_lat, o_lon, p_lat[np.maximum(match, 0)], p_lon[np.maximum(match, 0)]) > max_distance_m)
        match[far], reason[far] = -1, "too_far_away"

    kept = match >= 0
    rows = match[kept]
    out = observations.loc[kept, list(COLUMNS)].copy()
    out["lat"], out["lon"] = p_lat[rows], p_lon[rows]
    out["point"] = points.index.to_numpy()[rows]
    own = placed[kept]
    out["distance_m"] = np.where(own, haversine_m(o_lat[kept], o_lon[kept], p_lat[rows], p_lon[rows]), np.nan)
    dt_s = np.full(len(rows), np.nan)
    own_time = has_time[kept]
    dt_s[own_time] = (t[kept][own_time] - p_t[rows[own_time]]) / _NS
    out["dt_s"] = dt_s
    left_out = pd.DataFrame({"source": pd.Series(observations["source"].to_numpy(dtype=object)[~kept], dtype=object),
                             "reason": pd.Series(reason[~kept], dtype=object)})
    left_out.index = observations.index[~kept]
    counts = pd.Series(reason[~kept]).value_counts()
    return Attached(out, {name: int(counts.get(name, 0)) for name in REASONS}, left_out)


def _participant_codes(who: np.ndarray, participants: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Participants as shared integer codes: each observation's (-1 where its participant has no
    point) and each point's. A category (the walk build's) gives its own codes; strings are hashed
    (not np.isin's sort of Python strings)."""
    if isinstance(participants.dtype, pd.CategoricalDtype):
        names = pd.Index([str(c) for c in participants.cat.categories])
        p_code = participants.cat.codes.to_numpy(np.int64)
        code = names.get_indexer(who)
        with_points = np.bincount(p_code[p_code >= 0], minlength=len(names)) > 0
        return np.where((code >= 0) & with_points[np.maximum(code, 0)], code, -1), p_code
    names = pd.Index(pd.unique(participants.astype(str).to_numpy(dtype=object)))
    return names.get_indexer(who), names.get_indexer(participants.astype(str).to_numpy(dtype=object))


def _nearest_in_time(t: np.ndarray, who: np.ndarray | None, p_t: np.ndarray, p_who: np.ndarray | None) -> np.ndarray:
    # ``who``/``p_who``: participant codes (integers shared by both), or None for "anyone".
    """For each time, the row of the nearest point in time (of the same participant when ``who`` is given)."""
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    order, p_order = np.argsort(t, kind="stable"), np.argsort(p_t, kind="stable")
    left = pd.DataFrame({"t": t[order]})
    right = pd.DataFrame({"t": p_t[p_order], "row": p_order})
    by = None
    if who is not None and p_who is not None:
        left["who"], right["who"] = who[order], p_who[p_order]
        by = "who"
    found = pd.merge_asof(left, right, on="t", by=by, direction="nearest")["row"].to_numpy(np.int64)
    rows = np.empty(len(t), dtype=np.int64)
    rows[order] = found
    return rows


def _nearest_in_space(lat: np.ndarray, lon: np.ndarray, p_lat: np.ndarray, p_lon: np.ndarray) -> np.ndarray:
    """For each position, the row of the nearest point: a k-d tree in a local plane about the points' middle
    (equirectangular; at walk scale within a fraction of a per cent of great-circle distance)."""
    if len(lat) == 0:
        return np.zeros(0, dtype=np.int64)
    from scipy.spatial import cKDTree

    lat0, lon0 = float(np.mean(p_lat)), float(np.mean(p_lon))
    m_per_deg = np.radians(1) * EARTH_RADIUS_M
    scale = m_per_deg * np.cos(np.radians(lat0))

    def xy(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return np.column_stack([(lo - lon0) * scale, (la - lat0) * m_per_deg])

    _, rows = cKDTree(xy(p_lat, p_lon)).query(xy(lat, lon))
    return np.asarray(rows, dtype=np.int64)


# -- shared ---------------------------------------------------------------------------------------------------


def _check_zone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{timezone!r} is not a time zone name: use an IANA name such as Europe/London") from None


def _table(t, has_time, lat, lon, text, participant, photo, source) -> pd.DataFrame:
    return pd.DataFrame({
        "t": np.asarray(t, dtype=np.int64), "has_time": np.asarray(has_time, dtype=bool),
        "lat": np.asarray(lat, dtype=float), "lon": np.asarray(lon, dtype=float),
        **{name: pd.Series(list(values), dtype=object) for name, values in
           (("text", text), ("participant", participant), ("photo", photo), ("source", source))},
    })


def _empty() -> pd.DataFrame:
    return _table([], [], [], [], [], [], [], [])
