"""The route in pieces: split every N metres (or between named stops), each reading on its piece.

The planned route is a polyline. It is cut every ``every_m`` metres along its
length (the last piece may be shorter), or at the named stops (each stop cuts
the route where it passes closest to it). A reading belongs to the piece of
the route nearest to it, if it is within ``max_distance_m`` of the route;
farther readings are off the route and counted.

Geometry is done in a local plane (equirectangular about the route's middle:
x east, y north, metres), which at walk scale (a few kilometres) is within a
fraction of a per cent of the true distances. The route is sampled every
``RESOLUTION_M`` metres and readings are matched to the nearest sample with a
k-d tree (scipy), so matching a million readings costs one tree query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
# At import, with numpy and pandas (the same extra): scipy.spatial takes about 0.3 s to import, a
# cost of starting the process, not of matching the first walk.
from scipy.spatial import cKDTree

from .privacy import EARTH_RADIUS_M

__all__ = ["RESOLUTION_M", "Route", "Segments", "assign", "split_route"]

RESOLUTION_M = 2.0  # the route is sampled this finely for matching


@dataclass(frozen=True)
class Route:
    lat: np.ndarray
    lon: np.ndarray
    # Derived once: every segment's polyline and every match ask for them.
    _plane: tuple[float, float, float] = field(init=False, repr=False, compare=False)
    _along: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lat0, lon0 = float(np.mean(self.lat)), float(np.mean(self.lon))
        object.__setattr__(self, "_plane", (lat0, lon0, np.radians(1) * EARTH_RADIUS_M * np.cos(np.radians(lat0))))
        x, y = self.xy(self.lat, self.lon)
        object.__setattr__(self, "_along", np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))]))

    def plane(self) -> tuple[float, float, float]:
        """(lat0, lon0, metres per degree of longitude) of the local plane."""
        return self._plane

    def xy(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        lat0, lon0, m_per_deg_lon = self.plane()
        m_per_deg_lat = np.radians(1) * EARTH_RADIUS_M
        return (np.asarray(lon, float) - lon0) * m_per_deg_lon, (np.asarray(lat, float) - lat0) * m_per_deg_lat

    def along(self) -> np.ndarray:
        """Distance along the route at each vertex, from its start (metres)."""
        return self._along


@dataclass(frozen=True)
class Segments:
    route: Route
    cuts_m: np.ndarray  # distance along the route where each segment starts, plus the route's length at the end
    names: tuple[str, ...]  # a label per segment: "0–50 m", or "Start → Bridge" between stops

    def __len__(self) -> int:
        return len(self.cuts_m) - 1

    def polyline(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The lat/lon of segment ``i``: its cut points and the route's vertices between them."""
        along = self.route.along()
        start, end = self.cuts_m[i], self.cuts_m[i + 1]
        inner = (along > start) & (along < end)
        at = np.concatenate([[start], along[inner], [end]])
        return np.interp(at, along, self.route.lat), np.interp(at, along, self.route.lon)


def split_route(lat, lon, every_m: float = 50.0, stops: list[tuple[str, float, float]] | None = None) -> Segments:
    """Cut the route every ``every_m`` metres, or at the named ``stops`` (name, lat, lon) when given."""
    route = Route(np.asarray(lat, float), np.asarray(lon, float))
    if len(route.lat) < 2:
        raise ValueError("a route needs at least two points")
    along = route.along()
    length = float(along[-1])
    if length <= 0:
        raise ValueError("the route has no length: its points are all in one place")
    if stops:
        x, y = route.xy(route.lat, route.lon)
        dense = np.arange(0, length + RESOLUTION_M, RESOLUTION_M)
        dx, dy = np.interp(dense, along, x), np.interp(dense, along, y)
        places = []
        for name, s_lat, s_lon in stops:
            sx, sy = route.xy(s_lat, s_lon)
            places.append((float(dense[np.argmin(np.hypot(dx - sx, dy - sy))]), name))
        places.sort()
        cuts = sorted({0.0, *(p for p, _ in places), length})
        label = {p: n for p, n in places}
        label.setdefault(0.0, "start")
        label.setdefault(length, "end")
        names = tuple(f"{label.get(a, f'{a:.0f} m')} → {label.get(b, f'{b:.0f} m')}" for a, b in zip(cuts[:-1], cuts[1:]))
        return Segments(route, np.array(cuts), names)
    starts = np.arange(0, length, every_m)
    if len(starts) > 1 and length - starts[-1] < 0.01 * every_m:  # a sliver left by rounding: part of the last piece
        starts = starts[:-1]
    cuts = np.append(starts, length)
    names = tuple(f"{a:.0f}–{b:.0f} m" for a, b in zip(cuts[:-1], cuts[1:]))
    return Segments(route, cuts, names)


CELL_M = 1.0  # points are matched by the 1 m cell they fall in: walkers share cells, so far fewer queries than points


