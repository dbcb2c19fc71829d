"""A kit's stored readings over a time range, read back through InfluxQL.

The one read of stored readings: the API serves it, and the walk tooling
joins it with where the kit was, so both see the same rows. Each row is a
dict in the one row shape of the contract (``airkit.contract.reading_columns``,
also `kit pull`'s): ``device``, ``time`` (ISO 8601, UTC), ``ts`` (the kit's
whole-second timestamp, as sent), ``clk``, ``seq``, the requested fields in
contract order (None where the kit did not measure one), then ``flags`` (one
string, None when there were none).

Long ranges are read in pages (fetch_readings' cursor, page): a page's cursor is the stored time
of its last row, which is unique per kit (lineproto.point_time_us: the kit's
second plus seq mod 10^6 µs), so the next page starts right after that row and
no row is skipped or repeated.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airkit import contract as wire

from .contract import EXPERIMENTAL_FIELD, MEASUREMENT_NAMES
from .errors import AirtrailError
from .influx.client import InfluxQL, quote_ident, quote_str
from .influx.lineproto import READINGS_MEASUREMENT, point_time_us, reading_seconds

ALWAYS = ("seq", "clk", "flags")  # stored with every reading, selected whatever the fields asked for
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = _EPOCH + timedelta(seconds=wire.EARLIEST_TS)  # no believable reading is older


class UnknownFields(AirtrailError):
    """Field names that are neither contract measurements nor experimental fields."""


class BadCursor(ValueError):
    """A paging cursor that no page handed out. Only an HTTP caller can send
    one (code passes Page.next_cursor on as it is), so like the API's own
    errors it is an answer to that caller, not an AirtrailError for the person
    running airtrail (firmware/airkit/errors.py draws those)."""


def check_fields(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in MEASUREMENT_NAMES and not EXPERIMENTAL_FIELD.match(n)]
    if unknown:
        raise UnknownFields(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(MEASUREMENT_NAMES)}")


def readings_query(device_id: str, start: datetime, end: datetime, fields: Sequence[str], limit: int,
                   seq_after: int | None = None, seq_before: int | None = None) -> str:
    """InfluxQL for one kit's readings with start <= time < end (and seq_after < seq < seq_before
    when given), oldest first."""
    columns = ", ".join(quote_ident(n) for n in [*fields, *ALWAYS])
    seq = "".join(f' AND "seq" {op} {int(bound)}' for op, bound in ((">", seq_after), ("<", seq_before)) if bound is not None)
    return (
        f"SELECT {columns} FROM {quote_ident(READINGS_MEASUREMENT)} WHERE \"device\" = {quote_str(device_id)} "
        f"AND time >= {_us(start)}u AND time < {_us(end)}u{seq} ORDER BY time LIMIT {int(limit)}"
    )


def rows(series: list[dict[str, Any]], device_id: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of the series InfluxQL.query returns for readings_query(device_id, ..., fields)."""
    columns = wire.reading_columns(fields)
    out: list[dict[str, Any]] = []
    for s in series[:1]:  # one measurement, no GROUP BY: at most one series
        names = s["columns"]
        for values in s["values"]:
            point = dict(zip(names, values))
            point["ts"] = reading_seconds(int(point.pop("time")))
            out.append(dict(zip(columns, wire.reading_row(device_id, point, columns))))
    return out


def rows_csv(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    """RFC 4180 text of ``rows`` (as rows() gives them for ``fields``), header first; None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = wire.reading_columns(fields)
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
    return buffer.getvalue()


def fetch_readings(
    influxql: InfluxQL,
    device_id: str,
    start: datetime,
    end: datetime,
    fields: Sequence[str] = MEASUREMENT_NAMES,
    limit: int = 10_000,
    cursor: str | None = None,
) -> list[dict[str, Any]]:
    """One kit's stored readings with start <= time < end, oldest first; with
    a ``cursor`` (a Page.next_cursor), only those after the row it names.

    ``start`` and ``end`` must be timezone-aware. Raises ValueError for an
    unknown field (UnknownFields) or cursor (BadCursor), InfluxUnavailable /
    InfluxRejected as InfluxQL.query does.
    """
    check_fields(fields)
    if cursor is not None:
        start = max(start, _just_after(cursor))
        if start >= end:
            return []
    return rows(influxql.query(readings_query(device_id, start, end, fields, limit)), device_id, fields)


def fetch_columns(
    influxql: InfluxQL,
    device_id: str,
    start: datetime = EARLIEST,
    end: datetime | None = None,
    fields: Sequence[str] = MEASUREMENT_NAMES,
    seq_after: int | None = None,
    seq_before: int | None = None,
    page_size: int = 50_000,
) -> dict[str, list[Any]]:
    """One kit's stored readings as columns ({"ts": [...], "seq": [...], "pm25": [...], ...}, the
    columns of reading_columns(fields) but ``time`` and ``device``), oldest first, read in pages
    of ``page_size`` so that a long walk never asks InfluxDB for everything at once.

    ``seq_after`` / ``seq_before`` bound the sequence numbers (exclusive): a kit whose clock was
    wrong is found by its sequence numbers, whatever time it stamped (the walk tooling).
    """
    check_fields(fields)
    end = end or datetime.now(UTC) + timedelta(seconds=wire.MAX_FUTURE_S)
    names = [n for n in wire.reading_columns(fields) if n not in ("device", "time")]
    out: dict[str, list[Any]] = {n: [] for n in names}
    while start < end:
        series = influxql.query(readings_query(device_id, start, end, fields, page_size, seq_after, seq_before))
        got = 0
        for s in series[:1]:
            index = {c: i for i, c in enumerate(s["columns"])}
            columns = list(zip(*s["values"])) if s["values"] else []
            got = len(s["values"])
            if not got:
                break
            for name in names:
                if name == "ts":
                    out["ts"] += [reading_seconds(int(t)) for t in columns[index["time"]]]
                else:
                    out[name] += columns[index[name]] if name in index else [None] * got
            last_us = int(columns[index["time"]][-1])
            start = _EPOCH + (last_us + 1) * _ONE_US
        if got < page_size:
            break
    return out


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None  # None: this page holds the last rows of the range


def page(rows: list[dict[str, Any]], limit: int) -> Page:
    """The first ``limit`` of ``rows``, fetched with a limit of ``limit + 1`` so
    that one more row says whether a next page exists, and the cursor after them."""
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], str(point_time_us(last["ts"], last["seq"])))


_CURSOR = re.compile(r"^[0-9]{1,19}$")
_ONE_US = timedelta(microseconds=1)


def _just_after(cursor: str) -> datetime:
    try:
        if _CURSOR.match(cursor):
            return _EPOCH + (int(cursor) + 1) * _ONE_US
    except OverflowError:  # past datetime's year 9999
        pass
    raise BadCursor(f"cursor {cursor!r} is not one a page gave out; follow the answer's next link as it is")


def _us(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp of today's dates is only good to a
    # few tenths of a µs, and a cursor must land on the exact point time.
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; readings are stored in UTC")
    return (moment - _EPOCH) // _ONE_US
