"""A kit's stored readings over a time range, read back through InfluxQL.

The one read of stored readings: the API serves it, and the walk tooling
joins it with where the kit was, so both see the same rows. Each row is a
dict with ``time`` (ISO 8601, UTC), ``ts`` (the kit's whole-second
timestamp, as sent), the requested measurement fields (None where the kit did
not measure one), and always ``seq``, ``clk`` and ``flags``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .contract import EXPERIMENTAL_FIELD, MEASUREMENT_NAMES
from .errors import AirtrailError
from .influx.client import InfluxQL, quote_ident, quote_str
from .influx.lineproto import READINGS_MEASUREMENT, reading_seconds

ALWAYS = ("seq", "clk", "flags")


class UnknownFields(AirtrailError):
    """Field names that are neither contract measurements nor experimental fields."""


def check_fields(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in MEASUREMENT_NAMES and not EXPERIMENTAL_FIELD.match(n)]
    if unknown:
        raise UnknownFields(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(MEASUREMENT_NAMES)}")


def readings_query(device_id: str, start: datetime, end: datetime, fields: Sequence[str], limit: int) -> str:
    """InfluxQL for one kit's readings with start <= time < end, oldest first."""
    columns = ", ".join(quote_ident(n) for n in [*fields, *ALWAYS])
    return (
        f"SELECT {columns} FROM {quote_ident(READINGS_MEASUREMENT)} WHERE \"device\" = {quote_str(device_id)} "
        f"AND time >= {_us(start)}u AND time < {_us(end)}u ORDER BY time LIMIT {int(limit)}"
    )


def rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the series InfluxQL.query returns for readings_query."""
    out: list[dict[str, Any]] = []
    for s in series[:1]:  # one measurement, no GROUP BY: at most one series
        cols = s["columns"]
        for values in s["values"]:
            row = dict(zip(cols, values))
            ts = reading_seconds(int(row.pop("time")))
            out.append({"time": datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"), "ts": ts, **row})
    return out


def fetch_readings(
    influxql: InfluxQL,
    device_id: str,
    start: datetime,
    end: datetime,
    fields: Sequence[str] = MEASUREMENT_NAMES,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """One kit's stored readings with start <= time < end, oldest first.

    ``start`` and ``end`` must be timezone-aware. Raises ValueError for an
    unknown field (UnknownFields), InfluxUnavailable / InfluxRejected as
    InfluxQL.query does.
    """
    check_fields(fields)
    return rows(influxql.query(readings_query(device_id, start, end, fields, limit)))


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; readings are stored in UTC")
    return int(moment.timestamp() * 1_000_000)
