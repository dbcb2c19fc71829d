"""The planned route, from the file the walk names: a GeoJSON LineString, or a GPX route or track.

GeoJSON: a LineString (or a MultiLineString, its parts joined in order) as a
bare geometry, a Feature or the first line of a FeatureCollection; positions
are [lon, lat] (RFC 7946). GPX: its first route, else its tracks' points in
order (gpxpy reads every GPX flavour; a planned route has no times and needs
none).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from airkit.errors import ConfigError

__all__ = ["WalkRouteError", "read_route"]


class WalkRouteError(ConfigError):
    """A route file that does not hold a line the walk can follow."""



def _line(geometry: dict[str, Any] | None) -> list[list[float]] | None:
    if not isinstance(geometry, dict):
        return None
    if geometry.get("type") == "LineString":
        return geometry.get("coordinates")
    if geometry.get("type") == "MultiLineString":
        return [p for part in geometry.get("coordinates") or [] for p in part]
    return None


def _geojson(path: Path) -> list[list[float]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WalkRouteError(f"the route {path} is not a GeoJSON file airtrail can read: {exc}") from None
    candidates = [doc]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        candidates = [doc.get("geometry")]
    elif isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        candidates = [f.get("geometry") for f in doc.get("features") or [] if isinstance(f, dict)]
    for geometry in candidates:
        line = _line(geometry)
        if line:
            return line
    raise WalkRouteError(f"the route {path} holds no LineString: draw the route as a line (geojson.io, QGIS, uMap) and save it as GeoJSON")


def _gpx(path: Path) -> list[list[float]]:
    import gpxpy
    import gpxpy.gpx

    try:
        gpx = gpxpy.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, gpxpy.gpx.GPXException) as exc:
        raise WalkRouteError(f"the route {path} is not a GPX file gpxpy can read: {exc}") from None
    points = [p for route in gpx.routes[:1] for p in route.points]
    if not points:
        points = [p for track in gpx.tracks for segment in track.segments for p in segment.points]
    return [[p.longitude, p.latitude] for p in points]


def read_route(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of the planned route's vertices, in order."""
    coords = _gpx(path) if path.suffix.lower() == ".gpx" else _geojson(path)
    try:
        table = np.asarray([c[:2] for c in coords], dtype=float)
    except (TypeError, ValueError):
        raise WalkRouteError(f"the route {path} has a position that is not [longitude, latitude]") from None
    if len(table) < 2:
        raise WalkRouteError(f"the route {path} has {len(table)} point(s); a route needs at least two")
    lon, lat = table[:, 0], table[:, 1]
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
        raise WalkRouteError(f"the route {path} has positions outside the globe: GeoJSON is [longitude, latitude], in that order")
    return lat, lon
