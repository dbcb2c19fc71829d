"""A running collector: MQTT source, store worker, spool replayer, state."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .device_state import DeviceStates
from .devices import DeviceRegistry
from .errors import AirtrailError
from .health import Health
from .influx.client import InfluxQL, Writer, make_writer
from .influx.lineproto import READINGS_MEASUREMENT, reading_seconds
from .inbox import Inbox
from .mqtt_source import MqttSource
from .quarantine import Quarantine
from .settings import COLLECTOR_USER, Settings
from .spool import Spool
from .store import Replayer, StoreWorker
from .telemetry import Telemetry

log = logging.getLogger("airtrail.collector")


def mqtt_credentials(settings: Settings) -> tuple[str | None, str | None]:
    """The collector's broker account: from settings, else the local registry
    (a replica's account by its user name, or the default collector's)."""
    username = settings.mqtt.username
    if settings.mqtt.password is not None:
        return username, settings.mqtt.password.get_secret_value()
    if settings.registry_path.exists():
        registry = DeviceRegistry(settings.registry_path)
        return (username, registry.account_password(username)) if username else (COLLECTOR_USER, registry.collector_password)
    return username, None


class Collector:
    def __init__(self, settings: Settings, writer: Writer | None = None) -> None:
        self.settings = settings
        self.telemetry = Telemetry()
        self.states = DeviceStates(settings.device_states_path)
        self.spool = Spool(settings.spool_path, settings.collector.spool_max_bytes)
        self.quarantine = Quarantine(settings.quarantine_path)
        self.writer = writer or make_writer(settings.influx)
        self.influxql = InfluxQL(settings.influx)
        self.inbox = Inbox(settings.collector.inbox_max_bytes)
        # Each state has one reporter (or a few for InfluxDB); /health and /metrics only read them.
        self.health_states = Health.new(
            f"{settings.mqtt.host}:{settings.mqtt.port}", spooled=lambda: self.telemetry.value(self.telemetry.spooled)
        )
        self.telemetry.follow(self.health_states)
        username, password = mqtt_credentials(settings)
        self.source = MqttSource(settings.mqtt, username, password, self.inbox.put, paused=self.inbox.full, state=self.health_states.broker)
        self.worker = StoreWorker(
            self.inbox,
            self.source,
            self.writer,
            self.spool,
            self.quarantine,
            self.states,
            self.telemetry,
            settings.collector,
            on_spooled=lambda: self.replayer.wake.set(),
            health=self.health_states,
        )
        self.replayer = Replayer(
            self.spool, self.writer, self.quarantine, self.telemetry, self.health_states.influxdb, settings.collector.replay_batch_lines
        )
        self._pinger = threading.Thread(target=self._ping_loop, name="airtrail-ping", daemon=True)
        self._stopping = threading.Event()

    def start(self) -> "Collector":
        self.worker.start()
        self.replayer.start()
        self._pinger.start()
        self.source.start()
        threading.Thread(target=self._seed_devices, name="airtrail-seed", daemon=True).start()
        return self

    def wait_subscribed(self, timeout: float = 30.0) -> bool:
        """Block until the broker has confirmed the subscriptions."""
        return self.source.subscribed.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        self.source.stop()
        self.worker.stop()
        self.worker.join(timeout=15)
        self.replayer.stop()
        self.replayer.join(timeout=15)
        self.writer.close()
        self.influxql.close()
        self.spool.close()
        self.states.save()
        self.quarantine.close()

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ping_loop(self) -> None:
        # While idle, writes do not tell us InfluxDB's state: ping it.
        influxdb = self.health_states.influxdb
        while not self._stopping.wait(2.0):
            self.states.save()
            if self.inbox.empty() and len(self.spool) == 0:
                sent_at = time.monotonic()
                if self.writer.ping():
                    influxdb.up(observed_at=sent_at)
                else:
                    influxdb.down(f"InfluxDB at {self.settings.influx.url} does not answer its ping", observed_at=sent_at)

    def _seed_devices(self) -> None:
        try:
            series = self.influxql.query(f'SELECT last("seq") FROM "{READINGS_MEASUREMENT}" GROUP BY "device"')
        except AirtrailError as exc:
            log.info("could not read last-seen times from InfluxDB yet: %s", exc)
            return
        for s in series:
            try:
                time_us = s["values"][0][0]
                self.states.seed(s["tags"]["device"], reading_seconds(int(time_us)))
            except (KeyError, IndexError, TypeError, ValueError):
                log.info("unexpected answer to the last-seen query: %r", s)

    def health(self) -> dict[str, Any]:
        broker = self.health_states.broker.snapshot()
        influxdb = self.health_states.influxdb.snapshot()
        spool_full = not self.health_states.spool.is_up
        spool_fill = self.spool.bytes / self.spool.max_bytes
        status = "ok"
        if not broker.up or not influxdb.up:
            status = "degraded"
        if spool_full:
            status = "failing"
        return {
            "status": status,
            "broker": {"connected": broker.up, "error": broker.error, "since": broker.since},
            "influxdb": {"writable": influxdb.up, "error": influxdb.error, "since": influxdb.since},
            "spool": {
                "batches": self.spool.depth_batches,
                "points": self.spool.depth_lines,
                "bytes": self.spool.bytes,
                "fill_ratio": round(spool_fill, 4),
                "full": spool_full,
            },
            "inbox": {
                "messages": self.inbox.qsize(),
                "bytes": self.inbox.held_bytes,
                "peak_bytes": self.inbox.peak_bytes,
                "max_bytes": self.inbox.max_bytes,
            },
            "last_message_at": self.worker.last_message_at,
            "uptime_s": round(time.time() - self.telemetry.started, 1),
        }

    def counts(self) -> dict[str, float]:
        t = self.telemetry
        return {
            "received": t.value(t.received),
            "stored": t.value(t.stored),
            "quarantined": t.value(t.quarantined),
            "spooled": t.value(t.spooled),
            "duplicates": t.value(t.duplicates),
        }

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until the inbox and spool are empty (for tests and the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inbox.empty() and len(self.spool) == 0 and self.worker.idle.is_set():
                return True
            time.sleep(0.05)
        return False
