"""The collector keeps every reading through crashes and outages.

These scenarios are slow (they stop real servers); `make test` runs them at the
sizes of the acceptance criteria, `make test-full` at larger ones.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from fastapi.testclient import TestClient

from collector.api.app import create_app
from collector.service import Collector
from tests.support.stack import CollectorProcess, Publisher, count_points, message, reading, scaled, select_readings, wait_for

pytestmark = pytest.mark.slow


def _stream(stack, devices: list[str], per_device: int, pause_every: int = 0, pause_s: float = 0.0) -> threading.Thread:
    """Publish ``per_device`` readings per kit, one per message, in a thread."""

    def run() -> None:
        publishers = [Publisher(stack, d) for d in devices]
        for seq in range(per_device):
            for pub in publishers:
                pub.publish(message(pub.device_id, [reading(seq)]))
            if pause_every and seq % pause_every == 0:
                time.sleep(pause_s)
        for pub in publishers:
            pub.wait_all(timeout=180)
            pub.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _total(settings, devices: list[str]) -> int:
    return sum(count_points(settings, d) for d in devices)


def _assert_each_reading_once(settings, devices: list[str], per_device: int) -> None:
    assert _total(settings, devices) == len(devices) * per_device
    for device in devices:
        assert [row[1] for row in select_readings(settings, device)] == list(range(per_device))


def test_collector_killed_mid_stream_and_restarted_stores_every_reading_once(stack, collector_settings):
    devices = [f"crash-{i}" for i in range(4)]
    per_device = scaled(5_000, 25_000)  # 20,000 readings in all
    first = CollectorProcess(collector_settings)
    first.wait_ready(stack)
    stream = _stream(stack, devices, per_device, pause_every=50, pause_s=0.005)
    wait_for(lambda: _total(collector_settings, devices) > per_device, what="the stream to be partly stored")
    first.kill()  # SIGKILL: no chance to flush or ack anything
    killed_at = _total(collector_settings, devices)
    time.sleep(1)
    second = CollectorProcess(collector_settings)
    try:
        stream.join(timeout=300)
        wait_for(lambda: _total(collector_settings, devices) >= len(devices) * per_device, timeout=120, what="all readings")
        time.sleep(1)
        assert 0 < killed_at < len(devices) * per_device
        _assert_each_reading_once(collector_settings, devices, per_device)
    finally:
        second.stop()
        first.stop()


def _influxdb_lines(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.getMessage().startswith("InfluxDB ")]


def test_influxdb_down_for_30_s_loses_nothing_and_health_reports_the_outage(stack, collector, collector_settings, caplog):
    caplog.set_level(logging.INFO, "airtrail")
    devices = [f"outage-{i}" for i in range(3)]
    per_device = scaled(2_000, 10_000)
    api = TestClient(create_app(collector))
    stream = _stream(stack, devices, per_device, pause_every=20, pause_s=0.02)
    wait_for(lambda: count_points(collector_settings) > 100, what="the first readings")
    stack.stack.influxdb.stop()
    try:
        wait_for(lambda: collector.health()["spool"]["points"] > 0, timeout=30, what="spooling to start")
        health = api.get("/health").json()
        assert health["influxdb"]["writable"] is False
        assert health["influxdb"]["error"] and health["influxdb"]["since"] > 0
        assert health["status"] == "degraded"
        assert health["spool"]["points"] > 0
        time.sleep(scaled(30, 60))
        assert api.get("/health").json()["spool"]["points"] >= health["spool"]["points"]
    finally:
        stack.stack.influxdb.start()
    stream.join(timeout=300)
    wait_for(lambda: collector.health()["spool"]["points"] == 0, timeout=120, what="the spool to drain")
    assert collector.wait_idle()
    _assert_each_reading_once(collector_settings, devices, per_device)
    after = api.get("/health").json()["influxdb"]
    assert after["writable"] is True
    assert after["error"] is None and after["since"] is None
    [down] = _influxdb_lines(caplog, logging.WARNING)
    [back] = _influxdb_lines(caplog, logging.INFO)
    assert down.startswith("InfluxDB unavailable, spooling batches to disk: ")
    assert back.startswith("InfluxDB writable again after ") and "readings spooled meanwhile" in back


def test_broker_restart_mid_stream_is_survived_without_loss(stack, collector, collector_settings):
    devices = [f"bounce-{i}" for i in range(3)]
    per_device = scaled(2_000, 10_000)
    stream = _stream(stack, devices, per_device, pause_every=20, pause_s=0.02)
    wait_for(lambda: count_points(collector_settings) > 300, what="the first readings")
    stack.stack.mosquitto.stop()
    time.sleep(2)
    stack.stack.mosquitto.start()
    stream.join(timeout=300)
    wait_for(lambda: count_points(collector_settings) >= len(devices) * per_device, timeout=120, what="all readings")
    assert collector.wait_idle()
    assert collector.source.connected
    _assert_each_reading_once(collector_settings, devices, per_device)


def test_two_collectors_sharing_a_subscription_split_the_stream_and_store_it_once(stack, tmp_path):
    group = "g" + str(int(time.time()))
    first_settings = stack.collector_settings(tmp_path / "a", **{"mqtt.share_group": group})
    second_settings = stack.collector_settings(
        tmp_path / "b", **{"mqtt.share_group": group, "influx.database": first_settings.influx.database}
    )
    devices = [f"share-{i}" for i in range(4)]
    per_device = scaled(1_000, 5_000)
    with Collector(first_settings) as a, Collector(second_settings) as b:
        assert a.wait_subscribed() and b.wait_subscribed()
        time.sleep(0.5)
        _stream(stack, devices, per_device).join(timeout=300)
        wait_for(lambda: count_points(first_settings) >= len(devices) * per_device, timeout=120, what="all readings")
        assert a.wait_idle() and b.wait_idle()
        stored_a, stored_b = a.counts()["stored"], b.counts()["stored"]
    _assert_each_reading_once(first_settings, devices, per_device)
    assert stored_a > 0 and stored_b > 0
    assert stored_a + stored_b == len(devices) * per_device
