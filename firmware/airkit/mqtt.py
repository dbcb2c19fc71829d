# A small MQTT 5 client for the kit: connect (user name, password, last will,
# optional TLS), QoS 0/1 publish that waits for the PUBACK of its own packet
# id and raises PublishRefused when that PUBACK carries a refusal, keep-alive
# pings, disconnect. Nothing else: the kit never subscribes (so no SUBSCRIBE
# or SUBACK), and it sends no topic aliases or user properties. Properties the
# broker sends are parsed; the kit uses Server Keep Alive, Maximum Packet Size
# and Reason String and skips the rest.
#
# Why MQTT 5 and not 3.1.1: a 3.1.1 PUBACK has no reason code, and Mosquitto
# answers a publish its ACL refuses with a normal PUBACK (it drops the
# message). A kit whose account may not publish on its topic then deleted
# every reading from flash for a message nobody stored. MQTT 5 says so:
# PUBACK reason code 0x87 Not authorized (section 3.4.2.1).
#
# Like micropython-lib's umqtt.simple it is blocking and raises on every error
# (MQTTError and its subclasses, or the socket's OSError); it never reconnects
# by itself. The reconnect policy is a layer above (uplink.Uplink), so this
# file stays about the protocol. Section numbers refer to the MQTT Version 5.0
# OASIS Standard (2019).
#
# Runs unchanged on MicroPython (ESP32) and CPython (virtual kits, tests).

from .ticks import ticks_diff, ticks_ms

# Fixed-header packet types, section 2.1.2 (upper nibble).
CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

# Reason codes (section 2.4, table 2-6) the kit can meet in a CONNACK
# (3.2.2.2), a PUBACK (3.4.2.1) or a DISCONNECT from the broker (3.14.2.1).
# Below 0x80 is success, with one exception for the kit: a PUBACK 0x10 "No
# matching subscribers" means the broker took the message and dropped it, as
# nobody (not even a collector's offline session) subscribes to its topic. For
# a message that must reach someone (readings) that is not delivered.
NO_SUBSCRIBERS = 0x10
NOT_AUTHORIZED = 0x87
# One string, and _FIXED_SIZE below one bytes object: as two dicts they kept
# ~0.9 KB more of the kit's heap (the compiled module, measured under MicroPython).
_REASONS = ("|10 no matching subscribers|80 unspecified error|81 malformed packet|82 protocol error|83 implementation specific error"
            "|84 unsupported protocol version|85 client identifier not valid|86 bad user name or password"
            "|87 not authorized|88 server unavailable|89 server busy|8a banned|8b server shutting down"
            "|8d keep alive timeout|8e session taken over|90 topic name invalid|95 packet too large"
            "|97 quota exceeded|99 payload format invalid|9a retain not supported|9b QoS not supported"
            "|9c use another server|9d server moved|9f connection rate exceeded|")

# What to do about a refused login, for the person reading the console.
_LOGIN_ADVICE = ("the user name or password does not match the collector's device registry: "
                 "check `airtrail device list`, then re-provision the kit (`airtrail kit provision`)")
_CONNECT_ADVICE = {
    # A broker that speaks only MQTT 3.1.1 answers in 3.1.1, return code 1
    # (3.1.1 section 3.2.2.3); MQTT 5 section 3.1.2.2 allows that answer.
    0x01: "the broker speaks only MQTT 3.1.1 or older; the kit needs MQTT 5 (Mosquitto 1.6 or later)",
    0x84: "the broker does not speak MQTT 5; the kit needs Mosquitto 1.6 or later",
    0x86: _LOGIN_ADVICE,
    # Mosquitto answers 0x87, not 0x86, to a wrong password or an unknown user.
    NOT_AUTHORIZED: _LOGIN_ADVICE,
}

