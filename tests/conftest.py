"""Fixtures: a real Mosquitto + InfluxDB stack, and collectors running against it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from airkit import contract
from collector.service import Collector
from tests.support.stack import TestStack, Watcher


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestStack]:
    """Mosquitto and InfluxDB 1.x on free loopback ports, data in a temp folder."""
    test_stack = TestStack.start(tmp_path_factory.mktemp("stack"))
    yield test_stack
    test_stack.stop()


@pytest.fixture(autouse=True)
def _shared_broker_alive(request: pytest.FixtureRequest) -> None:
    """Start the shared Mosquitto again if it died since the last test.

    Debian's Mosquitto 2.0.11 now and then dies of a general protection fault
    (dmesg) after a long run of sessions on one broker; on the shared broker that
    took every later test down with it. The test during which it died still
    fails; the ones after it get a broker again, and the restart is logged.
    """
    if "stack" not in request.fixturenames:
        return
    test_stack: TestStack = request.getfixturevalue("stack")
    broker = test_stack.stack.mosquitto
    if not broker.running():
        logging.getLogger("tests").warning("the shared Mosquitto had died (before %s): starting it again; its log ends:\n%s",
                                           request.node.nodeid, broker.log_tail())
        broker.start()


@pytest.fixture
def listener(stack: TestStack) -> Iterator[Watcher]:
    """A client subscribed to every kit's readings, as a collector is. The broker drops readings
    nobody subscribes to (PUBACK 0x10) and a kit then keeps them, so a test whose kits must get
    their readings off without a collector running needs one listening."""
    with Watcher(stack.mqtt_port, contract.readings_topic("+"), *stack.collector_account(), qos=0) as watcher:
        yield watcher


@pytest.fixture
def collector_settings(stack: TestStack, tmp_path):
    """Settings for a collector with a fresh database, data folder and client id."""
    return stack.collector_settings(tmp_path / "collector")


@pytest.fixture
def collector(collector_settings) -> Iterator[Collector]:
    """A running collector (MQTT source, store worker, spool replayer)."""
    logging.getLogger("airtrail").setLevel(logging.INFO)
    c = Collector(collector_settings).start()
    assert c.wait_subscribed(), "collector did not subscribe"
    yield c
    c.stop()
