# Plantower PMS5003 / PMS7003 particulate matter sensor on a UART (9600 8N1).
#
# References: "Digital universal particle concentration sensor PMS5003 series
# data manual" (Plantower, V2.3), appendix I (transport protocol, active mode)
# and appendix II (commands); the PMS7003 manual (V2.5) uses the same frames.
#
# Data frame, 32 bytes, big-endian words:
#   0x42 0x4D | frame length = 28 (2*13 data words + 2 check bytes)
#   words 1-3   PM1.0, PM2.5, PM10 in ug/m3, CF=1 ("standard particle")
#   words 4-6   PM1.0, PM2.5, PM10 in ug/m3, atmospheric environment
#   words 7-12  particles > 0.3, 0.5, 1.0, 2.5, 5.0, 10 um per 0.1 L of air
#   word 13     reserved (PMS7003: firmware version, error code)
#   check       sum of the 30 bytes before it, 16 bits
# A command (appendix II) is 0x42 0x4D CMD DATAH DATAL LRCH LRCL, LRC = sum of
# the five bytes before it; the sensor acknowledges mode and sleep commands
# with an 8-byte frame of length 4 (0x42 0x4D 0x00 0x04 CMD DATA CHKH CHKL).
#
# decode() is pure and runs unchanged on MicroPython and CPython; PMS5003 is
# the thin I/O class around a UART the caller has built.

from . import ticks as kit_ticks
from .sensorbase import FramedSensor, SensorTimeout  # noqa: F401  (re-exported: callers catch SensorTimeout from here)

FRAME_SIZE = 32
DATA_LENGTH = 28  # the length field of a data frame
REPLY_SIZE = 8
REPLY_LENGTH = 4  # the length field of a command acknowledgement

# Output keys in frame order: words 1..12 (contract.FIELDS names).
FIELDS = ("pm1_cf1", "pm25_cf1", "pm10_cf1", "pm1", "pm25", "pm10",
          "n03", "n05", "n10", "n25", "n50", "n100")

# Appendix II command codes.
CMD_READ = 0xE2  # read one frame in passive mode
CMD_MODE = 0xE1  # data 0: passive, 1: active
CMD_SLEEP = 0xE4  # data 0: sleep, 1: wake up


def command(cmd, data=0):
    """The 7-byte command frame for cmd with its 16-bit data and LRC."""
    frame = bytearray(7)
    frame[0] = 0x42
    frame[1] = 0x4D
    frame[2] = cmd
    frame[3] = (data >> 8) & 0xFF
    frame[4] = data & 0xFF
    lrc = 0x42 + 0x4D + cmd + frame[3] + frame[4]
    frame[5] = lrc >> 8
    frame[6] = lrc & 0xFF
    return bytes(frame)


READ_PASSIVE = command(CMD_READ)
MODE_PASSIVE = command(CMD_MODE, 0)
MODE_ACTIVE = command(CMD_MODE, 1)
SLEEP = command(CMD_SLEEP, 0)
WAKE = command(CMD_SLEEP, 1)


def _check(frame, size):
    # The check word is the 16-bit sum of every byte before it.
    total = 0
    for i in range(size - 2):
        total += frame[i]
    got = (frame[size - 2] << 8) | frame[size - 1]
    if total & 0xFFFF != got:
        raise ValueError("PMS5003 frame checksum 0x%04x does not match 0x%04x, the sum of its bytes: "
                         "noise on the serial line, check the wiring" % (got, total & 0xFFFF))


def decode(frame, out=None):
    """Decode one 32-byte data frame into a dict of FIELDS (ints).

    Returns None for an all-zero frame: the sensor sends those while its fan
    spins up after power-on or wake, and they mean "not ready", not clean air
    (even clean air holds hundreds of particles > 0.3 um per 0.1 L).
    Raises ValueError naming what is wrong with a corrupt frame. Pass a dict
    as ``out`` to fill it in place instead of allocating a new one.
    """
    if len(frame) < FRAME_SIZE:
        raise ValueError("PMS5003 frame is %d bytes, expected %d" % (len(frame), FRAME_SIZE))
    if frame[0] != 0x42 or frame[1] != 0x4D:
        raise ValueError("PMS5003 frame starts 0x%02x 0x%02x, expected 0x42 0x4d" % (frame[0], frame[1]))
    length = (frame[2] << 8) | frame[3]
    if length != DATA_LENGTH:
        raise ValueError("PMS5003 frame length field is %d, expected %d for a data frame" % (length, DATA_LENGTH))
    _check(frame, FRAME_SIZE)
    zero = True
    for i in range(4, 28):
        if frame[i]:
            zero = False
            break
    if zero:
        return None
    if out is None:
        out = {}
    i = 4
    for name in FIELDS:
        out[name] = (frame[i] << 8) | frame[i + 1]
        i += 2
    return out


