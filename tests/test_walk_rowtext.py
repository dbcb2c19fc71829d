"""Rows of text built as bytes (walks.rowtext) say exactly what Python's own formatting says."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from walks import rowtext

finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)


def lines(blocks) -> list[str]:
    return rowtext.join([*blocks, rowtext.constant("\n", blocks[0].shape[1])]).decode().splitlines()


def shortest(x: float) -> str:
    """What the writer wrote before rowtext, value by value: whole numbers without '.0', the rest repr."""
    return str(int(x)) if x == int(x) else repr(x)


@given(st.lists(finite, min_size=1, max_size=50), st.integers(0, 6))
def test_a_rounded_float_is_written_as_repr_writes_it_without_an_exponent(values, places):
    v = np.array(values)
    expected = [shortest(x) if x == 0 or abs(x) >= 1e-4 else f"{x:.{places}f}".rstrip("0").rstrip(".")
                for x in np.round(v, places).tolist()]
    assert lines([rowtext.decimals(v, places)]) == expected


def test_small_and_negative_values_keep_their_sign_and_no_trailing_zeros():
    v = np.array([0.00005, -0.00005, -2.5, -0.0000001, 10.0, 0.1, -0.0, 1234567.0000004])
    assert lines([rowtext.decimals(v, 6)]) == ["0.00005", "-0.00005", "-2.5", "0", "10", "0.1", "0", "1234567"]


def test_missing_values_take_the_missing_text_whatever_its_width():
    v = np.array([1.5, math.nan, math.inf, 2.0])
    assert lines([rowtext.decimals(v, 1, "null")]) == ["1.5", "null", "null", "2"]
    assert rowtext.join([rowtext.decimals(v, 1), rowtext.constant(";", 4)]) == b"1.5;;;2;"


def test_values_too_large_for_exact_decimals_are_left_to_the_caller():
    assert rowtext.decimals(np.array([1.0, 1e12]), 6) is None


@given(st.lists(st.integers(-(2**63) + 1, 2**63 - 1), min_size=1, max_size=50))
def test_integers_are_written_as_str_writes_them(values):
    assert lines([rowtext.integers(np.array(values, dtype=np.int64))]) == [str(x) for x in values]


moments = st.integers(-2_000_000_000, 4_000_000_000).map(lambda s: s * 1_000_000_000)


@given(st.lists(moments, min_size=1, max_size=30))
def test_whole_second_times_are_iso_8601_utc(t_ns):
    t = np.array(t_ns, dtype=np.int64)
    expected = [s + "Z" for s in np.datetime_as_string(t.astype("datetime64[ns]"), unit="s").tolist()]
    assert lines([rowtext.iso_times(t, milliseconds=False)]) == expected


@given(st.lists(st.tuples(moments, st.integers(0, 999_999_999)), min_size=1, max_size=30))
def test_times_with_fractions_are_written_to_the_millisecond_as_numpy_truncates_them(parts):
    t = np.array([s + f for s, f in parts], dtype=np.int64)
    expected = [s + "Z" for s in np.datetime_as_string(t.astype("datetime64[ns]"), unit="ms").tolist()]
    assert lines([rowtext.iso_times(t, milliseconds=True)]) == expected


def test_texts_of_any_width_and_script_come_back_whole_and_padding_is_dropped():
    texts = ["", "a", "Zoë", "東京", 'say "hi"', "x" * 40]
    cells = rowtext.table(texts)
    codes = np.array([5, 0, 2, 3, 1, 4, 2, -1])
    row = lines([rowtext.take(cells, codes), rowtext.constant("|", len(codes)), rowtext.integers(np.arange(len(codes)))])
    assert row == [f"{texts[c]}|{i}" for i, c in enumerate(codes)]


def test_a_table_of_empty_texts_has_no_width_and_gives_empty_cells():
    cells = rowtext.table(["", ""])
    assert cells.shape == (0, 2)
    assert rowtext.join([rowtext.take(cells, np.array([1, 0])), rowtext.constant(";", 2)]) == b";;"


def test_a_column_too_large_for_exact_decimals_is_written_value_by_value_by_the_writer():
    from walks.outputs import _rounded

    assert rowtext.exact(np.array([1.5, np.nan]), 6) and not rowtext.exact(np.array([1.5, 1e12]), 6)
    column = _rounded(np.array([1e12, 2.5]), 6)
    assert rowtext.join([column.cells(slice(0, 2)), rowtext.constant("\n", 2)]) == b"1000000000000\n2.5\n"
