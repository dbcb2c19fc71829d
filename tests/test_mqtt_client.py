"""The collector's lean MQTT receive path agrees with paho and loses nothing.

The fast path decodes the common PUBLISH itself and acks whole batches in one
write; these tests hold it to paho's own decoder and encoder, and run the
collector end to end on both paths against the real broker.
"""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from airkit import contract as wire
from collector import mqtt_client
from collector.ingest import Inbound, ingest
from collector.mqtt_client import BufferedSocket, CollectorClient, decode_plain_publish, encode_pubacks
from collector.mqtt_source import MqttSource
from collector.service import Collector
from collector.settings import MqttSettings
from tests.support.stack import Publisher, mqtt5_client, publish_all, count_points, message, reading, select_readings, wait_for


def _publish_packet(topic: bytes, qos: int, mid: int, properties: bytes, payload: bytes) -> bytes:
    """A PUBLISH packet as paho sees it after the fixed header."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    return body + properties + payload


def _properties(expiry: int | None, content_type: str | None, user: list[tuple[str, str]]) -> bytes:
    props = Properties(PacketTypes.PUBLISH)
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    if content_type is not None:
        props.ContentType = content_type
    if user:
        props.UserProperty = user
    return props.pack()


mqtt_text = st.characters(codec="utf-8", exclude_characters="\x00")  # what MQTT allows in a string
topics = st.text(mqtt_text, min_size=1, max_size=40).filter(lambda t: "+" not in t and "#" not in t).map(str.encode)
property_blocks = st.one_of(
    st.just(b"\x00"),
    st.builds(
        _properties,
        st.none() | st.integers(0, 2**32 - 1),
        st.none() | st.text(mqtt_text, max_size=10),
        st.lists(st.tuples(st.text(mqtt_text, max_size=5), st.text(mqtt_text, max_size=5)), max_size=2),
    ),
)


@given(topic=topics, qos=st.integers(0, 2), mid=st.integers(1, 65535), props=property_blocks,
       payload=st.binary(max_size=300), dup=st.booleans(), retain=st.booleans())
@settings(max_examples=400, deadline=None)
def test_the_fast_decoder_agrees_with_paho_or_leaves_the_packet_to_it(topic, qos, mid, props, payload, dup, retain):
    header = 0x30 | (dup << 3) | (qos << 1) | retain
    packet = _publish_packet(topic, qos, mid, props, payload)
    fast = decode_plain_publish(header, bytearray(packet))
    paho = _packet.decode_publish(header, bytearray(packet), MQTTProtocolVersion.MQTTv5)
    if fast is None:
        # Only what the fast path is not for: QoS 2, or MQTT 5 properties.
        assert qos == 2 or props != b"\x00"
        return
    assert props == b"\x00" and qos < 2
    assert fast == (paho.topic.decode(), bytes(paho.payload), paho.mid if qos else 0, paho.qos, bool(paho.retain))
    assert paho.properties.isEmpty()


@given(data=st.binary(max_size=64), header=st.integers(0x30, 0x3F))
@settings(max_examples=400, deadline=None)
def test_the_fast_decoder_never_accepts_a_packet_paho_finds_malformed(data, header):
    fast = decode_plain_publish(header, bytearray(data))
    if fast is None:
        return
    paho = _packet.decode_publish(header, bytearray(data), MQTTProtocolVersion.MQTTv5)  # raises if malformed
    assert fast == (paho.topic.decode(), bytes(paho.payload), paho.mid if fast[3] else 0, paho.qos, bool(paho.retain))


def test_a_topic_that_is_not_utf8_is_left_to_paho_and_quarantined_not_fatal():
    assert decode_plain_publish(0x32, bytearray(_publish_packet(b"airtrail/v1/\xff/readings", 1, 7, b"\x00", b"{}"))) is None
    # paho's path hands it to on_message, where reading msg.topic would raise
    # inside paho's network thread; the source delivers it for quarantine.
    delivered: list[Inbound] = []
    source = MqttSource(MqttSettings(), None, None, deliver=delivered.append)
    msg = mqtt.MQTTMessage(mid=7, topic=b"airtrail/v1/\xff/readings")
    msg.payload, msg.qos = b"{}", 1
    source._on_message(source.client, None, msg)
    outcome = ingest(delivered[0])
    assert outcome.quarantine is not None and outcome.quarantine.reason == "bad_topic"


@given(st.lists(st.integers(1, 65535), max_size=50))
def test_batched_pubacks_are_pahos_pubacks_back_to_back(mids):
    assert encode_pubacks(mids) == b"".join(struct.pack("!BBH", 0x40, 2, mid) for mid in mids)


@given(chunks=st.lists(st.binary(min_size=1, max_size=3000), max_size=20), reads=st.lists(st.integers(1, 5000), min_size=1))
@settings(max_examples=100, deadline=None)
def test_the_buffered_socket_returns_the_stream_unchanged_however_it_is_read(chunks, reads):
    left, right = socket.socketpair()
    try:
        right.setblocking(False)
        buffered = BufferedSocket(right)
        left.sendall(b"".join(chunks))
        got = b""
        i = 0
        while True:
            try:
                part = buffered.recv(reads[i % len(reads)])
            except BlockingIOError:
                break
            assert 0 < len(part) <= reads[i % len(reads)]
            got += part
            i += 1
        assert got == b"".join(chunks)
        assert buffered.pending() == 0
        left.close()
        assert buffered.recv(10) == b""  # end of stream reaches paho as it would unbuffered
    finally:
        left.close()
        right.close()


def test_pending_counts_what_is_buffered_so_paho_does_not_wait_in_select():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"abcdefgh")  # on a socketpair, readable as soon as sendall returns
        buffered = BufferedSocket(right)
        assert buffered.recv(3) == b"abc"
        assert buffered.pending() == 5
        assert buffered.fileno() == right.fileno()


def test_the_installed_paho_takes_the_fast_path():
    # A paho release that renames the internals turns the fast path off; this
    # says so here instead of in a benchmark.
    client = CollectorClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True, on_publish_fast=lambda *a: None)
    assert client.fast_path


def test_without_manual_acks_the_fast_path_stays_off_so_paho_still_acknowledges():
    client = CollectorClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=False, on_publish_fast=lambda *a: None)
    assert not client.fast_path


def _stream(stack, device: str, n: int) -> None:
    pub = Publisher(stack, device)
    for seq in range(0, n, 10):
        pub.publish(message(device, [reading(s) for s in range(seq, min(seq + 10, n))]))
        if seq % 200 == 0:
            pub.publish(message(device, [reading(seq)]))  # a redelivery, stored once
    pub.wait_all()
    pub.close()


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "paho-path"])
def test_both_receive_paths_store_a_stream_exactly_once(stack, collector_settings, monkeypatch, fast):
    if not fast:
        monkeypatch.setattr(mqtt_client, "fast_path_supported", lambda: False)
    with Collector(collector_settings) as collector:
        assert collector.wait_subscribed()
        assert collector.source.client.fast_path is fast
        _stream(stack, "path-kit", 2000)
        wait_for(lambda: count_points(collector_settings, "path-kit") >= 2000, what="2,000 points")
        assert collector.wait_idle()
    assert count_points(collector_settings, "path-kit") == 2000
    assert [row[1] for row in select_readings(collector_settings, "path-kit")] == list(range(2000))


def test_messages_with_mqtt5_properties_and_retained_status_take_pahos_path_and_are_stored(stack, collector, collector_settings):
    device = "props-kit"
    kit, connack = mqtt5_client(stack, device, stack.add_device(device))
    try:
        assert connack is not None and not connack.is_failure
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        props.UserProperty = [("fw-build", "abc123")]
        props.MessageExpiryInterval = 3600
        for seq in range(20):
            kit.publish(wire.readings_topic(device), message(device, [reading(seq)]), qos=1, properties=props).wait_for_publish(10)
        status = b'{"v":1,"dev":"props-kit","online":true,"batt_v":4.9}'
        kit.publish(wire.status_topic(device), status, qos=1, retain=True).wait_for_publish(10)
        wait_for(lambda: count_points(collector_settings, device) == 20, what="20 points")
        wait_for(lambda: getattr(collector.states.get(device), "status", {}).get("batt_v") == 4.9, what="status applied")
    finally:
        kit.publish(wire.status_topic(device), b"", qos=1, retain=True).wait_for_publish(5)
        kit.disconnect()
        kit.loop_stop()


def test_a_full_batch_larger_than_one_socket_read_arrives_whole(stack, collector, collector_settings):
    device = "big-kit"
    payload = message(device, [reading(s, pm1=1.5, pm25=2.5, pm10=3.5, temp=18.25, rh=55.5, pressure=1001.25,
                                       lat=53.4808, lon=-2.2426, hdop=0.9) for s in range(wire.MAX_BATCH)])
    assert len(payload) > mqtt_client.READ_CHUNK
    publish_all(stack, device, [payload] * 3)  # and again: redeliveries of a whole batch are duplicates, not new points
    wait_for(lambda: collector.counts()["duplicates"] == 2 * wire.MAX_BATCH, what="two duplicate batches")
    assert collector.wait_idle()  # duplicates are counted before the batch they came with is written
    assert count_points(collector_settings, device) == wire.MAX_BATCH
