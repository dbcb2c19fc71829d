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
    on = points.loc[segment >= 0, [segment_col, *pollutants]]
    # Kits as integer codes: grouping by (segment, kit) is then a group-by on two integer columns.
    on.insert(1, "kit", pd.factorize(points.loc[segment >= 0, "kit"])[0])
    every = pd.RangeIndex(n_segments, name=segment_col)
    stats = pd.DataFrame({"segment": np.arange(n_segments, dtype=np.int64)})
    # The pollutants are independent, and pandas' group-by kernels release the GIL: on a long
    # walk they run side by side.
    def work(p: str):
        return _pollutant(on, p, every, segment_col, p == hot_spot_on)

    if len(on) > 200_000 and len(pollutants) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
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


def _pollutant(on: pd.DataFrame, p: str, every: pd.RangeIndex, segment_col: str, hot_spot: bool):
    """The per-segment columns of pollutant ``p`` (in order), and the hot-spot flags if ``hot_spot``."""
    columns: dict = {}
    hot = None
    values = on[[segment_col, "kit", p]].dropna(subset=[p])
    by_segment = values.groupby(segment_col)[p]
    n = by_segment.size().reindex(every, fill_value=0).to_numpy(np.int64)
    median = by_segment.median().reindex(every).to_numpy(float)
    # One integer key for (segment, kit): grouping by it is much cheaper than by two columns.
    n_kits = int(on["kit"].max()) + 1 if len(on) else 1
    pair = values.groupby(values[segment_col].to_numpy(np.int64) * n_kits + values["kit"].to_numpy(np.int64))[p].median()
    kit_medians = pd.Series(pair.to_numpy(), index=pd.MultiIndex.from_arrays(
        [pair.index.to_numpy() // n_kits, pair.index.to_numpy() % n_kits], names=[segment_col, "kit"]))
    per_kit = kit_medians.groupby(level=0)
    kits = per_kit.size().reindex(every, fill_value=0).to_numpy(np.int64)
    spread = (per_kit.max() - per_kit.min()).reindex(every).to_numpy(float)
    spread = np.where(kits >= 2, spread, np.nan)
    route_median = np.nanmedian(median) if (n > 0).any() else np.nan
    columns[f"{p}_n"] = n
    columns[f"{p}_median"] = median
    columns[f"{p}_mean"] = by_segment.mean().reindex(every).to_numpy(float)
    columns[f"{p}_max"] = by_segment.max().reindex(every).to_numpy(float)
    columns[f"{p}_kits"] = kits
    columns[f"{p}_spread"] = spread
    known = ~np.isnan(median) & ~np.isnan(spread)
    with np.errstate(invalid="ignore"):
        columns[f"{p}_difference_real"] = _flag(np.abs(median - route_median) > spread, known)
    if p in WHO_24H:
        index = daqi_index(p, median)
        columns[f"{p}_daqi"] = index
        columns[f"{p}_band"] = daqi_band(index)
        columns[f"{p}_who_exceeded"] = _flag(np.nan_to_num(median) > WHO_24H[p], ~np.isnan(median))
    if hot_spot:
        threshold = hot_spot_threshold(median)
        above = values[values[p] > threshold]
        readings_above = above.groupby(segment_col).size().reindex(every, fill_value=0).to_numpy()
        kits_above = (kit_medians > threshold).groupby(level=0).sum().reindex(every, fill_value=0).to_numpy()
        supported = (kits_above >= HOT_SPOT_MIN_KITS) | ((kits == 1) & (readings_above >= HOT_SPOT_MIN_READINGS))
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
