"""Nova SDS011 driver (firmware/airkit/sds011.py) on CPython.

The same decoder runs under real MicroPython in test_drivers_micropython.py.
"""

from __future__ import annotations

import pytest

from airkit import contract, sds011
from airkit.sds011 import SDS011, SensorTimeout
from airkit_host import frames
from airkit_host.fakebus import FakeUART
from tests.vectors import hex_stream

PUBLISHED = bytes.fromhex("AAC0D4043A0AA1601DAB")


def test_published_frame_decodes_to_tenths_of_ug_m3():
    assert sds011.decode(PUBLISHED) == {"pm25": 123.6, "pm10": 261.8}


def test_output_keys_are_contract_field_names():
    assert set(sds011.decode(PUBLISHED)) <= set(contract.FIELDS)


def test_device_id_is_read_from_bytes_6_and_7():
    assert sds011.device_id(PUBLISHED) == 0xA160


def test_bad_checksum_raises_value_error_naming_both_sums():
    bad = bytearray(PUBLISHED)
    bad[2] ^= 0x01
    with pytest.raises(ValueError, match="checksum 0x1d does not match 0x1e"):
        sds011.decode(bad)


def test_missing_tail_byte_raises_value_error():
    bad = bytearray(PUBLISHED)
    bad[9] = 0x00
    with pytest.raises(ValueError, match="end 0xab"):
        sds011.decode(bad)


def test_short_frame_raises_value_error():
    with pytest.raises(ValueError, match="is 6 bytes, expected 10"):
        sds011.decode(PUBLISHED[:6])


def test_reply_frame_is_not_a_data_frame():
    with pytest.raises(ValueError, match="not a data frame"):
        sds011.decode(frames.sds011_reply(6, 1, 0))


def test_reply_decodes_to_command_and_its_data():
    assert sds011.decode_reply(frames.sds011_reply(6, 1, 0)) == (6, 1, 0)


def test_sleep_and_work_commands_match_the_protocol_document():
    # Laser Dust Sensor Control Protocol V1.3, "set sleep and work" examples.
    assert sds011.SLEEP == bytes.fromhex("AAB406010000000000000000000000FFFF05AB")
    assert sds011.WORK == bytes.fromhex("AAB406010100000000000000000000FFFF06AB")


def test_query_command_matches_the_protocol_document():
    assert sds011.QUERY == bytes.fromhex("AAB404000000000000000000000000FFFF02AB")


def test_command_checksum_covers_data_and_device_id():
    frame = sds011.command(sds011.CMD_PERIOD, (1, 5), device=0xA160)
    assert len(frame) == 19
    assert frame[17] == (0x08 + 1 + 5 + 0xA1 + 0x60) & 0xFF


def test_frames_skip_noise_and_yield_every_frame():
    stream = hex_stream("sds011_stream.hex")
    kinds = [f[1] for _, f in sds011.frames(stream)]
    assert kinds == [0xC0, 0xC5, 0xC0, 0xC0, 0xC0, 0xC0, 0xC5]


def test_reader_reads_the_recorded_stream_byte_by_byte():
    stream = hex_stream("sds011_stream.hex")
    uart = FakeUART()
    pm = SDS011(uart)
    seen = []
    for b in stream:
        uart.feed(bytes((b,)))
        if pm.poll():
            seen.append((pm.values["pm25"], pm.values["pm10"]))
    assert seen == [(123.6, 261.8), (4.2, 7.9), (5.0, 9.1), (12.3, 20.0)]
    assert pm.errors == 1 and "checksum" in pm.last_error


def test_read_times_out_with_advice_when_the_sensor_is_silent():
    pm = SDS011(FakeUART())
    pm.POLL_MS = 1
    with pytest.raises(SensorTimeout, match="no frame in 5 ms.*TX"):
        pm.read(timeout_ms=5)


def test_query_mode_read_sends_the_query_command():
    uart = FakeUART(responder=lambda cmd: frames.sds011_frame(9.9, 12.0) if cmd == sds011.QUERY else None)
    pm = SDS011(uart)
    pm.POLL_MS = 0
    pm.query()
    assert pm.read() == {"pm25": 9.9, "pm10": 12.0}
    assert uart.writes == [sds011.MODE_QUERY, sds011.QUERY]


def test_wake_sends_work_twice_for_a_sleeping_mcu():
    uart = FakeUART()
    pm = SDS011(uart)
    pm.POLL_MS = 0
    pm.sleep()
    pm.wake()
    assert uart.writes == [sds011.SLEEP, sds011.WORK, sds011.WORK]
