"""A phone's GPX as columns of fixes: time, latitude, longitude, elevation.

Two readers, one answer. gpxpy reads every GPX there is (1.0 and 1.1,
extensions, routes, odd namespaces) at about 20,000-50,000 points a second; a
walk of 50 phones at one fix a second is a million points, which the walk
build must read in well under 1.5 s. So the common case, a recorded track
laid out as phone apps write it, is read by a scanner that never loops over
points in Python (about 1M points a second; ``benchmarks/gpx.py``):

  - it finds every tag by its ``<`` (in XML a bare ``<`` is nowhere else) and
    tells tags apart by their first eight bytes; a comment, CDATA, DOCTYPE
    or processing instruction sends the file to gpxpy, as they can hide or
    fake a tag;
  - every ``<trkpt lat=".." lon="..">`` (either order, either quote, one
    space) must be closed, with an optional ``<ele>`` and then ``<time>`` as
    its first children (the schema's order); anything may follow them. One
    point that differs (no time, another child first, a prefix, a space
    before ``>``) and gpxpy reads the whole file;
  - numbers of up to 15 digits are read by digit arithmetic (exactly float()'s
    answer: an exact mantissa over an exact power of ten), others by float();
    a value float() refuses sends the file to gpxpy;
  - times that share one layout (``YYYY-MM-DDTHH:MM:SS``, a fraction, then
    ``Z``, ``±HH:MM`` or nothing) are read by digit arithmetic, others by
    pandas' ISO 8601 parser.

Tests hold the scanner to gpxpy on gpxpy's own test files and on generated
phone recordings, and its arithmetic to float() and pandas.

What a walk needs from a GPX is where the phone was *when*: so
  - track points are used; a GPX with only a route is used only if its points
    have times (a planned route has none: that belongs in the walk's [route]);
  - points without a time are left out and counted (``without_time``);
  - a GPX with no timed point at all is an error that says so;
  - times without a zone are UTC (GPX 1.1 section "dateTime"); the fixes come
    back sorted by time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from airkit.errors import ConfigError

__all__ = ["GpxError", "Track", "read_track"]


class GpxError(ConfigError):
    """A GPX that cannot give a walk its positions; the message says why and what to do."""


@dataclass(frozen=True)
class Track:
    t: np.ndarray  # int64 nanoseconds since the Unix epoch, UTC, sorted
    lat: np.ndarray
    lon: np.ndarray
    ele: np.ndarray  # metres; NaN where the GPX has none
    without_time: int  # points left out for having no time
    kind: str  # "track" or "route"
    reader: str  # "scan" or "gpxpy"
    sha256: str = ""  # of the file's bytes, for a build's provenance (the file is read once)

    def __len__(self) -> int:
        return len(self.t)


def read_track(path: Path) -> Track:
    """The timed fixes of a GPX file (tracks, else a timed route)."""
    try:
        with path.open("rb") as file:
            # Read straight into the scanner's zero-padded buffer: a million points are 200 MB not to copy again.
            buf = np.zeros(os.fstat(file.fileno()).st_size + _PAD, np.uint8)
            size = file.readinto(memoryview(buf)[: len(buf) - _PAD])  # fewer if it shrank meanwhile: zeros follow
    except OSError as exc:
        raise GpxError(f"cannot read the GPX file {path}: {exc.strerror}") from None
    scanned = _scan(buf[: size + _PAD])
    points = scanned if scanned is not None else _gpxpy(path, buf[:size].tobytes())
    track = _finish(path, *points, reader="scan" if scanned is not None else "gpxpy")
    return dataclasses.replace(track, sha256=hashlib.sha256(memoryview(buf)[:size]).hexdigest())


# -- the scanner ---------------------------------------------------------------------
#
# In well-formed XML without comments, CDATA, a DOCTYPE or processing instructions,
# every "<" opens a tag (the spec forbids a bare "<" in text and attribute values,
# XML 1.0 section 2.4 and 3.1). So the positions of "<" are the file's tags, and
# the first eight bytes at each say which tag it is: the structure of a million
# points is checked and their values located with array arithmetic, never a
# Python loop per point.

_LT, _QUOT, _APOS, _GT, _DOT, _MINUS = (ord(c) for c in "<\"'>.-")
# Tag kinds, by the bytes they start with.
_OTHER, _OPEN, _CLOSE, _ELE, _ELE_END, _TIME, _TIME_END = range(7)
_KINDS = ((_CLOSE, b"</trkpt>"), (_ELE, b"<ele>"), (_ELE_END, b"</ele>"), (_TIME, b"<time>"), (_TIME_END, b"</time>"))
_P10 = 10 ** np.arange(19, dtype=np.int64)
_TAG_WIDTH = 96  # bytes read from each start tag: room for any lat and lon a GPS writes
_PAD = _TAG_WIDTH  # zero bytes after the file, so every window read near its end is defined
_MAX_DIGITS = 15  # a mantissa below 2**53 over an exact power of ten rounds as float() does (Clinger 1990)


def _starts_with(words: np.ndarray, text: bytes) -> np.ndarray:
    """Which 8-byte little-endian words begin with ``text`` (at most 8 bytes)."""
    mask = (1 << 8 * len(text)) - 1
    return (words & np.uint64(mask)) == np.uint64(int.from_bytes(text, "little"))


def _scan(data: bytes | np.ndarray):
    """(times, lat, lon, ele, kind) of a track whose every point is laid out as phones write it, else None (gpxpy decides).

    The layout: ``<trkpt lat=".." lon="..">`` (either order, either quote) whose
    first children are an optional ``<ele>`` and then ``<time>``; anything may
    follow (extensions). ``times`` is int64 nanoseconds when every time has the
    same ISO 8601 layout, else their text for pandas. ``data`` is the file's
    bytes, or (from read_track) a uint8 array of them followed by _PAD zeros.
    """
    if isinstance(data, bytes):
        buf = np.frombuffer(data + bytes(_PAD), np.uint8)
    else:
        buf = data
    size = len(buf) - _PAD  # past the end, zeros: every window and word near the end is defined
    # The eight bytes from every offset, as one unaligned uint64 each.
    words = np.ndarray((size,), "<u8", buf, 0, (1,))
    tags = np.flatnonzero(buf[:size] == _LT)
    head = words[tags]
    if _starts_with(head, b"<!").any() or _starts_with(head[1:], b"<?").any():
        return None  # a comment or CDATA could hide or fake a point; gpxpy reads the file
    trkpt = _starts_with(head, b"<trkpt")
    opened = trkpt & _is_space(buf[tags + 6])
    kind = np.zeros(len(tags) + 5, np.int8)  # padded: kind[o + 4] is defined for every opening o
    kind[: len(tags)] = opened.view(np.int8) * np.int8(_OPEN)
    for code, text in _KINDS:  # the patterns exclude one another, so their codes add up to the one that matched
        kind[: len(tags)] += _starts_with(head, text).view(np.int8) * np.int8(code)
    o, c = np.flatnonzero(kind == _OPEN), np.flatnonzero(kind == _CLOSE)
    if len(o) == 0 or len(o) != trkpt.sum() or len(c) != len(o) or not ((o < c).all() and (c[:-1] < o[1:]).all()):
        return None  # a point without attributes, self-closed, nested or unclosed: not the layout
    has_ele = kind[o + 1] == _ELE
    first = np.where(has_ele, o + 3, o + 1)  # the tag index of each point's <time>
    if not ((kind[first] == _TIME) & (kind[first + 1] == _TIME_END) & (~has_ele | (kind[o + 2] == _ELE_END))).all():
        return None  # a point without a time, or with other children first
    lat_lon = _attributes(buf, words, tags[o], tags[o + 1])
    if lat_lon is None:
        return None
    (lat_from, lat_to), (lon_from, lon_to) = lat_lon
    ele_from, ele_to = tags[o + 1] + len(b"<ele>"), tags[o + 2]
    lat, lon = _decimals(buf, lat_from, lat_to), _decimals(buf, lon_from, lon_to)
    ele = _decimals(buf, np.where(has_ele, ele_from, 0), np.where(has_ele, ele_to, 0), empty=np.nan)
    if lat is None or lon is None or ele is None:
        return None  # a value float() does not read: gpxpy decides what it means
    time_from, time_to = tags[first] + len(b"<time>"), tags[first + 1]
    times = _iso_times(buf, time_from, time_to)
    if times is None:  # not all one layout: pandas reads each
        times = [buf[a:b].tobytes().decode("utf-8", errors="replace").strip() for a, b in zip(time_from.tolist(), time_to.tolist())]
    return times, lat, lon, ele, "track"


def _byte(words: np.ndarray, k: int) -> np.ndarray:
    """Byte k (0-7) of each 8-byte little-endian word."""
    return (words >> np.uint64(8 * k)) & np.uint64(0xFF)


def _attributes(buf, words, start, end):
    """((lat from, to), (lon from, to)) byte spans in start tags exactly ``<trkpt lat="…" lon="…">``, else None.

    The first value ends at the first quote, the second at the first ">"; a
    stray quote or ">" in either leaves a value that is not a number, so the
    file goes to gpxpy. The bytes around each value are checked eight at a time.
    """
    width = int(min(_TAG_WIDTH, (end - start).max()))
    after = _windows(buf, width)[start][:, len(b"<trkpt lat=") + 1 :]
    q1 = len(b"<trkpt lat=") + 1 + ((after == _QUOT) | (after == _APOS)).argmax(1)  # 0 if none: fails below
    gt = len(b"<trkpt lat=") + 1 + (after == _GT).argmax(1)
    head, middle, tail = words[start + 6], words[start + q1], words[start + gt - 1]  # ' lat="', '" lon="', '">'
    lat_first = _starts_with(head >> np.uint64(8), b"lat=") & _starts_with(middle >> np.uint64(16), b"lon=")
    lon_first = _starts_with(head >> np.uint64(8), b"lon=") & _starts_with(middle >> np.uint64(16), b"lat=")
    opening, second = _byte(head, 5), _byte(middle, 6)
    ok = (lat_first | lon_first) & _is_space(_byte(head, 0)) & _is_space(_byte(middle, 1))
    ok &= ((opening == _QUOT) | (opening == _APOS)) & (_byte(middle, 0) == opening)
    ok &= ((second == _QUOT) | (second == _APOS)) & (_byte(tail, 0) == second) & (_byte(tail, 1) == _GT)
    ok &= (gt > q1 + len(b'" lon="')) & (start + gt < end)
    if not ok.all():
        return None
    q0, q1, q2, q3 = start + len(b"<trkpt lat="), start + q1, start + q1 + len(b'" lon='), start + gt - 1
    lat = (np.where(lat_first, q0, q2) + 1, np.where(lat_first, q1, q3))
    lon = (np.where(lat_first, q2, q0) + 1, np.where(lat_first, q3, q1))
    return lat, lon


def _windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Every ``width`` bytes of ``buf`` from each offset, as rows of a read-only view: picking rows copies only them."""
    return np.lib.stride_tricks.as_strided(buf, (len(buf) - width + 1, width), (1, 1), writeable=False)


