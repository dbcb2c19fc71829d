"""The kit's flash queue (airkit.queue): ordered, bounded, power-cut safe.

Every scenario is one script run twice, by CPython and by real MicroPython
(the WebAssembly port), in an empty working folder; the two must print the
same thing, and what they print is checked against the behaviour the kit
promises.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.micropython import requires_micropython, run_micropython

pytestmark = [pytest.mark.micropython, requires_micropython]

# Shared by every scenario: a queue in ./q and records whose payload says
# which reading they are (varied lengths, so framing offsets vary too).
PRELUDE = """
import os
from airkit.queue import FlashQueue, read_queue, HEADER
def rec(i):
    return b'{"seq":%d,"pad":"%s"}' % (i, b"x" * (i % 13))
def seqs(payloads):
    return [int(p.split(b",")[0][7:]) for p in payloads]
def files():
    return sorted(n for n in os.listdir("q") if n.startswith("s"))
"""


def run_cpython(code: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run_both(body: str, tmp_path: Path) -> list:
    """Run PRELUDE + body on CPython and MicroPython; return the printed values (one repr per line)."""
    code = PRELUDE + body
    cpython = run_cpython(code, tmp_path)
    micropython = run_micropython(code)
    assert cpython == micropython, f"CPython and MicroPython differ:\n{cpython}\n---\n{micropython}"
    return [ast.literal_eval(line) for line in cpython.splitlines()]


def test_records_come_back_in_append_order(tmp_path):
    [got] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(40):
    q.append(rec(i))
print(seqs(q.peek(max_count=100)))
""",
        tmp_path,
    )
    assert got == list(range(40))


def test_records_span_several_segment_files(tmp_path):
    [n_files, depth] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(40):
    q.append(rec(i))
print(len(files()))
print(q.depth)
""",
        tmp_path,
    )
    assert n_files > 2
    assert depth == 40


def test_peek_does_not_remove_records(tmp_path):
    [first, second, depth] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(5):
    q.append(rec(i))
print(seqs(q.peek(3)))
print(seqs(q.peek(3)))
print(q.depth)
""",
        tmp_path,
    )
    assert first == second == [0, 1, 2]
    assert depth == 5


def test_pop_removes_the_oldest_records_by_count(tmp_path):
    [after, depth] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(30):
    q.append(rec(i))
q.pop(len(q.peek(12)))
print(seqs(q.peek(100)))
print(q.depth)
""",
        tmp_path,
    )
    assert after == list(range(12, 30))
    assert depth == 18


def test_pop_of_everything_leaves_an_empty_queue_that_still_accepts_records(tmp_path):
    [empty, depth, later] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(30):
    q.append(rec(i))
q.pop(30)
print(q.peek(10))
print(q.depth)
q.append(rec(30))
print(seqs(FlashQueue("q", budget=8192, segment_bytes=512).peek(10)))
""",
        tmp_path,
    )
    assert empty == []
    assert depth == 0
    assert later == [30]


def test_pop_moves_a_head_pointer_instead_of_rewriting_segments(tmp_path):
    [unchanged, fewer_files] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(40):
    q.append(rec(i))
before = {}
for n in files():
    before[n] = open("q/" + n, "rb").read()
q.pop(20)
after = files()
print(all(open("q/" + n, "rb").read() == before[n] for n in after))
print(len(after) < len(before))
""",
        tmp_path,
    )
    assert unchanged is True
    assert fewer_files is True


def test_peek_stops_before_the_record_that_would_exceed_the_byte_budget(tmp_path):
    [got, total] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(20):
    q.append(rec(i))
batch = q.peek(max_count=100, max_bytes=200)
print(seqs(batch))
print(sum(len(p) + 1 for p in batch))
""",
        tmp_path,
    )
    assert total <= 200
    assert got == list(range(len(got))) and len(got) >= 1
    # One more record would not have fitted.
    assert total + len(b'{"seq":%d,"pad":"%s"}' % (len(got), b"x" * (len(got) % 13))) + 1 > 200


def test_peek_yields_one_record_even_when_it_alone_exceeds_the_budget(tmp_path):
    [got] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
