# What every sensor driver shares: the two errors the main loop catches to
# report a sensor as missing (and leave its fields out of the reading), and
# the timebase convention.
#
# Every driver takes the timebase it is given as ``ticks``: any object with
# ticks_ms(), ticks_diff(a, b), ticks_add(a, b) and a blocking sleep_ms(ms),
# by default the airkit.ticks module (the chip's own millisecond clock). The
# virtual kits hand in their virtual clock, so a BME280 conversion or a
# PMS5003 timeout takes virtual time like everything else and nothing needs
# patching.
#
# Corrupt data (bad checksum or CRC, impossible frame length) is a ValueError
# raised by the pure decoders; a sensor that is not there or stopped talking
# is one of the OSError subclasses below. Both mean "no value this time".

from . import ticks as kit_ticks


class SensorMissing(OSError):
    """The sensor does not answer on its bus: absent, unpowered or miswired."""


class SensorTimeout(OSError):
    """The sensor was there but sent nothing (or nothing valid) in time."""




class FramedSensor:
    """What the UART particle sensors share (PMS5003, SDS011): a receive
    buffer that frames are cut from, non-blocking poll() and blocking read().
    When readings count after the fan wakes is the kit's rule, not the
    driver's (sensors.PMSensor.warming, config pm_warmup_s).

    A subclass sets NAME, FRAME_SIZE and TIMEOUT_MS (from its datasheet) and
    implements _consume(), which decodes the whole frames in
    self._buf[:self._n] into self.values and returns how many data frames it
    decoded; _request() may ask the sensor for a frame before read() waits
    (passive/query mode).
    """

    NAME: str  # declared for type checkers; each subclass sets them
    FRAME_SIZE: int
    TIMEOUT_MS: int
    POLL_MS = 20

    def __init__(self, uart, ticks=kit_ticks):
        self._uart = uart
        self._ticks = ticks
        self._buf = bytearray(2 * self.FRAME_SIZE)
        self._mv = memoryview(self._buf)
        self._n = 0
        self._out = {}
        self.values = None  # the latest decoded frame
        self.frames = 0  # good data frames seen
        self.errors = 0  # corrupt frames skipped
        self.last_error = None

    def poll(self):
        """Consume the bytes the UART holds; return how many data frames
        were decoded (self.values holds the latest). Never blocks."""
        got = 0
        uart = self._uart
        while True:
            # Ask for no more than is waiting, so a UART built with a
            # timeout never blocks here. _consume() always leaves less than
            # one frame in the buffer, so there is room for at least one more.
            n = uart.any()
            if not n:
                return got
            free = len(self._buf) - self._n
            if n > free:
                n = free
            n = uart.readinto(self._mv[self._n:self._n + n])
            if not n:
                return got
            self._n += n
            got += self._consume()

    def _consume(self):
        raise NotImplementedError

    def _keep_from(self, start):
        """Move the unconsumed tail (a partial frame) to the front."""
        buf = self._buf
        keep = self._n - start
        for i in range(keep):
            buf[i] = buf[start + i]
        self._n = keep

    def _request(self):
        pass

    def read(self, timeout_ms=None):
        """Wait for the next data frame; return self.values. Raises
        SensorTimeout if no valid frame arrives within timeout_ms, saying
        why if frames arrived but were corrupt."""
        if timeout_ms is None:
            timeout_ms = self.TIMEOUT_MS
        self._request()
        errors = self.errors
        tk = self._ticks
        t0 = tk.ticks_ms()
        while not self.poll():
            if tk.ticks_diff(tk.ticks_ms(), t0) >= timeout_ms:
                if self.errors > errors:
                    raise SensorTimeout("%s: %d corrupt frames and no good one in %d ms (%s)"
                                        % (self.NAME, self.errors - errors, timeout_ms, self.last_error))
                raise SensorTimeout("%s: no frame in %d ms: check 5 V power, the fan, and that the "
                                    "sensor's TX goes to the kit's RX pin" % (self.NAME, timeout_ms))
            tk.sleep_ms(self.POLL_MS)
        return self.values
