# A small MQTT 3.1.1 client for the kit: connect (user name, password, last
# will, optional TLS), QoS 0/1 publish that waits for the PUBACK of its own
# packet id, keep-alive pings, disconnect. Nothing else: the kit never
# subscribes.
#
# Like micropython-lib's umqtt.simple it is blocking and raises on every error
# (MQTTError, or the socket's OSError); it never reconnects by itself. The
# reconnect policy is a layer above (uplink.Uplink), so this file stays about the
# protocol. Section numbers refer to the MQTT 3.1.1 OASIS Standard (2014).
#
# Runs unchanged on MicroPython (ESP32) and CPython (virtual kits, tests).

from .ticks import ticks_diff, ticks_ms

# Fixed-header packet types, MQTT 3.1.1 section 2.2.1 (upper nibble).
CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

# CONNACK return codes, section 3.2.2.3, as advice for the person reading the console.
_REFUSED = {
    1: "the broker does not speak MQTT 3.1.1",
    2: "the broker refused the client id",
    3: "the MQTT service is unavailable on the broker",
    4: "bad user name or password: re-provision the kit (`airtrail kit provision`) or check `airtrail device list`",
    # Mosquitto answers 5, not 4, to a wrong password under MQTT 3.1.1.
    5: "not authorised: the user name or password does not match the collector's device registry; "
       "check `airtrail device list`, then re-provision the kit (`airtrail kit provision`)",
}


class MQTTError(OSError):
    """A protocol-level failure: refused connection, missing PUBACK, closed socket.

    A subclass of OSError so the layer above can treat every way a connection
    breaks alike.
    """


def _utf8(s):
    # Section 1.5.3: UTF-8 strings are prefixed by their length as 16 bits.
    if isinstance(s, str):
        s = s.encode()
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


def encode_remaining_length(n):
    """Section 2.2.3: 7 bits per byte, high bit set when more bytes follow."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def connect_packet(client_id, user=None, password=None, keepalive=60, clean_session=True,
                   will_topic=None, will_msg=None, will_retain=True, will_qos=1):
    """The CONNECT packet (section 3.1) as bytes."""
    flags = 0x02 if clean_session else 0  # 3.1.2.4 Clean Session
    payload = _utf8(client_id)
    if will_topic is not None:
        # 3.1.2.5-3.1.2.7: Will Flag, Will QoS, Will Retain
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += _utf8(will_topic) + _utf8(will_msg)
    if user is not None:
        flags |= 0x80  # 3.1.2.8 User Name Flag
        payload += _utf8(user)
        if password is not None:
            flags |= 0x40  # 3.1.2.9 Password Flag; a password needs a user name
            payload += _utf8(password)
    # 3.1.2.1-3.1.2.3 protocol name "MQTT", level 4; 3.1.2.10 Keep Alive (seconds)
    variable = b"\x00\x04MQTT\x04" + bytes((flags, keepalive >> 8, keepalive & 0xFF))
    body = variable + payload
    return bytes((CONNECT,)) + encode_remaining_length(len(body)) + body


def publish_header(topic, payload_len, qos=0, retain=False, pid=0, dup=False):
    """Everything of a PUBLISH packet (section 3.3) before the payload."""
    topic = _utf8(topic)
    length = len(topic) + payload_len + (2 if qos else 0)
    first = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    head = bytes((first,)) + encode_remaining_length(length) + topic
    if qos:
        head += bytes((pid >> 8, pid & 0xFF))
    return head


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

    def set_last_will(self, topic, msg, retain=True, qos=1):
        """The message the broker publishes for us if we vanish (section 3.1.2.5)."""
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

    def connect(self, clean_session=True, sock=None):
        """Open the connection and wait for CONNACK. Returns the session-present flag.

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
                                       clean_session, will[0], will[1], will[2], will[3]))
            kind, body = self._read_packet(self.TIMEOUT_MS)
            if kind != CONNACK or len(body) != 2:
                raise MQTTError("expected CONNACK from the broker, got packet type 0x%02x" % kind)
            if body[1] != 0:
                raise MQTTError("broker refused the connection (CONNACK %d): %s"
                                % (body[1], _REFUSED.get(body[1], "unknown reason")))
        except BaseException:
            self.close()
            raise
        return bool(body[0] & 1)

    def close(self):
        """Drop the connection without DISCONNECT: the broker sends our last will."""
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def disconnect(self):
        """Clean goodbye (section 3.14): the broker discards the last will."""
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

    def publish(self, topic, msg, retain=False, qos=0, timeout_ms=None):
        """Publish ``msg`` (bytes, str, or a tuple of bytes parts sent back to
        back). With qos=1, return only once the broker's PUBACK for this packet
        id has arrived (section 4.3.2); raise MQTTError if it does not within
        ``timeout_ms``, and close the connection, since the stream can no
        longer be trusted."""
        if self.sock is None:
            raise MQTTError("not connected")
        if isinstance(msg, str):
            msg = msg.encode()
        parts = msg if isinstance(msg, tuple) else (msg,)
        size = 0
        for part in parts:
            size += len(part)
        pid = self._next_pid() if qos else 0
        try:
            # Header and parts are written separately: a large batch is never
            # copied into one buffer on a heap of ~100 KB.
            self._write(publish_header(topic, size, qos, retain, pid))
            for part in parts:
                self._write(part)
            if qos == 1:
                self._wait_for(PUBACK, pid, timeout_ms or self.TIMEOUT_MS)
        except BaseException:
            self.close()
            raise
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
        length = 0
        shift = 0
        while True:  # section 2.2.3: at most four length bytes
            byte = self._read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTError("malformed remaining length from the broker")
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
            # Anything else (a PINGRESP, a late PUBACK of an older packet, a
            # publish we never subscribed to) is read and ignored.
