# Bosch BME280 temperature, pressure and humidity sensor on I2C.
#
# Reference: BME280 datasheet BST-BME280-DS002 (rev 1.23). Section numbers
# below are from it. The compensation is the datasheet's integer code
# (section 4.2.3): it gives the same result on every platform, where the
# floating-point version (section 8.1) would lose digits in the ESP32's
# 32-bit floats. Pressure uses a 32-bit formula arranged so that no
# intermediate leaves MicroPython's small ints (31-bit on the ESP32): the
# datasheet's 64-bit formula made ~1 KB of long ints per reading, half the
# kit's heap budget for a whole sample -> encode -> enqueue cycle (issue 3).
# It is kept as compensate_p(), the reference the tests compare against.
#
# parse_calibration() and compensate*() are pure and run unchanged on
# MicroPython and CPython; BME280 is the thin I/O class around an I2C bus.

from . import ticks as kit_ticks
from .sensorbase import SensorMissing, SensorTimeout

ADDRESS = 0x76  # SDO to GND; 0x77 with SDO to VDDIO (section 6.2)
CHIP_ID = 0x60

REG_CALIB_TP = 0x88  # 0x88..0xA1: dig_T1..dig_P9, (0xA0 unused), dig_H1
REG_CALIB_H = 0xE1  # 0xE1..0xE7: dig_H2..dig_H6
REG_ID = 0xD0
REG_RESET = 0xE0
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7  # 0xF7..0xFE: press msb/lsb/xlsb, temp msb/lsb/xlsb, hum msb/lsb

# Other Bosch parts answer at the same addresses (section 5.4.1 and the
# BMP280/BME680 datasheets); naming them turns a puzzle into a shopping error.
_OTHER_CHIPS = {0x58: "a BMP280 (no humidity sensor)", 0x56: "a BMP280 sample", 0x57: "a BMP280 sample",
                0x61: "a BME680/BME688"}


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def _s16(b, i):
    v = b[i] | (b[i + 1] << 8)
    return v - 65536 if v > 32767 else v


def _s8(v):
    return v - 256 if v > 127 else v


def parse_calibration(tp, h):
    """The trimming parameters (section 4.2.2, table 16) as a tuple
    (T1, T2, T3, P1, ..., P9, H1, ..., H6), from the 26 bytes at 0x88..0xA1
    and the 7 bytes at 0xE1..0xE7."""
    # dig_H4 and dig_H5 are 12-bit signed values sharing register 0xE5:
    # H4 = 0xE4[7:0] << 4 | 0xE5[3:0], H5 = 0xE6[7:0] << 4 | 0xE5[7:4].
    # Their high bytes are signed, as in Bosch's BME280_API (bme280.c).
    return (
        _u16(tp, 0), _s16(tp, 2), _s16(tp, 4),
        _u16(tp, 6), _s16(tp, 8), _s16(tp, 10), _s16(tp, 12), _s16(tp, 14),
        _s16(tp, 16), _s16(tp, 18), _s16(tp, 20), _s16(tp, 22),
        tp[25], _s16(h, 0), h[2],
        (_s8(h[3]) * 16) | (h[4] & 0x0F),
        (_s8(h[5]) * 16) | (h[4] >> 4),
        _s8(h[6]),
    )


def raw_adc(data):
    """(adc_P, adc_T, adc_H) from the 8-byte burst read at 0xF7 (section 4)."""
    adc_p = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4)
    adc_t = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4)
    adc_h = (data[6] << 8) | data[7]
    return adc_p, adc_t, adc_h


def compensate_t(adc_t, cal):
    """Section 4.2.3, BME280_compensate_T_int32: returns (T in 0.01 degC,
    t_fine). t_fine carries the temperature into the P and H formulas."""
    t1 = cal[0]
    var1 = (((adc_t >> 3) - (t1 << 1)) * cal[1]) >> 11
    d = (adc_t >> 4) - t1
    var2 = (((d * d) >> 12) * cal[2]) >> 14
    t_fine = var1 + var2
    return (t_fine * 5 + 128) >> 8, t_fine


