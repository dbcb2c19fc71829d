"""Put every reading where it was: positions by time, interpolated between fixes.

Columnar and vectorised: an as-of join (each kit's readings searched at once
among its own fixes, sorted by time), then arithmetic on whole columns; no
loop over readings. Times are integer nanoseconds since the Unix epoch (UTC)
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

from .order import ascending, unsorted

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
    """How many readings got each reason (codes into REASONS): a comparison per reason of the
    small codes as they are (a bincount would widen a million of them to 64 bits first)."""
    reason = np.asarray(reason)
    return {name: int(np.count_nonzero(reason == code)) for code, name in enumerate(REASONS)}


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
              max_gap_s: float = 60.0, which_fix: bool = False):
    """place_readings on columns: (lat, lon, reason code into REASONS) per reading; with
    ``which_fix``, a fourth column: the index among the fixes given of the fix whose position a
    reading takes as it is (a ``fix`` or ``nearest`` reading), -1 for the others.

    ``t`` and ``fix_t`` are int64 ns; kits are any hashable values, shared between the two.
    """
    good = ~(np.isnan(fix_lat) | np.isnan(fix_lon))
    source = np.arange(len(fix_t)) if which_fix else None  # each fix's index among those given, as they move
    if not good.all():
        fix_kit, fix_t, fix_lat, fix_lon = fix_kit[good], fix_t[good], fix_lat[good], fix_lon[good]
        source = source[good] if source is not None else None
    code, fcode, n_kits = _codes(np.asarray(kit), np.asarray(fix_kit))
    ft, flat, flon = fix_t, fix_lat, fix_lon
    # Fixes by kit (a walk's already are: then nothing moves), and readings too, so that each
    # kit's readings are placed on its own fixes: slices of a few thousand rows, which stay in
    # the processor's cache through the dozen steps below. A walk has tens of kits.
    if not ascending(fcode):
        by_kit = np.argsort(fcode, kind="stable")
        fcode, ft, flat, flon = fcode[by_kit], ft[by_kit], flat[by_kit], flon[by_kit]
        source = source[by_kit] if source is not None else None
    fix_bounds = np.searchsorted(fcode, np.arange(n_kits + 1))
    n = len(t)
    order = None
    if not ascending(code):
        order = np.argsort(code, kind="stable")
        code, t = code[order], t[order]
    bounds = np.searchsorted(code, np.arange(n_kits + 1))
    lat, lon = np.full(n, np.nan), np.full(n, np.nan)
    reason = np.full(n, _CODE["no_fixes"], dtype=np.int8)
    at_fix = np.full(n, -1, dtype=np.int64) if which_fix else None
    for k in np.flatnonzero(np.diff(bounds)).tolist():
        a, b, f0, f1 = bounds[k], bounds[k + 1], fix_bounds[k], fix_bounds[k + 1]
        if f1 == f0:
            continue  # the kit has no fix: no_fixes
        times, la, lo = ft[f0:f1], flat[f0:f1], flon[f0:f1]
        mine = source[f0:f1] if source is not None else None
        if not ascending(times):  # a kit's fixes out of time order: put in order
            inner = np.argsort(times, kind="stable")
            times, la, lo = times[inner], la[inner], lo[inner]
            mine = mine[inner] if mine is not None else None
        lat[a:b], lon[a:b], reason[a:b], taken = _place_kit(t[a:b], times, la, lo, tolerance_s, max_gap_s)
        if at_fix is not None:
            at_fix[a:b] = np.where((reason[a:b] == _CODE["fix"]) | (reason[a:b] == _CODE["nearest"]), mine[taken], -1)
    return unsorted(order, lat, lon, reason, *(() if at_fix is None else (at_fix,)))  # back to the readings' own order


def _place_kit(t, ft, flat, flon, tolerance_s: float, max_gap_s: float) -> tuple[np.ndarray, ...]:
    """positions for one kit's readings ``t`` from its fixes (``ft`` sorted, at least one), and
    for each reading the fix its position starts from (its own, for a fix or nearest reading)."""
    n, n_fix = len(t), len(ft)
    # The as-of join: the latest fix at or before each reading, by one binary search of them all.
    prev = np.searchsorted(ft, t, side="right") - 1
    has0 = prev >= 0
    nxt = prev + 1
    has1 = nxt < n_fix
    p, q = np.maximum(prev, 0), np.minimum(nxt, n_fix - 1)
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
    reason[nearest] = _CODE["nearest"]
    reason[between] = _CODE["interpolated"]
    reason[exact] = _CODE["fix"]
    unplaced = reason >= len(PLACED)
    lat[unplaced] = np.nan
    lon[unplaced] = np.nan
    return lat, lon, reason, a
