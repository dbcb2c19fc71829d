"""The route summary: per segment and pollutant, what the group measured, and where it stood out.

``segment_stats`` takes the walk's published readings, each on a segment of
the route (``walks.segments.assign``; -1 is off the route and left out), and
gives one row per segment, 0 to ``n_segments - 1``. A segment nobody passed
is still there, with n = 0 and NaN figures, so the map can draw it as "no
data". For each pollutant ``<p>``:

  ``<p>_n``, ``<p>_median``, ``<p>_mean``, ``<p>_max``
        over all readings there, whoever carried the kit;
  ``<p>_kits``    how many kits read it there;
  ``<p>_spread``  kit-to-kit: the highest minus the lowest of the kits' own
                  medians there (NaN with fewer than 2 kits);
  ``<p>_difference_real``
                  whether the segment differs from the route's median by
                  more than the kits differ among themselves there
                  (|median − route median| > spread); NA without a spread.
                  A difference smaller than the spread could be the kits.
  ``<p>_daqi``, ``<p>_band``, ``<p>_who_exceeded``  (PM2.5 and PM10)
                  the UK DAQI index and band of the median and whether the
                  median is above the WHO 2021 24-hour guideline (NA without
                  data). Both are indicative: they are defined on 24-hour
                  means, and a walk is minutes in each place (``walks.air``).

Hot spots (on PM2.5 unless told otherwise). A segment is a hot spot when
  - its median is above the route's threshold: the larger of the Tukey fence
    over the segment medians (Q3 + 1.5 × IQR) and 1.5 × the route median
    (the median of the segment medians). Either alone misfires: on an even
    route the IQR is near 0 and the fence flags a step of 1 µg/m³, the
    sensors' resolution; on a varied route 1.5 × the median flags a quarter of
    it. Together: a segment that stands out from this route, by half as much
    again as its typical air at least;
  - and more than one reading says so: at least ``HOT_SPOT_MIN_KITS`` kits'
    own medians there are above the threshold, or, where only one kit
    passed, at least ``HOT_SPOT_MIN_READINGS`` of its readings are. So one
    kit's blip (a smoker passing one participant) is not a hot spot, and two
    kits agreeing high are.

All figures are full floats, computed the same way on every run; rounding
is the writer's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .air import WHO_24H, daqi_band, daqi_index

__all__ = ["HOT_SPOT_MIN_KITS", "HOT_SPOT_MIN_READINGS", "INDICATIVE", "hot_spot_threshold", "route_summary",
           "segment_stats"]

HOT_SPOT_MIN_KITS = 2
# Five readings above the threshold from the only kit there: at one reading a
# minute, five minutes of it, which is a place and not a passing puff.
HOT_SPOT_MIN_READINGS = 5
INDICATIVE = ("Indicative only: the DAQI bands and the WHO 2021 guideline are defined on 24-hour means; "
              "a walk measures a few minutes in each place.")


def hot_spot_threshold(segment_medians) -> float:
    """The level above which a segment median stands out on this route (NaN when no segment has data)."""
    m = np.asarray(segment_medians, dtype=float)
    m = m[~np.isnan(m)]
    if not len(m):
        return float("nan")
    q1, median, q3 = np.percentile(m, [25, 50, 75])
    return float(max(q3 + 1.5 * (q3 - q1), 1.5 * median))


def _flag(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """A nullable boolean: ``values`` where ``known``, NA elsewhere."""
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool) & known, ~known)


def segment_stats(points: pd.DataFrame, n_segments: int, pollutants: tuple[str, ...] = ("pm25", "pm10", "pm1"),
                  segment_col: str = "segment", hot_spot_on: str = "pm25") -> pd.DataFrame:
    """One row per segment 0..n_segments-1 (column ``segment``), the columns in the module docstring, and ``hot_spot``."""
    missing = [c for c in (segment_col, "kit", *pollutants) if c not in points.columns]
    if missing:
        raise ValueError(f"points lack the column(s) {', '.join(missing)}")
    if hot_spot_on not in pollutants:
        raise ValueError(f"hot spots are found on {hot_spot_on!r}, which is not among the pollutants {pollutants}")
    segment = points[segment_col].to_numpy(np.int64)
    if len(segment) and (segment.min() < -1 or segment.max() >= n_segments):
        raise ValueError(f"segment indices must be -1 (off the route) or 0..{n_segments - 1}; "
                         f"found {segment.min()}..{segment.max()}")
    on = segment >= 0
    every = bool(on.all())  # often so (the route was walked): nothing to leave out, no copies
    kit = np.asarray(points["kit"])
    if kit.dtype.kind in "iu" and (not len(kit) or kit.min() >= 0):
        kit = kit.astype(np.int64, copy=False)  # already integer codes (the walk build's participant numbers)
    else:
        kit = pd.factorize(kit)[0]
    # Small integers: the sort keys below are built from these, gathered in value order. Each
    # reading's (segment, kit) pair is one number, the same for every pollutant.
    segment, kit = (segment.astype(np.int32), kit) if every else (segment[on].astype(np.int32), kit[on])
    n_kits = int(kit.max()) + 1 if len(kit) else 1
    pair_type = np.int32 if n_segments * n_kits < 2**31 else np.int64
    pair = segment.astype(pair_type) * pair_type(n_kits) + kit.astype(pair_type)
    stats = pd.DataFrame({"segment": np.arange(n_segments, dtype=np.int64)})

    def work(p: str):
        values = points[p].to_numpy(float)
        return _pollutant(segment, pair, values if every else values[on], n_segments, n_kits, p, p == hot_spot_on)

    # The pollutants are independent, and numpy's sorts release the GIL: on a long walk they run
    # side by side (all at once, so that two cores finish three of them together).
    if len(segment) > 200_000 and len(pollutants) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(pollutants)) as pool:
            results = list(pool.map(work, pollutants))
    else:
        results = [work(p) for p in pollutants]
    hot = None
    for columns, hot_here in results:
        for name, values in columns.items():
            stats[name] = values
        if hot_here is not None:
            hot = hot_here
    stats["hot_spot"] = hot
    return stats


class _Sorted:
    """A pollutant's values ordered by group, then value, by one integer sort of keys that hold the
    group in their high bits and, in their low ``bits``, a code that orders the values (see _value_codes)."""

    def __init__(self, group: np.ndarray, low: np.ndarray, n_groups: int, bits: int) -> None:
        # 32-bit keys where they fit (a walk's segments and small value codes): half the memory to sort.
        dtype = np.int32 if (n_groups << bits) < 2**31 else np.int64
        self.key = (group.astype(dtype, copy=False) << dtype(bits)) | low.astype(dtype, copy=False)
        self.key.sort()
        self.mask = dtype((1 << bits) - 1)
        # Where each group starts in the sorted keys: one query per group, not a pass over the values.
        self.start = np.searchsorted(self.key, np.arange(n_groups + 1, dtype=dtype) << dtype(bits))
        self.n = np.diff(self.start)

    def medians(self, decode) -> np.ndarray:
        has = self.n > 0
        start, n = self.start[:-1][has], self.n[has]
        out = np.full(len(self.n), np.nan)
        out[has] = (decode(self.key[start + (n - 1) // 2] & self.mask) + decode(self.key[start + n // 2] & self.mask)) / 2
        return out

    def sums(self, decode) -> np.ndarray:
        """Each group's sum (0 for an empty one), over the values in the sorted keys' order."""
        has = self.n > 0
        out = np.zeros(len(self.n))
        if has.any():  # consecutive starts of the groups with values: each sum runs to the next one's start
            out[has] = np.add.reduceat(decode(self.key & self.mask), self.start[:-1][has])
        return out

    def maxima(self, decode) -> np.ndarray:
        has = self.n > 0
        out = np.full(len(self.n), np.nan)
        out[has] = decode(self.key[self.start[1:][has] - 1] & self.mask)
        return out


DECIMALS = (0, 1, 2)  # sensors report whole µg/m³ or tenths; a few more digits are still small codes


def _value_codes(v: np.ndarray, segment: np.ndarray, pair: np.ndarray):
    """(code per value, how to turn codes back into values, bits of a code, segment, pair), the codes
    in the order of the values, and segment and (segment, kit) pair in the order the codes are in.

    Values that are all decimals of a few digits (what sensors report) are their own codes: the
    integer v × 10^d, exact (checked: it turns back into v bit for bit). Any others are coded by
    their rank, which costs an argsort and putting segment and pair in value order.
    """
    for d in DECIMALS if len(v) else ():
        scale = 10.0**d
        head = v[:1024]  # a glance first: most columns that are not whole numbers fail on their first values
        if not np.array_equal(np.rint(head * scale) / scale, head):
            continue
        # The integers in 32 bits straight away: one that does not fit comes back wrong from the
        # cast and fails the exactness check like any value with more decimals.
        q = v * scale
        np.rint(q, out=q)
        with np.errstate(invalid="ignore"):
            codes = q.astype(np.int32)
        if np.array_equal(codes / scale, v):
            q0 = int(codes.min())
            span = int(codes.max()) - q0
            if span < 2**31:
                codes -= np.int32(q0)
                return (codes, (lambda c, q0=q0, scale=scale: (c + q0) / scale),
                        max(1, span.bit_length()), segment, pair)
    order = np.argsort(v)
    sorted_v = v[order]
    return np.arange(len(v), dtype=np.int64), (lambda c: sorted_v[c]), max(1, len(v).bit_length()), segment[order], pair[order]


def _pollutant(segment: np.ndarray, pair: np.ndarray, v: np.ndarray, n_segments: int, n_kits: int, p: str, hot_spot: bool):
    """The per-segment columns of pollutant ``p`` (in order), and the hot-spot flags if ``hot_spot``.
    ``pair`` is each reading's segment × n_kits + kit."""
    known = ~np.isnan(v)
    if not known.all():
        segment, pair, v = segment[known], pair[known], v[known]
    low, decode, bits, seg_c, pair_c = _value_codes(v, segment, pair)
    by_segment = _Sorted(seg_c, low, n_segments, bits)
    by_kit = _Sorted(pair_c, low, n_segments * n_kits, bits)
    n = by_segment.n
    median = by_segment.medians(decode)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = by_segment.sums(decode) / n  # from the sorted keys: a sum per segment's stretch of them
    # Each kit's own median on each segment: a (segment, kit) table, NaN where the kit did not read there.
    kit_medians = by_kit.medians(decode).reshape(n_segments, n_kits)
    kits = (by_kit.n.reshape(n_segments, n_kits) > 0).sum(axis=1)
    # fmax and fmin pass over NaN (a kit that was not there) and give NaN for a segment nobody
    # passed, with no warning: nanmax's would need warnings.catch_warnings, which is not safe on
    # threads (the pollutants run on several).
    spread = np.fmax.reduce(kit_medians, axis=1) - np.fmin.reduce(kit_medians, axis=1)
    spread = np.where(kits >= 2, spread, np.nan)
    route_median = np.nanmedian(median) if (n > 0).any() else np.nan
    columns: dict = {f"{p}_n": n.astype(np.int64), f"{p}_median": median, f"{p}_mean": mean,
                     f"{p}_max": by_segment.maxima(decode), f"{p}_kits": kits.astype(np.int64), f"{p}_spread": spread}
    both = ~np.isnan(median) & ~np.isnan(spread)
    with np.errstate(invalid="ignore"):
        columns[f"{p}_difference_real"] = _flag(np.abs(median - route_median) > spread, both)
    if p in WHO_24H:
        index = daqi_index(p, median)
        columns[f"{p}_daqi"] = index
        columns[f"{p}_band"] = daqi_band(index)
        columns[f"{p}_who_exceeded"] = _flag(np.nan_to_num(median) > WHO_24H[p], ~np.isnan(median))
    hot = None
    if hot_spot:
        threshold = hot_spot_threshold(median)
        readings_above = np.bincount(segment[v > threshold], minlength=n_segments)
        with np.errstate(invalid="ignore"):
            kits_above = (kit_medians > threshold).sum(axis=1)
        supported = (kits_above >= HOT_SPOT_MIN_KITS) | ((kits == 1) & (readings_above >= HOT_SPOT_MIN_READINGS))
        with np.errstate(invalid="ignore"):
            hot = (median > threshold) & supported
    return columns, hot