def _cdiv(a, b):
    # C's integer division truncates toward zero; Python's // floors.
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def compensate_p(adc_p, cal, t_fine):
    """Section 4.2.3, BME280_compensate_P_int64: pressure in Pa as Q24.8
    (divide by 256), or 0 when the calibration would divide by zero."""
    var1 = t_fine - 128000
    var2 = var1 * var1 * cal[8]
    var2 = var2 + ((var1 * cal[7]) << 17)
    var2 = var2 + (cal[6] << 35)
    var1 = ((var1 * var1 * cal[5]) >> 8) + ((var1 * cal[4]) << 12)
    var1 = (((1 << 47) + var1) * cal[3]) >> 33
    if var1 == 0:
        return 0
    p = 1048576 - adc_p
    p = _cdiv(((p << 31) - var2) * 3125, var1)
    var1 = (cal[11] * (p >> 13) * (p >> 13)) >> 25
    var2 = (cal[10] * p) >> 19
    return ((p + var1 + var2) >> 8) + (cal[9] << 4)


def compensate_p32(adc_p, cal, t_fine):
    """Pressure in Pa as Q24.8 (divide by 256), or 0 when the calibration
    would divide by zero, with every intermediate inside MicroPython's small
    ints (31-bit on the ESP32) for real calibrations: no heap allocation.

    This is the BMP280 datasheet's 32-bit formula (BST-BMP280-DS001 3.11.3,
    bmp280_compensate_P_int32; the BME280 pressure path is the same), with
    two changes that keep it within 0.05 hPa of compensate_p() (tests check
    it across the sensor range):
    - products that reach 2^31 in C (unsigned there) are split so no
      intermediate passes 2^30; the split parts are exact, not rounded;
    - the divisor keeps 4 more bits and the division is done digit by digit
      to 8 fractional bits (C's version stops at whole Pa, and its divisor's
      rounding costs up to ~3 Pa).
    compensate_p(), the 64-bit formula, stays as the reference."""
    p1 = cal[3]
    v = (t_fine >> 1) - 64000
    # ((v >> 2) ** 2) >> 11 without the square: with |v >> 2| = 2h + l,
    # that is (h * h + h * l) >> 9, exactly.
    a = v >> 2
    if a < 0:
        a = -a
    h = a >> 1
    sq = (h * h + h * (a & 1)) >> 9
    var2 = sq * cal[8] + ((v * cal[7]) << 1)
    var2 = (var2 >> 2) + (cal[6] << 16)
    # (P2 * v) >> 1 as P2 * (v >> 1) (+ P2 >> 1 for odd v): exact, half the size.
    s = ((cal[5] * (sq >> 2)) >> 3) + cal[4] * (v >> 1)
    if v & 1:
        s += cal[4] >> 1
    # Divisor: C's ((32768 + (s >> 18)) * P1) >> 15, times 16, that is
    # (P1 << 4) + ((s * P1) >> 29), with s * P1 taken in 8-bit slices.
    sh = s >> 16
    sl = s & 0xFFFF
    t = sh * p1 + (((sl >> 8) * p1 + (((sl & 0xFF) * p1) >> 8)) >> 8)
    d = (p1 << 4) + (t >> 13)
    if d <= 0:
        return 0
    # C: p = (1048576 - adc_P - (var2 >> 12)) * 3125 * 2 / var1, in Pa.
    # Here x carries 2 more bits and d 4 more, so Q24.8 needs
    # x * 6250 * 256 * 16 / 4 / d = x * (625 * 5 * 512 * 4) / d, each factor
    # small enough that remainder * factor stays below 2^30.
    x = ((1048576 - adc_p) << 2) - (var2 >> 10)
    if x <= 0:
        return 0
    q = x // d
    r = x - q * d
    r *= 625
    q = q * 625 + r // d
    r = r % d * 5
    q = q * 5 + r // d
    r = r % d * 512
    q = q * 512 + r // d
    r = r % d * 4
    q = q * 4 + r // d
    # The datasheet's second-order terms, on whole Pa; (c >> 4) Pa = c << 4 in Q24.8.
    p = q >> 8
    var1 = (cal[11] * (((p >> 3) * (p >> 3)) >> 13)) >> 12
    var2 = ((p >> 2) * cal[10]) >> 13
    return q + ((var1 + var2 + cal[9]) << 4)


def compensate_h(adc_h, cal, t_fine):
    """Section 4.2.3, bme280_compensate_H_int32: relative humidity in % as
    Q22.10 (divide by 1024), clamped to 0..100 %."""
    h1, h2, h3, h4, h5, h6 = cal[12], cal[13], cal[14], cal[15], cal[16], cal[17]
    v = t_fine - 76800
    v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15) * (
        ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14)
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4)
    if v < 0:
        v = 0
    if v > 419430400:
        v = 419430400
    return v >> 12


