"""Counters and gauges of a running collector, exported as Prometheus text.

Each collector owns a private registry, so several collectors in one process
(tests, `serve` with replicas) keep separate figures.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from .health import Health


class Telemetry:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.messages = Counter("airtrail_messages_received", "MQTT messages received", ["kind"], registry=r)
        self.received = Counter("airtrail_readings_received", "Readings received in valid messages", registry=r)
        self.stored = Counter("airtrail_readings_stored", "Readings written to InfluxDB (directly or from the spool)", registry=r)
        self.quarantined = Counter("airtrail_quarantined", "Messages or points sent to quarantine", ["reason"], registry=r)
        self.spooled = Counter("airtrail_readings_spooled", "Readings put in the on-disk spool", registry=r)
        self.duplicates = Counter("airtrail_readings_duplicate", "Readings received again after being stored", registry=r)
        self.write_errors = Counter("airtrail_influx_write_errors", "Failed InfluxDB writes", ["kind"], registry=r)
        self.write_latency = Histogram(
            "airtrail_influx_write_seconds",
            "InfluxDB write latency per batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.spool_batches = Gauge("airtrail_spool_batches", "Batches waiting in the spool", registry=r)
        self.spool_readings = Gauge("airtrail_spool_lines", "Points waiting in the spool", registry=r)
        self.spool_bytes = Gauge("airtrail_spool_bytes", "Bytes in the spool", registry=r)
        self.spool_fill = Gauge("airtrail_spool_fill_ratio", "Spool size over its limit", registry=r)
        self.inbox_bytes = Gauge("airtrail_inbox_bytes", "Payload bytes received and not yet handled", registry=r)
        self.broker_up = Gauge("airtrail_broker_connected", "1 while connected to the MQTT broker", registry=r)
        self.influx_up = Gauge("airtrail_influx_up", "1 while the last InfluxDB write or ping succeeded", registry=r)
        self.last_message = Gauge("airtrail_last_message_timestamp_seconds", "When the last MQTT message arrived", registry=r)
        self.started = time.time()

    def follow(self, health: "Health") -> None:
        """Read the up/down gauges from the states' owner at each scrape."""
        self.broker_up.set_function(lambda: 1.0 if health.broker.is_up else 0.0)
        self.influx_up.set_function(lambda: 1.0 if health.influxdb.is_up else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, counter: Counter) -> float:
        """Total of a counter across its labels (Collector.counts: tests, the demo, the benchmark)."""
        total = 0.0
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    total += sample.value
        return total
