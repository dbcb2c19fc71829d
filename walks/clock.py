"""How far a kit's clock was off: estimated from the air it measured.

A kit whose clock never synchronised (``clk = "rtc"``) may be seconds off (a
fast crystal) or hours off (after a power cut it continues from its last
saved time). Walking with the group, it breathed the same air as the kits
whose clocks were right: its PM series is theirs, shifted in time. The shift
that best lines the two up is its clock offset.

``estimate_offset`` finds it coarse to fine: the normalised cross-correlation
of the two series on a 60 s grid over the whole search range (hours either
way), then on a 10 s grid and a 1 s grid around the best lag. It says how sure
it is: the correlation at the peak, and how far that peak stands above the
best peak elsewhere; a low-confidence estimate is flagged, never silently
applied (the caller keeps the kit's own time and says so in the summary).

Convention: ``offset_s`` is what to add to the kit's time to get true time
(a clock 40 s fast has an offset of -40 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OffsetEstimate", "estimate_offset"]

STEPS_S = (60.0, 10.0, 1.0)  # grids, coarse to fine
MIN_OVERLAP_S = 600.0  # less shared time than this cannot confirm a match
MIN_PEAK = 0.5  # correlation at the best lag below this: low confidence
MIN_DISTINCTNESS = 1.15  # best peak / best other peak (outside the peak) below this: ambiguous


@dataclass(frozen=True)
class OffsetEstimate:
    offset_s: float  # add to the kit's time to get true time
    peak: float  # normalised correlation at the best lag, -1..1
    distinctness: float  # the peak over the best peak elsewhere (inf when there is no other)
    overlap_s: float  # how much time the two series share at that lag (on the coarse grid)

    @property
    def confident(self) -> bool:
        return self.peak >= MIN_PEAK and self.distinctness >= MIN_DISTINCTNESS and self.overlap_s >= MIN_OVERLAP_S


def _grid(t_s: np.ndarray, values: np.ndarray, step: float, origin: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` per ``step``-second bin from ``origin``; a mask of the bins that have any."""
    bins = np.floor((t_s - origin) / step).astype(np.int64)
    keep = (bins >= 0) & (bins < n) & np.isfinite(values)
    total = np.bincount(bins[keep], weights=values[keep], minlength=n)
    count = np.bincount(bins[keep], minlength=n)
    mask = count > 0
    mean = np.divide(total, count, out=np.zeros(n), where=mask)
    return mean, mask.astype(float)


def _features(values: np.ndarray) -> np.ndarray:
    # PM is skewed and its level differs between sensors: compare the shape of
    # its log, not its level (each kit's own calibration cancels out).
    return np.log1p(np.clip(values, 0, None))


HIGHPASS_S = 300.0  # slower changes (the day's background) are removed: the hot spots date the series


def _highpass(x: np.ndarray, mask: np.ndarray, step: float) -> np.ndarray:
    """x minus its local mean over HIGHPASS_S (empty bins left out), where there is data."""
    width = max(3, int(HIGHPASS_S / step) | 1)
    total, count = _moving_sum(x * mask, width), _moving_sum(mask, width)
    local = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return (x - local) * mask


def _moving_sum(v: np.ndarray, width: int) -> np.ndarray:
    """np.convolve(v, np.ones(width), mode="same") for an odd width, by cumulative sums: O(n), not O(n × width)."""
    half = width // 2
    padded = np.concatenate([np.zeros(half + 1), v, np.zeros(half)])
    cs = np.cumsum(padded)
    return cs[width:] - cs[:-width]


