"""Reading a kit's stored readings back: the rows the API and the walk tooling share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.influx.client import InfluxQL, make_writer
from collector.influx.lineproto import reading_line
from collector.readings import UnknownFields, fetch_readings, readings_query

T0 = int(datetime(2026, 11, 18, 11, 6, 40, tzinfo=UTC).timestamp())


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@pytest.fixture
def stored(collector_settings):
    """Two kits' readings, written as the collector writes them."""
    lines = [reading_line("walk-a", T0 + 10 * s, s, "gps", {"pm25": float(s), "lat": 53.48 + s / 1e4, "lon": -2.24}) for s in range(30)]
    lines += [reading_line("walk-a", T0 + 100, 1000, "rtc", {"temp": 12.5}, flags=["pm_missing"])]  # a second reading in one second
    lines += [reading_line("walk-b", T0 + 10 * s, s, "ntp", {"pm25": 99.0}) for s in range(30)]
    writer = make_writer(collector_settings.influx)
    writer.write("\n".join(lines).encode())
    writer.close()
    influxql = InfluxQL(collector_settings.influx)
    yield influxql
    influxql.close()


def test_a_kits_readings_come_back_oldest_first_within_the_half_open_range(stored):
    rows = fetch_readings(stored, "walk-a", _at(T0 + 50), _at(T0 + 150), ["pm25", "temp", "lat", "lon"])
    assert [r["ts"] for r in rows] == [T0 + 50, T0 + 60, T0 + 70, T0 + 80, T0 + 90, T0 + 100, T0 + 100, T0 + 110, T0 + 120, T0 + 130, T0 + 140]
    assert rows[0] == {"time": "2026-11-18T11:07:30Z", "ts": T0 + 50, "pm25": 5.0, "temp": None, "lat": 53.4805, "lon": -2.24,
                       "seq": 5, "clk": "gps", "flags": None}
    same_second = [r for r in rows if r["ts"] == T0 + 100]
    assert [(r["seq"], r["clk"], r["flags"]) for r in same_second] == [(10, "gps", None), (1000, "rtc", "pm_missing")]


def test_other_kits_and_the_limit_are_respected(stored):
    rows = fetch_readings(stored, "walk-b", _at(T0), _at(T0 + 1000), ["pm25"], limit=5)
    assert [(r["seq"], r["pm25"]) for r in rows] == [(s, 99.0) for s in range(5)]
    assert fetch_readings(stored, "walk-c", _at(T0), _at(T0 + 1000)) == []


def test_an_unknown_field_or_a_naive_time_is_refused_before_any_query():
    with pytest.raises(UnknownFields, match="unknown field.*pm2_5"):
        fetch_readings(None, "walk-a", _at(T0), _at(T0 + 1), ["pm25", "pm2_5"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no time zone"):
        readings_query("walk-a", datetime(2026, 11, 19), _at(T0), ["pm25"], 10)


def test_the_query_quotes_what_it_is_given():
    q = readings_query("walk-a", _at(T0), _at(T0 + 1), ["pm25", "x_probe"], 10)
    assert q.startswith('SELECT "pm25", "x_probe", "seq", "clk", "flags" FROM "readings" WHERE "device" = \'walk-a\'')
    assert q.endswith(f"AND time >= {T0 * 10**6}u AND time < {(T0 + 1) * 10**6}u ORDER BY time LIMIT 10")