def decode_reply(frame):
    """Decode an 8-byte command acknowledgement into (command, data)."""
    if frame[0] != 0x42 or frame[1] != 0x4D or ((frame[2] << 8) | frame[3]) != REPLY_LENGTH:
        raise ValueError("not a PMS5003 command reply: expected 0x42 0x4d 0x00 0x04")
    _check(frame, REPLY_SIZE)
    return frame[4], frame[5]


def sync(buf, start, end):
    """Find the next frame in buf[start:end] of a byte stream.

    Returns (offset, size): offset is where a frame header starts (garbage
    before it can be dropped); size is the frame's total length in bytes
    (FRAME_SIZE or REPLY_SIZE), 0 when the header is incomplete or absent so
    more bytes are needed, or -1 when the length field is impossible (a false
    header or a corrupt frame: skip one byte and sync again). A frame is
    complete once offset + size <= end.
    """
    i = start
    while i < end:
        if buf[i] == 0x42:
            if i + 1 >= end:
                return i, 0
            if buf[i + 1] == 0x4D:
                if i + 3 >= end:
                    return i, 0
                length = (buf[i + 2] << 8) | buf[i + 3]
                if length == DATA_LENGTH:
                    return i, FRAME_SIZE
                if length == REPLY_LENGTH:
                    return i, REPLY_SIZE
                return i, -1
        i += 1
    return end, 0


def frames(data):
    """Every frame in a complete byte stream, as (offset, frame bytes).

    Garbage between frames is skipped. A header whose length field is
    impossible yields its bytes up to FRAME_SIZE so decode() can say what is
    wrong; an incomplete frame at the end is yielded as it is, likewise.
    For serial logs and tests; the I/O class reads incrementally with sync().
    """
    i = 0
    n = len(data)
    while i < n:
        i, size = sync(data, i, n)
        if i >= n:
            return
        if size <= 0 or i + size > n:
            yield i, data[i:i + (FRAME_SIZE if size <= 0 else size)]
            if size == 0:
                return
            i += 1
            continue
        yield i, data[i:i + size]
        i += size


class PMS5003(FramedSensor):
    """A PMS5003/PMS7003 on a ready UART (9600 baud, 8N1).

        pm = PMS5003(UART(1, 9600, tx=17, rx=16), set_pin=Pin(5, Pin.OUT))
        pm.wake()           # fan on; readings settle ~30 s later (config pm_warmup_s)
        values = pm.read()  # dict of FIELDS, or None while warming up

    In active mode (the power-on default) the sensor sends a frame every
    0.2-2.3 s; poll() consumes what has arrived without blocking, read()
    waits for the next frame. In passive mode read() requests one.
    The returned dict is reused by the next read: copy what you keep.
    """

    NAME = "PMS5003"
    FRAME_SIZE = FRAME_SIZE
    TIMEOUT_MS = 3000  # longest gap between active-mode frames is 2.3 s
    # Appendix II: the SET pin or the wake command restarts the fan; the
    # sensor then needs ~1 s before it answers commands again.
    WAKE_MS = 1000

    def __init__(self, uart, set_pin=None, ticks=kit_ticks):
        FramedSensor.__init__(self, uart, ticks)
        self._set = set_pin
        self.passive_mode = False
        if set_pin is not None:
            set_pin.value(1)

    # -- commands -------------------------------------------------------

    def active(self):
        self._uart.write(MODE_ACTIVE)
        self.passive_mode = False

    def passive(self):
        self._uart.write(MODE_PASSIVE)
        self.passive_mode = True

    def sleep(self):
        """Stop the fan and laser: SET pin low if wired, else the command."""
        if self._set is not None:
            self._set.value(0)
        else:
            self._uart.write(SLEEP)

    def wake(self):
        if self._set is not None:
            self._set.value(1)
        else:
            self._uart.write(WAKE)
        self.values = None
        if self.passive_mode:
            # Units differ in whether they keep passive mode across a sleep;
            # saying it again is harmless and removes the doubt.
            self._ticks.sleep_ms(self.WAKE_MS)
            self.passive()

    # -- reading --------------------------------------------------------

    def _consume(self):
        buf = self._buf
        got = 0
        start = 0
        while True:
            start, size = sync(buf, start, self._n)
            if size == 0 or (size > 0 and start + size > self._n):
                break  # need more bytes
            if size < 0:
                self.errors += 1
                self.last_error = "PMS5003 frame length field is %d, expected %d" % (
                    (buf[start + 2] << 8) | buf[start + 3], DATA_LENGTH)
                start += 1
                continue
            frame = self._mv[start:start + size]
            try:
                if size == FRAME_SIZE:
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
            start += size
        self._keep_from(start)
        return got

    def request(self):
        """Passive mode: ask for one frame (read() then collects it)."""
        self._uart.write(READ_PASSIVE)

    def _request(self):
        if self.passive_mode:
            self.request()


PMS7003 = PMS5003  # same protocol and frames