def _pearson(n, sx, sy, sxx, syy, sxy, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation at each lag from the sums over the shared bins, and the shared bin count."""
    n = np.rint(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        var = (sxx - sx * sx / n) * (syy - sy * sy / n)
        r = cov / np.sqrt(var)
    r[(n < min_overlap) | ~np.isfinite(r)] = -np.inf
    return r, n


def _sides(x: np.ndarray, mx: np.ndarray, y: np.ndarray, my: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kit's (mask, x, x²) and the reference's (mask, y, y²), each over its present bins, as rows."""
    xm, ym = x * mx, y * my
    return np.stack([mx, xm, x * xm]), np.stack([my, ym, y * ym])


def _correlation(x: np.ndarray, mx: np.ndarray, y: np.ndarray, my: np.ndarray, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of x and y over their shared bins at every lag k (reference bin - kit bin)
    from -(len(x)-1) to len(y)-1, and the shared bin count; by FFT, each side transformed once."""
    a, b = _sides(x, mx, y, my)
    size = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    fa, fb = np.fft.rfft(a, size), np.fft.rfft(b, size)
    # c[k] = sum_i a[i] * b[i + k]: the six sums are products of the two sides' rows.
    rows = [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1)]  # n, sx, sy, sxx, syy, sxy
    full = np.fft.irfft(np.stack([fb[j] * np.conj(fa[i]) for i, j in rows]), size)
    sums = np.concatenate([full[:, size - (len(x) - 1):], full[:, : len(y)]], axis=1)
    return _pearson(*sums, min_overlap)


def _correlation_direct(x: np.ndarray, mx: np.ndarray, y: np.ndarray, my: np.ndarray, min_overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """As _correlation, for the lags where the whole of x lies within y (0 .. len(y) - len(x)): one
    small matrix product per lag, cheaper than FFTs of the whole series when those lags are few
    (the fine grids, a few dozen lags around the coarse estimate)."""
    a, b = _sides(x, mx, y, my)
    n_x = len(x)
    sums = np.empty((len(y) - n_x + 1, 3, 3))
    for k in range(len(sums)):
        sums[k] = a @ b[:, k: k + n_x].T  # [i, j]: sum of a's row i times b's row j at lag k
    return _pearson(sums[:, 0, 0], sums[:, 1, 0], sums[:, 0, 1], sums[:, 2, 0], sums[:, 0, 2], sums[:, 1, 1], min_overlap)


DIRECT_MAX_LAGS = 400  # up to this many lags, one product per lag beats the FFTs


def estimate_offset(kit_t_s, kit_pm, ref_t_s, ref_pm, search_s: float = 36 * 3600.0, around_s: float = 0.0) -> OffsetEstimate | None:
    """The clock offset of a kit (times ``kit_t_s``, values ``kit_pm``) against a reference
    series with true times (e.g. the median of the synced kits).

    Searches offsets within ``around_s ± search_s``. None when the two cannot
    be compared at all (too little data, or no shared time at any offset).
    """
    kt, kv = np.asarray(kit_t_s, float), _features(np.asarray(kit_pm, float))
    rt, rv = np.asarray(ref_t_s, float), _features(np.asarray(ref_pm, float))
    if len(kt) < 2 or len(rt) < 2:
        return None
    centre, half = around_s, search_s
    estimate = None
    for step in STEPS_S:
        # Place the kit's series so that lag 0 means "offset = centre - half".
        origin_k = kt.min()
        n_k = int(np.ceil((kt.max() - origin_k) / step)) + 1
        origin_r = origin_k + centre - half
        n_r = n_k + int(np.ceil(2 * half / step)) + 1
        x, mx = _grid(kt, kv, step, origin_k, n_k)
        y, my = _grid(rt, rv, step, origin_r, n_r)
        if mx.sum() < 2 or my.sum() < 2:
            return None
        x, y = _highpass(x, mx, step), _highpass(y, my, step)
        # A lag where only the ends of the series touch would correlate by
        # chance: at least half the kit's bins must meet the reference's.
        min_overlap = max(3, int(0.5 * mx.sum()))
        if n_r - n_k + 1 <= DIRECT_MAX_LAGS:
            r, shared = _correlation_direct(x, mx, y, my, min_overlap)
            lags = np.arange(0, n_r - n_k + 1)  # reference bin - kit bin
        else:
            r, shared = _correlation(x, mx, y, my, min_overlap)
            lags = np.arange(-(n_k - 1), n_r)
        valid = (lags >= 0) & (lags * step <= 2 * half)
        r = np.where(valid, r, -np.inf)
        best = int(np.argmax(r))
        if not np.isfinite(r[best]):
            return None
        offset = origin_r - origin_k + lags[best] * step
        others = r.copy()
        others[max(0, best - 3): best + 4] = -np.inf  # the peak's own shoulders are not another peak
        runner_up = others.max()
        distinct = float(r[best] / runner_up) if np.isfinite(runner_up) and runner_up > 0 else float("inf")
        if estimate is None:
            # Ambiguity and shared time are properties of the whole search:
            # judged on the coarse grid (a 1 s grid of 10 s readings is mostly empty bins).
            coarse_distinct, overlap_s = distinct, float(shared[best] * step)
        estimate = OffsetEstimate(float(offset), float(r[best]), coarse_distinct, overlap_s)
        centre, half = offset, 3 * step
    return estimate
