"""The walk's order checks: a sort is skipped only when the rows are already in order."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from walks.order import ascending, by_group_then, unsorted


def test_rows_by_group_then_value_are_in_order_and_a_step_back_anywhere_is_not():
    group = np.array([0, 0, 0, 1, 1, 3])
    assert by_group_then(group, np.array([1, 2, 5, 0, 9, 4]))
    assert not by_group_then(group, np.array([1, 2, 2, 0, 9, 4]))  # a tie is out of strict order
    assert by_group_then(group, np.array([1, 2, 2, 0, 9, 4]), strict=False)
    assert not by_group_then(group, np.array([1, 2, 5, 9, 0, 4]))
    assert not by_group_then(np.array([0, 1, 0]), np.array([1, 2, 3]))
    assert by_group_then(np.array([], np.int64), np.array([], np.int64)) and by_group_then(np.array([4]), np.array([1]))
    assert ascending(np.array([0, 0, 2])) and not ascending(np.array([0, 2, 1]))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), max_size=30), st.booleans())
def test_the_check_says_what_a_sort_would_say(rows, strict):
    group = np.array([g for g, _ in rows], dtype=np.int64)
    value = np.array([v for _, v in rows], dtype=np.int64)
    pairs = list(zip(group.tolist(), value.tolist()))
    ordered = all(a < b if strict else a <= b for a, b in zip(pairs, pairs[1:]))
    assert by_group_then(group, value, strict) == ordered


def test_columns_computed_in_sorted_order_are_put_back_in_the_rows_own_order():
    rows = np.array([30, 10, 20])
    order = np.argsort(rows)
    doubled, = unsorted(order, rows[order] * 2)
    assert doubled.tolist() == [60, 20, 40]
    same = np.array([1, 2])
    assert unsorted(None, same)[0] is same