def _number(value) -> float | None:
    """A JSON-able float: None for NaN."""
    return None if pd.isna(value) else float(value)


def route_summary(stats: pd.DataFrame, hot_spot_on: str = "pm25") -> dict:
    """Route-wide figures from ``segment_stats`` for summary.json: plain dicts, lists, str, int, float and None."""
    pollutants = [c[: -len("_median")] for c in stats.columns if c.endswith("_median")]
    summary: dict = {"segments": int(len(stats)),
                     "segments_with_data": int((stats[[f"{p}_n" for p in pollutants]] > 0).any(axis=1).sum()),
                     "indicative": INDICATIVE, "pollutants": {}}
    for p in pollutants:
        median = stats[f"{p}_median"]
        figures = {"readings": int(stats[f"{p}_n"].sum()), "segments_with_data": int(median.notna().sum()),
                   "median_of_segment_medians": _number(median.median()), "highest_segment_median": _number(median.max()),
                   "differences_real": int(stats[f"{p}_difference_real"].sum())}
        if p in WHO_24H:
            route_index = daqi_index(p, [median.median()])
            figures.update(who_24h_level=WHO_24H[p], who_exceedances=int(stats[f"{p}_who_exceeded"].sum()),
                           daqi_of_route_median=int(route_index[0]), band_of_route_median=str(daqi_band(route_index)[0]))
        summary["pollutants"][p] = figures
    hot = stats["hot_spot"].to_numpy(bool)
    summary["hot_spots"] = {"pollutant": hot_spot_on, "threshold": _number(hot_spot_threshold(stats[f"{hot_spot_on}_median"])),
                            "count": int(hot.sum()), "segments": [int(s) for s in stats["segment"][hot]]}
    return summary