q.append(rec(0))
q.append(rec(1))
print(seqs(q.peek(max_count=10, max_bytes=5)))
""",
        tmp_path,
    )
    assert got == [0]


def test_state_survives_a_reboot(tmp_path):
    [got, depth] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(25):
    q.append(rec(i))
q.pop(7)
q = FlashQueue("q", budget=8192, segment_bytes=512)
q.append(rec(25))
q = FlashQueue("q", budget=8192, segment_bytes=512)
print(seqs(q.peek(100)))
print(q.depth)
""",
        tmp_path,
    )
    assert got == list(range(7, 26))
    assert depth == 19


def test_full_flash_drops_the_oldest_readings_and_keeps_order(tmp_path):
    [got, dropped, depth] = run_both(
        """
q = FlashQueue("q", budget=2048, segment_bytes=512)
for i in range(200):
    q.append(rec(i))
print(seqs(q.peek(1000)))
print(q.dropped)
print(q.depth)
""",
        tmp_path,
    )
    assert got == list(range(200 - len(got), 200)), "the newest readings, contiguous and in order"
    assert dropped == 200 - len(got) > 0
    assert depth == len(got)


def test_flash_used_by_the_queue_stays_within_its_budget(tmp_path):
    [largest] = run_both(
        """
q = FlashQueue("q", budget=2048, segment_bytes=512)
largest = 0
for i in range(200):
    q.append(rec(i))
    largest = max(largest, sum(os.stat("q/" + n)[6] for n in files()))
print(largest)
""",
        tmp_path,
    )
    assert largest <= 2048


def test_dropped_count_survives_a_reboot(tmp_path):
    [before, after] = run_both(
        """
q = FlashQueue("q", budget=2048, segment_bytes=512)
for i in range(200):
    q.append(rec(i))
print(q.dropped)
print(FlashQueue("q", budget=2048, segment_bytes=512).dropped)
""",
        tmp_path,
    )
    assert after == before > 0


def test_a_record_damaged_in_flash_is_skipped_alone(tmp_path):
    [got] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for i in range(6):
    q.append(rec(i))
name = "q/" + files()[0]
data = bytearray(open(name, "rb").read())
at = HEADER + len(rec(0)) + HEADER + 3   # inside the payload of record 1
data[at] ^= 0x20
f = open(name, "wb"); f.write(data); f.close()
print(seqs(FlashQueue("q", budget=8192, segment_bytes=512).peek(100)))
""",
        tmp_path,
    )
    assert got == [0, 2, 3, 4, 5]


def test_a_damaged_record_is_not_counted_as_waiting_so_the_uplink_can_finish(tmp_path):
    # depth drives the kit's send loop: a count above what peek() can return
    # would keep it sending nothing, forever.
    [depth, after_pop, left] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
q.append(rec(0))
q.append(rec(1))
name = "q/" + files()[0]
data = bytearray(open(name, "rb").read())
data[HEADER + len(rec(0)) + HEADER + 3] ^= 0x20   # inside the payload of record 1
f = open(name, "wb"); f.write(data); f.close()
q = FlashQueue("q", budget=8192, segment_bytes=512)
print(q.depth)
q.pop(len(q.peek(100)))
print(q.depth)
print(seqs(q.peek(100)))
""",
        tmp_path,
    )
    assert (depth, after_pop, left) == (1, 0, [])


def test_read_queue_decodes_a_copy_without_writing_to_it(tmp_path):
    [got, dropped, unchanged] = run_both(
        """
q = FlashQueue("q", budget=2048, segment_bytes=512)
for i in range(100):
    q.append(rec(i))
q.pop(3)
snapshot = [(n, open("q/" + n, "rb").read()) for n in sorted(os.listdir("q"))]
payloads, dropped = read_queue("q")
print(seqs(payloads))
print(dropped)
print(snapshot == [(n, open("q/" + n, "rb").read()) for n in sorted(os.listdir("q"))])
""",
        tmp_path,
    )
    assert got == list(range(100 - len(got), 100))
    assert dropped + 3 + len(got) == 100
    assert unchanged is True