# Property identifiers whose value has a fixed size (section 2.2.2.2, table
# 2-4): Payload Format Indicator, Request Problem/Response Information,
# Maximum QoS, Retain Available, the three "... Available" bytes; Server Keep
# Alive, Receive Maximum, Topic Alias (Maximum); Message Expiry, Session Expiry
# and Will Delay Intervals, Maximum Packet Size. 0x0B Subscription Identifier
# is a variable byte integer, 0x26 User Property a pair of strings; every
# other property is one string or binary data with a 16-bit length.
# The digit at position <identifier> is that size in bytes, 0 for the others
# (one bytes object rather than a dict).
_FIXED_SIZE = b"0140000000000000040200014100000002221104111"
SERVER_KEEP_ALIVE = 0x13  # 3.2.2.3.14: the client must use it instead of its own
MAXIMUM_PACKET_SIZE = 0x27  # 3.2.2.3.6: the client must not send anything larger
REASON_STRING = 0x1F  # 3.2.2.3.9, 3.4.2.2.2, 3.14.2.2.3: a human-readable reason


class MQTTError(OSError):
    """A protocol-level failure: refused connection, missing PUBACK, closed socket.

    A subclass of OSError so the layer above can treat every way a connection
    breaks alike. ``reason`` is the MQTT 5 reason code when the broker gave
    one, else None.
    """

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason


class ConnectRefused(MQTTError):
    """CONNACK with a reason code >= 0x80 (section 3.2.2.2): bad password,
    unknown kit, banned, ... The message says what to do."""


class PublishRefused(MQTTError):
    """PUBACK with a reason code >= 0x80 (section 3.4.2.1), e.g. 0x87 Not
    authorized: the broker did not take the message, so the kit must keep
    it; or 0x10 No matching subscribers to a message that must reach someone:
    the broker dropped it. The connection is still good; the caller decides
    what next."""


def describe(reason, props=None):
    """'0x87 not authorized', plus the broker's Reason String if ``props`` has one."""
    text = "0x%02x" % reason
    at = _REASONS.find("|%02x " % reason) if reason >= 0x80 or reason == NO_SUBSCRIBERS else -1
    if at >= 0:
        text += _REASONS[at + 3:_REASONS.index("|", at + 1)]
    if props and REASON_STRING in props:
        text += " (%s)" % props[REASON_STRING].decode()
    return text


def _utf8(s):
    # Section 1.5.4: UTF-8 strings (and 1.5.6 binary data) are prefixed by
    # their length as 16 bits.
    if isinstance(s, str):
        s = s.encode()
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


