"""Interval aggregation (firmware/airkit/aggregate.py) on CPython; the same
functions run under real MicroPython in test_drivers_micropython.py."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airkit.aggregate import combine, median, trimmed_mean


def test_median_of_an_odd_count_is_the_middle_value():
    assert median([9, 1, 5]) == 5


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([4, 1, 3, 2]) == 2.5


def test_median_ignores_none_samples():
    assert median([None, 7, None, 3, 5]) == 5


def test_median_of_no_values_is_none_not_zero():
    assert median([]) is None
    assert median([None, None]) is None


def test_median_does_not_reorder_the_callers_list():
    xs = [3, 1, 2]
    median(xs)
    assert xs == [3, 1, 2]


def test_trimmed_mean_drops_a_spike_at_each_end():
    # 20 % of 10 samples: the lowest and highest two go.
    assert trimmed_mean([10, 11, 12, 11, 10, 12, 11, 11, 400, 0]) == pytest.approx(11.0)


def test_trimmed_mean_of_few_samples_keeps_at_least_one():
    assert trimmed_mean([5]) == 5
    assert trimmed_mean([1, 100], trim=0.45) == 50.5


def test_trimmed_mean_with_no_trim_is_the_mean():
    assert trimmed_mean([1, 2, 3, 10], trim=0) == 4


def test_trimmed_mean_ignores_none_and_is_none_when_empty():
    assert trimmed_mean([None, 4, None]) == 4
    assert trimmed_mean([None]) is None


def test_trimmed_mean_rejects_a_trim_of_half_or_more():
    with pytest.raises(ValueError, match="below 0.5"):
        trimmed_mean([1, 2, 3], trim=0.5)


@given(st.lists(st.one_of(st.none(), st.integers(0, 65535)), max_size=40))
def test_median_agrees_with_the_standard_library(xs):
    present = [x for x in xs if x is not None]
    assert median(xs) == (statistics.median(present) if present else None)


def test_combine_aggregates_field_by_field_and_leaves_out_empty_fields():
    samples = [{"pm25": 10, "temp": None}, None, {"pm25": 14}, {"pm25": 12, "rh": 50}]
    assert combine(samples) == {"pm25": 12, "rh": 50}


def test_combine_with_trimmed_mean():
    assert combine([{"co2": 400}, {"co2": 410}, {"co2": 420}], "trimmed") == {"co2": 410}


def test_combine_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="median, trimmed"):
        combine([], "mean")
