"""The kit's sequence number (airkit.seqno): increases across reboots, one flash write per block.

Each scenario runs on CPython and on real MicroPython and must print the same.
"""

from __future__ import annotations

import ast

import pytest

from tests.support.micropython import requires_micropython, run_micropython
from tests.test_queue import run_cpython

pytestmark = [pytest.mark.micropython, requires_micropython]

PRELUDE = """
import os
from airkit.seqno import SeqCounter
"""


def run_both(body: str, tmp_path) -> list:
    code = PRELUDE + body
    cpython = run_cpython(code, tmp_path)
    assert cpython == run_micropython(code), "CPython and MicroPython differ"
    return [ast.literal_eval(line) for line in cpython.splitlines()]


def test_numbers_start_at_zero_and_count_up(tmp_path):
    [got] = run_both(
        """
s = SeqCounter("seq", block=4)
print([s.next() for _ in range(10)])
""",
        tmp_path,
    )
    assert got == list(range(10))


def test_numbers_keep_increasing_across_reboots(tmp_path):
    [got] = run_both(
        """
out = []
for boot in range(5):
    s = SeqCounter("seq", block=4)
    out += [s.next() for _ in range(boot + 2)]
print(out)
""",
        tmp_path,
    )
    assert all(a < b for a, b in zip(got, got[1:])), got


def test_a_reboot_skips_at_most_one_block(tmp_path):
    [first, after] = run_both(
        """
s = SeqCounter("seq", block=10)
print(s.next())
print(SeqCounter("seq", block=10).next())
""",
        tmp_path,
    )
    assert first == 0 and after == 10


def test_flash_is_written_once_per_block_not_per_number(tmp_path):
    [writes] = run_both(
        """
s = SeqCounter("seq", block=16)
writes = 0
last = None
for _ in range(64):
    s.next()
    content = open("seq", "rb").read()
    if content != last:
        writes += 1
        last = content
print(writes)
""",
        tmp_path,
    )
    assert writes == 4


def test_a_damaged_file_restarts_counting_and_says_so(tmp_path):
    [damaged, first] = run_both(
        """
f = open("seq", "wb"); f.write(b"garbage"); f.close()
s = SeqCounter("seq", block=8)
print(s.damaged)
print(s.next())
""",
        tmp_path,
    )
    assert damaged is True and first == 0


def test_a_reservation_interrupted_by_a_power_cut_is_recovered_from_the_temp_file(tmp_path):
    # FAT renames by removing the target first: the new value may exist only in seq.tmp.
    [got] = run_both(
        """
s = SeqCounter("seq", block=8)
s.next()
os.rename("seq", "seq.tmp")
print(SeqCounter("seq", block=8).next())
""",
        tmp_path,
    )
    assert got == 8
