"""The privacy filter: what of a walk may be published.

Where a trace starts and ends is where its carrier lives, works or parks; a
privacy zone is a place the group chose to keep out (a school gate, a home, a
shelter). So, before anything is published:
  - every point inside a privacy zone (centre and radius) is removed;
  - the first and last ``trim_m`` metres of each participant's trace are
    removed, measured along the trace; and so is every point of the trace
    closer than ``trim_m`` as the crow flies to where it started or ended (a
    walk round the block would otherwise pass close to home in its middle);
  - points without a position are kept (they carry no place) unless they lie
    in a trimmed stretch of time, which would otherwise still say when a
    person left home.
Each removal is counted by reason for the walk summary. Distances are on a
sphere of the Earth's mean radius (haversine): at walk scale that is within a
few centimetres of the ellipsoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .order import ascending, unsorted

__all__ = ["EARTH_RADIUS_M", "Filtered", "Zone", "haversine_m", "privacy_filter", "private_mask"]

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


@dataclass(frozen=True)
class Zone:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Filtered:
    points: pd.DataFrame  # what may be published, in the input's order
    removed: dict[str, int]  # {"privacy_zone": n, "trimmed_start": n, "trimmed_end": n}


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _middle(lat: np.ndarray) -> float:
    finite = lat[np.isfinite(lat)]
    return float((finite.min() + finite.max()) / 2) if len(finite) else 0.0


def _plane(lat, lon, lat0: float):
    """Metres east and north on the local plane about latitude ``lat0`` (equirectangular)."""
    k = np.radians(1) * EARTH_RADIUS_M
    return lon * (k * np.cos(np.radians(lat0))), lat * k


# Distances on one plane for a whole walk are within 0.2 % of the great circle (the cosine of
# latitude changes across a city); where a plane distance is that close to a limit, the great
# circle decides, so every decision is the haversine's.
_PLANE_DOUBT = 2e-3


def _closer(x, y, x0, y0, lat, lon, lat0, lon0, radius_m, strict: bool = True) -> np.ndarray:
    """distance < radius_m (or <=, not ``strict``) as haversine_m decides it."""
    dx, dy = x - x0, y - y0
    d2 = dx * dx + dy * dy  # squared: no square root for the million points far from the limit
    band = _PLANE_DOUBT * radius_m + 1e-3
    unsure = (d2 >= max(radius_m - band, 0) ** 2) & (d2 <= (radius_m + band) ** 2)
    inside = d2 < radius_m**2 if strict else d2 <= radius_m**2
    if unsure.any():
        at0, on0 = np.broadcast_to(lat0, d2.shape)[unsure], np.broadcast_to(lon0, d2.shape)[unsure]
        d = haversine_m(lat[unsure], lon[unsure], at0, on0)
        inside[unsure] = d < radius_m if strict else d <= radius_m
    return inside


def _starts(who: np.ndarray) -> np.ndarray:
    """Where each run of equal values in ``who`` (sorted) starts."""
    return np.flatnonzero(np.concatenate([[True], who[1:] != who[:-1]])) if len(who) else np.array([], np.int64)


def privacy_filter(points: pd.DataFrame, zones: list[Zone] | tuple[Zone, ...], trim_m: float, by: str = "participant") -> Filtered:
    """Points (columns ``by``, t, lat, lon; lat/lon NaN where unplaced) with the private ones removed."""
    keep, removed = private_mask(pd.factorize(points[by])[0], points["t"].to_numpy(np.int64),
                                 points["lat"].to_numpy(float), points["lon"].to_numpy(float), zones, trim_m)
    return Filtered(points[keep], removed)


def private_mask(who: np.ndarray, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, zones: list[Zone] | tuple[Zone, ...],
                 trim_m: float, lat0: float | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """privacy_filter on columns: which points may be published, and how many were removed why.

    ``who`` is an integer per trace, ``t`` int64 ns; NaN lat/lon where unplaced. The local plane
    is about latitude ``lat0`` (by default the middle of the points').
    """
    n = len(lat)
    lat0 = _middle(lat) if lat0 is None else lat0
    who = np.asarray(who)
    order = None  # None: already by trace (as the walk build hands them over)
    if not ascending(who):
        order = np.lexsort((t, who))
        who, t, lat, lon = who[order], t[order], lat[order], lon[order]
    on_plane = [(*_plane(z.lat, z.lon, lat0), z) for z in zones]  # each zone's centre on the plane, once
    in_zone = np.zeros(n, dtype=bool)
    trim_start = np.zeros(n, dtype=bool)
    trim_end = np.zeros(n, dtype=bool)
    starts = _starts(who)
    # Trace by trace, on slices: a trace's few thousand points stay in the processor's cache
    # through every step, and where it started and ended are one point each, so each distance
    # from them is to a number, not to a gathered column.
    for a, b in zip(starts.tolist(), [*starts[1:].tolist(), n]):
        inside, near_start, near_end = _trace(t[a:b], lat[a:b], lon[a:b], on_plane, trim_m, lat0)
        in_zone[a:b], trim_start[a:b], trim_end[a:b] = inside, near_start, ~near_start & near_end
    in_zone, trim_start, trim_end = unsorted(order, in_zone, trim_start, trim_end)  # back to the input's order
    if trim_m <= 0:
        trim_start[:] = False
        trim_end[:] = False

    removed_zone = in_zone & ~trim_start & ~trim_end
    keep = ~(in_zone | trim_start | trim_end)
    return keep, {"privacy_zone": int(removed_zone.sum()), "trimmed_start": int(trim_start.sum()),
                  "trimmed_end": int(trim_end.sum())}


def _trace(t, lat, lon, zones, trim_m: float, lat0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One trace's points (NaN lat/lon where unplaced): (inside a zone, near its start, near its end).

    ``zones`` are (x, y, Zone) on the plane about ``lat0``; near is by ``trim_m``, along the trace in
    time order or as the crow flies from the first and last placed point.
    """
    n = len(t)
    order = None
    if not ascending(t):  # the trace out of time order: its distances are taken in order
        order = np.argsort(t, kind="stable")
        lat, lon = lat[order], lon[order]
    placed = ~np.isnan(lat)
    x, y = _plane(lat, lon, lat0)
    inside = np.zeros(n, dtype=bool)
    for zx, zy, zone in zones:
        inside |= placed & _closer(x, y, zx, zy, lat, lon, zone.lat, zone.lon, zone.radius_m, strict=False)
    # Distance along the trace from its start: each placed point's distance from the previous
    # placed point, summed. The sum only grows, so the trace's least is at its first point and its
    # most at its last. Its first placed point is at distance 0; an unplaced point before it (or
    # after its last) takes the distance of the nearest placed point on that side, which is what
    # the cumulative sum already gives it.
    mine = np.flatnonzero(placed)
    step = np.zeros(n)
    if len(mine) == n and n > 1:
        dx, dy = np.diff(x), np.diff(y)
        step[1:] = np.sqrt(dx * dx + dy * dy)  # np.hypot is five times slower, and no step overflows
    elif len(mine) > 1:
        dx, dy = np.diff(x[mine]), np.diff(y[mine])
        step[mine[1:]] = np.sqrt(dx * dx + dy * dy)
    run = np.cumsum(step)
    near_start, near_end = run - run[0] < trim_m, run[-1] - run < trim_m
    if len(mine):  # and every point as near as the crow flies to where it started or ended
        for end, into in ((mine[0], near_start), (mine[-1], near_end)):
            into |= placed & _closer(x, y, x[end], y[end], lat, lon, lat[end], lon[end], trim_m)
    return unsorted(order, inside, near_start, near_end)