def test_empty_and_oversized_records_are_refused(tmp_path):
    [empty, huge] = run_both(
        """
q = FlashQueue("q", budget=8192, segment_bytes=512)
for payload in (b"", b"x" * 600):
    try:
        q.append(payload)
        print(repr("accepted"))
    except ValueError:
        print(repr("refused"))
""",
        tmp_path,
    )
    assert empty == huge == "refused"


def test_a_budget_below_two_segments_is_refused(tmp_path):
    [msg] = run_both(
        """
try:
    FlashQueue("q", budget=1000, segment_bytes=512)
    print(repr("accepted"))
except ValueError as e:
    print(repr(str(e)))
""",
        tmp_path,
    )
    assert "two segments" in msg


# -- power cuts -----------------------------------------------------------------

POWER_CUT = """
SEG = 512
q = FlashQueue("q", budget=8192, segment_bytes=SEG)
for i in range(N):
    q.append(rec(i))
q.pop(POPPED)
last = "q/" + files()[-1]
snapshot = {}
for n in os.listdir("q"):
    snapshot[n] = open("q/" + n, "rb").read()
end = len(snapshot[last[2:]])
start = end - HEADER - len(rec(N - 1))
for cut in CUTS:
    # Back to the state just after the last append, then cut power
    # `cut` bytes into the last record: the file keeps only what reached flash.
    for n in os.listdir("q"):
        os.remove("q/" + n)
    for n in snapshot:
        f = open("q/" + n, "wb"); f.write(snapshot[n]); f.close()
    f = open(last, "wb"); f.write(snapshot[last[2:]][:start + cut]); f.close()
    q = FlashQueue("q", budget=8192, segment_bytes=SEG)   # boot
    recovered = seqs(q.peek(1000))
    depth = q.depth
    q.append(rec(1000))                                    # life goes on
    q.append(rec(1001))
    after = seqs(FlashQueue("q", budget=8192, segment_bytes=SEG).peek(1000))  # next boot
    print((cut, recovered, depth, after, q.torn))
"""


def _power_cut_script(n: int, popped: int, cuts) -> str:
    return f"N = {n}\nPOPPED = {popped}\nCUTS = {list(cuts)!r}\n" + POWER_CUT


def _record_length(i: int) -> int:
    return 7 + len(b'{"seq":%d,"pad":"%s"}' % (i, b"x" * (i % 13)))


def _check_power_cut(rows, n, popped):
    full = _record_length(n - 1)
    for cut, recovered, depth, after, torn in rows:
        complete = list(range(popped, n)) if cut == full else list(range(popped, n - 1))
        assert recovered == complete, f"cut at byte {cut} of the last record"
        assert depth == len(complete), f"queue depth after a cut at byte {cut}"
        assert after == complete + [1000, 1001], f"appends after a cut at byte {cut} were lost"
        assert torn == (0 if cut in (0, full) else 1)


@pytest.mark.parametrize("popped", [0, 10], ids=["nothing-sent", "head-inside-queue"])
def test_power_cut_at_every_byte_of_the_last_record_recovers_exactly_the_complete_records_cpython(tmp_path, popped):
    n = 23
    cuts = range(_record_length(n - 1) + 1)  # 0 .. whole record
    out = run_cpython(PRELUDE + _power_cut_script(n, popped, cuts), tmp_path)
    rows = [ast.literal_eval(line) for line in out.splitlines()]
    assert [r[0] for r in rows] == list(cuts)
    _check_power_cut(rows, n, popped)


def test_power_cut_on_micropython_recovers_the_same_records_as_cpython(tmp_path):
    n, popped = 23, 10
    full = _record_length(n - 1)
    cuts = sorted({0, 1, 3, 6, 7, 8, 15, full // 2, full - 2, full - 1, full})  # header, payload, boundaries
    code = PRELUDE + _power_cut_script(n, popped, cuts)
    micropython = run_micropython(code)
    assert micropython == run_cpython(code, tmp_path)
    _check_power_cut([ast.literal_eval(line) for line in micropython.splitlines()], n, popped)
