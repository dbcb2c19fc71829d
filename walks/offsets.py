"""Each kit's clock, put right: what to add to its stamps to get true time, run by run.

A reading stamped by a synchronised clock (``clk`` ntp or gps) is on true
time. The others (``clk = "rtc"``) come in runs: the readings of one boot of
the kit, numbered and stamped one after the other from wherever its clock
resumed. A run ends where the stamps jump back, or forward by more than
``RUN_BREAK_S`` (a reboot with a clock restored from its last saved time).
Each run gets its offset, in this order:

  ``explicit``     the walk file states how far the participant's kit was
                   ahead (``clock_offset_s``);
  ``estimated``    the run's PM series lined up with the median series of the
                   kits whose clocks were synchronised (walks.clock), when the
                   estimate is confident;
  ``unconfirmed``  an estimate that is not confident is reported, not applied:
                   the run keeps the kit's own stamps and its readings say so;
  ``no_reference`` no synchronised kit measured PM on the walk, so nothing to
                   line the run up with: the kit's own stamps are kept.
Synchronised readings are ``synced`` with an offset of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clock import OffsetEstimate, estimate_offset
from .order import by_group_then
from .sources import is_synced

__all__ = ["METHODS", "RUN_BREAK_S", "ClockRun", "correct_clocks", "reference_series", "runs"]

RUN_BREAK_S = 600
METHODS = ("synced", "explicit", "estimated", "unconfirmed", "no_reference")
REFERENCE_BIN_S = 10  # the synchronised kits' median is taken per this many seconds
_NS = 1_000_000_000


@dataclass(frozen=True)
class ClockRun:
    kit: str
    method: str  # one of METHODS
    offset_s: float  # applied to the run's stamps (0 unless explicit or estimated)
    estimate: OffsetEstimate | None  # the estimate, applied or not
    readings: int
    seq_first: int
    seq_last: int


def _codes(column: pd.Series) -> np.ndarray:
    """Integer codes of a column: a category's own, else factorised."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(np.int64)
    return pd.factorize(column)[0]


def runs(readings: pd.DataFrame, synced: np.ndarray | None = None, kit: np.ndarray | None = None) -> np.ndarray:
    """A run number per reading (readings sorted by kit, then seq): -1 for synchronised ones.
    ``kit``: the readings' kit codes, when the caller has them."""
    kit = _codes(readings["kit"]) if kit is None else kit
    ts = readings["ts"].to_numpy(np.int64)
    rtc = ~(is_synced(readings["clk"]) if synced is None else synced)
    out = np.full(len(readings), -1, dtype=np.int64)
    idx = np.flatnonzero(rtc)
    if not len(idx):
        return out
    step = np.diff(ts[idx])
    new = np.ones(len(idx), dtype=bool)
    # A new run where the kit changes, an unsynchronised stretch resumes after synced readings,
    # or the stamps jump back or far ahead.
    new[1:] = (kit[idx[1:]] != kit[idx[:-1]]) | (idx[1:] != idx[:-1] + 1) | (step <= 0) | (step > RUN_BREAK_S)
    out[idx] = np.cumsum(new) - 1
    return out


