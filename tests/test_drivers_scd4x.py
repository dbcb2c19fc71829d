"""Sensirion SCD4x driver (firmware/airkit/scd4x.py) and its CRC (crc.py) on CPython.

The same code runs under real MicroPython in test_drivers_micropython.py.
"""

from __future__ import annotations

import pytest

from airkit import contract, scd4x
from airkit.crc import crc8, word_crc
from airkit.scd4x import SCD4x, SensorMissing
from airkit_host import frames
from airkit_host.fakebus import FakeI2C, ScriptedDevice
from tests.vectors import hex_stream

DATASHEET = hex_stream("scd4x_datasheet.hex")


def test_crc_of_0xbeef_is_0x92():
    # SCD4x datasheet 3.11, the worked example.
    assert crc8(b"\xbe\xef") == 0x92
    assert word_crc(0xBEEF) == 0x92


def test_word_crc_agrees_with_the_byte_crc_for_every_word():
    assert all(word_crc(w) == crc8(w.to_bytes(2, "big")) for w in range(0, 65536, 7))


def test_datasheet_example_response_is_500_ppm_25_degc_37_percent():
    v = scd4x.decode_measurement(DATASHEET)
    assert v["co2"] == 500
    assert v["temp"] == pytest.approx(25.0, abs=0.01)
    assert v["rh"] == pytest.approx(37.0, abs=0.01)


def test_output_keys_are_contract_field_names():
    assert set(scd4x.decode_measurement(DATASHEET)) <= set(contract.FIELDS)


@pytest.mark.parametrize("index", [2, 5, 8])
def test_a_bad_crc_on_any_word_is_rejected(index):
    bad = bytearray(DATASHEET)
    bad[index] ^= 0x01
    with pytest.raises(ValueError, match=f"word {index // 3} .*CRC"):
        scd4x.decode_measurement(bad)


def test_a_flipped_data_bit_is_caught_by_its_crc():
    bad = bytearray(DATASHEET)
    bad[0] ^= 0x80
    with pytest.raises(ValueError, match="word 0 \\(0x81f4\\): CRC 0x33 does not match"):
        scd4x.decode_measurement(bad)


def test_short_response_is_rejected():
    with pytest.raises(ValueError, match="6 bytes, expected 9"):
        scd4x.decode_measurement(DATASHEET[:6])


def test_command_with_argument_carries_the_argument_crc():
    buf = bytearray(5)
    assert scd4x.encode_command(buf, scd4x.SET_AMBIENT_PRESSURE, 0xBEEF) == 5
    assert bytes(buf) == b"\xe0\x00\xbe\xef\x92"


def test_frames_measurement_inverts_the_datasheet_conversions():
    v = scd4x.decode_measurement(frames.scd4x_measurement(612, 22.4, 41.0))
    assert v["co2"] == 612
    assert v["temp"] == pytest.approx(22.4, abs=0.002)
    assert v["rh"] == pytest.approx(41.0, abs=0.001)


# -- the I/O class on a fake bus -------------------------------------------------


class FastSCD4x(SCD4x):
    STOP_MS = 0  # no real sensor to wait for


def _sensor(responses):
    dev = ScriptedDevice(responses)
    return FastSCD4x(FakeI2C({0x62: dev})), dev


def test_start_stops_a_left_over_measurement_then_reads_the_serial_number():
    s, dev = _sensor(frames.scd4x_responses([(500, 25, 37)]))
    assert s.serial == 0xF8969F073BB1
    assert dev.writes == [b"\x3f\x86", b"\x36\x82"]


def test_read_checks_data_ready_then_reads_the_measurement():
    s, dev = _sensor(frames.scd4x_responses([(612, 22.4, 41.0)]))
    s.start()
    assert s.read()["co2"] == 612
    assert dev.writes[2:] == [b"\x21\xb1", b"\xe4\xb8", b"\xec\x05"]


def test_read_returns_none_when_no_new_measurement_is_ready():
    responses = frames.scd4x_responses([(612, 22.4, 41.0)])
    responses[b"\xe4\xb8"] = frames.scd4x_words(0x8000)  # low 11 bits zero: not ready
    s, dev = _sensor(responses)
    assert s.read() is None
    assert b"\xec\x05" not in dev.writes


def test_recorded_datasheet_response_is_read_through_the_bus():
    responses = frames.scd4x_responses([])
    responses[b"\xec\x05"] = DATASHEET
    s, _ = _sensor(responses)
    assert s.read()["co2"] == 500


def test_bad_crc_on_the_bus_raises_value_error():
    responses = frames.scd4x_responses([])
    bad = bytearray(DATASHEET)
    bad[5] ^= 0xFF
    responses[b"\xec\x05"] = bytes(bad)
    s, _ = _sensor(responses)
    with pytest.raises(ValueError, match="word 1"):
        s.read()


def test_missing_sensor_raises_sensor_missing():
    with pytest.raises(SensorMissing, match="no SCD4x at I2C address 0x62"):
        FastSCD4x(FakeI2C({}))


def test_ambient_pressure_is_sent_in_hpa_with_crc():
    s, dev = _sensor(frames.scd4x_responses([(500, 25, 37)]))
    s.set_ambient_pressure(1008.6)
    assert dev.writes[-1] == b"\xe0\x00" + frames.scd4x_words(1009)
