"""paho-mqtt's client with a lean receive and acknowledge path for the collector.

paho does everything the collector needs (MQTT 5 sessions, reconnects, TLS,
keepalive), but per received PUBLISH it spends about 100 µs of Python: one
``select`` and four ``recv`` calls, a ``Properties`` object built and cleared
field by field, an ``MQTTMessage`` with its own ``Condition``, a topic-matcher
walk, debug-log formatting; and one socket wake-up plus one ``send`` per
acknowledgement. Draining a backlog that is most of the collector's CPU.

This subclass changes four things and nothing else:

- the socket is read in 64 KiB chunks and paho's small reads are served from
  that buffer (``pending()`` tells paho's loop the buffer is not empty, the
  same contract an SSL socket keeps);
- each network wake-up reads every packet already received, not one;
- a QoS 0/1 PUBLISH without MQTT 5 properties (what kits send) is decoded in
  a few slices and handed straight to ``on_publish_fast``; anything else
  (properties, QoS 2, a topic that is not UTF-8) takes paho's own path;
- ``ack_many`` sends the PUBACKs of a whole batch as one write, in order.

It also stops reading while ``paused()`` says the collector holds enough
(see ``collector.inbox``): TCP flow control keeps the rest on the broker. It
never pauses before the connection is up (CONNACK and SUBACK must be read),
and while paused the unread data counts as a sign of life for paho's
keepalive (and as the answer to its pings), so a long catch-up (InfluxDB down,
spool full) is not taken for a dead broker and does not churn the connection.
A broker that dies while we are paused is found once reading resumes.

It leans on paho internals (``_handle_publish``, ``_in_packet``,
``_packet_read``, ``_packet_queue``, ``_create_socket``). ``fast_path_supported``
checks they are there; the tests pin the behaviour against paho's own decoder,
so a paho release that changes them fails the suite instead of losing data,
and without them the client behaves exactly like stock paho.
"""

from __future__ import annotations

import logging
import struct
import time
from importlib.metadata import version
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

log = logging.getLogger("airtrail.mqtt")

PUBACK = 0x40
READ_CHUNK = 65536
# Packets handled per network wake-up: enough to empty a chunk of small
# messages, few enough that keepalive and writes are never starved.
READ_BURST = 512
# How long a paused reader waits before looking again; short next to any
# keepalive, long enough not to spin.
PAUSE_S = 0.005

# (topic, payload, mid, qos, retain) for one PUBLISH taken by the fast path.
FastHandler = Callable[[str, bytes, int, int, bool], None]

_REQUIRED = ("_handle_publish", "_packet_read", "_packet_queue", "_create_socket", "_loop_rc_handle")


def fast_path_supported() -> bool:
    return all(hasattr(mqtt.Client, name) for name in _REQUIRED)


class BufferedSocket:
    """A socket whose small reads come from one large kernel read."""

    __slots__ = ("_sock", "_buf", "_pos")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available == 0:
            data = self._sock.recv(max(n, READ_CHUNK))  # raises BlockingIOError when empty, as paho expects
            if len(data) <= n:
                return data
            self._buf, self._pos = data, n
            return data[:n]
        if available <= n:
            self._buf, self._pos = b"", 0
            return buf[pos:] if pos else buf
        self._pos = pos + n
        return buf[pos : pos + n]

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self._buf) - self._pos + (inner() if inner else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def decode_plain_publish(header: int, packet: bytes | bytearray) -> tuple[str, bytes, int, int, bool] | None:
    """(topic, payload, mid, qos, retain) of an MQTT 5 PUBLISH with no properties, else None.

    ``packet`` is everything after the fixed header. None means "not the
    common case": let paho decode it.
    """
    qos = (header >> 1) & 0x03
    if qos > 1 or len(packet) < 2:
        return None
    end = 2 + ((packet[0] << 8) | packet[1])
    mid = 0
    if qos:
        if len(packet) < end + 2:
            return None
        mid = (packet[end] << 8) | packet[end + 1]
        end += 2
    if len(packet) <= end or packet[end] != 0:  # no room for, or a non-empty, properties block
        return None
    try:
        topic = packet[2 : 2 + ((packet[0] << 8) | packet[1])].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not topic:
        return None
    return topic, bytes(packet[end + 1 :]), mid, qos, bool(header & 0x01)


def encode_pubacks(mids: Sequence[int]) -> bytes:
    """PUBACK packets (success, no properties) for ``mids``, back to back, in order."""
    return struct.pack(f"!{len(mids)}I", *[0x40020000 | mid for mid in mids])


class CollectorClient(mqtt.Client):
    """``mqtt.Client`` with the lean receive and batched acknowledge path."""

    def __init__(self, *args: Any, on_publish_fast: FastHandler, paused: Callable[[], bool] = lambda: False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_publish_fast = on_publish_fast
        self.paused = paused
        self.pauses = 0  # times reading stopped for the consumer to catch up
        self.connect_error: OSError | None = None  # why the last connection attempt failed
        # Only with manual acks: otherwise paho acknowledges inside _handle_publish.
        protocol, manual_ack = getattr(self, "_protocol", None), getattr(self, "_manual_ack", False)
        self.fast_path = fast_path_supported() and protocol == MQTTProtocolVersion.MQTTv5 and manual_ack
        if not self.fast_path:
            log.warning("MQTT fast receive path off (paho-mqtt %s, protocol %s, manual ack %s); using paho's standard path",
                        version("paho-mqtt"), protocol, manual_ack)

    def _create_socket(self) -> Any:
        try:
            sock = super()._create_socket()
        except OSError as exc:
            # paho's on_connect_fail does not say why; keep the cause for it.
            self.connect_error = exc
            raise
        return BufferedSocket(sock) if self.fast_path and getattr(self, "_transport", "tcp") != "websockets" else sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if self._should_pause():
            return self._pause()
        if not self.fast_path:
            return super().loop_read(max_packets)
        # paho's own loop_read ignores max_packets and reads one packet per
        # select(); read everything that has already arrived instead.
        for _ in range(READ_BURST):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            if self._should_pause():
                break
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _should_pause(self) -> bool:
        return self.paused() and self.is_connected()

    def _pause(self) -> MQTTErrorCode:
        self.pauses += 1
        # paho calls loop_read only when the socket is readable: the broker is
        # talking, we are choosing not to listen yet. Say so to the keepalive,
        # and count the unread data as the answer to any PINGREQ outstanding:
        # its PINGRESP is queued behind the messages we are not reading, and
        # paho drops a connection whose PINGREQ goes unanswered for a keepalive
        # period. paho keeps sending PINGREQs, so the broker hears from us.
        mutex = getattr(self, "_msgtime_mutex", None)
        if mutex is not None:
            with mutex:
                self._last_bytes_received = mqtt.time_func()
            self._ping_t = 0.0
        # Data left unread: select() wakes again at once, so wait here briefly.
        time.sleep(PAUSE_S)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        if self.fast_path:
            decoded = decode_plain_publish(self._in_packet["command"], self._in_packet["packet"])
            if decoded is not None:
                self.on_publish_fast(*decoded)
                return MQTTErrorCode.MQTT_ERR_SUCCESS  # acknowledged later, by ack_many
        return super()._handle_publish()

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge QoS 1 messages, in the given order, with one socket write."""
        if not mids:
            return
        if not self.fast_path:
            for mid in mids:
                self.ack(mid, 1)
            return
        self._packet_queue(PUBACK, encode_pubacks(mids), 0, 0)