def reference_series(readings: pd.DataFrame, field: str = "pm25", synced: np.ndarray | None = None,
                     kit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times s, values): the median across synchronised kits of ``field`` per REFERENCE_BIN_S,
    each bin at the mean time of its readings (kits sample at a fixed phase, and a bin's middle
    would shift the reference by up to half a bin). ``kit``: the readings' kit codes, when the
    caller has them."""
    if field not in readings or not len(readings):
        return np.array([]), np.array([])
    value = readings[field].to_numpy(float)
    keep = (is_synced(readings["clk"]) if synced is None else synced) & ~np.isnan(value)
    if not keep.any():
        return np.array([]), np.array([])
    ts = readings["ts"].to_numpy(np.int64)[keep]
    kit = (_codes(readings["kit"]) if kit is None else kit)[keep]
    value = value[keep]
    b = ts // REFERENCE_BIN_S
    b0, n_bins, n_kits = b.min(), int(b.max() - b.min()) + 1, int(kit.max()) + 1
    if n_bins * n_kits > 50_000_000:  # a span so long the table would not fit: fall back to grouping
        per = pd.DataFrame({"b": b, "k": kit, "v": value}).groupby(["b", "k"])["v"].mean().groupby(level="b").median()
        when = pd.Series(ts).groupby(b).mean()
        return when.to_numpy(float), per.to_numpy(float)
    cell = (b - b0) * n_kits + kit
    count = np.bincount(cell, minlength=n_bins * n_kits).reshape(n_bins, n_kits)
    total = np.bincount(cell, weights=value, minlength=n_bins * n_kits).reshape(n_bins, n_kits)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_kit = np.where(count > 0, total / count, np.nan)  # each kit's mean in each bin
    per_bin = count.sum(axis=1)
    used = per_bin > 0
    # The median across kits of each bin: the kits' means sorted (NaN, no reading, sorts last), the
    # middle one or the mean of the middle two of those there are; what np.nanmedian gives, in one sort.
    ranked = np.sort(per_kit[used], axis=1)
    present = (count[used] > 0).sum(axis=1)
    rows = np.arange(len(ranked))
    median = (ranked[rows, (present - 1) // 2] + ranked[rows, present // 2]) / 2
    times = np.bincount(b - b0, weights=ts.astype(float), minlength=n_bins)[used] / per_bin[used]
    return times, median


def correct_clocks(readings: pd.DataFrame, explicit: dict[str, float], span_s: tuple[int, int], search_s: float,
                   field: str = "pm25") -> tuple[pd.DataFrame, list[ClockRun]]:
    """The readings (kit, ts, clk, seq, ...) with ``t`` (true time, int64 ns), ``clock`` (a method)
    and ``clock_offset_s`` added, sorted by kit then seq; and the runs with their offsets.

    ``explicit`` maps a kit to the offset to add to its unsynchronised stamps (seconds).
    """
    kit_code = _codes(readings["kit"]) if len(readings) else np.array([], np.int64)
    seq = readings["seq"].to_numpy(np.int64)
    if not by_group_then(kit_code, seq):
        order = np.lexsort((seq, kit_code))
        readings, kit_code = readings.iloc[order], kit_code[order]
    readings = readings.reset_index(drop=True)
    synced = is_synced(readings["clk"])
    run = runs(readings, synced, kit_code)
    offset = np.zeros(len(readings))
    method = np.zeros(len(readings), dtype=np.int8)  # METHODS index; 0 synced
    # The reference is only for runs to line up: a walk whose kits were all synchronised needs none.
    ref_t, ref_v = reference_series(readings, field, synced, kit_code) if (run >= 0).any() else (np.array([]), np.array([]))
    centre_true = (span_s[0] + span_s[1]) / 2
    ts_all = readings["ts"].to_numpy(np.int64)
    seq_all = readings["seq"].to_numpy(np.int64)
    values_all = readings[field].to_numpy(float) if field in readings else None
    # Runs are contiguous stretches of rows: their bounds, not a scan of the table per run.
    marked = np.flatnonzero(run >= 0)
    bounds = np.flatnonzero(np.diff(run[marked]) != 0) + 1 if len(marked) else np.array([], np.int64)
    stretches = [(int(marked[a]), int(marked[b - 1]) + 1) for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(marked)])] \
        if len(marked) else []

    def decide(stretch: tuple[int, int]) -> tuple[str, float, OffsetEstimate | None]:
        a, b = stretch
        kit = str(readings["kit"].iat[a])
        if kit in explicit:
            return "explicit", float(explicit[kit]), None
        if len(ref_t) < 2 or values_all is None:
            return "no_reference", 0.0, None
        ts = ts_all[a:b].astype(float)
        # Search around the offset that would put the run's middle on the walk's middle.
        estimate = estimate_offset(ts, values_all[a:b], ref_t, ref_v, search_s=search_s,
                                   around_s=centre_true - (ts.min() + ts.max()) / 2)
        if estimate is not None and estimate.confident:
            return "estimated", float(np.round(estimate.offset_s)), estimate
        return "unconfirmed", 0.0, estimate

    # One at a time: each estimate's FFTs and products are already threaded by the BLAS, and
    # two estimates side by side were measured slower than one after the other.
    decided = [decide(st) for st in stretches]
    out_runs: list[ClockRun] = []
    t = ts_all * _NS
    for (a, b), (chosen, applied, estimate) in zip(stretches, decided):
        offset[a:b] = applied
        method[a:b] = METHODS.index(chosen)
        t[a:b] += np.int64(round(applied * _NS))
        out_runs.append(ClockRun(str(readings["kit"].iat[a]), chosen, applied, estimate, b - a,
                                 int(seq_all[a:b].min()), int(seq_all[a:b].max())))
    readings = readings.assign(t=t, clock=pd.Categorical.from_codes(method, categories=METHODS), clock_offset_s=offset)
    return readings, out_runs
