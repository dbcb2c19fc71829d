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

__all__ = ["EARTH_RADIUS_M", "Filtered", "Zone", "haversine_m", "privacy_filter"]

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


def privacy_filter(points: pd.DataFrame, zones: list[Zone] | tuple[Zone, ...], trim_m: float, by: str = "participant") -> Filtered:
    """Points (columns ``by``, t, lat, lon; lat/lon NaN where unplaced) with the private ones removed."""
    n = len(points)
    lat, lon = points["lat"].to_numpy(float), points["lon"].to_numpy(float)
    placed = ~np.isnan(lat)

    in_zone = np.zeros(n, dtype=bool)
    for zone in zones:
        in_zone |= placed & (haversine_m(lat, lon, zone.lat, zone.lon) <= zone.radius_m)

    # Distance along each trace from its start and to its end, over placed points in time order.
    codes = pd.factorize(points[by])[0]
    order = np.lexsort((points["t"].to_numpy(np.int64), codes))
    who = codes[order]
    olat, olon, oplaced = lat[order], lon[order], placed[order]
    step = np.zeros(n)
    # Each placed point's distance from the previous placed point of the same trace.
    idx = np.flatnonzero(oplaced)
    if len(idx) > 1:
        same = who[idx[1:]] == who[idx[:-1]]
        step[idx[1:]] = np.where(same, haversine_m(olat[idx[:-1]], olon[idx[:-1]], olat[idx[1:]], olon[idx[1:]]), 0.0)
    run = np.cumsum(step)
    start_of = pd.Series(run).groupby(who).transform("min").to_numpy()
    end_of = pd.Series(run).groupby(who).transform("max").to_numpy()
    from_start, to_end = run - start_of, end_of - run
    # A trace's first placed point is at distance 0; an unplaced point before it
    # (or after its last) takes the distance of the nearest placed point on that side,
    # which is what the cumulative sum already gives it.
    # Where each trace started and ended (its first and last placed points).
    first_at = pd.Series(np.where(oplaced, np.arange(n), n)).groupby(who).transform("min").to_numpy()
    last_at = pd.Series(np.where(oplaced, np.arange(n), -1)).groupby(who).transform("max").to_numpy()
    has_ends = last_at >= 0
    f, l_ = np.minimum(first_at, n - 1), np.maximum(last_at, 0)
    near_start = oplaced & has_ends & (haversine_m(olat, olon, olat[f], olon[f]) < trim_m)
    near_end = oplaced & has_ends & (haversine_m(olat, olon, olat[l_], olon[l_]) < trim_m)
    trim_start = np.empty(n, dtype=bool)
    trim_end = np.empty(n, dtype=bool)
    trim_start[order] = (from_start < trim_m) | near_start
    trim_end[order] = ~trim_start[order] & ((to_end < trim_m) | near_end)
    if trim_m <= 0:
        trim_start[:] = False
        trim_end[:] = False

    removed_zone = in_zone & ~trim_start & ~trim_end
    keep = ~(in_zone | trim_start | trim_end)
    return Filtered(points[keep], {"privacy_zone": int(removed_zone.sum()), "trimmed_start": int(trim_start.sum()),
                                   "trimmed_end": int(trim_end.sum())})