def _is_space(chars: np.ndarray) -> np.ndarray:
    return (chars == 32) | (chars == 9) | (chars == 10) | (chars == 13)


def _decimals(buf: np.ndarray, start: np.ndarray, end: np.ndarray, empty: float | None = None):
    """float() of each ``buf[start:end]``: plain decimals by digit arithmetic, anything else by float(); None if one is not a number.

    A plain decimal (optional minus, 1 to 15 digits, optional point) is its
    integer mantissa over a power of ten; both are exact doubles, so the one
    correctly rounded division gives exactly float()'s answer. The text is
    read right-aligned, so a column's weight is the same on every row.
    """
    length = end - start
    width = int(min(max(length.max(), 1), 18))  # 18 digits still fit an int64
    odd = (length > width) | (end < width)
    chars = _windows(buf, width)[np.where(odd, width, end) - width]
    inside = np.arange(width, dtype=np.uint8) >= np.clip(width - length, 0, width).astype(np.uint8)[:, None]
    digits = chars - np.uint8(48)
    digit = (digits < 10) & inside
    dot = (chars == _DOT) & inside
    negative = (buf[start] == _MINUS) & (length > 0)
    # Row sums and the weighted digits as matrix products: far quicker than reductions along short rows.
    # Both counts in one (a dot counts 32): float32 for the BLAS, exact this small.
    counts = ((digit.view(np.uint8) + (dot.view(np.uint8) << 5)).astype(np.float32) @ np.ones(width, np.float32)).astype(np.int64)
    dots, ndigits = counts >> 5, counts & 31
    plain = ~odd & (ndigits + dots + negative == length) & (dots <= 1) & (ndigits >= 1) & (ndigits <= _MAX_DIGITS)
    value = _fixed_point(digits * digit, dot, dots, plain)
    if value is None:  # decimals differ from row to row: weigh every digit by its column, then take the point's out
        whole = (digits * digit) @ _P10[width - 1 :: -1]  # int64: up to 18 columns
        decimals = np.where(dots == 1, width - 1 - dot.argmax(1), 0)
        right = whole % _P10[decimals + 1]
        mantissa = np.where(dots == 1, (whole - right) // 10 + right, whole)
        value = mantissa / _P10[decimals].astype(float)
    value = np.where(negative, -value, value)
    if empty is not None:
        value[length == 0] = empty
        plain |= length == 0
    odd_rows = np.flatnonzero(~plain)
    if len(odd_rows):
        try:
            value[odd_rows] = [float(buf[a:b].tobytes()) for a, b in zip(start[odd_rows].tolist(), end[odd_rows].tolist())]
        except ValueError:
            return None
    return value


def _fixed_point(digits: np.ndarray, dot: np.ndarray, dots: np.ndarray, plain: np.ndarray):
    """The values of right-aligned plain decimals that all have the point in one column (as a GPS writes them), else None.

    With the point's column known, each column's weight is one power of ten:
    the mantissa is a single product, exact in floats (below 2**53)."""
    rows = np.flatnonzero(plain)
    if len(rows) == 0:
        return np.zeros(len(digits))
    width = digits.shape[1]
    point = int(dot[rows[0]].argmax()) if dots[rows[0]] == 1 else width
    if not ((dots == dots[rows[0]]) | ~plain).all() or (point < width and not (dot[:, point] | ~plain).all()):
        return None
    places = width - 1 - np.arange(width) - (np.arange(width) < point) * (point < width)  # each digit's power of ten
    weights = np.where(np.arange(width) == point, 0.0, 10.0 ** places)
    return (digits.astype(float) @ weights) / 10.0 ** max(width - 1 - point, 0)


def _iso_times(buf: np.ndarray, start: np.ndarray, end: np.ndarray):
    """int64 ns UTC of ISO 8601 times that all share the first one's layout
    (``YYYY-MM-DDTHH:MM:SS``, optional fraction, then ``Z``, ``±HH:MM`` or nothing: UTC), else None."""
    length = end - start
    n = int(length[0])
    if not (19 <= n <= 40) or (length != n).any():
        return None
    chars = _windows(buf, n)[start]
    tail = bytes(chars[0, 19:])
    fraction = len(tail) - len(tail.lstrip(b".0123456789")) if tail.startswith(b".") else 0
    zone = tail[fraction:]
    if fraction == 1 or not (zone in (b"", b"Z") or re.fullmatch(rb"[+-]\d\d:\d\d", zone)):
        return None
    digits = [*range(0, 4), 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, *range(20, 19 + fraction)]
    signed = True
    literal = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b"." if fraction else None}
    if len(zone) == 6:
        digits += [19 + fraction + i for i in (1, 2, 4, 5)]
        literal[19 + fraction + 3] = b":"
        signed = bool(np.isin(chars[:, 19 + fraction], np.frombuffer(b"+-", np.uint8)).all())
    elif zone == b"Z":
        literal[19 + fraction] = b"Z"
    value = chars[:, digits] - np.uint8(48)
    ok = signed and bool((value < 10).all())
    value = value.astype(np.int64)
    for col, text in literal.items():
        if text is not None:
            ok &= bool((chars[:, col] == text[0]).all())
    if not ok:
        return None

    def number(first: int, count: int) -> np.ndarray:
        return value[:, first : first + count] @ _P10[count - 1 :: -1][:count] if count else np.zeros(len(value), np.int64)

    year, month, day, hour, minute, second = number(0, 4), number(4, 2), number(6, 2), number(8, 2), number(10, 2), number(12, 2)
    if (year == year[0]).all() and (month == month[0]).all() and (day == day[0]).all():
        year, month, day = year[:1], month[:1], day[:1]  # a walk is mostly one day: its date's arithmetic once
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)] + (leap & (month == 2))
    if not (((year >= 1678) & (year <= 2261) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)).all()
            and ((hour <= 23) & (minute <= 59) & (second <= 59)).all()):
        return None  # out of datetime64[ns] range or not a date: pandas says what is wrong
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level date algorithms").
    y = year - (month <= 2)
    era, yoe = y // 400, y % 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    seconds = ((days * 24 + hour) * 60 + minute) * 60 + second
    places = max(fraction - 1, 0)  # digits of the fraction
    shown = min(places, 9)  # digits beyond nanoseconds are dropped, as pandas does
    nanos = number(14, shown) * 10 ** (9 - shown) if shown else 0
    if len(zone) == 6:
        offset = (number(14 + places, 2) * 60 + number(16 + places, 2)) * 60
        seconds = seconds - np.where(chars[:, 19 + fraction] == ord("-"), -offset, offset)
    return seconds * 1_000_000_000 + nanos


