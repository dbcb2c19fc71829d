"""Put every reading where it was: positions by time, interpolated between fixes.

Columnar and vectorised: one as-of join on the sorted (kit, time) columns of
the fixes (a binary search of every reading at once), then arithmetic on
whole columns; no loop over readings. Times are integer nanoseconds since the Unix epoch (UTC)
in an ``int64`` column named ``t``; kits are a column ``kit`` of any
hashable values, turned into shared integer codes for the join.

A reading gets a position:
  ``fix``           exactly at a fix's time: that fix;
  ``interpolated``  between two fixes at most ``max_gap_s`` apart: on the
                    straight line between them, in proportion to time (at
                    1 fix per second the curvature of the Earth is far below
                    GPS error);
  ``nearest``       next to a fix (at most ``tolerance_s`` away) but not
                    between two close fixes (the ends of a track, the edges of
                    a gap): that fix.
Otherwise it gets none, and its reason says why:
  ``gap``           inside a gap between fixes longer than ``max_gap_s``;
  ``off_track``     before the first fix or after the last, beyond tolerance;
  ``no_fixes``      its kit has no fix at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PLACED", "REASONS", "UNPLACED", "Placement", "place_readings", "positions", "tally"]

PLACED = ("fix", "interpolated", "nearest")
UNPLACED = ("gap", "off_track", "no_fixes")
_NS = 1_000_000_000
REASONS = (*PLACED, *UNPLACED)
_CODE = {name: code for code, name in enumerate(REASONS)}


@dataclass(frozen=True)
class Placement:
    readings: pd.DataFrame  # the readings, in their order, with lat, lon and position (a reason from PLACED or UNPLACED)
    counts: dict[str, int]  # how many readings got each reason

    @property
    def placed(self) -> int:
        return sum(self.counts[r] for r in PLACED)


def place_readings(readings: pd.DataFrame, fixes: pd.DataFrame, tolerance_s: float = 10.0, max_gap_s: float = 60.0) -> Placement:
    """Positions for ``readings`` (columns kit, t) from ``fixes`` (columns kit, t, lat, lon).

    The readings come back in their own order with ``lat``, ``lon`` (NaN
    where there is no position) and ``position``; fixes with missing
    coordinates are ignored.
    """
    for name, frame, needed in (("readings", readings, ("kit", "t")), ("fixes", fixes, ("kit", "t", "lat", "lon"))):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lack the column(s) {', '.join(missing)}")
    lat, lon, reason = positions(np.asarray(readings["kit"]), readings["t"].to_numpy(np.int64), np.asarray(fixes["kit"]),
                                 fixes["t"].to_numpy(np.int64), fixes["lat"].to_numpy(float), fixes["lon"].to_numpy(float),
                                 tolerance_s, max_gap_s)
    out = readings.copy(deep=False)
    out["lat"] = lat
    out["lon"] = lon
    out["position"] = pd.Categorical.from_codes(reason, categories=REASONS)
    return Placement(out, tally(reason))


def tally(reason: np.ndarray) -> dict[str, int]:
    """How many readings got each reason (codes into REASONS)."""
    return {name: int(n) for name, n in zip(REASONS, np.bincount(reason, minlength=len(REASONS)))}


def _codes(kit: np.ndarray, fix_kit: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Shared integer codes of the readings' and the fixes' kits, and how many kits."""
    if kit.dtype.kind in "iu" and fix_kit.dtype.kind in "iu" and (not len(kit) or kit.min() >= 0) \
            and (not len(fix_kit) or fix_kit.min() >= 0):
        # Already small integers (the walk build's participant numbers): their own codes.
        n = int(max(kit.max() if len(kit) else -1, fix_kit.max() if len(fix_kit) else -1)) + 1
        if n <= max(len(kit), len(fix_kit), 1):
            return kit.astype(np.int64, copy=False), fix_kit.astype(np.int64, copy=False), n
    kits = pd.Index(pd.unique(np.concatenate([kit, fix_kit])))
    return kits.get_indexer(kit).astype(np.int64), kits.get_indexer(fix_kit).astype(np.int64), len(kits)


