# Nova Fitness SDS011 particulate matter sensor on a UART (9600 8N1).
#
# Reference: "Laser Dust Sensor Control Protocol V1.3" (Nova Fitness), and the
# SDS011 datasheet V1.3 section 6 (data frame).
#
# Sensor -> kit, 10 bytes:
#   0xAA | 0xC0 data (0xC5 reply to a command) | 6 data bytes | checksum | 0xAB
# A data frame's bytes 2..5 are PM2.5 and PM10 in tenths of ug/m3, low byte
# first; bytes 6..7 the device id. The checksum is the low byte of the sum of
# bytes 2..7.
# Kit -> sensor, 19 bytes:
#   0xAA 0xB4 | command | 12 data bytes | device id (0xFFFF = any) | checksum | 0xAB
# with the checksum the low byte of the sum of bytes 2..16.

from . import ticks as kit_ticks
from .sensorbase import FramedSensor, SensorTimeout  # noqa: F401  (re-exported: callers catch SensorTimeout from here)

FRAME_SIZE = 10
COMMAND_SIZE = 19
DATA = 0xC0
REPLY = 0xC5

# Command ids (protocol V1.3, section 2).
CMD_MODE = 0x02  # data: set(1)/query(0), active(0)/query mode(1)
CMD_QUERY = 0x04  # ask for one data frame (query mode)
CMD_SLEEP = 0x06  # data: set(1)/query(0), sleep(0)/work(1)
CMD_PERIOD = 0x08  # data: set(1)/query(0), minutes (0 = continuous, 1 s)


def command(cmd, data=(), device=0xFFFF):
    """The 19-byte command frame: cmd, up to 12 data bytes, device id, checksum."""
    frame = bytearray(COMMAND_SIZE)
    frame[0] = 0xAA
    frame[1] = 0xB4
    frame[2] = cmd
    for i in range(len(data)):
        frame[3 + i] = data[i]
    frame[15] = (device >> 8) & 0xFF
    frame[16] = device & 0xFF
    total = 0
    for i in range(2, 17):
        total += frame[i]
    frame[17] = total & 0xFF
    frame[18] = 0xAB
    return bytes(frame)


SLEEP = command(CMD_SLEEP, (1, 0))
WORK = command(CMD_SLEEP, (1, 1))
QUERY = command(CMD_QUERY)
MODE_QUERY = command(CMD_MODE, (1, 1))
MODE_ACTIVE = command(CMD_MODE, (1, 0))


def _check(frame):
    if len(frame) < FRAME_SIZE:
        raise ValueError("SDS011 frame is %d bytes, expected %d" % (len(frame), FRAME_SIZE))
    if frame[0] != 0xAA or frame[9] != 0xAB:
        raise ValueError("SDS011 frame must start 0xaa and end 0xab, got 0x%02x ... 0x%02x" % (frame[0], frame[9]))
    total = 0
    for i in range(2, 8):
        total += frame[i]
    if total & 0xFF != frame[8]:
        raise ValueError("SDS011 frame checksum 0x%02x does not match 0x%02x, the sum of bytes 2-7: "
                         "noise on the serial line, check the wiring" % (frame[8], total & 0xFF))


def decode(frame, out=None):
    """Decode a 10-byte data frame into {"pm25": ug/m3, "pm10": ug/m3}.

    Raises ValueError naming what is wrong with a corrupt frame.
    """
    _check(frame)
    if frame[1] != DATA:
        raise ValueError("SDS011 frame type 0x%02x is not a data frame (0xc0)" % frame[1])
    if out is None:
        out = {}
    out["pm25"] = ((frame[3] << 8) | frame[2]) / 10
    out["pm10"] = ((frame[5] << 8) | frame[4]) / 10
    return out


def decode_reply(frame):
    """Decode a 0xC5 reply frame into (command, byte 3, byte 4)."""
    _check(frame)
    if frame[1] != REPLY:
        raise ValueError("SDS011 frame type 0x%02x is not a command reply (0xc5)" % frame[1])
    return frame[2], frame[3], frame[4]


def device_id(frame):
    return (frame[6] << 8) | frame[7]


def sync(buf, start, end):
    """Find the next frame in buf[start:end]: returns the offset of a 0xAA
    followed by 0xC0/0xC5 (or of a trailing 0xAA that may start one), or end.
    The frame is complete once offset + FRAME_SIZE <= end."""
    i = start
    while i < end:
        if buf[i] == 0xAA:
            if i + 1 >= end:
                return i
            if buf[i + 1] == DATA or buf[i + 1] == REPLY:
                return i
        i += 1
    return end


def frames(data):
    """Every frame in a complete byte stream, as (offset, frame bytes);
    garbage between frames is skipped, a truncated last frame is yielded
    as it is so decode() can say so."""
    i = 0
    n = len(data)
    while True:
        i = sync(data, i, n)
        if i >= n:
            return
        yield i, data[i:i + FRAME_SIZE]
        i += FRAME_SIZE


class SDS011(FramedSensor):
    """An SDS011 on a ready UART (9600 baud, 8N1).

        pm = SDS011(UART(1, 9600, tx=17, rx=16))
        pm.wake()
        values = pm.read()  # {"pm25": .., "pm10": ..}

    Active mode (the default) sends a frame every second. The returned dict
    is reused by the next read: copy what you keep.
    """

    NAME = "SDS011"
    FRAME_SIZE = FRAME_SIZE
    TIMEOUT_MS = 3000

    def __init__(self, uart, ticks=kit_ticks):
        FramedSensor.__init__(self, uart, ticks)
        self.query_mode = False

    def sleep(self):
        self._uart.write(SLEEP)

    def wake(self):
        # A sleeping SDS011 may miss the first bytes while its MCU wakes;
        # the command is idempotent, so it is sent twice.
        self._uart.write(WORK)
        self._ticks.sleep_ms(self.POLL_MS)
        self._uart.write(WORK)

    def active(self):
        self._uart.write(MODE_ACTIVE)
        self.query_mode = False

    def query(self):
        self._uart.write(MODE_QUERY)
        self.query_mode = True

    def _consume(self):
        buf = self._buf
        got = 0
        start = 0
        while True:
            start = sync(buf, start, self._n)
            if start + FRAME_SIZE > self._n:
                break
            frame = self._mv[start:start + FRAME_SIZE]
            try:
                if buf[start + 1] == DATA:
                    self.values = decode(frame, self._out)
                    self.frames += 1
                    got += 1
                else:
                    decode_reply(frame)
            except ValueError as exc:
                self.errors += 1
                self.last_error = str(exc)
                start += 1
                continue
            start += FRAME_SIZE
        self._keep_from(start)
        return got

    def _request(self):
        if self.query_mode:
            self._uart.write(QUERY)
