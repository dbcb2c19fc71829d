"""A phone's GPX as columns of fixes: time, latitude, longitude, elevation.

Two readers, one answer. gpxpy reads every GPX there is (1.0 and 1.1,
extensions, routes, odd namespaces) at about 50,000 points a second; a walk
of 50 phones at one fix a second is a million points, so the common case, a
recorded track whose points are laid out as the schema orders them, is read
by one regular expression over the file's bytes and column arithmetic. The
scanner counts that it matched every ``<trkpt>``; any file it does not fully
cover goes to gpxpy. A test holds the two to the same result on
gpxpy's own test files.

What a walk needs from a GPX is where the phone was *when*: so
  - track points are used; a GPX with only a route is used only if its points
    have times (a planned route has none: that belongs in the walk's [route]);
  - points without a time are left out and counted (``without_time``);
  - a GPX with no timed point at all is an error that says so;
  - times without a zone are UTC (GPX 1.1 section "dateTime"); the fixes come
    back sorted by time.
"""

from __future__ import annotations

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

    def __len__(self) -> int:
        return len(self.t)


def read_track(path: Path) -> Track:
    """The timed fixes of a GPX file (tracks, else a timed route)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GpxError(f"cannot read the GPX file {path}: {exc.strerror}") from None
    scanned = _scan(data)
    points = scanned if scanned is not None else _gpxpy(path, data)
    return _finish(path, *points, reader="scan" if scanned is not None else "gpxpy")


# -- the scanner ---------------------------------------------------------------------

# A recorded track point as the GPX 1.1 schema orders its children (ele, then
# time, then anything else): what phone apps write. One pattern, mostly
# literal, so the regular-expression engine runs at C speed.
_POINT = re.compile(rb"""<trkpt\s+lat=["']([^"']*)["']\s+lon=["']([^"']*)["']\s*>\s*"""
                    rb"""(?:<ele>\s*([^<]*?)\s*</ele>\s*)?<time>\s*([^<]*?)\s*</time>.*?</trkpt>""", re.S)
_RISKY = re.compile(rb"<!\[CDATA\[|<!--")  # a comment or CDATA could hide or fake a point


def _scan(data: bytes):
    """(times, lat, lon, ele, kind) of a track whose every point matches _POINT, else None (gpxpy decides)."""
    if b"<trkpt" not in data or _RISKY.search(data):
        return None
    points = _POINT.findall(data)
    if not points or len(points) != data.count(b"<trkpt") or len(points) != data.count(b"</trkpt>"):
        return None  # a point the pattern does not cover (no time, lon before lat, a prefix): gpxpy reads the file
    table = np.array(points, dtype=bytes)
    try:
        lat, lon = table[:, 0].astype(float), table[:, 1].astype(float)
        ele = np.where(table[:, 2] == b"", b"nan", table[:, 2]).astype(float)
    except ValueError:
        return None
    return table[:, 3].astype(str), lat, lon, ele, "track"


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
    times = np.asarray(times, dtype=object)
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
    t = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.argsort(t, kind="stable")
    keep = np.flatnonzero(has_time)[order]
    return Track(t[order], lat[keep], lon[keep], ele[keep], int((~has_time).sum()), kind, reader)
