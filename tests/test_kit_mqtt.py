"""The kit's MQTT 5 client (firmware/airkit/mqtt.py).

Wire-level behaviour is checked against the bytes the spec prescribes, with a
connected socket pair standing in for the broker's end of the TCP connection
(tests/test_kit_mqtt5.py replays whole conversations, also under MicroPython);
everything else runs against a real Mosquitto: the lead's `stack` (with the
device registry's credentials and ACL) and, for TLS, a Mosquitto with a TLS
listener and a throw-away CA started here.
"""

from __future__ import annotations

import queue
import socket
import subprocess
import uuid

import pytest

from airkit import contract, encode
from airkit.mqtt import ConnectRefused, MQTTClient, MQTTError, PublishRefused, connect_packet, encode_remaining_length, publish_header
from collector.stack import free_port
from tests.support.micropython import requires_micropython, run_micropython
from tests.support.stack import Watcher, start_plain_mosquitto


# -- wire format ---------------------------------------------------------------


def test_remaining_length_encoding_matches_the_spec_table():
    # MQTT 5 section 1.5.5 (3.1.1 section 2.2.3, table 2.4): the boundaries of each byte count.
    assert encode_remaining_length(0) == b"\x00"
    assert encode_remaining_length(127) == b"\x7f"
    assert encode_remaining_length(128) == b"\x80\x01"
    assert encode_remaining_length(16383) == b"\xff\x7f"
    assert encode_remaining_length(16384) == b"\x80\x80\x01"
    assert encode_remaining_length(2097151) == b"\xff\xff\x7f"
    assert encode_remaining_length(268435455) == b"\xff\xff\xff\x7f"


def test_connect_packet_sets_clean_start_will_qos1_retained_user_and_password():
    packet = connect_packet("kit-01", "kit-01", "pw", 60, True, "t/s", "off", True, 1)
    body = (
        b"\x00\x04MQTT\x05"  # protocol name and version 5 (3.1.2.1, 3.1.2.2)
        + bytes([0b11101110])  # user, password, will retain, will QoS 1, will, clean start
        + b"\x00\x3c"  # keep alive 60 s
        + b"\x00"  # no CONNECT properties (3.1.2.11)
        + b"\x00\x06kit-01"
        + b"\x00"  # no will properties (3.1.3.2)
        + b"\x00\x03t/s\x00\x03off"
        + b"\x00\x06kit-01\x00\x02pw"
    )
    assert packet == b"\x10" + bytes([len(body)]) + body


def test_publish_header_for_qos1_carries_the_packet_id_after_the_topic():
    # 3.3.2: topic, packet id, then the properties length (0).
    assert publish_header("a/b", 5, qos=1, retain=True, pid=0x0102) == b"\x33\x0d\x00\x03a/b\x01\x02\x00"


def test_publish_header_for_qos0_has_no_packet_id():
    assert publish_header("a/b", 5) == b"\x30\x0b\x00\x03a/b\x00"


CONNACK_OK = b"\x20\x03\x00\x00\x00"  # 3.2: flags, reason 0x00 Success, properties length 0
PINGRESP = b"\xd0\x00"


def puback(pid: int) -> bytes:
    return b"\x40\x02" + pid.to_bytes(2, "big")


@pytest.fixture
def wire():
    """A kit connected to the broker end of a socket pair (the test plays the broker)."""
    kit_end, broker_end = socket.socketpair()
    broker_end.sendall(CONNACK_OK)
    client = MQTTClient("kit-01", "unused", keepalive=30)
    client.TIMEOUT_MS = 300
    client.connect(sock=kit_end)
    broker_end.settimeout(1)
    broker_end.recv(1024)  # the CONNECT packet
    yield client, broker_end
    client.close()
    broker_end.close()


def test_qos1_publish_returns_only_after_the_puback_for_its_own_packet_id(wire):
    client, broker = wire
    # Before our PUBACK the broker sends a PINGRESP and a PUBACK for another id.
    broker.sendall(PINGRESP + puback(999) + puback(1))
    pid = client.publish("t", b"hello", qos=1)
    assert pid == 1
    assert broker.recv(1024) == publish_header("t", 5, qos=1, pid=1) + b"hello"
    assert client.connected