# -- gpxpy, for everything else --------------------------------------------------------------


def _gpxpy(path: Path, data: bytes):
    try:
        import gpxpy
        import gpxpy.gpx
    except ImportError:
        raise GpxError("reading this GPX needs gpxpy, which comes with the walks extra: pip install 'airtrail[walks]'") from None
    try:
        gpx = gpxpy.parse(data.decode("utf-8", errors="replace"))
    except gpxpy.gpx.GPXException as exc:
        raise GpxError(f"{path} is not a GPX file gpxpy can read: {exc}") from None
    points = [p for track in gpx.tracks for segment in track.segments for p in segment.points]
    kind = "track"
    if not points:
        points, kind = [p for route in gpx.routes for p in route.points], "route"
    times = [p.time.isoformat() if p.time is not None else None for p in points]
    ele = np.array([p.elevation if p.elevation is not None else np.nan for p in points], dtype=float)
    return times, np.array([p.latitude for p in points], float), np.array([p.longitude for p in points], float), ele, kind


def _finish(path: Path, times, lat, lon, ele, kind: str, reader: str) -> Track:
    if len(lat) == 0:
        raise GpxError(f"{path} has no track or route points (waypoints alone do not say where a phone went): "
                       "export the phone's recording as a GPX track")
    if isinstance(times, np.ndarray) and times.dtype == np.int64:  # the scanner read every time already
        t, has_time = times, np.ones(len(times), dtype=bool)
    else:
        t, has_time = _parse_times(path, kind, np.asarray(times, dtype=object))
    keep = np.flatnonzero(has_time)
    if not (np.diff(t) >= 0).all():  # a recording is in time order already; only others need the sort
        order = np.argsort(t, kind="stable")
        t, keep = t[order], keep[order]
    return Track(t, lat[keep], lon[keep], ele[keep], int((~has_time).sum()), kind, reader)


def _parse_times(path: Path, kind: str, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int64 ns of the times that are there, and which those are; pandas reads any ISO 8601 layout."""
    has_time = np.array([t is not None and t != "" for t in times], dtype=bool)
    if not has_time.any():
        if kind == "route":
            raise GpxError(f"{path} holds a route without times (a planned route, not a recording): name it as the walk's "
                           "[route] file, and give the participant the GPX their phone recorded")
        raise GpxError(f"{path} has no times: a track without times cannot say where the phone was when; record with an app "
                       "that saves times (most do), or export the GPX again with timestamps")
    try:
        stamps = pd.to_datetime(pd.Series(times[has_time]), format="ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        raise GpxError(f"{path} has a time that is not an ISO 8601 date and time: {exc}") from None
    return stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64), has_time
