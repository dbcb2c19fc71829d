"""Reading a kit's stored readings back: the rows the API and the walk tooling share.

One row shape for a reading wherever it leaves as a row (the API, `kit pull`,
the walk tooling): airkit.contract.reading_columns and reading_row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airkit import contract as wire

from collector.influx.client import InfluxQL, make_writer
from collector.influx.lineproto import reading_line
from collector.readings import BadCursor, UnknownFields, fetch_columns, fetch_readings, page, readings_query, rows_csv
from tests.support.micropython import requires_micropython, run_micropython

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
    assert rows[0] == {"device": "walk-a", "time": "2026-11-18T11:07:30Z", "ts": T0 + 50, "clk": "gps", "seq": 5,
                       "pm25": 5.0, "temp": None, "lat": 53.4805, "lon": -2.24, "flags": None}
    assert list(rows[0]) == wire.reading_columns(["pm25", "temp", "lat", "lon"])
    same_second = [r for r in rows if r["ts"] == T0 + 100]
    assert [(r["seq"], r["clk"], r["flags"]) for r in same_second] == [(10, "gps", None), (1000, "rtc", "pm_missing")]


def test_the_csv_of_stored_rows_is_the_one_row_shape_with_empty_cells_for_none(stored):
    rows = fetch_readings(stored, "walk-a", _at(T0 + 100), _at(T0 + 101), ["temp", "pm25"])
    assert rows_csv(rows, ["temp", "pm25"]).splitlines() == [
        "device,time,ts,clk,seq,pm25,temp,flags",
        f"walk-a,2026-11-18T11:08:20Z,{T0 + 100},gps,10,10,,",  # InfluxDB answers 10.0 as 10
        f"walk-a,2026-11-18T11:08:20Z,{T0 + 100},rtc,1000,,12.5,pm_missing",
    ]


def test_other_kits_and_the_limit_are_respected(stored):
    rows = fetch_readings(stored, "walk-b", _at(T0), _at(T0 + 1000), ["pm25"], limit=5)
    assert [(r["seq"], r["pm25"]) for r in rows] == [(s, 99.0) for s in range(5)]
    assert fetch_readings(stored, "walk-c", _at(T0), _at(T0 + 1000)) == []


def test_pages_of_one_row_walk_every_reading_once_also_two_in_one_second(stored):
    everything = fetch_readings(stored, "walk-a", _at(T0), _at(T0 + 1000), ["pm25", "temp"])
    walked, cursor = [], None
    while True:
        found = page(fetch_readings(stored, "walk-a", _at(T0), _at(T0 + 1000), ["pm25", "temp"], 2, cursor), 1)
        walked += found.rows
        cursor = found.next_cursor
        if cursor is None:
            break
    assert walked == everything and len(walked) == 31
    assert [(r["ts"], r["seq"]) for r in walked if r["ts"] == T0 + 100] == [(T0 + 100, 10), (T0 + 100, 1000)]


def test_columns_read_in_small_pages_are_the_rows_read_at_once(stored):
    fields = ["pm25", "temp", "lat"]
    rows = fetch_readings(stored, "walk-a", _at(T0), _at(T0 + 1000), fields)
    columns = fetch_columns(stored, "walk-a", _at(T0), _at(T0 + 1000), fields, page_size=4)
    assert list(columns) == [c for c in wire.reading_columns(fields) if c not in ("device", "time")]
    assert columns == {name: [r[name] for r in rows] for name in columns}


def test_a_kit_is_found_by_its_sequence_numbers_whatever_time_it_stamped(stored):
    found = fetch_columns(stored, "walk-a", fields=["pm25"], seq_after=26, seq_before=1001)
    assert list(zip(found["seq"], found["clk"])) == [(1000, "rtc"), (27, "gps"), (28, "gps"), (29, "gps")]  # oldest first
    assert fetch_columns(stored, "walk-a", fields=["pm25"], seq_after=5000)["seq"] == []


def test_a_cursor_past_the_end_of_the_range_reads_nothing_and_a_made_up_one_is_refused(stored):
    last = page(fetch_readings(stored, "walk-b", _at(T0), _at(T0 + 1000), ["pm25"], 30), 29)
    assert last.next_cursor is not None
    assert fetch_readings(stored, "walk-b", _at(T0), _at(T0 + 290), ["pm25"], 10, last.next_cursor) == []
    assert fetch_readings(None, "walk-b", _at(T0), _at(T0 + 280), ["pm25"], 10, last.next_cursor) == []  # type: ignore[arg-type]  # no query at all
    with pytest.raises(BadCursor, match="not one a page gave out"):
        fetch_readings(None, "walk-b", _at(T0), _at(T0 + 1), ["pm25"], 10, "1e9")  # type: ignore[arg-type]


def test_an_unknown_field_or_a_naive_time_is_refused_before_any_query():
    with pytest.raises(UnknownFields, match="unknown field.*pm2_5"):
        fetch_readings(None, "walk-a", _at(T0), _at(T0 + 1), ["pm25", "pm2_5"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no time zone"):
        readings_query("walk-a", datetime(2026, 11, 19), _at(T0), ["pm25"], 10)


def test_the_query_quotes_what_it_is_given():
    q = readings_query("walk-a", _at(T0), _at(T0 + 1), ["pm25", "x_probe"], 10)
    assert q.startswith('SELECT "pm25", "x_probe", "seq", "clk", "flags" FROM "readings" WHERE "device" = \'walk-a\'')
    assert q.endswith(f"AND time >= {T0 * 10**6}u AND time < {(T0 + 1) * 10**6}u ORDER BY time LIMIT 10")


# -- the row shape ------------------------------------------------------------------


def test_a_row_starts_with_who_and_when_then_the_contract_fields_in_table_order_then_experimental_then_flags():
    columns = wire.reading_columns(["x_no2", "lon", "temp", "pm25", "x_co", "lat"])
    assert columns == ["device", "time", "ts", "clk", "seq", "pm25", "temp", "lat", "lon", "x_co", "x_no2", "flags"]


def test_every_contract_field_has_its_place_in_the_row_in_table_order():
    assert wire.READING_COLUMNS == wire.READING_HEAD + tuple(wire.FIELDS) + tuple(wire.POSITION)
    assert wire.reading_columns([*wire.FIELDS, *wire.POSITION]) == [*wire.READING_COLUMNS, "flags"]
    assert wire.reading_columns([]) == [*wire.READING_HEAD, "flags"]


def test_a_published_reading_becomes_a_row_with_its_time_written_out_and_flags_joined():
    reading = {"ts": 1_763_900_000, "clk": "gps", "seq": 42, "pm25": 13.0, "x_no2": 21.5, "flags": ["rh_high", "pm_warmup"]}
    columns = wire.reading_columns(["pm25", "temp", "x_no2"])
    assert wire.reading_row("kit-07", reading, columns) == ["kit-07", "2025-11-23T12:13:20Z", 1_763_900_000, "gps", 42, 13.0, None, 21.5, "rh_high,pm_warmup"]


def test_a_stored_reading_with_its_flags_already_joined_gives_the_same_row():
    published = {"ts": 1_763_900_000, "clk": "ntp", "seq": 1, "pm25": 1.0, "flags": ["rh_high", "gps_stale"]}
    stored = {**published, "flags": "rh_high,gps_stale"}
    columns = wire.reading_columns(["pm25"])
    assert wire.reading_row("k", stored, columns) == wire.reading_row("k", published, columns)


def test_no_flags_is_none_whether_absent_empty_or_stored_as_nothing():
    columns = wire.reading_columns([])
    rows = [wire.reading_row("k", {"ts": wire.EARLIEST_TS, "clk": "rtc", "seq": 0, **extra}, columns)
            for extra in ({}, {"flags": []}, {"flags": None}, {"flags": ""})]
    assert [row[-1] for row in rows] == [None, None, None, None]


@given(st.integers(min_value=0, max_value=2**35))
def test_the_time_column_is_the_iso_8601_utc_of_ts(ts):
    assert wire.utc_iso(ts) == datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@requires_micropython
@pytest.mark.micropython
def test_the_row_helpers_give_the_same_rows_on_the_kit():
    cases = [(ts, {"ts": ts, "clk": "gps", "seq": i, "pm25": 1.5, "lat": 52.5, "x_a": 1.0, "flags": ["rh_high"] if i % 2 else []})
             for i, ts in enumerate((0, 951_782_400, 1_709_164_800, 1_763_900_000, 4_102_444_800, 2**34 + 12_345))]
    columns = wire.reading_columns(["pm25", "lat", "x_a", "temp"])
    script = (
        "import json\nfrom airkit import contract\n"
        f"columns = contract.reading_columns({['pm25', 'lat', 'x_a', 'temp']!r})\n"
        f"print(json.dumps([columns] + [contract.reading_row('kit-07', r, columns) for r in {[r for _, r in cases]!r}]))\n"
    )
    on_kit = json.loads(run_micropython(script))
    assert on_kit == [columns] + [wire.reading_row("kit-07", r, columns) for _, r in cases]
