"""Whether rows are already in the order a step needs, checked cheaply.

The walk's columns come by participant (or kit), then in time or sequence
order, and every step keeps that order; a check that finds them so lets the
step skip a sort of a million rows. The check itself is a pass over the
groups, then one comparison per group on its own slice (which stays in cache).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ascending", "by_group_then", "unsorted"]


def ascending(values: np.ndarray) -> bool:
    """Whether ``values`` never decrease."""
    return len(values) < 2 or not bool(np.any(values[1:] < values[:-1]))


def unsorted(order: np.ndarray | None, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """``columns``, computed on rows taken in ``order`` (an argsort), put back in the rows' own order
    (unchanged where ``order`` is None: the rows were already in order)."""
    if order is None:
        return columns
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))
    return tuple(c[back] for c in columns)


def by_group_then(group: np.ndarray, values: np.ndarray, strict: bool = True) -> bool:
    """Whether rows are by ``group`` (ascending), then by ``values`` within each group
    (increasing if ``strict``, else never decreasing)."""
    n = len(group)
    if n < 2:
        return True
    if not ascending(group):
        return False
    ends = [*(np.flatnonzero(group[1:] != group[:-1]) + 1).tolist(), n]
    a = 0
    for b in ends:
        v = values[a:b]
        if len(v) > 1 and np.any(v[1:] <= v[:-1] if strict else v[1:] < v[:-1]):
            return False
        a = b
    return True
