# Battery voltage through a resistor divider into an ESP32 ADC pin, and a
# Li-ion state-of-charge estimate from it.
#
# The divider (e.g. 100k over 100k, ratio 2) brings a 4.2 V cell under the
# ADC's range. With 11 dB attenuation the ESP32 ADC reads up to ~3.1 V
# (ESP32 technical reference / ESP-IDF ADC docs; the accurate span is
# 150-2450 mV on the classic ESP32, so a ratio of 2 puts a 3.0-4.2 V cell at
# 1.5-2.1 V, inside it). ADC.read_uv() (MicroPython >= 1.19 on ESP32) applies
# the chip's eFuse calibration and is preferred; read_u16() is the fallback.
#
# volts() and soc_percent() are pure; Battery is the thin class over ADC.

from .aggregate import median

# Resting open-circuit voltage of one Li-ion / LiPo cell against state of
# charge (%), a typical 18650 / pouch-cell discharge curve at 0.2 C and
# room temperature. An estimate only: under load the voltage sags, and cells
# and temperatures differ by several %; good enough for "charge me soon".
OCV_CURVE = (
    (3.27, 0), (3.61, 5), (3.69, 10), (3.71, 15), (3.73, 20), (3.75, 25),
    (3.77, 30), (3.79, 35), (3.80, 40), (3.82, 45), (3.84, 50), (3.85, 55),
    (3.87, 60), (3.91, 65), (3.95, 70), (3.98, 75), (4.02, 80), (4.08, 85),
    (4.11, 90), (4.15, 95), (4.20, 100),
)


def volts(raw, divider=2.0, full_scale=3.3, maximum=65535):
    """Battery volts from a raw ADC count: raw/maximum of the ADC's
    full-scale voltage, times the divider ratio (R_top + R_bottom) / R_bottom.
    Defaults fit ADC.read_u16() (0..65535); for ADC.read() use maximum=4095."""
    return raw * full_scale * divider / maximum


def volts_from_uv(uv, divider=2.0):
    """Battery volts from ADC.read_uv() microvolts at the pin."""
    return uv * divider / 1000000


def soc_percent(v):
    """Li-ion state of charge in whole % (0..100) from a resting voltage,
    by linear interpolation in OCV_CURVE."""
    if v is None:
        return None
    if v <= OCV_CURVE[0][0]:
        return 0
    for i in range(1, len(OCV_CURVE)):
        v1, p1 = OCV_CURVE[i]
        if v <= v1:
            v0, p0 = OCV_CURVE[i - 1]
            return int(p0 + (p1 - p0) * (v - v0) / (v1 - v0) + 0.5)
    return 100


class Battery:
    """Battery voltage from a ready machine.ADC on the divider's midpoint.

        batt = Battery(ADC(Pin(35), atten=ADC.ATTN_11DB), divider=2.0)
        batt.read()  # 3.91
    """

    SAMPLES = 9  # median of several reads: the ESP32 ADC is noisy
    FULL_SCALE = 3.3  # volts at read_u16() == 65535 when read_uv() is missing

    def __init__(self, adc, divider=2.0):
        self._adc = adc
        self.divider = divider
        self._uv = hasattr(adc, "read_uv")
        self._samples = [0] * self.SAMPLES

    def read(self):
        """Battery volts (median of SAMPLES ADC reads)."""
        adc = self._adc
        s = self._samples
        for i in range(len(s)):
            s[i] = adc.read_uv() if self._uv else adc.read_u16()
        mid = median(s)
        if self._uv:
            return volts_from_uv(mid, self.divider)
        return volts(mid, self.divider, self.FULL_SCALE)

    def percent(self):
        return soc_percent(self.read())
