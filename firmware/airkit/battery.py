# Supply voltage through a resistor divider into an ESP32 ADC pin.
#
# On the walk kit the divider is 220k over 100k (ratio 3.2,
# pins.BATT_DIVIDER) from the power bank's 5 V output to GPIO35: the kit
# reports the bank's output voltage, so a bank about to give up shows as a
# sagging supply (hardware/README.md). With 11 dB attenuation the ESP32 ADC
# reads up to ~3.1 V (ESP32 technical reference / ESP-IDF ADC docs; the
# accurate span is 150-2450 mV on the classic ESP32, so a ratio of 3.2 puts a
# 4.5-5.25 V USB supply at 1.4-1.64 V, inside it). ADC.read_uv() (MicroPython
# >= 1.19 on ESP32) applies the chip's eFuse calibration and is preferred;
# read_u16() is the fallback.
#
# volts() and volts_from_uv() are pure; Battery is the thin class over ADC.

from .aggregate import median


# The divider ratio has no default: it is a property of the kit's wiring
# (pins.BATT_DIVIDER, generated from hardware/pins/<variant>.toml), and any
# fixed guess would be wrong for some kit (the walk kit's is 3.2, not 2).


def volts(raw, divider, full_scale=3.3, maximum=65535):
    """Battery volts from a raw ADC count: raw/maximum of the ADC's
    full-scale voltage, times the divider ratio (R_top + R_bottom) / R_bottom.
    The ADC defaults fit ADC.read_u16() (0..65535); for ADC.read() use maximum=4095."""
    return raw * full_scale * divider / maximum


def volts_from_uv(uv, divider):
    """Battery volts from ADC.read_uv() microvolts at the pin."""
    return uv * divider / 1000000


class Battery:
    """Supply voltage from a ready machine.ADC on the divider's midpoint.

        batt = Battery(ADC(Pin(35), atten=ADC.ATTN_11DB), divider=pins.BATT_DIVIDER["walk"])
        batt.read()  # 5.08
    """

    SAMPLES = 9  # median of several reads: the ESP32 ADC is noisy
    FULL_SCALE = 3.3  # volts at read_u16() == 65535 when read_uv() is missing

    def __init__(self, adc, divider):
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
