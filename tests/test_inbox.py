"""The collector holds a bounded number of bytes; the broker keeps the rest."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from airkit import contract as wire
from collector.inbox import Inbox
from collector.influx.client import make_writer
from collector.ingest import Inbound
from collector.mqtt_client import CollectorClient
from collector.service import Collector
import pytest

from tests.support.stack import TestStack, count_points, message, publish_all, reading, select_readings, wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A broker and InfluxDB of this module's own: a 30,000-message backlog on the shared broker,
    after a full run's sessions, is where Debian's Mosquitto 2.0.11 died of a general protection
    fault (dmesg), twice in three runs; on a fresh broker it never has."""
    own = TestStack.start(tmp_path_factory.mktemp("inbox-stack"))
    yield own
    own.stop()


def _inbound(size: int) -> Inbound:
    return Inbound("airtrail/v1/kit/readings", b"x" * size, 0.0)


def test_the_inbox_is_full_once_the_bytes_it_holds_reach_its_bound():
    inbox = Inbox(max_bytes=250)
    first, second, third = _inbound(100), _inbound(100), _inbound(100)
    inbox.put(first)
    inbox.put(second)
    assert not inbox.full() and inbox.held_bytes == 200
    inbox.put(third)
    assert inbox.full() and inbox.peak_bytes == 300
    assert [inbox.get_nowait() for _ in range(2)] == [first, second]
    inbox.done([first, second])
    assert not inbox.full() and inbox.held_bytes == 100 and inbox.peak_bytes == 300


def test_a_backlog_far_larger_than_the_inbox_is_stored_whole_while_reading_pauses(stack, tmp_path):
    limit = 64 * 1024
    settings = stack.collector_settings(tmp_path / "collector", **{"collector.inbox_max_bytes": limit})
    with Collector(settings) as first:
        assert first.wait_subscribed()  # the session the backlog queues in

    device, batches = "flood-kit", 30
    payloads = [message(device, [reading(s, pm1=1.5, pm25=2.5, pm10=3.5, temp=18.25, rh=55.5, pressure=1001.25)
                                 for s in range(b * wire.MAX_BATCH, (b + 1) * wire.MAX_BATCH)])
                for b in range(batches)]  # a kit flushing 30,000 readings in full batches, ~4 MB
    largest = max(len(p) for p in payloads)
    publish_all(stack, device, payloads)
    assert batches * largest > 40 * limit

    with Collector(settings) as collector:
        n = batches * wire.MAX_BATCH
        wait_for(lambda: count_points(settings, device) >= n, timeout=120, what=f"{n:,} points")
        assert collector.wait_idle()
        assert collector.source.client.pauses > 0
        # Reading stops before the packet that would pass the bound: at most one over.
        assert collector.inbox.peak_bytes <= limit + largest
    assert count_points(settings, device) == n
    assert [row[1] for row in select_readings(settings, device)][:: wire.MAX_BATCH] == list(range(0, n, wire.MAX_BATCH))


class _HeldWriter:
    """The real writer, held until released: a store worker stuck behind InfluxDB."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.release = threading.Event()

    def write(self, body: bytes) -> None:
        self.release.wait()
        self.inner.write(body)

    def ping(self) -> bool:
        return self.inner.ping()

    def close(self) -> None:
        self.inner.close()


def test_a_long_pause_keeps_the_broker_connection_and_loses_nothing(stack, tmp_path):
    # Several keepalive periods with reading paused: paho must not take the
    # unread broker for a dead one and reconnect over and over.
    settings = stack.collector_settings(tmp_path / "collector", **{"collector.inbox_max_bytes": 64 * 1024, "mqtt.keepalive_s": 1})
    writer = _HeldWriter(make_writer(settings.influx))
    device, batches = "held-kit", 8
    with Collector(settings, writer=writer) as collector:
        try:
            assert collector.wait_subscribed()
            publish_all(stack, device, [message(device, [reading(s) for s in range(b * wire.MAX_BATCH, (b + 1) * wire.MAX_BATCH)])
                                        for b in range(batches)])
            wait_for(lambda: collector.source.client.pauses > 0, what="reading paused")
            time.sleep(4)  # four keepalive periods
            assert collector.source.connected and collector.source.generation == 0
        finally:
            writer.release.set()  # else stopping the collector waits on a worker held forever
        n = batches * wire.MAX_BATCH
        wait_for(lambda: count_points(settings, device) >= n, timeout=120, what=f"{n:,} points")
        assert collector.wait_idle()
    assert count_points(settings, device) == n


def test_a_ping_answered_behind_unread_messages_does_not_drop_the_connection(stack):
    # Paused, the client cannot read the broker's PINGRESP: it sits behind the
    # messages it is holding back. paho would drop a connection whose PINGREQ
    # went unanswered for a keepalive period; the unread data is the answer.
    # Driven from this thread with loop(), so the timing is exact.
    hold = False
    received: list[str] = []
    client = CollectorClient(CallbackAPIVersion.VERSION2, client_id="held-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5,
                             manual_ack=True, on_publish_fast=lambda topic, *_: received.append(topic), paused=lambda: hold)
    client.username_pw_set(*stack.collector_account())
    client.connect("127.0.0.1", stack.mqtt_port, keepalive=1)
    granted: list[bool] = []
    client.on_subscribe = lambda *_: granted.append(True)
    try:
        _loop_until(client, lambda: client.is_connected(), "connected")
        client.subscribe("airtrail/v1/ping-kit/readings", qos=1)
        _loop_until(client, lambda: granted, "subscribed")
        hold = True
        publish_all(stack, "ping-kit", [message("ping-kit", [reading(s)]) for s in range(3)])
        _loop_until(client, lambda: client.pauses > 0, "reading paused")
        # A PINGREQ went out five keepalive periods ago and we have sent nothing since.
        client._ping_t = mqtt.time_func() - 5
        client._last_msg_out = mqtt.time_func()
        for _ in range(20):
            client.loop(0.01)
        assert client.is_connected() and not received
        hold = False
        _loop_until(client, lambda: len(received) == 3, "the held messages")
        assert client.is_connected()
    finally:
        client.disconnect()


def _loop_until(client: CollectorClient, condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        client.loop(0.05)
