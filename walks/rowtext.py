"""Rows of text written as bytes, a column at a time: the writer's inner loop without a Python
string per cell.

A block of ``n`` rows is built column by column as *cells*: a ``(width, n)`` uint8 array holding
each row's UTF-8 bytes of that column, padded with ``PAD`` where a row's text is shorter than the
widest. ``join`` lays the blocks side by side, turns them into rows and drops the padding. Every
function here is pure; the formats (numbers without trailing zeros, ISO 8601 times) are those of
``walks.outputs``, whose tests compare them with Python's own formatting.

The layout is column-major (one row of the array per byte position) because numpy copies and
gathers whole contiguous rows fast, and a million small per-cell copies slowly; one transpose at
the end turns the block into text rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["EXACT", "PAD", "constant", "decimals", "exact", "integers", "iso_times", "join", "table", "take"]

PAD = 0xFF  # never a byte of UTF-8 text, so it can be dropped wherever it is
_PAD_BYTES = bytes([PAD])


def table(texts: Sequence[str]) -> np.ndarray:
    """The texts as a ``(width, len(texts))`` cell table, each column one text's UTF-8 bytes."""
    encoded = [t.encode("utf-8") for t in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    width = int(lengths.max()) if len(encoded) else 0
    # Fixed-width bytes in one go (numpy pads them with NUL), then PAD past each text's own length.
    fixed = np.array(encoded, dtype=f"S{max(width, 1)}").view(np.uint8).reshape(len(encoded), max(width, 1))[:, :width]
    return np.ascontiguousarray(np.where(np.arange(width)[None, :] < lengths[:, None], fixed, np.uint8(PAD)).T)


def take(cells: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Cells of ``codes`` from a table (``codes`` index its columns)."""
    return np.take(cells, codes, axis=1)


def constant(text: str, n: int) -> np.ndarray:
    """The same text in each of ``n`` rows."""
    b = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return np.broadcast_to(b[:, None], (len(b), n))


_QUADS = None  # (4, 10000) cells "0000".."9999", built on first use


def _digit_rows(a: np.ndarray, positions: int) -> np.ndarray:
    """``(positions, n)`` ASCII digits of unsigned ``a``, most significant first, zero-filled.
    Four digits at a time from a table: one division per four digits, not one per digit."""
    global _QUADS
    if _QUADS is None:
        q = np.arange(10000)
        _QUADS = np.ascontiguousarray(np.stack([q // 1000, q // 100 % 10, q // 10 % 10, q % 10]).astype(np.uint8) + np.uint8(48))
    groups, rest = [], np.asarray(a, dtype=np.uint64)
    for _ in range(-(-positions // 4)):
        rest, quad = np.divmod(rest, np.uint64(10000))
        groups.append(np.take(_QUADS, quad.astype(np.intp), axis=1))
    return np.concatenate(groups[::-1])[4 * len(groups) - positions :]


def _fill_missing(out: np.ndarray, missing: np.ndarray, text: str) -> np.ndarray:
    if not missing.any():
        return out
    b = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if len(b) > len(out):
        out = np.concatenate([out, np.full((len(b) - len(out), out.shape[1]), PAD, np.uint8)])
    out[:, missing] = PAD
    out[: len(b), missing] = b[:, None]
    return out


def _signed(k: np.ndarray, places: int, missing: np.ndarray | None = None, missing_text: str = "") -> np.ndarray:
    """Cells of the integers ``k`` scaled by 10**-places: an integer part with no leading zeros,
    then '.' and the decimals without trailing zeros, the '.' only when a decimal is left."""
    n = len(k)
    a = np.abs(k).astype(np.uint64)
    top = int(a.max() // 10**places) if n else 0
    int_places = max(1, len(str(top)))
    digits = _digit_rows(a, int_places + places)  # row i: the digit at power int_places + places - 1 - i
    # Which digits show: an integer digit from the first non-zero one on (the units digit always),
    # a decimal up to the last non-zero one. A running "or" row by row: the rows are few and each
    # a vector of n.
    shown = digits != 48
    for i in range(1, int_places):
        shown[i] |= shown[i - 1]
    shown[int_places - 1] = True
    for i in range(int_places + places - 2, int_places - 1, -1):
        shown[i] |= shown[i + 1]
    # PAD where hidden: a hidden digit or'ed with 0xFF (True is 1; its uint8 negation is 0xFF).
    digits |= np.negative((~shown).view(np.uint8))
    sign = np.where(k < 0, np.uint8(45), np.uint8(PAD))[None, :]  # '-'
    if places:
        point = np.where(shown[int_places], np.uint8(46), np.uint8(PAD))[None, :]  # '.'
        out = np.concatenate([sign, digits[:int_places], point, digits[int_places:]])
    else:
        out = np.concatenate([sign, digits])
    if missing is not None:
        out = _fill_missing(out, missing, missing_text)
    return out


def integers(values: np.ndarray) -> np.ndarray:
    """Cells of int64 values in decimal."""
    return _signed(np.asarray(values, dtype=np.int64), 0)


# Beyond this a float's multiple of 10**places is no longer an exact integer; the caller formats
# such columns value by value.
EXACT = 2.0**53


def _scaled(values: np.ndarray, places: int) -> np.ndarray:
    """The values as multiples of 10**-places: the same steps as np.round(v, places), before its division."""
    return np.rint(np.asarray(values, dtype=float) * 10.0**places)


def exact(values: np.ndarray, places: int) -> bool:
    """Whether every finite value, rounded to ``places`` decimals, is an exact multiple of
    10**-places that ``decimals`` can write."""
    scaled = np.abs(_scaled(values, places))
    return not np.any(scaled[np.isfinite(scaled)] >= EXACT)


def decimals(values: np.ndarray, places: int, missing_text: str = "") -> np.ndarray | None:
    """Cells of floats rounded to ``places`` decimals (numpy's round), written positionally
    without trailing zeros; ``missing_text`` for NaN and infinities. This is the shortest text
    that reads back as the rounded float (what Python's repr gives, but never in exponent form).
    None when the values are not ``exact`` for ``places``."""
    scaled = _scaled(values, places)
    missing = ~np.isfinite(scaled)
    if np.any(np.abs(scaled[~missing]) >= EXACT):  # the rule of exact, on the scaled values at hand
        return None
    return _signed(np.where(missing, 0, scaled).astype(np.int64), places, missing, missing_text)


_CLOCK = None  # (9, 86400) cells "HH:MM:SSZ" of each second of a day, built on first use


def _clock() -> np.ndarray:
    global _CLOCK
    if _CLOCK is None:
        s = np.arange(86400, dtype=np.uint64)
        hh, mm, ss = (_digit_rows(x, 2) for x in (s // np.uint64(3600), s // np.uint64(60) % np.uint64(60), s % np.uint64(60)))
        colon, z = np.full((1, 86400), 58, np.uint8), np.full((1, 86400), 90, np.uint8)
        _CLOCK = np.ascontiguousarray(np.concatenate([hh, colon, mm, colon, ss, z]))
    return _CLOCK


def iso_times(t_ns: np.ndarray, milliseconds: bool) -> np.ndarray:
    """Cells of ISO 8601 UTC times of int64 ns: ``YYYY-MM-DDTHH:MM:SSZ``, or with ``.mmm`` before
    the Z when ``milliseconds`` (truncated, as numpy's datetime_as_string truncates)."""
    t_ns = np.asarray(t_ns, dtype=np.int64)
    seconds = t_ns // 1_000_000_000
    day, second = np.divmod(seconds, 86400)
    days, day_codes = np.unique(day, return_inverse=True)
    dates = table([f"{np.datetime64(int(d), 'D')}T" for d in days])
    clock = take(_clock(), second)
    if not milliseconds:
        return np.concatenate([take(dates, day_codes), clock])
    ms = _digit_rows((t_ns // 1_000_000 % 1000).astype(np.uint64), 3)
    return np.concatenate([take(dates, day_codes), clock[:8], np.full((1, len(t_ns)), 46, np.uint8), ms, clock[8:]])


def join(blocks: Sequence[np.ndarray]) -> bytes:
    """The rows of text the blocks make side by side, padding dropped."""
    cells = np.concatenate(blocks, axis=0)
    return np.ascontiguousarray(cells.T).tobytes().translate(None, _PAD_BYTES)