def compensate(adc_p, adc_t, adc_h, cal, out=None):
    """Raw ADC values -> {"temp": degC, "pressure": hPa, "rh": %}.

    A value the sensor did not measure (its reset value 0x80000 / 0x8000,
    section 5.4.7-5.4.9: oversampling "skipped") is left out."""
    if out is None:
        out = {}
    if adc_t == 0x80000:
        raise ValueError("BME280 temperature was not measured (raw 0x80000): set osrs_t in ctrl_meas")
    t, t_fine = compensate_t(adc_t, cal)
    out["temp"] = t / 100
    if adc_p != 0x80000:
        p = compensate_p32(adc_p, cal, t_fine)
        if p:
            out["pressure"] = p / 25600  # Q24.8 Pa -> hPa
    if adc_h != 0x8000:
        out["rh"] = compensate_h(adc_h, cal, t_fine) / 1024
    return out


class BME280:
    """A BME280 on a ready I2C bus, measuring in forced mode.

        env = BME280(I2C(0, scl=Pin(22), sda=Pin(21)))
        env.read()  # {"temp": 21.37, "pressure": 1008.2, "rh": 48.1}

    Forced mode with 1x oversampling and the filter off is the datasheet's
    "weather monitoring" setting (section 3.5.1): the sensor sleeps between
    readings (0.1 uA) and one measurement takes under 10 ms.
    Raises SensorMissing when nothing answers, ValueError for another chip.
    The returned dict is reused by the next read: copy what you keep.
    """

    OSRS_T = 1  # oversampling codes (section 5.4.3/5.4.5): 1 = x1
    OSRS_P = 1
    OSRS_H = 1
    # Section 9.1: t_measure,max = 1.25 + 2.3*T + (2.3*P + 0.575) + (2.3*H + 0.575) ms
    # = 9.3 ms at x1 each.
    MEASURE_MS = 10
    TIMEOUT_MS = 100

    def __init__(self, i2c, address=ADDRESS, ticks=kit_ticks):
        self._i2c = i2c
        self._ticks = ticks  # blocking sleep_ms for the conversion time (sensorbase.py)
        self._addr = address
        self._data = bytearray(8)
        self._out = {}
        try:
            chip = i2c.readfrom_mem(address, REG_ID, 1)[0]
        except OSError:
            raise SensorMissing("no BME280 at I2C address 0x%02x: check SDA/SCL wiring and 3.3 V, and the "
                                "address (SDO to GND = 0x76, SDO to 3.3 V = 0x77)" % address)
        if chip != CHIP_ID:
            what = _OTHER_CHIPS.get(chip, "an unknown chip")
            raise ValueError("the chip at I2C address 0x%02x has id 0x%02x, %s, not a BME280 (0x60)"
                             % (address, chip, what))
        self.calibration = parse_calibration(i2c.readfrom_mem(address, REG_CALIB_TP, 26),
                                             i2c.readfrom_mem(address, REG_CALIB_H, 7))

    def read(self):
        """Take one forced-mode measurement and return temp, pressure, rh."""
        i2c = self._i2c
        addr = self._addr
        try:
            # ctrl_hum only takes effect after a write to ctrl_meas (5.4.3).
            i2c.writeto_mem(addr, REG_CTRL_HUM, bytes((self.OSRS_H,)))
            i2c.writeto_mem(addr, REG_CTRL_MEAS, bytes(((self.OSRS_T << 5) | (self.OSRS_P << 2) | 0x01,)))
            self._ticks.sleep_ms(self.MEASURE_MS)
            waited = self.MEASURE_MS
            # status bit 3, measuring: 1 while a conversion runs (5.4.4).
            while i2c.readfrom_mem(addr, REG_STATUS, 1)[0] & 0x08:
                if waited >= self.TIMEOUT_MS:
                    raise SensorTimeout("BME280 still measuring after %d ms" % waited)
                self._ticks.sleep_ms(2)
                waited += 2
            i2c.readfrom_mem_into(addr, REG_DATA, self._data)
        except SensorTimeout:
            raise
        except OSError:
            raise SensorMissing("BME280 at I2C address 0x%02x stopped answering: check its wiring" % addr)
        adc_p, adc_t, adc_h = raw_adc(self._data)
        return compensate(adc_p, adc_t, adc_h, self.calibration, self._out)
