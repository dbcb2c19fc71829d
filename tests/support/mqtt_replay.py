"""Conversations with a scripted MQTT 5 broker, for airkit.mqtt.

Each scenario gives the kit's client a socket that replays the broker's bytes
(as umqtt's own test does with a BytesIO) and records what the kit sends,
then returns plain values: the exact bytes sent (hex), what the client
returned or raised (class name, reason code, message) and whether it is
still connected. The module runs unchanged under CPython and MicroPython
(tests/test_kit_mqtt5.py runs it under both and compares), so no typing and
no f-strings.
"""

from airkit.mqtt import MQTTClient, MQTTError, decode_properties

# CONNACK (section 3.2): flags, reason code, properties.
CONNACK_OK = b"\x20\x03\x00\x00\x00"


class ReplaySocket:
    """A connected socket whose peer is a script: recv() hands out the
    broker's bytes (then b"", a closed connection), sendall() records the kit's."""

    def __init__(self, incoming):
        self.incoming = incoming
        self.pos = 0
        self.sent = bytearray()
        self.closed = False

    def recv(self, n):
        chunk = self.incoming[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk

    def sendall(self, data):
        self.sent += data

    def settimeout(self, seconds):
        pass

    def close(self):
        self.closed = True


def _client(keepalive=60):
    client = MQTTClient("kit-01", "unused", user="kit-01", password="pw", keepalive=keepalive)
    client.set_last_will("t/s", "off", retain=True, qos=1)
    return client


def _outcome(fn):
    try:
        return ["returned", fn()]
    except MQTTError as exc:
        return [type(exc).__name__, exc.reason, str(exc)]


def converse(broker, action=None, keepalive=60):
    """Connect a client to a broker that answers ``broker`` (bytes: the
    CONNACK and whatever follows), run ``action(client)``, and report."""
    sock = ReplaySocket(broker)
    client = _client(keepalive)
    result = {"connect": _outcome(lambda: client.connect(sock=sock))}
    connect_bytes = bytes(sock.sent)
    sock.sent = bytearray()
    if action is not None:
        result["action"] = _outcome(lambda: action(client))
    result["connect_sent"] = connect_bytes.hex()
    result["sent"] = bytes(sock.sent).hex()
    result["connected"] = client.connected
    result["keepalive"] = client.keepalive
    result["max_packet"] = client.max_packet
    return result


def _publish(topic, payload, qos=1, retain=False):
    return lambda client: client.publish(topic, payload, retain=retain, qos=qos)


def _puback(pid, reason=None, props=b""):
    # Section 3.4: the reason code and the properties may be left out.
    if reason is None:
        return b"\x40\x02" + bytes((pid >> 8, pid & 0xFF))
    body = bytes((pid >> 8, pid & 0xFF, reason)) + (bytes((len(props),)) + props if props else b"")
    return bytes((0x40, len(body))) + body


def _reason_string(text):
    return b"\x1f" + bytes((0, len(text))) + text.encode()


SCENARIOS = {
    "connect_accepted": lambda: converse(CONNACK_OK),
    "connect_session_present": lambda: converse(b"\x20\x03\x01\x00\x00"),
    # Server Keep Alive 20 s, Maximum Packet Size 64, a Reason String and a
    # User Property the kit skips; then a message too large for that size.
    "connack_properties": lambda: converse(
        b"\x20\x17\x00\x00\x14" + b"\x13\x00\x14" + b"\x27\x00\x00\x00\x40" + _reason_string("hi")
        + b"\x26\x00\x01k\x00\x01v",
        _publish("t", b"x" * 64)),
    "connack_bad_user_name_or_password": lambda: converse(b"\x20\x03\x00\x86\x00"),
    "connack_not_authorized_with_reason_string": lambda: converse(
        b"\x20\x0a\x00\x87\x07" + _reason_string("nope")),
    "connack_from_an_mqtt311_broker": lambda: converse(b"\x20\x02\x00\x01"),
    "connack_server_busy": lambda: converse(b"\x20\x03\x00\x89\x00"),
    "publish_qos1_success_in_short_form": lambda: converse(CONNACK_OK + _puback(1), _publish("a/b", b"hello")),
    "publish_qos1_no_matching_subscribers_is_success": lambda: converse(
        CONNACK_OK + _puback(1, 0x10), _publish("a/b", b"hello")),
    "publish_that_must_reach_someone_nobody_subscribes_to": lambda: converse(
        CONNACK_OK + _puback(1, 0x10), lambda client: client.publish("a/b", b"hello", qos=1, must_reach=True)),
    "publish_retained_status": lambda: converse(CONNACK_OK + _puback(1, 0x00, b""), _publish("s", b"on", retain=True)),
    "publish_refused_not_authorized": lambda: converse(CONNACK_OK + _puback(1, 0x87), _publish("a/b", b"hello")),
    "publish_refused_quota_with_reason_string": lambda: converse(
        CONNACK_OK + _puback(1, 0x97, _reason_string("quota")), _publish("a/b", b"hello")),
    "publish_refusal_of_another_packet_is_not_ours": lambda: converse(
        CONNACK_OK + b"\xd0\x00" + _puback(999, 0x87) + _puback(1), _publish("a/b", b"hello")),
    "publish_in_parts_is_one_message": lambda: converse(
        CONNACK_OK + _puback(1), _publish("a/b", (b'{"r":[', b'1]}'))),
    "publish_qos0_waits_for_nothing": lambda: converse(CONNACK_OK, _publish("a/b", b"hi", qos=0)),
    "broker_disconnects_with_a_reason": lambda: converse(
        CONNACK_OK + b"\xe0\x02\x8e\x00", _publish("a/b", b"hello")),
    "broker_closes_without_a_puback": lambda: converse(CONNACK_OK, _publish("a/b", b"hello")),
    "clean_disconnect": lambda: converse(CONNACK_OK, lambda client: client.disconnect()),
    "ping": lambda: converse(CONNACK_OK + b"\xd0\x00", lambda client: client.ping()),
    # Properties by themselves: a Subscription Identifier (a variable byte
    # integer, 300), a User Property skipped, Message Expiry Interval.
    "decode_properties": lambda: {"props": sorted(decode_properties(
        b"\x0f" + b"\x0b\xac\x02" + b"\x26\x00\x01k\x00\x01v" + b"\x02\x00\x00\x0e\x10")[0].items())},
}


def run_all():
    out = {}
    for name in SCENARIOS:
        out[name] = SCENARIOS[name]()
    return out
