"""The spool keeps batches on disk, in order, within its bound, across restarts."""

from __future__ import annotations

import threading
import time

from collector.device_state import DeviceStates
from collector.errors import InfluxRejected, InfluxUnavailable
from collector.inbox import Inbox
from collector.ingest import Inbound
from collector.quarantine import Quarantine
from collector.settings import CollectorSettings
from collector.spool import Spool
from collector.store import StoreWorker, write_isolating
from collector.telemetry import Telemetry
from tests.support.stack import message, reading, wait_for


def test_batches_survive_a_restart_in_order(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", 10**6)
    for i in range(5):
        spool.append(f"line{i}".encode(), 1)
    spool.close()
    reopened = Spool(tmp_path / "s.sqlite", 10**6)
    assert len(reopened) == 5 and reopened.depth_lines == 5
    assert [b.body for b in reopened.oldest(100)] == [f"line{i}".encode() for i in range(5)]


def test_oldest_returns_at_least_one_batch_and_respects_the_line_budget(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", 10**6)
    spool.append(b"a", 3000)
    spool.append(b"b", 3000)
    spool.append(b"c", 10)
    assert [b.body for b in spool.oldest(5000)] == [b"a"]
    assert [b.body for b in spool.oldest(100)] == [b"a"]


def test_removed_batches_are_gone_and_the_depth_follows(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", 10**6)
    spool.append(b"x" * 10, 2)
    spool.append(b"y" * 10, 2)
    spool.remove(spool.oldest(2))
    assert (len(spool), spool.depth_lines, spool.bytes) == (1, 2, 10)


def test_room_is_measured_against_the_bound(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", 1024 * 1024)
    assert spool.has_room(1024 * 1024)
    spool.append(b"x" * 1000, 1)
    assert not spool.has_room(1024 * 1024)


class _Down:
    def write(self, body):
        raise InfluxUnavailable("down for the test")

    def ping(self):
        return False

    def close(self):
        pass


class _Acks:
    def __init__(self):
        self.acked = []

    def ack_all(self, messages):
        self.acked.extend(m.mid for m in messages)


def _worker(tmp_path, writer, spool, settings=None):
    return StoreWorker(Inbox(1024 * 1024), _Acks(), writer, spool, Quarantine(tmp_path / "q.sqlite"), DeviceStates(),
                       Telemetry(), settings or CollectorSettings(), on_spooled=lambda: None)


def _inbound(seq: int) -> Inbound:
    return Inbound("airtrail/v1/kit-01/readings", message("kit-01", [reading(seq)]), time.time(), mid=seq + 1)


def test_when_influxdb_is_down_batches_are_spooled_then_acknowledged(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", 10**6)
    worker = _worker(tmp_path, _Down(), spool)
    worker.handle([_inbound(i) for i in range(3)])
    assert spool.depth_lines == 3
    assert worker.acker.acked == [1, 2, 3]
    assert worker.health.influxdb.is_up is False


def test_a_full_spool_holds_acknowledgements_instead_of_dropping(tmp_path):
    spool = Spool(tmp_path / "s.sqlite", 1024 * 1024)
    spool.append(b"x" * (1024 * 1024 - 10), 1)
    worker = _worker(tmp_path, _Down(), spool)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (worker.handle([_inbound(0)]), done.set()), daemon=True)
    thread.start()
    wait_for(lambda: not worker.health.spool.is_up, timeout=10, what="the worker to find the spool full")
    thread.join(timeout=1.5)  # "holds" is a claim over time: give a wrong ack the chance to happen
    assert not done.is_set() and worker.acker.acked == [] and not worker.health.spool.is_up
    spool.remove(spool.oldest(10))  # InfluxDB came back and the replayer drained it
    thread.join(timeout=5)
    assert done.is_set() and worker.acker.acked == [1] and spool.depth_lines == 1


class _RefusesCo2:
    def __init__(self):
        self.written = []

    def write(self, body):
        lines = body.decode().split("\n")
        if any("co2=" in line for line in lines):
            raise InfluxRejected("field type conflict", 400)
        self.written += lines

    def ping(self):
        return True

    def close(self):
        pass


def test_bisection_isolates_exactly_the_refused_points():
    writer = _RefusesCo2()
    lines = [f"readings,device=k {'co2' if i in (3, 17) else 'pm25'}=1.0 {i}" for i in range(20)]
    refused = write_isolating(writer, lines, Telemetry())
    assert [line for line, _ in refused] == [lines[3], lines[17]]
    assert sorted(writer.written, key=lambda l: int(l.rsplit(" ", 1)[1])) == [l for i, l in enumerate(lines) if i not in (3, 17)]
