# Sensirion SCD40/SCD41 photoacoustic CO2 sensor (with temperature and
# humidity) on I2C, address 0x62.
#
# Reference: SCD4x datasheet (Sensirion, version 1.5, 2023), section 3.
# Every command is a 16-bit id, big-endian. Every 16-bit word the sensor
# sends, and every argument word the kit sends, is followed by its CRC-8
# (section 3.11, see crc.py); a word whose CRC does not match is rejected,
# never used.
#
# decode_measurement() and the word helpers are pure and run unchanged on
# MicroPython and CPython; SCD4x is the thin I/O class around an I2C bus.

from .crc import word_crc
from . import ticks as kit_ticks
from .sensorbase import SensorMissing

ADDRESS = 0x62

# Command ids and their execution times in ms (datasheet table 9).
START_PERIODIC = 0x21B1
START_LOW_POWER = 0x21AC  # one measurement every 30 s instead of 5 s
READ_MEASUREMENT = 0xEC05  # 1 ms, 3 words: CO2 ppm, T, RH
STOP_PERIODIC = 0x3F86  # 500 ms
DATA_READY = 0xE4B8  # 1 ms, 1 word
SET_AMBIENT_PRESSURE = 0xE000  # 1 ms, 1 argument word: pressure in hPa
SERIAL_NUMBER = 0x3682  # 1 ms, 3 words
MEASURE_SINGLE_SHOT = 0x219D  # SCD41 only, 5000 ms
REINIT = 0x3646  # 30 ms


def check_words(buf, nwords):
    """Check the CRC after each of the nwords 3-byte groups in buf; raise
    ValueError naming the first word that fails."""
    for k in range(nwords):
        i = 3 * k
        word = (buf[i] << 8) | buf[i + 1]
        crc = word_crc(word)
        if crc != buf[i + 2]:
            raise ValueError("SCD4x word %d (0x%04x): CRC 0x%02x does not match 0x%02x: "
                             "noise on the I2C bus, check pull-ups and cable length"
                             % (k, word, buf[i + 2], crc))


def word(buf, k):
    """The k-th 16-bit word of a CRC-checked response."""
    return (buf[3 * k] << 8) | buf[3 * k + 1]


def decode_measurement(buf, out=None):
    """The 9-byte read_measurement response -> {"co2": ppm, "temp": degC,
    "rh": %} (datasheet section 3.5.2: T = -45 + 175 * word / 65535,
    RH = 100 * word / 65535). Raises ValueError on a CRC mismatch."""
    if len(buf) < 9:
        raise ValueError("SCD4x measurement is %d bytes, expected 9" % len(buf))
    check_words(buf, 3)
    if out is None:
        out = {}
    out["co2"] = word(buf, 0)
    out["temp"] = -45 + 175 * word(buf, 1) / 65535
    out["rh"] = 100 * word(buf, 2) / 65535
    return out


def encode_command(buf, cmd, arg=None):
    """Write cmd (and arg with its CRC) into buf; return the byte count."""
    buf[0] = cmd >> 8
    buf[1] = cmd & 0xFF
    if arg is None:
        return 2
    buf[2] = (arg >> 8) & 0xFF
    buf[3] = arg & 0xFF
    buf[4] = word_crc(arg & 0xFFFF)
    return 5


class SCD4x:
    """An SCD40/SCD41 on a ready I2C bus.

        co2 = SCD4x(I2C(0, scl=Pin(22), sda=Pin(21)))
        co2.start()
        ...
        if co2.data_ready():
            co2.read()  # {"co2": 612, "temp": 22.4, "rh": 41.2}

    The constructor stops a periodic measurement left running by a soft
    reset of the kit (the sensor ignores most commands while measuring) and
    reads the serial number to prove the sensor is there.
    Raises SensorMissing when nothing answers, ValueError on bad CRCs.
    The returned dict is reused by the next read: copy what you keep.
    """

    STOP_MS = 500
    CMD_MS = 1

    def __init__(self, i2c, address=ADDRESS, ticks=kit_ticks):
        self._i2c = i2c
        self._ticks = ticks  # blocking sleep_ms for command execution times (sensorbase.py)
        self._addr = address
        self._cmd = bytearray(5)
        self._cmv = memoryview(self._cmd)
        self._rx = bytearray(9)
        self._rx1 = memoryview(self._rx)[:3]  # one-word responses
        self._out = {}
        self.stop()
        self._read(SERIAL_NUMBER, 3)
        self.serial = (word(self._rx, 0) << 32) | (word(self._rx, 1) << 16) | word(self._rx, 2)

    def _send(self, cmd, arg=None, wait_ms=0):
        n = encode_command(self._cmd, cmd, arg)
        try:
            self._i2c.writeto(self._addr, self._cmv[:n])
        except OSError:
            raise SensorMissing("no SCD4x at I2C address 0x%02x: check SDA/SCL wiring and 3.3 V" % self._addr)
        if wait_ms:
            self._ticks.sleep_ms(wait_ms)

    def _read(self, cmd, nwords):
        self._send(cmd, None, self.CMD_MS)
        rx = self._rx if nwords == 3 else self._rx1
        try:
            self._i2c.readfrom_into(self._addr, rx)
        except OSError:
            raise SensorMissing("SCD4x at I2C address 0x%02x stopped answering: check its wiring" % self._addr)
        check_words(rx, nwords)
        return rx

    def start(self, low_power=False):
        """Start periodic measurement: a result every 5 s (30 s low power)."""
        self._send(START_LOW_POWER if low_power else START_PERIODIC)

    def stop(self):
        self._send(STOP_PERIODIC, None, self.STOP_MS)

    def data_ready(self):
        # Datasheet 3.8.2: ready when the low 11 bits are not all zero.
        return bool(word(self._read(DATA_READY, 1), 0) & 0x07FF)

    def read(self):
        """The latest measurement, or None if none is ready yet (reading an
        empty buffer makes the sensor NACK, section 3.5.2)."""
        if not self.data_ready():
            return None
        return decode_measurement(self._read(READ_MEASUREMENT, 3), self._out)

    def set_ambient_pressure(self, hpa):
        """Pressure compensation (3.6.5): allowed while measuring; a BME280
        on the same bus can feed it every interval."""
        self._send(SET_AMBIENT_PRESSURE, int(hpa + 0.5), self.CMD_MS)