def positions(kit, t, fix_kit, fix_t, fix_lat, fix_lon, tolerance_s: float = 10.0,
              max_gap_s: float = 60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """place_readings on columns: (lat, lon, reason code into REASONS) per reading.

    ``t`` and ``fix_t`` are int64 ns; kits are any hashable values, shared between the two.
    """
    good = ~(np.isnan(fix_lat) | np.isnan(fix_lon))
    if not good.all():
        fix_kit, fix_t, fix_lat, fix_lon = fix_kit[good], fix_t[good], fix_lat[good], fix_lon[good]
    code, fcode, n_kits = _codes(np.asarray(kit), np.asarray(fix_kit))
    ft, flat, flon = fix_t, fix_lat, fix_lon
    # Fixes sorted by kit, then time (a phone's track already is: then nothing moves).
    if len(ft) > 1 and not np.all((np.diff(fcode) > 0) | ((np.diff(fcode) == 0) & (np.diff(ft) >= 0))):
        by_kit = np.lexsort((ft, fcode))
        fcode, ft, flat, flon = fcode[by_kit], ft[by_kit], flat[by_kit], flon[by_kit]
    n_fix, n = len(ft), len(t)
    if not n_fix:
        reason = np.full(n, _CODE["no_fixes"], dtype=np.int8)
        return np.full(n, np.nan), np.full(n, np.nan), reason

    # The as-of join: the latest fix of the same kit at or before each reading, found by one
    # binary search on the sorted (kit, time) key. The key counts nanoseconds where kit and
    # time fit one int64 (a walk's days, for thousands of kits), else microseconds, made exact
    # to the nanosecond by the step back below.
    prev = np.full(n, -1, dtype=np.int64)
    if n:
        origin = min(int(ft.min()), int(t.min()))
        span_ns = max(int(ft.max()), int(t.max())) - origin + 1
        unit = 1 if (n_kits + 1) * span_ns < 2**62 else 1000
        span = (span_ns - 1) // unit + 1
        if (n_kits + 1) * span >= 2**62:
            raise ValueError("fixes and readings span too long a time to be joined (more than centuries)")
        fkey = fcode * span + ((ft - origin) // unit if unit > 1 else ft - origin)
        rkey = code * span + ((t - origin) // unit if unit > 1 else t - origin)
        prev = np.searchsorted(fkey, rkey, side="right") - 1
        while unit > 1:  # a fix later in the same microsecond is not before the reading
            late = (prev >= 0) & (fkey[np.maximum(prev, 0)] == rkey) & (ft[np.maximum(prev, 0)] > t)
            if not late.any():
                break
            prev[late] -= 1
    # Each kit's first fix row (one query per kit), and whether the kit has any.
    starts = np.searchsorted(fcode, np.arange(n_kits + 1))
    first, after = starts[code], starts[code + 1]
    has0 = (prev >= first) & (prev >= 0)  # a fix of the same kit at or before the reading
    nxt = np.where(has0, prev + 1, first)  # its successor, or the kit's first fix when none comes before
    has1 = nxt < after
    p, q = np.where(has0, prev, 0), np.minimum(nxt, n_fix - 1)
    t0, t1 = ft[p], ft[q]
    span = t1 - t0
    exact = has0 & (t0 == t)
    between = has0 & has1 & (span > 0) & (span <= max_gap_s * _NS) & ~exact
    d0 = np.where(has0, t - t0, np.iinfo(np.int64).max)
    d1 = np.where(has1, t1 - t, np.iinfo(np.int64).max)
    nearest = ~exact & ~between & (np.minimum(d0, d1) <= tolerance_s * _NS)
    # Every placed reading is fix a plus w of the way to fix b: w = 0 at a fix (or the nearest one,
    # made a), so that it takes that fix's position exactly.
    a = np.where(nearest & (d1 < d0), q, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(between, (t - t0) / span, 0.0)
    lat0, lon0 = flat[a], flon[a]
    lat = lat0 + w * (flat[q] - lat0)
    lon = lon0 + w * (flon[q] - lon0)
    reason = np.full(n, _CODE["off_track"], dtype=np.int8)
    reason[has0 & has1 & ~exact & ~between & ~nearest] = _CODE["gap"]
    reason[after == first] = _CODE["no_fixes"]
    reason[nearest] = _CODE["nearest"]
    reason[between] = _CODE["interpolated"]
    reason[exact] = _CODE["fix"]
    unplaced = reason >= len(PLACED)
    lat[unplaced] = np.nan
    lon[unplaced] = np.nan
    return lat, lon, reason