def test_qos1_publish_without_its_puback_raises_and_drops_the_connection(wire):
    client, broker = wire
    broker.sendall(puback(2))  # someone else's acknowledgement only
    with pytest.raises(MQTTError, match="no answer"):
        client.publish("t", b"x", qos=1)
    assert not client.connected


def test_publish_raises_when_the_broker_closes_the_connection(wire):
    client, broker = wire
    broker.close()
    with pytest.raises(OSError):
        client.publish("t", b"x", qos=1)
    assert not client.connected


def test_packet_ids_skip_zero_when_they_wrap(wire):
    client, broker = wire
    client.pid = 65535
    broker.sendall(puback(1))
    assert client.publish("t", b"x", qos=1) == 1


@requires_micropython
def test_packets_are_byte_identical_under_micropython():
    code = (
        "from airkit.mqtt import connect_packet, publish_header, encode_remaining_length\n"
        "import binascii\n"
        "print(binascii.hexlify(connect_packet('kit-01', 'kit-01', 'pw', 60, True, 't/s', 'off', True, 1)).decode())\n"
        "print(binascii.hexlify(publish_header('a/b', 300, 1, False, 65535)).decode())\n"
        "print(binascii.hexlify(encode_remaining_length(268435455)).decode())\n"
    )
    lines = run_micropython(code).split()
    assert lines == [
        connect_packet("kit-01", "kit-01", "pw", 60, True, "t/s", "off", True, 1).hex(),
        publish_header("a/b", 300, 1, False, 65535).hex(),
        encode_remaining_length(268435455).hex(),
    ]


# -- against the real broker ----------------------------------------------------


def kit_client(port: int, device: str, password: str, **kw) -> MQTTClient:
    client = MQTTClient(device + "-" + uuid.uuid4().hex[:4], "127.0.0.1", port, user=device, password=password, **kw)
    client.set_last_will(contract.status_topic(device), contract.offline_status(device), retain=True, qos=1)
    return client


@pytest.fixture
def device(stack):
    device_id = "mq-" + uuid.uuid4().hex[:8]
    return device_id, stack.add_device(device_id)


@pytest.fixture
def collector_watch(stack):
    watchers = []

    def watch(topic: str) -> Watcher:
        w = Watcher(stack.mqtt_port, topic, *stack.collector_account())
        watchers.append(w)
        return w

    yield watch
    for w in watchers:
        w.close()


def test_kit_publishes_qos1_readings_with_its_registry_credentials(stack, device, collector_watch):
    device_id, password = device
    watch = collector_watch(contract.readings_topic(device_id))
    client = kit_client(stack.mqtt_port, device_id, password)
    client.connect()
    client.publish(contract.readings_topic(device_id), b'{"v":1}', qos=1)
    message = watch.next()
    assert (message.topic, message.payload, message.qos) == (contract.readings_topic(device_id), b'{"v":1}', 1)
    client.disconnect()


def test_a_batch_sent_in_parts_arrives_as_one_message(stack, device, collector_watch):
    # The kit sends a batch's envelope and records without joining them into
    # one buffer; the broker must see the message they make together.
    device_id, password = device
    watch = collector_watch(contract.readings_topic(device_id))
    client = kit_client(stack.mqtt_port, device_id, password)
    client.connect()
    records = [encode.reading_json({"ts": 1_795_000_000 + seq, "clk": "ntp", "seq": seq, "pm25": 1.5}) for seq in range(60)]
    client.publish(contract.readings_topic(device_id), encode.batch_parts(device_id, "0.1.0", records), qos=1)
    assert watch.next().payload == encode.batch_message(device_id, "0.1.0", records)
    client.disconnect()


def test_wrong_password_is_refused_with_advice(stack, device):
    device_id, _ = device
    client = kit_client(stack.mqtt_port, device_id, "not-the-password")
    with pytest.raises(MQTTError, match="provision"):
        client.connect()
    assert not client.connected


def test_wrong_password_is_a_connect_refused_with_mosquittos_reason_code(stack, device):
    device_id, _ = device
    client = kit_client(stack.mqtt_port, device_id, "not-the-password")
    with pytest.raises(ConnectRefused) as refused:
        client.connect()
    assert refused.value.reason == 0x87  # Mosquitto 2 answers Not authorized, not 0x86
    assert "airtrail device list" in str(refused.value)


