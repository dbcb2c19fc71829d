"""Getting readings durably stored, and only then acknowledged.

    inbox ──▶ StoreWorker ──▶ InfluxDB           (written: ack)
                   │    └───▶ Spool (on disk)    (InfluxDB down/slow/5xx: ack)
                   └────────▶ Quarantine         (invalid: ack)
              Replayer: Spool ──▶ InfluxDB, oldest first, when it is back

Both report what their writes found to ``collector.health`` (InfluxDB's state;
the worker also the spool's), which logs each outage and recovery once.

Rules that keep every valid reading exactly once:
- a message is acknowledged only after everything it carried is in InfluxDB,
  the spool or the quarantine, and acknowledgements go out in arrival order;
- while the spool holds anything, new batches go behind it, so replay order is
  arrival order;
- a 4xx for a batch is narrowed down by bisection to the points InfluxDB
  refuses; only those are quarantined (rewriting the accepted ones is harmless
  because writes are idempotent);
- a full spool stops acknowledgements instead of dropping anything: the broker
  keeps the backlog.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from airkit import contract as wire

from .device_state import DeviceStates
from .errors import InfluxRejected, InfluxUnavailable
from .health import Health, State
from .influx.client import Writer
from .influx.lineproto import count_readings
from .inbox import Inbox
from .ingest import Inbound, Outcome, ingest
from .quarantine import Quarantine, QuarantineRecord
from .settings import CollectorSettings
from .spool import Spool
from .telemetry import Telemetry

log = logging.getLogger("airtrail.collector")


class Acker(Protocol):
    def ack_all(self, messages: Sequence[Inbound]) -> None: ...


class RecentReadings:
    """Which (device, seq, ts) were stored lately, to count and skip redeliveries.

    Two generations of a plain set: lookups check both, and when the current
    one holds ``window`` keys it becomes the previous one. So at least the last
    ``window`` readings are remembered, at the cost of two set operations per
    reading. A duplicate older than that is simply written again, which is
    harmless because the write is idempotent.
    """

    def __init__(self, window: int = 200_000) -> None:
        self.window = window
        self._current: set[tuple[str, int, int]] = set()
        self._previous: set[tuple[str, int, int]] = set()

    def __contains__(self, key: tuple[str, int, int]) -> bool:
        return key in self._current or key in self._previous

    def add_all(self, keys: list[tuple[str, int, int]]) -> None:
        self._current.update(keys)
        if len(self._current) >= self.window:
            self._previous, self._current = self._current, set()


def write_isolating(writer: Writer, lines: list[str], telemetry: Telemetry) -> list[tuple[str, str]]:
    """Write ``lines``; return the (line, reason) pairs InfluxDB refused.

    Raises InfluxUnavailable when the server cannot take anything now.
    """
    if not lines:
        return []
    started = time.perf_counter()
    try:
        writer.write(("\n".join(lines)).encode())
    except InfluxRejected as exc:
        telemetry.write_errors.labels("rejected").inc()
        if len(lines) == 1:
            return [(lines[0], str(exc))]
        middle = len(lines) // 2
        return write_isolating(writer, lines[:middle], telemetry) + write_isolating(writer, lines[middle:], telemetry)
    except InfluxUnavailable:
        telemetry.write_errors.labels("unavailable").inc()
        raise
    telemetry.write_latency.observe(time.perf_counter() - started)
    return []


def _rejected_records(rejected: list[tuple[str, str]]) -> list[QuarantineRecord]:
    now = time.time()
    return [QuarantineRecord("(influxdb)", now, wire.REASON_INFLUX_REJECTED, reason, line.encode()) for line, reason in rejected]


def quarantine_all(quarantine: Quarantine, records: list[QuarantineRecord], telemetry: Telemetry) -> None:
    quarantine.add_many(records)
    for record in records:
        telemetry.quarantined.labels(record.reason).inc()


class StoreWorker(threading.Thread):
    def __init__(
        self,
        inbox: Inbox,
        acker: Acker,
        writer: Writer,
        spool: Spool,
        quarantine: Quarantine,
        states: DeviceStates,
        telemetry: Telemetry,
        settings: CollectorSettings,
        on_spooled: Callable[[], None],
        health: Health | None = None,
    ) -> None:
        super().__init__(name="airtrail-store", daemon=True)
        self.inbox = inbox
        self.acker = acker
        self.writer = writer
        self.spool = spool
        self.quarantine = quarantine
        self.states = states
        self.t = telemetry
        self.settings = settings
        self.on_spooled = on_spooled
        # Reports InfluxDB's state from its writes and the spool's from its appends.
        self.health = health or Health.new(spooled=lambda: telemetry.value(telemetry.spooled))
        self.recent = RecentReadings()
        self.last_message_at: float | None = None
        # Bound once: looking a labelled child up per message costs more than the count.
        self._readings_messages = telemetry.messages.labels("readings")
        self._status_messages = telemetry.messages.labels("status")
        self._stopping = threading.Event()
        self.idle = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self.handle(batch)
            except Exception:  # never let one bad batch kill the worker
                log.exception("store worker failed on a batch of %d messages; they stay unacknowledged and will be redelivered", len(batch))
                time.sleep(1)
            finally:
                self.inbox.done(batch)
                self.t.inbox_bytes.set(self.inbox.held_bytes)

    def _next_batch(self) -> list[Inbound]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            self.idle.set()
            return []
        self.idle.clear()
        batch = [first]
        readings = 1
        deadline = time.monotonic() + self.settings.batch_linger_s
        while readings < self.settings.batch_max_readings:
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    message = self.inbox.get(timeout=remaining)
                except queue.Empty:
                    break
            batch.append(message)
            readings += 1
        return batch

    def handle(self, batch: list[Inbound]) -> None:
        """Store ``batch`` and acknowledge it: what ``run`` does with each batch it
        takes from the inbox (the seam for driving the worker without its thread)."""
        lines: list[str] = []
        new_keys: list[tuple[str, int, int]] = []
        refused: list[QuarantineRecord] = []
        outcomes: list[tuple[Inbound, Outcome]] = []
        batch_keys: set[tuple[str, int, int]] = set()
        readings_messages = status_messages = received = duplicates = 0
        for message in batch:
            outcome = ingest(message, self.settings.max_payload_bytes)
            outcomes.append((message, outcome))
            if outcome.quarantine:
                refused.append(outcome.quarantine)
                continue
            if outcome.status is not None:
                status_messages += 1
                lines.extend(outcome.status_lines)
                continue
            readings_messages += 1
            received += len(outcome.keys)
            for key, line in zip(outcome.keys, outcome.lines):
                if key in batch_keys or key in self.recent:
                    duplicates += 1
                    continue
                batch_keys.add(key)
                new_keys.append(key)
                lines.append(line)
        self._readings_messages.inc(readings_messages)
        self._status_messages.inc(status_messages)
        self.t.received.inc(received)
        self.t.duplicates.inc(duplicates)

        refused += self._store(lines, len(new_keys))
        quarantine_all(self.quarantine, refused, self.t)
        self.recent.add_all(new_keys)

        self.acker.ack_all(batch)
        self._update_states(outcomes)
        self.last_message_at = time.time()
        self.t.last_message.set(self.last_message_at)

    def _update_states(self, outcomes: list[tuple[Inbound, Outcome]]) -> None:
        # One update per kit per batch, not per message.
        latest: dict[str, tuple[float, str, int, int]] = {}
        for message, outcome in outcomes:
            device = outcome.device
            if outcome.readings is not None and device:
                keys = outcome.keys  # (device, seq, ts) per reading
                newest = keys[0][2] if len(keys) == 1 else max(key[2] for key in keys)
                seen, _, ts, count = latest.get(device, (0.0, "", -1, 0))
                latest[device] = (max(seen, message.received_at), outcome.readings["fw"], max(ts, newest), count + len(keys))
            elif outcome.status is not None and device:
                self.states.saw_status(device, message.received_at, outcome.status.model_dump(exclude_unset=True), message.retained)
        for device, (seen, fw, ts, count) in latest.items():
            self.states.saw_readings(device, seen, fw, ts, count)

    def _store(self, lines: list[str], readings: int) -> list[QuarantineRecord]:
        """Put ``lines`` in InfluxDB or the spool; return points InfluxDB refused."""
        if not lines:
            return []
        if len(self.spool) == 0:
            sent_at = time.monotonic()
            try:
                rejected = write_isolating(self.writer, lines, self.t)
                self.health.influxdb.up(observed_at=sent_at)
                self.t.stored.inc(readings - count_readings([line for line, _ in rejected]))
                return _rejected_records(rejected)
            except InfluxUnavailable as exc:
                self.health.influxdb.down(str(exc), observed_at=sent_at)
        self._spool(lines, readings)
        return []

    def _spool(self, lines: list[str], readings: int) -> None:
        body = ("\n".join(lines)).encode()
        while not self.spool.has_room(len(body)):
            # Back-pressure, not loss: without an ack the broker keeps these.
            self.health.spool.down(
                f"{self.spool.bytes} of {self.spool.max_bytes} bytes used; {len(lines)} points wait unacknowledged until InfluxDB catches up",
                level=logging.ERROR,
            )
            if self._stopping.wait(1.0):
                raise RuntimeError("stopping with a full spool; the batch stays unacknowledged")
        self.health.spool.up()
        self.spool.append(body, len(lines))
        self.t.spooled.inc(readings)
        fill = self.spool.bytes / self.spool.max_bytes
        if fill >= self.settings.spool_warn_ratio:
            log.warning("spool is %.0f%% full (%d bytes); InfluxDB has been unavailable: %s", fill * 100, self.spool.bytes, self.health.influxdb.error)
        self.on_spooled()


class Replayer(threading.Thread):
    """Drains the spool into InfluxDB, oldest batch first, with backoff."""

    def __init__(self, spool: Spool, writer: Writer, quarantine: Quarantine, telemetry: Telemetry, influxdb: State, max_lines: int) -> None:
        super().__init__(name="airtrail-replay", daemon=True)
        self.spool = spool
        self.writer = writer
        self.quarantine = quarantine
        self.t = telemetry
        self.influxdb = influxdb  # reported from every replay write
        self.max_lines = max_lines
        self.wake = threading.Event()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.wake.set()

    def run(self) -> None:
        backoff = 0.25
        while not self._stopping.is_set():
            self._update_gauges()
            batches = self.spool.oldest(self.max_lines)
            if not batches:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            lines = [line for b in batches for line in b.body.decode().split("\n") if line]
            sent_at = time.monotonic()
            try:
                rejected = write_isolating(self.writer, lines, self.t)
            except InfluxUnavailable as exc:
                self.influxdb.down(str(exc), observed_at=sent_at)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except Exception:
                log.exception("replaying the spool failed; retrying")
                self._stopping.wait(backoff)
                continue
            backoff = 0.25
            self.influxdb.up(observed_at=sent_at)
            quarantine_all(self.quarantine, _rejected_records(rejected), self.t)
            self.spool.remove(batches)
            self.t.stored.inc(count_readings(lines) - count_readings([line for line, _ in rejected]))
        self._update_gauges()

    def _update_gauges(self) -> None:
        self.t.spool_batches.set(self.spool.depth_batches)
        self.t.spool_readings.set(self.spool.depth_lines)
        self.t.spool_bytes.set(self.spool.bytes)
        self.t.spool_fill.set(self.spool.bytes / self.spool.max_bytes)
