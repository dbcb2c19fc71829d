"""Where a walk's readings come from, and how a kit's are found whatever its clock said."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airkit_host.pull import write_csv, write_jsonl
from walks.offsets import correct_clocks, runs
from walks.sources import PullSource, ReadingsError, gather, is_synced, readings_frame

T0 = 1_778_922_000  # 2026-05-16T09:00:00Z, the walk's start


def _reading(ts, seq, clk, pm25=10.0):
    return {"ts": ts, "seq": seq, "clk": clk, "pm25": pm25, "flags": []}


def test_overlapping_pulls_give_each_reading_once_and_a_jsonl_only_pull_is_read_too(tmp_path):
    first = [_reading(T0 + 10 * i, i, "gps") for i in range(5)]
    later = [_reading(T0 + 10 * i, i, "gps") for i in range(3, 8)]  # pulled again without --delete
    write_csv("walk-a", first, tmp_path / "walk-a-20260516T100000Z.csv")
    write_jsonl("walk-a", later, tmp_path / "walk-a-20260516T110000Z.jsonl")
    write_csv("walk-ab", [_reading(T0, 99, "gps")], tmp_path / "walk-ab-20260516T100000Z.csv")  # another kit, a longer name
    source = PullSource(tmp_path)
    assert [p.name for p in source.files("walk-a")] == ["walk-a-20260516T100000Z.csv", "walk-a-20260516T110000Z.jsonl"]
    found = source.by_time("walk-a", T0, T0 + 1000)
    assert found["seq"].tolist() == list(range(8)) and set(found["kit"]) == {"walk-a"}


def test_a_pull_file_that_is_not_one_says_which_and_what_to_do(tmp_path):
    (tmp_path / "walk-a-20260516T100000Z.csv").write_text("device,time\nwalk-a,2026\n")
    with pytest.raises(ReadingsError, match=r"walk-a-20260516T100000Z.csv lacks the column\(s\) ts, seq"):
        PullSource(tmp_path).by_time("walk-a", T0, T0 + 1)
    with pytest.raises(ReadingsError, match="kit pull --out"):
        PullSource(tmp_path / "nowhere")


def test_a_table_of_readings_has_the_contracts_columns_in_order_with_nan_where_not_measured():
    frame = readings_frame({"device": ["k"], "ts": [T0], "clk": [None], "seq": [3], "x_b": [1], "pm25": ["7.5"], "x_a": [2], "flags": [None]})
    assert list(frame.columns) == ["kit", "ts", "clk", "seq", "pm25", "x_a", "x_b", "flags"]
    assert frame.iloc[0].to_dict() == {"kit": "k", "ts": T0, "clk": "rtc", "seq": 3, "pm25": 7.5, "x_a": 2.0, "x_b": 1.0, "flags": ""}


def test_unsynchronised_readings_are_found_by_sequence_number_between_the_synced_ones_around_the_walk(tmp_path):
    office = [_reading(T0 - 86400 + i, i, "ntp") for i in range(10)]  # the day before: seq 0-9
    walk = [_reading(T0 - 5 * 86400 + 10 * i, 10 + i, "rtc") for i in range(20)]  # stamped five days off: seq 10-29
    back = [_reading(T0 + 4 * 3600 + i, 30 + i, "ntp") for i in range(5)]  # back at the office after the walk: seq 30-34
    later = [_reading(T0 - 9 * 86400, 5000, "rtc")]  # a later outing whose clock was far off too: numbered after the return
    write_csv("walk-c", office + walk + back + later, tmp_path / "walk-c-20260516T150000Z.csv")
    found = gather(PullSource(tmp_path), "walk-c", T0, T0 + 3600, search_s=48 * 3600)
    assert found["seq"].tolist() == list(range(10, 30))


def test_synchronised_readings_are_found_by_time_and_an_open_side_takes_every_unsynchronised_reading(tmp_path):
    readings = [_reading(T0 - 600 + 60 * i, i, "gps") for i in range(20)]  # 08:50 to 09:09
    readings += [_reading(T0 - 7200, 20 + i, "rtc") for i in range(3)]  # resumed two hours behind, nothing synced after
    write_csv("walk-a", readings, tmp_path / "walk-a-20260516T150000Z.csv")
    found = gather(PullSource(tmp_path), "walk-a", T0, T0 + 3600, search_s=3600)
    assert found["seq"].tolist() == list(range(10, 23))


def test_a_run_of_unsynchronised_readings_ends_where_its_stamps_jump():
    frame = readings_frame(pd.DataFrame({
        "kit": ["a"] * 7 + ["b"] * 2,
        "ts": [100, 110, 120, 5000, 5010, 4000, 4010, 100, 110],
        "clk": ["rtc", "rtc", "rtc", "rtc", "rtc", "rtc", "ntp", "rtc", "rtc"],
        "seq": [1, 2, 3, 4, 5, 6, 7, 1, 2],
    }))
    assert runs(frame).tolist() == [0, 0, 0, 1, 1, 2, -1, 3, 3]


def test_an_explicit_offset_is_applied_to_unsynchronised_readings_only():
    frame = readings_frame(pd.DataFrame({"kit": ["a", "a"], "ts": [T0, T0 + 10], "clk": ["ntp", "rtc"], "seq": [1, 2], "pm25": [5.0, 6.0]}))
    fixed, clock_runs = correct_clocks(frame, {"a": -40.0}, (T0, T0 + 3600), 3600)
    assert fixed["t"].tolist() == [T0 * 10**9, (T0 + 10 - 40) * 10**9]
    assert fixed["clock"].tolist() == ["synced", "explicit"]
    assert [(r.kit, r.method, r.offset_s, r.readings) for r in clock_runs] == [("a", "explicit", -40.0, 1)]


def test_without_a_synchronised_kit_there_is_nothing_to_line_up_with_and_stamps_are_kept():
    frame = readings_frame(pd.DataFrame({"kit": ["a"] * 3, "ts": [T0, T0 + 10, T0 + 20], "clk": ["rtc"] * 3, "seq": [1, 2, 3],
                                         "pm25": [5.0, 6.0, np.nan]}))
    fixed, [run] = correct_clocks(frame, {}, (T0, T0 + 3600), 3600)
    assert run.method == "no_reference" and (fixed["clock_offset_s"] == 0).all()
    assert json.dumps(fixed["clock"].astype(str).tolist()) == '["no_reference", "no_reference", "no_reference"]'


@pytest.mark.parametrize("categorical", [True, False])
def test_a_reading_is_synchronised_when_its_clock_was_set_by_ntp_or_gps_and_not_when_rtc_or_unknown(categorical):
    clk = pd.Series(["gps", "rtc", None, "ntp", "rtc", "gps", ""], dtype="category" if categorical else object)
    assert is_synced(clk).tolist() == [True, False, False, True, False, True, False]