def assign(segments: Segments, lat, lon, max_distance_m: float = 50.0, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(segment index or -1 when off the route, distance from the route in metres) for each point.

    Points are snapped to a grid of CELL_M cells first and each occupied cell is matched
    once: a group walking one route puts many readings in each cell, so a million readings
    cost a hundred thousand tree queries. The queries, and the points' projections after them,
    run on ``workers`` threads (by default both cores when there are many). The cell only
    chooses the piece of route a point is projected on (a choice the snap of at most
    CELL_M / √2 can sway only at a near tie); the distance and the place along the route are
    the point's own.
    """
    route = segments.route
    along = route.along()
    x, y = route.xy(route.lat, route.lon)
    dense = np.minimum(np.arange(0, along[-1] + RESOLUTION_M, RESOLUTION_M), along[-1])
    sx, sy = np.interp(dense, along, x), np.interp(dense, along, y)
    tree = cKDTree(np.column_stack([sx, sy]))
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    n = len(lat)
    distance = np.full(n, np.inf)
    index = np.full(n, -1, dtype=np.int64)
    last = len(dense) - 1  # at least 1: split_route refuses a route of no length
    if workers is None:
        workers = 2 if n > 200_000 else 1
    pool = None
    if workers > 1 and n > BLOCK:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers)
    run = pool.map if pool is not None else map
    try:
        # Block by block (each block's dozen temporary columns stay in the processor's cache, and
        # the blocks are independent): each placed point on the plane, and the cell it is in.
        def on_plane(a: int):
            px, py = route.xy(lat[a:a + BLOCK], lon[a:a + BLOCK])
            rows = np.flatnonzero(np.isfinite(px) & np.isfinite(py))
            if len(rows) < len(px):
                px, py = px[rows], py[rows]
            return rows + a, px, py, np.floor(px / CELL_M).astype(np.int64), np.floor(py / CELL_M).astype(np.int64)

        blocks = [b for b in run(on_plane, range(0, n, BLOCK)) if len(b[0])]
        if not blocks:
            return index, distance  # no point has a position
        ox, oy = min(int(b[3].min()) for b in blocks), min(int(b[4].min()) for b in blocks)
        height = max(int(b[4].max()) for b in blocks) - oy + 1
        width = max(int(b[3].max()) for b in blocks) - ox + 1
        inverse, cells = _cells(np.concatenate([(b[3] - ox) * height + (b[4] - oy) for b in blocks]), width * height)
        ccx, ccy = (cells // height + ox + 0.5) * CELL_M, (cells % height + oy + 0.5) * CELL_M
        _, k = tree.query(np.column_stack([ccx, ccy]), workers=workers if len(cells) > 20_000 else 1)
        # Per cell: which piece of the sampled route, before or after its nearest sample, is nearer.
        before = np.maximum(k - 1, 0)
        after = np.minimum(k, last - 1)
        pieces = _pieces(sx, sy)
        d_before = _to_piece(ccx, ccy, pieces, before)[0]
        d_after = _to_piece(ccx, ccy, pieces, after)[0]
        cell_piece = np.where(d_before < d_after, before, after)
        # A piece of 2 m lies within one segment unless a cut falls in it (or at its end): its
        # points take the piece's segment, and only those of the pieces with a cut are placed along
        # the route and looked up among the cuts.
        cut = segments.cuts_m
        lo = np.clip(np.searchsorted(cut, dense[:-1], side="right") - 1, 0, len(segments) - 1)
        straddles = np.searchsorted(cut, dense[1:], side="right") - 1 != lo
        offsets = np.cumsum([0, *(len(b[0]) for b in blocks)]).tolist()

        # Per point, block by block again: projected on its cell's piece, its exact distance from the
        # route and how far along it is.
        def project(i: int) -> None:
            rows, px, py = blocks[i][:3]
            piece = cell_piece[inverse[offsets[i]:offsets[i + 1]]]
            d, w = _to_piece(px, py, pieces, piece)
            distance[rows] = d
            index[rows] = lo[piece]
            doubt = np.flatnonzero(straddles[piece])
            if len(doubt):
                p = piece[doubt]
                at_m = dense[p] + w[doubt] * (dense[p + 1] - dense[p])  # how far along the route
                index[rows[doubt]] = np.clip(np.searchsorted(cut, at_m, side="right") - 1, 0, len(segments) - 1)

        list(run(project, range(len(blocks))))
    finally:
        if pool is not None:
            pool.shutdown()
    return np.where(distance <= max_distance_m, index, -1), distance


BLOCK = 1 << 15  # points projected at once: a block's dozen temporary columns fit the processor's cache


DENSE_CELLS = 1 << 24  # up to this many cells in the points' bounding box, occupied cells are found by a table


def _cells(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(for each key its cell's number, the distinct keys): pd.factorize's answer, by a table of the
    box's cells where the box is small enough (a walk's few km²), which is cheaper than hashing."""
    if size > DENSE_CELLS:
        return pd.factorize(key)
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    cells = np.flatnonzero(seen)
    number = np.empty(size, dtype=np.int32)
    number[cells] = np.arange(len(cells), dtype=np.int32)
    return number[key], cells


def _pieces(sx: np.ndarray, sy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each piece of the sampled polyline (samples i to i + 1): its start, its step and 1 / its length²
    (0 for a piece of no length), computed once for every point projected on it."""
    ex, ey = np.diff(sx), np.diff(sy)
    length2 = ex * ex + ey * ey
    with np.errstate(divide="ignore"):
        inverse = np.where(length2 > 0, 1 / np.where(length2 > 0, length2, 1), 0.0)
    return sx[:-1], sy[:-1], ex, ey, inverse


def _to_piece(qx, qy, pieces: tuple[np.ndarray, ...], a) -> tuple[np.ndarray, np.ndarray]:
    """Distance of points from the piece ``a`` of the polyline (_pieces), and where along it (0..1)."""
    x0, y0, ex, ey = pieces[0][a], pieces[1][a], pieces[2][a], pieces[3][a]
    rx, ry = qx - x0, qy - y0
    w = np.clip((rx * ex + ry * ey) * pieces[4][a], 0, 1)
    dx, dy = rx - w * ex, ry - w * ey
    return np.sqrt(dx * dx + dy * dy), w  # not np.hypot: five times slower, and metres do not overflow
