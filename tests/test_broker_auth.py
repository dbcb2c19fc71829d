"""The generated password file and ACL on a real Mosquitto."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from airkit import contract as wire
from collector.devices import DeviceRegistry, mosquitto_hash


def _client(stack, username=None, password=None):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="auth-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5)
    if username:
        c.username_pw_set(username, password)
    result: dict = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        result["rc"] = rc
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", stack.mqtt_port)
    c.loop_start()
    done.wait(5)
    return c, result.get("rc")


def test_anonymous_connections_are_refused(stack):
    c, rc = _client(stack)
    c.loop_stop()
    assert rc is not None and rc.is_failure and rc == ReasonCode(mqtt.CONNACK >> 4, "Not authorized")


def test_a_wrong_password_is_refused(stack):
    stack.add_device("auth-a")
    c, rc = _client(stack, "auth-a", "not-the-password")
    c.loop_stop()
    assert rc is not None and rc.is_failure


def test_a_kit_cannot_publish_under_another_kits_topic(stack):
    password_a = stack.add_device("auth-a")
    stack.add_device("auth-b")
    watcher, _ = _client(stack, "airtrail-collector", stack.stack.registry.collector_password)
    seen: list[str] = []
    watcher.on_message = lambda c, u, m: seen.append(m.topic)
    watcher.subscribe(f"{wire.TOPIC_ROOT}/+/readings", qos=1)
    time.sleep(0.3)

    kit_a, rc = _client(stack, "auth-a", password_a)
    assert not rc.is_failure
    acks: dict[int, ReasonCode] = {}
    kit_a.on_publish = lambda c, u, mid, rc, props: acks.__setitem__(mid, rc)
    own = kit_a.publish(wire.readings_topic("auth-a"), b"own", qos=1)
    other = kit_a.publish(wire.readings_topic("auth-b"), b"spoofed", qos=1)
    deadline = time.monotonic() + 5
    while len(acks) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for c in (kit_a, watcher):
        c.disconnect()
        c.loop_stop()
    assert not acks[own.mid].is_failure
    # Mosquitto answers a forbidden MQTT 5 publish with "Not authorized" and drops it.
    assert acks[other.mid].is_failure
    assert seen == [wire.readings_topic("auth-a")]


def test_a_kit_cannot_read_other_topics(stack):
    password_a = stack.add_device("auth-a")
    password_b = stack.add_device("auth-b")
    spy, _ = _client(stack, "auth-a", password_a)
    received: list[str] = []
    granted: list = []
    spy.on_message = lambda c, u, m: received.append(m.topic)
    spy.on_subscribe = lambda c, u, mid, rcs, props: granted.extend(rcs)
    spy.subscribe([(f"{wire.TOPIC_ROOT}/#", 1), (wire.readings_topic("auth-a"), 1)])
    time.sleep(0.3)
    kit_b, _ = _client(stack, "auth-b", password_b)
    kit_b.publish(wire.readings_topic("auth-b"), b"private", qos=1).wait_for_publish(5)
    kit_b.publish(wire.status_topic("auth-b"), b"private", qos=1, retain=True).wait_for_publish(5)
    time.sleep(0.5)
    kit_b.publish(wire.status_topic("auth-b"), b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained message
    for c in (spy, kit_b):
        c.disconnect()
        c.loop_stop()
    assert received == []


def test_password_file_uses_mosquitto_passwd_format():
    salt = bytes(range(12))
    # Same password and salt as `mosquitto_passwd` would use give the same line.
    assert mosquitto_hash("secret", salt).startswith("$7$101$AAECAwQFBgcICQoL$")


def test_acl_lets_kits_write_only_their_own_prefix(tmp_path):
    acl = DeviceRegistry(tmp_path / "devices.json").acl_file()
    assert "pattern write airtrail/v1/%u/readings" in acl
    assert "pattern read" not in acl
