"""Supply voltage through the divider (firmware/airkit/battery.py)."""

from __future__ import annotations

import pytest

from airkit import contract
from airkit.battery import Battery, volts, volts_from_uv


def test_raw_count_scales_by_full_scale_and_divider():
    # Half of a 3.3 V full scale behind a 100k/100k divider (ratio 2) is 3.3 V.
    assert volts(32767.5, divider=2.0, full_scale=3.3) == pytest.approx(3.3)


def test_twelve_bit_reads_use_maximum_4095():
    assert volts(4095, divider=1.5, full_scale=3.1, maximum=4095) == pytest.approx(4.65)


def test_calibrated_microvolts_times_divider():
    assert volts_from_uv(2_000_000, divider=2.0) == pytest.approx(4.0)


class ADCuv:
    """machine.ADC with read_uv(), replaying readings with one spike."""

    def __init__(self, readings):
        self.readings = list(readings)

    def read_uv(self):
        return self.readings.pop(0)


class ADCu16:
    def __init__(self, value):
        self.value = value

    def read_u16(self):
        return self.value


def test_battery_takes_the_median_so_one_spike_does_not_count():
    readings = [1_950_000] * 8 + [3_100_000]
    assert Battery(ADCuv(readings), divider=2.0).read() == pytest.approx(3.9)


def test_battery_falls_back_to_read_u16_without_calibration():
    v = Battery(ADCu16(39718), divider=2.0).read()
    assert v == pytest.approx(4.0, abs=0.001)
    assert contract.FIELDS["batt_v"][1] <= v <= contract.FIELDS["batt_v"][2]
