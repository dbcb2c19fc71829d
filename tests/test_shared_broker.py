"""The test harness's shared broker comes back if it dies (Debian's Mosquitto 2.0.11 sometimes does)."""

from __future__ import annotations

import signal

from tests.support.stack import Publisher, message, reading, wait_for


def test_a_broker_that_dies_as_mosquitto_does_on_a_fault_is_gone(stack):
    broker = stack.stack.mosquitto
    assert broker.signal(signal.SIGKILL)  # as abrupt as the fault: no clean shutdown
    wait_for(lambda: not broker.running(), timeout=10, what="mosquitto gone")


def test_the_next_test_gets_the_shared_broker_back_with_its_accounts(stack):
    assert stack.stack.mosquitto.running()
    password = stack.add_device("broker-back")
    publisher = Publisher(stack, "broker-back", password)
    try:
        publisher.publish(message("broker-back", [reading(1)]))
        publisher.wait_all(timeout=20)
    finally:
        publisher.close()