def test_a_publish_the_acl_refuses_raises_publish_refused_and_reaches_no_one(stack, device, collector_watch):
    # The kit's account may publish only under its own device id; under MQTT
    # 3.1.1 Mosquitto would PUBACK this (and drop it) as if it were stored.
    device_id, password = device
    other = "mq-other-" + uuid.uuid4().hex[:6]
    watch = collector_watch(contract.readings_topic(other))
    client = kit_client(stack.mqtt_port, device_id, password)
    client.connect()
    with pytest.raises(PublishRefused) as refused:
        client.publish(contract.readings_topic(other), b'{"v":1}', qos=1)
    assert refused.value.reason == 0x87
    assert client.connected  # the refusal leaves a good connection
    client.publish(contract.readings_topic(device_id), b'{"v":1}', qos=1)  # its own topic still works
    client.disconnect()
    with pytest.raises(queue.Empty):
        watch.next(timeout=1)


def test_last_will_is_published_retained_when_the_kit_vanishes(stack, device, collector_watch):
    device_id, password = device
    live = collector_watch(contract.status_topic(device_id))
    client = kit_client(stack.mqtt_port, device_id, password)
    client.connect()
    client.close()  # no DISCONNECT: what a power cut or a lost hotspot looks like
    # The broker publishes the will: a subscriber already there gets it live...
    message = live.next()
    assert message.payload.decode() == contract.offline_status(device_id)
    # ...and, the will being published, a subscriber arriving later gets it as the retained status.
    message = collector_watch(contract.status_topic(device_id)).next()
    assert message.payload.decode() == contract.offline_status(device_id)
    assert message.retain


def test_clean_disconnect_sends_no_last_will(stack, device, collector_watch):
    device_id, password = device
    watch = collector_watch(contract.status_topic(device_id))
    client = kit_client(stack.mqtt_port, device_id, password)
    client.connect()
    client.disconnect()
    with pytest.raises(queue.Empty):
        watch.next(timeout=1)


def test_ping_is_answered_by_the_broker(stack, device):
    device_id, password = device
    client = kit_client(stack.mqtt_port, device_id, password)
    client.connect()
    client.ping()
    assert client.connected
    client.disconnect()


def test_ping_if_due_waits_for_half_the_keepalive(stack, device):
    device_id, password = device
    client = kit_client(stack.mqtt_port, device_id, password, keepalive=60)
    client.connect()
    assert client.ping_if_due() is False  # just sent CONNECT
    client.last_tx -= 31_000
    assert client.ping_if_due() is True
    client.disconnect()


# -- TLS ------------------------------------------------------------------------


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """Mosquitto with a TLS listener and a server certificate from a fresh CA."""
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=airtrail test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=some other CA", "-keyout", "other.key", "-out", "other.pem", cwd=d)
    port = free_port()
    proc = start_plain_mosquitto(d, port, f"cafile {d / 'ca.pem'}\ncertfile {d / 'server.pem'}\nkeyfile {d / 'server.key'}\n")
    yield port, d
    proc.terminate()
    proc.wait(timeout=10)


def test_tls_connection_verified_against_the_configured_ca_file(tls_broker):
    port, d = tls_broker
    client = MQTTClient("tls-kit", "127.0.0.1", port, tls=True, ca_file=str(d / "ca.pem"), server_hostname="localhost")
    client.connect()
    client.publish("t", b"x", qos=1)
    client.disconnect()


def test_tls_refuses_a_broker_not_signed_by_the_ca_file(tls_broker):
    port, d = tls_broker
    client = MQTTClient("tls-kit", "127.0.0.1", port, tls=True, ca_file=str(d / "other.pem"), server_hostname="localhost")
    with pytest.raises(OSError):
        client.connect()
    assert not client.connected


def test_tls_without_ca_file_still_encrypts(tls_broker):
    port, _ = tls_broker
    client = MQTTClient("tls-kit", "127.0.0.1", port, tls=True)
    client.connect()
    client.publish("t", b"x", qos=1)
    client.disconnect()
