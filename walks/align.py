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

__all__ = ["PLACED", "UNPLACED", "Placement", "place_readings"]

PLACED = ("fix", "interpolated", "nearest")
UNPLACED = ("gap", "off_track", "no_fixes")
_NS = 1_000_000_000
_REASONS = (*PLACED, *UNPLACED)
_CODE = {name: code for code, name in enumerate(_REASONS)}


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
    flat_all, flon_all = fixes["lat"].to_numpy(float), fixes["lon"].to_numpy(float)
    good = ~(np.isnan(flat_all) | np.isnan(flon_all))
    kits = pd.Index(pd.unique(np.concatenate([np.asarray(readings["kit"]), np.asarray(fixes["kit"])[good]])))
    fcode = kits.get_indexer(np.asarray(fixes["kit"])[good]).astype(np.int64)
    ft, flat, flon = fixes["t"].to_numpy(np.int64)[good], flat_all[good], flon_all[good]
    # Fixes sorted by kit, then time (a phone's track already is: then nothing moves).
    if len(ft) > 1 and not np.all((np.diff(fcode) > 0) | ((np.diff(fcode) == 0) & (np.diff(ft) >= 0))):
        by_kit = np.lexsort((ft, fcode))
        fcode, ft, flat, flon = fcode[by_kit], ft[by_kit], flat[by_kit], flon[by_kit]
    n_fix = len(ft)
    code = kits.get_indexer(np.asarray(readings["kit"])).astype(np.int64)
    t = readings["t"].to_numpy(np.int64)

    # The as-of join: the latest fix of the same kit at or before each reading, found by one
    # binary search on the sorted (kit, time) key. The key counts microseconds, so that kit
    # and time fit one int64; the step back below makes it exact to the nanosecond.
    prev = np.full(len(t), -1, dtype=np.int64)
    if n_fix and len(t):
        origin = min(int(ft.min()), int(t.min()))
        span_us = (max(int(ft.max()), int(t.max())) - origin) // 1000 + 1
        if (len(kits) + 1) * span_us >= 2**62:
            raise ValueError("fixes and readings span too long a time to be joined (more than centuries)")
        fkey = fcode * span_us + (ft - origin) // 1000
        rkey = code * span_us + (t - origin) // 1000
        prev = np.searchsorted(fkey, rkey, side="right") - 1
        while True:  # a fix later in the same microsecond is not before the reading
            late = (prev >= 0) & (fkey[np.maximum(prev, 0)] == rkey) & (ft[np.maximum(prev, 0)] > t)
            if not late.any():
                break
            prev[late] -= 1
        prev[(prev >= 0) & (fcode[np.maximum(prev, 0)] != code)] = -1
    # Its successor, or the kit's first fix when no fix comes before the reading.
    starts = np.searchsorted(fcode, np.arange(len(kits) + 1))  # each kit's first fix row; one query per kit
    first = starts[code]
    has_kit = starts[code + 1] > first
    nxt = np.where(prev >= 0, prev + 1, first)
    has0 = prev >= 0
    has1 = has_kit & (nxt < n_fix)
    has1 &= fcode[np.minimum(nxt, n_fix - 1)] == code if n_fix else has1
    p, q = np.maximum(prev, 0), np.minimum(nxt, max(n_fix - 1, 0))

    if n_fix:
        t0, t1 = ft[p], ft[q]
        lat0, lon0, lat1, lon1 = flat[p], flon[p], flat[q], flon[q]
    else:
        t0 = t1 = np.zeros(len(t), np.int64)
        lat0 = lon0 = lat1 = lon1 = np.zeros(len(t))
    span = t1 - t0
    exact = has0 & (t0 == t)
    between = has0 & has1 & (span > 0) & (span <= max_gap_s * _NS)
    d0 = np.where(has0, t - t0, np.iinfo(np.int64).max)
    d1 = np.where(has1, t1 - t, np.iinfo(np.int64).max)
    near = np.minimum(d0, d1) <= tolerance_s * _NS

    reason = np.full(len(t), _CODE["off_track"], dtype=np.int8)
    lat = np.full(len(t), np.nan)
    lon = np.full(len(t), np.nan)
    nearest = ~exact & ~between & near
    take0 = d0 <= d1
    lat[nearest] = np.where(take0, lat0, lat1)[nearest]
    lon[nearest] = np.where(take0, lon0, lon1)[nearest]
    reason[nearest] = _CODE["nearest"]
    inter = between & ~exact
    w = (t[inter] - t0[inter]) / span[inter]
    lat[inter] = lat0[inter] + w * (lat1[inter] - lat0[inter])
    lon[inter] = lon0[inter] + w * (lon1[inter] - lon0[inter])
    reason[inter] = _CODE["interpolated"]
    lat[exact], lon[exact], reason[exact] = lat0[exact], lon0[exact], _CODE["fix"]
    unplaced = ~(exact | between | near)
    reason[unplaced & has0 & has1] = _CODE["gap"]
    reason[unplaced & ~has_kit] = _CODE["no_fixes"]

    out = readings.copy(deep=False)
    out["lat"] = lat
    out["lon"] = lon
    out["position"] = pd.Categorical.from_codes(reason, categories=_REASONS)
    tally = np.bincount(reason, minlength=len(_REASONS))
    return Placement(out, {name: int(n) for name, n in zip(_REASONS, tally)})
