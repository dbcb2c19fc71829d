"""Routes for virtual kits: where a simulated walker is, metre by metre.

A route is a polyline of (lat, lon, traffic) points; ``traffic`` (0..1) says
how busy the road beside that stretch is and drives the simulated PM (see
simulate.Air). The built-in route is a 2.6 km loop through central Manchester:
Piccadilly Gardens, Market Street (pedestrianised, quiet), Deansgate (busy),
Peter Street, St Peter's Square, Portland Street (buses) and back.

Routes can also be read from a file: GeoJSON (a LineString, or the first
LineString feature), GPX (track points) or CSV (lat,lon[,traffic]).
"""

from __future__ import annotations

import csv
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .errors import RouteError

EARTH_RADIUS_M = 6371008.8  # IUGG mean radius
WALKING_SPEED_M_S = 1.4  # a typical adult's unhurried pace

# (lat, lon, traffic): traffic is 0 for a quiet pedestrian street, 1 for the
# busiest stretch (a bus corridor at rush hour).
MANCHESTER_LOOP = (
    (53.48095, -2.23680, 0.3),  # Piccadilly Gardens
    (53.48185, -2.24010, 0.1),  # Market Street (pedestrianised)
    (53.48245, -2.24280, 0.1),
    (53.48420, -2.24360, 0.2),  # Exchange Square
    (53.48450, -2.24650, 0.9),  # Deansgate at the Cathedral
    (53.48200, -2.24770, 1.0),  # Deansgate
    (53.48040, -2.24855, 1.0),  # Deansgate at the John Rylands Library
    (53.47830, -2.24960, 0.9),  # Deansgate at Peter Street
    (53.47800, -2.24600, 0.5),  # Peter Street
    (53.47800, -2.24330, 0.3),  # St Peter's Square
    (53.47930, -2.24140, 0.4),  # Mosley Street
    (53.47890, -2.23900, 0.8),  # Portland Street
    (53.48010, -2.23700, 0.8),
    (53.48095, -2.23680, 0.3),  # back at Piccadilly Gardens
)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float
    traffic: float


class Route:
    def __init__(self, points: list[tuple[float, float, float]] | tuple, name: str = "route") -> None:
        if len(points) < 2:
            raise RouteError(f"route {name} needs at least two points")
        self.name = name
        self.points = [Point(float(p[0]), float(p[1]), float(p[2]) if len(p) > 2 else 0.5) for p in points]
        self.cumulative = [0.0]
        for a, b in zip(self.points, self.points[1:]):
            self.cumulative.append(self.cumulative[-1] + distance_m(a.lat, a.lon, b.lat, b.lon))
        if self.length_m <= 0:
            raise RouteError(f"route {name} has zero length")

    @property
    def length_m(self) -> float:
        return self.cumulative[-1]

    def at(self, metres: float) -> Point:
        """Where a walker is after ``metres``; walking on past the end starts the route again."""
        d = metres % self.length_m
        lo, hi = 0, len(self.cumulative) - 1
        while hi - lo > 1:  # the segment holding d
            mid = (lo + hi) // 2
            if self.cumulative[mid] <= d:
                lo = mid
            else:
                hi = mid
        a, b = self.points[lo], self.points[hi]
        span = self.cumulative[hi] - self.cumulative[lo]
        f = (d - self.cumulative[lo]) / span if span else 0.0
        return Point(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f, a.traffic + (b.traffic - a.traffic) * f)

    def offset(self, lat: float, lon: float) -> "Route":
        """The route moved so it starts at (lat, lon): lets kits spread over a city."""
        dlat, dlon = lat - self.points[0].lat, lon - self.points[0].lon
        return Route([(p.lat + dlat, p.lon + dlon, p.traffic) for p in self.points], self.name)


def builtin() -> Route:
    return Route(MANCHESTER_LOOP, "Manchester city centre loop")


def load(spec: str | Path) -> Route:
    """``builtin`` or a route file (.geojson/.json, .gpx, .csv)."""
    if str(spec) == "builtin":
        return builtin()
    path = Path(spec)
    if not path.exists():
        raise RouteError(f"route file {path} does not exist; use --route builtin or a .geojson, .gpx or .csv file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".geojson", ".json"):
            points = _geojson(json.loads(path.read_text()))
        elif suffix == ".gpx":
            points = _gpx(path.read_text())
        elif suffix == ".csv":
            points = _csv(path.read_text())
        else:
            raise RouteError(f"route file {path}: use a .geojson, .gpx or .csv file")
    except (ValueError, KeyError, IndexError, TypeError, ET.ParseError) as exc:
        raise RouteError(f"route file {path} could not be read ({exc}); see `airtrail kit simulate --help` for the formats") from exc
    return Route(points, path.stem)


def _geojson(doc: dict) -> list[tuple[float, float, float]]:
    geometries = []
    if doc.get("type") == "FeatureCollection":
        geometries = [f["geometry"] for f in doc["features"]]
    elif doc.get("type") == "Feature":
        geometries = [doc["geometry"]]
    else:
        geometries = [doc]
    for g in geometries:
        if g and g.get("type") == "LineString":
            # GeoJSON (RFC 7946 section 3.1.1) orders coordinates lon, lat.
            return [(c[1], c[0], 0.5) for c in g["coordinates"]]
    raise ValueError("no LineString in the GeoJSON")


def _gpx(text: str) -> list[tuple[float, float, float]]:
    root = ET.fromstring(text)
    points = [(float(el.get("lat")), float(el.get("lon")), 0.5) for el in root.iter() if el.tag.endswith("trkpt") or el.tag.endswith("rtept")]  # type: ignore[arg-type]
    if not points:
        raise ValueError("no trkpt or rtept in the GPX")
    return points


def _csv(text: str) -> list[tuple[float, float, float]]:
    points = []
    for row in csv.reader(text.splitlines()):
        if not row or row[0].strip().lower() in ("lat", "latitude") or row[0].startswith("#"):
            continue
        traffic = float(row[2]) if len(row) > 2 and row[2].strip() else 0.5
        points.append((float(row[0]), float(row[1]), min(1.0, max(0.0, traffic))))
    return points