def encode_remaining_length(n):
    """Section 1.5.5 Variable Byte Integer (the remaining length, property
    lengths): 7 bits per byte, high bit set when more bytes follow."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf, i=0):
    """Section 1.5.5: the Variable Byte Integer at buf[i]; (value, index after it)."""
    value = 0
    shift = 0
    while True:
        if i >= len(buf) or shift > 21:  # at most four bytes
            raise MQTTError("malformed variable byte integer from the broker")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def decode_properties(buf, i=0):
    """Section 2.2.2: the properties at buf[i] (their length first).

    Returns ({identifier: value}, index after them): integers as ints,
    strings and binary data as bytes. User Properties (0x26) are skipped: the
    kit has no use for them.
    """
    length, i = decode_varint(buf, i)
    end = i + length
    if end > len(buf):
        raise MQTTError("malformed properties from the broker")
    found = {}
    while i < end:
        ident = buf[i]
        i += 1
        size = _FIXED_SIZE[ident] - 48 if ident < len(_FIXED_SIZE) else 0
        if size:
            value = int.from_bytes(buf[i:i + size], "big")
            i += size
        elif ident == 0x0B:
            value, i = decode_varint(buf, i)
        else:
            size = buf[i] << 8 | buf[i + 1]
            value = bytes(buf[i + 2:i + 2 + size])
            i += 2 + size
            if ident == 0x26:
                i += 2 + (buf[i] << 8 | buf[i + 1])  # the pair's second string
                continue
        found[ident] = value
    if i != end:
        raise MQTTError("malformed properties from the broker")
    return found, end


def connect_packet(client_id, user=None, password=None, keepalive=60, clean_start=True,
                   will_topic=None, will_msg=None, will_retain=True, will_qos=1):
    """The CONNECT packet (section 3.1) as bytes.

    No CONNECT properties (3.1.2.11) and no will properties (3.1.3.2): their
    defaults are what the kit wants. Session Expiry Interval 0 ends the
    session with the connection, as 3.1.1's clean session did; the kit keeps
    its own state (the flash queue), not the broker.
    """
    flags = 0x02 if clean_start else 0  # 3.1.2.4 Clean Start
    payload = _utf8(client_id)  # 3.1.3.1
    if will_topic is not None:
        # 3.1.2.5-3.1.2.7: Will Flag, Will QoS, Will Retain; 3.1.3.2-3.1.3.4:
        # will properties (none: length 0), will topic, will payload.
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += b"\x00" + _utf8(will_topic) + _utf8(will_msg)
    if user is not None:
        flags |= 0x80  # 3.1.2.8 User Name Flag
        payload += _utf8(user)
        if password is not None:
            flags |= 0x40  # 3.1.2.9 Password Flag
            payload += _utf8(password)
    # 3.1.2.1-3.1.2.3 protocol name "MQTT", version 5, flags; 3.1.2.10 Keep
    # Alive (seconds); 3.1.2.11 properties: none (length 0).
    variable = b"\x00\x04MQTT\x05" + bytes((flags, keepalive >> 8, keepalive & 0xFF, 0))
    body = variable + payload
    return bytes((CONNECT,)) + encode_remaining_length(len(body)) + body


def publish_header(topic, payload_len, qos=0, retain=False, pid=0, dup=False):
    """Everything of a PUBLISH packet (section 3.3) before the payload: fixed
    header, topic (3.3.2.1), packet id for QoS 1 (3.3.2.2), and no
    properties (3.3.2.3, length 0)."""
    topic = _utf8(topic)
    length = len(topic) + payload_len + (3 if qos else 1)
    first = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    head = bytes((first,)) + encode_remaining_length(length) + topic
    if qos:
        head += bytes((pid >> 8, pid & 0xFF))
    return head + b"\x00"


def reason_and_properties(body, at):
    """The reason code at body[at] and the properties after it: CONNACK
    (at=1, section 3.2.2), PUBACK (at=2, 3.4.2), DISCONNECT (at=0, 3.14.2).
    Either may be left out at the end of the packet: the reason then is 0x00
    (Success, Normal disconnection), the properties none (3.4.2.1, 3.14.2.1)."""
    reason = body[at] if len(body) > at else 0
    return reason, decode_properties(body, at + 1)[0] if len(body) > at + 1 else {}


def _not_connected(*args):
    raise MQTTError("not connected")


class MQTTClient:
    # How long to wait for CONNACK, PUBACK or PINGRESP before declaring the
    # connection dead. Class attributes, to be overridden per instance.
    TIMEOUT_MS = 10000

    def __init__(self, client_id, server, port=1883, user=None, password=None, keepalive=60,
                 tls=False, ca_file=None, server_hostname=None):
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.tls = tls
        self.ca_file = ca_file
        self.server_hostname = server_hostname or server
        self.will = None
        self.sock = None
        self._recv = _not_connected
        self._send = _not_connected
        self.pid = 0
        self.last_tx = 0
        self.max_packet = 0  # the broker's Maximum Packet Size; 0: no limit given

    def set_last_will(self, topic, msg, retain=True, qos=1):
        """The message the broker publishes for us if we vanish (section 3.1.2.5).
        The broker checks its ACL when it publishes the will, not at CONNECT."""
        self.will = (topic, msg, retain, qos)

    # -- connection ---------------------------------------------------------

    def _open(self):
        import socket  # here, not at the top: the pure packet functions run without it

        info = socket.getaddrinfo(self.server, self.port, 0, socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], info[1], info[2])
        sock.settimeout(self.TIMEOUT_MS / 1000)
        try:
            sock.connect(info[-1])
            if self.tls:
                sock = self._wrap_tls(sock)
        except BaseException:
            sock.close()
            raise
        return sock

    def _wrap_tls(self, sock):
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca_file:
            ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # MicroPython has it (docs: library/ssl), its stubs not
            try:
                ctx.load_verify_locations(cafile=self.ca_file)
            except TypeError:  # MicroPython before cafile= was accepted
                with open(self.ca_file, "rb") as f:
                    ctx.load_verify_locations(cadata=f.read())
        else:
            # Encrypted, but the broker is not authenticated: the README says
            # to install the CA file (mqtt.ca_file) to close that gap.
            if hasattr(ctx, "check_hostname"):
                ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # type: ignore[attr-defined]  # as above
        return ctx.wrap_socket(sock, server_hostname=self.server_hostname)

    def connect(self, clean_start=True, sock=None):
        """Open the connection and wait for CONNACK. Returns the session-present
        flag; raises ConnectRefused with advice if the broker refuses.

        ``sock``: an already-connected socket-like object (tests pass a fake one).
        """
        self.close()
        self.sock = sock if sock is not None else self._open()
        # CPython sockets (plain and TLS) have recv/sendall; MicroPython's TLS
        # socket is a stream with read/write only.
        self._recv = getattr(self.sock, "recv", None) or self.sock.read
        self._send = getattr(self.sock, "sendall", None) or self.sock.write
        will = self.will or (None, None, True, 1)
        try:
            self._write(connect_packet(self.client_id, self.user, self.password, self.keepalive,
                                       clean_start, will[0], will[1], will[2], will[3]))
            kind, body = self._read_packet(self.TIMEOUT_MS)
            if kind != CONNACK:
                raise MQTTError("expected CONNACK from the broker, got packet type 0x%02x" % kind)
            if len(body) < 2:
                raise MQTTError("malformed CONNACK from the broker")
            reason, props = reason_and_properties(body, 1)
            if reason:  # any non-zero CONNACK reason is a refusal (3.2.2.2)
                advice = _CONNECT_ADVICE.get(reason)
                raise ConnectRefused("broker refused the connection (CONNACK %s)%s"
                                     % (describe(reason, props), ": " + advice if advice else ""), reason)
        except BaseException:
            self.close()
            raise
        if SERVER_KEEP_ALIVE in props:
            self.keepalive = props[SERVER_KEEP_ALIVE]
        self.max_packet = props.get(MAXIMUM_PACKET_SIZE, 0)
        return bool(body[0] & 1)  # 3.2.2.1.1 Session Present

    def close(self):
        """Drop the connection without DISCONNECT: the broker sends our last will."""
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def disconnect(self):
        """Clean goodbye (section 3.14): the broker discards the last will.
        Remaining Length 0 means reason 0x00 Normal disconnection (3.14.2.1)."""
        if self.sock is not None:
            try:
                self._write(bytes((DISCONNECT, 0)))
            finally:
                self.close()

    @property
    def connected(self):
        return self.sock is not None

    # -- publishing ---------------------------------------------------------

    def _next_pid(self):
        # Section 2.3.1: packet identifiers are 1..65535, never 0.
        self.pid = self.pid % 65535 + 1
        return self.pid

    def publish(self, topic, msg, retain=False, qos=0, timeout_ms=None, must_reach=False):
        """Publish ``msg`` (bytes, str, or a tuple of bytes parts sent back to
        back). With qos=1, return only once the broker's PUBACK for this packet
        id has arrived (section 4.3.2); raise MQTTError if it does not within
        ``timeout_ms``, and close the connection, since the stream can no
        longer be trusted. A PUBACK with a reason code >= 0x80 raises
        PublishRefused and leaves the connection open: the broker did not
        take the message, but the stream is intact. So does 0x10 No matching
        subscribers when the message ``must_reach`` a subscriber."""
        if self.sock is None:
            raise MQTTError("not connected")
        if isinstance(msg, str):
            msg = msg.encode()
        parts = msg if isinstance(msg, tuple) else (msg,)
        size = 0
        for part in parts:
            size += len(part)
        pid = self._next_pid() if qos else 0
        head = publish_header(topic, size, qos, retain, pid)
        if self.max_packet and len(head) + size > self.max_packet:
            # 3.2.2.3.6: the broker would disconnect us for it (0x95).
            raise PublishRefused("a message of %d bytes is over the broker's Maximum Packet Size of %d"
                                 % (len(head) + size, self.max_packet), 0x95)
        try:
            # Header and parts are written separately: a large batch is never
            # copied into one buffer on a heap of ~100 KB.
            self._write(head)
            for part in parts:
                self._write(part)
            if qos == 1:
                reason, props = reason_and_properties(self._wait_for(PUBACK, pid, timeout_ms or self.TIMEOUT_MS), 2)
        except BaseException:
            self.close()
            raise
        if qos == 1 and (reason >= 0x80 or (must_reach and reason == NO_SUBSCRIBERS)):
            raise PublishRefused("the broker %s the message on %s (PUBACK %s)"
                                 % ("dropped" if reason == NO_SUBSCRIBERS else "refused", topic, describe(reason, props)), reason)
        return pid

    def ping(self, timeout_ms=None):
        """PINGREQ and wait for PINGRESP (section 3.12): proves the link is alive."""
        if self.sock is None:
            raise MQTTError("not connected")
        try:
            self._write(bytes((PINGREQ, 0)))
            self._wait_for(PINGRESP, None, timeout_ms or self.TIMEOUT_MS)
        except BaseException:
            self.close()
            raise

    def ping_if_due(self):
        """Ping when half the keep-alive has passed without sending anything.

        Section 3.1.2.10: the broker drops a client silent for 1.5 x keep
        alive; pinging at half leaves room for a slow hotspot.
        """
        if self.keepalive and ticks_diff(ticks_ms(), self.last_tx) >= self.keepalive * 500:
            self.ping()
            return True
        return False

    # -- wire ---------------------------------------------------------------

    def _write(self, data):
        self._send(data)
        self.last_tx = ticks_ms()

    def _read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self._recv(n - len(buf))
            if not chunk:
                raise MQTTError("the broker closed the connection")
            buf += chunk
        return buf

    def _read_packet(self, timeout_ms):
        self.sock.settimeout(max(timeout_ms, 1) / 1000)
        kind = self._read_exact(1)[0]
        head = self._read_exact(1)
        while head[-1] & 0x80 and len(head) < 4:  # section 1.5.5: at most four bytes
            head += self._read_exact(1)
        length = decode_varint(head)[0]
        return kind, self._read_exact(length) if length else b""

    def _wait_for(self, kind, pid, timeout_ms):
        start = ticks_ms()
        while True:
            left = timeout_ms - ticks_diff(ticks_ms(), start)
            if left <= 0:
                raise MQTTError("no answer from the broker within %d ms" % timeout_ms)
            try:
                got, body = self._read_packet(left)
            except OSError as exc:
                if isinstance(exc, MQTTError):
                    raise
                raise MQTTError("no answer from the broker within %d ms (%s)" % (timeout_ms, exc))
            if got & 0xF0 == kind and (pid is None or (len(body) >= 2 and (body[0] << 8 | body[1]) == pid)):
                return body
            if got == DISCONNECT:
                # Section 3.14: an MQTT 5 broker says why before it closes
                # (0x8E session taken over, 0x8D keep alive timeout, ...).
                reason, props = reason_and_properties(body, 0)
                raise MQTTError("the broker disconnected the kit (DISCONNECT %s)" % describe(reason, props), reason)
            # Anything else (a PINGRESP, a late PUBACK of an older packet, a
            # publish we never subscribed to) is read and ignored.
