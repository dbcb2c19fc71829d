"""The generated password file and ACL on a real Mosquitto."""

from __future__ import annotations


import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from airkit import contract as wire
from collector.devices import DeviceRegistry, mosquitto_hash
from tests.support.stack import Watcher, mqtt5_client


def test_anonymous_connections_are_refused(stack):
    c, rc = mqtt5_client(stack)
    c.loop_stop()
    assert rc is not None and rc.is_failure and rc == ReasonCode(mqtt.CONNACK >> 4, "Not authorized")


def test_a_wrong_password_is_refused(stack):
    stack.add_device("auth-a")
    c, rc = mqtt5_client(stack, "auth-a", "not-the-password")
    c.loop_stop()
    assert rc is not None and rc.is_failure


def test_a_kit_cannot_publish_under_another_kits_topic(stack):
    password_a = stack.add_device("auth-a")
    stack.add_device("auth-b")
    with Watcher(stack.mqtt_port, f"{wire.TOPIC_ROOT}/+/readings", *stack.collector_account()) as watcher:
        kit_a, rc = mqtt5_client(stack, "auth-a", password_a)
        assert not rc.is_failure
        acks: dict[int, ReasonCode] = {}
        kit_a.on_publish = lambda c, u, mid, rc, props: acks.__setitem__(mid, rc)
        other = kit_a.publish(wire.readings_topic("auth-b"), b"spoofed", qos=1)
        # The kit's own reading, sent after the spoofed one, is the sentinel: the
        # broker handles one connection's publishes in order, so once the
        # watcher has it, the spoofed one would have arrived before it.
        own = kit_a.publish(wire.readings_topic("auth-a"), b"own", qos=1)
        other.wait_for_publish(5)
        own.wait_for_publish(5)
        sentinel = watcher.next()
        seen = [(m.topic, m.payload) for m in [sentinel, *watcher.drain()]]
        kit_a.disconnect()
        kit_a.loop_stop()
    assert not acks[own.mid].is_failure
    # Mosquitto answers a forbidden MQTT 5 publish with "Not authorized" and drops it.
    assert acks[other.mid].is_failure
    assert seen == [(wire.readings_topic("auth-a"), b"own")]


def test_a_kit_cannot_read_other_topics(stack):
    password_a = stack.add_device("auth-a")
    password_b = stack.add_device("auth-b")
    # The kit's account may read nothing, so no message can serve as a sentinel
    # for it; Watcher.sync() (a round trip on the spy's own connection) takes
    # its place: afterwards, anything the broker routed to the spy has arrived.
    spy = Watcher(stack.mqtt_port, [f"{wire.TOPIC_ROOT}/#", wire.readings_topic("auth-a")], "auth-a", password_a,
                  protocol=mqtt.MQTTv5, require_granted=False)
    try:
        # Mosquitto grants the subscriptions and enforces the read ACL on each
        # message, so the spy really is subscribed and the check below is not vacuous.
        assert [rc.value for rc in spy.granted] == [1, 1], [str(rc) for rc in spy.granted]
        kit_b, _ = mqtt5_client(stack, "auth-b", password_b)
        kit_b.publish(wire.readings_topic("auth-b"), b"private", qos=1).wait_for_publish(5)
        kit_b.publish(wire.status_topic("auth-b"), b"private", qos=1, retain=True).wait_for_publish(5)
        kit_b.publish(wire.status_topic("auth-b"), b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained message
        spy.sync()
        received = [m.topic for m in spy.drain()]
        kit_b.disconnect()
        kit_b.loop_stop()
    finally:
        spy.close()
    assert received == []


def test_password_file_uses_mosquitto_passwd_format():
    salt = bytes(range(12))
    # Same password and salt as `mosquitto_passwd` would use give the same line.
    assert mosquitto_hash("secret", salt).startswith("$7$101$AAECAwQFBgcICQoL$")


def test_acl_lets_kits_write_only_their_own_prefix(tmp_path):
    acl = DeviceRegistry(tmp_path / "devices.json").acl_file()
    assert "pattern write airtrail/v1/%u/readings" in acl
    assert "pattern read" not in acl
