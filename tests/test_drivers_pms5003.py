"""Plantower PMS5003/PMS7003 driver (firmware/airkit/pms5003.py) on CPython.

The same decoder runs under real MicroPython in test_drivers_micropython.py.
"""

from __future__ import annotations

import pytest

from airkit import contract, pms5003
from airkit.pms5003 import PMS5003, SensorTimeout
from airkit_host import frames
from airkit_host.fakebus import FakeUART, ManualTicks
from tests.vectors import hex_lines, hex_stream

ISSUE_VECTOR = bytes.fromhex("424d001c0005000d00160005000d001602fd00fc001d000f00060006970003c5")


def test_issue_vector_decodes_to_the_published_values():
    assert pms5003.decode(ISSUE_VECTOR) == {
        "pm1_cf1": 5, "pm25_cf1": 13, "pm10_cf1": 22,
        "pm1": 5, "pm25": 13, "pm10": 22,
        "n03": 765, "n05": 252, "n10": 29, "n25": 15, "n50": 6, "n100": 6,
    }


def test_captured_frames_decode_to_their_published_values():
    _, logic_analyser, feather = hex_lines("pms5003_published.hex")
    a = pms5003.decode(logic_analyser)
    assert (a["pm1"], a["pm25"], a["pm10"], a["n03"], a["n05"], a["n10"]) == (2, 4, 4, 744, 212, 32)
    b = pms5003.decode(feather)
    assert (b["pm1_cf1"], b["pm25_cf1"], b["pm10_cf1"], b["n03"], b["n05"], b["n10"]) == (7, 9, 9, 1326, 394, 52)


def test_output_keys_are_contract_field_names():
    assert set(pms5003.decode(ISSUE_VECTOR)) <= set(contract.FIELDS)


def test_cf1_and_atmospheric_words_are_kept_apart():
    frame = frames.pms5003_frame({"pm1_cf1": 38, "pm25_cf1": 61, "pm10_cf1": 70, "pm1": 31, "pm25": 45, "pm10": 57})
    v = pms5003.decode(frame)
    assert (v["pm1_cf1"], v["pm25_cf1"], v["pm10_cf1"]) == (38, 61, 70)
    assert (v["pm1"], v["pm25"], v["pm10"]) == (31, 45, 57)


def test_all_zero_warmup_frame_means_not_ready_not_clean_air():
    assert pms5003.decode(frames.pms5003_warmup_frame()) is None


def test_frame_with_zero_mass_but_particle_counts_is_a_reading():
    v = pms5003.decode(frames.pms5003_frame({"n03": 120, "n05": 30}))
    assert v["pm25"] == 0 and v["n03"] == 120


def test_bad_checksum_raises_value_error_naming_both_sums():
    bad = bytearray(ISSUE_VECTOR)
    bad[-1] ^= 0x01
    with pytest.raises(ValueError, match="checksum 0x03c4 does not match 0x03c5"):
        pms5003.decode(bad)


def test_corrupted_data_byte_fails_the_checksum():
    bad = bytearray(ISSUE_VECTOR)
    bad[7] ^= 0x40
    with pytest.raises(ValueError, match="checksum"):
        pms5003.decode(bad)


def test_wrong_length_field_raises_value_error():
    bad = bytearray(ISSUE_VECTOR)
    bad[3] = 0x14
    with pytest.raises(ValueError, match="length field is 20, expected 28"):
        pms5003.decode(bad)


def test_short_frame_raises_value_error():
    with pytest.raises(ValueError, match="is 20 bytes, expected 32"):
        pms5003.decode(ISSUE_VECTOR[:20])


def test_wrong_header_raises_value_error():
    with pytest.raises(ValueError, match="expected 0x42 0x4d"):
        pms5003.decode(b"\x00" + ISSUE_VECTOR[1:])


def test_decode_fills_a_given_dict_in_place():
    out = {}
    assert pms5003.decode(ISSUE_VECTOR, out) is out
    assert out["pm25"] == 13


def test_commands_match_the_manual():
    # Plantower manual appendix II lists these exact byte strings.
    assert pms5003.READ_PASSIVE == bytes.fromhex("424de200000171")
    assert pms5003.MODE_PASSIVE == bytes.fromhex("424de100000170")
    assert pms5003.MODE_ACTIVE == bytes.fromhex("424de100010171")
    assert pms5003.SLEEP == bytes.fromhex("424de400000173")
    assert pms5003.WAKE == bytes.fromhex("424de400010174")


def test_command_reply_decodes_to_command_and_data():
    assert pms5003.decode_reply(bytes.fromhex("424d0004e1000174")) == (0xE1, 0)


# -- a byte stream ----------------------------------------------------------------


def test_frames_skips_garbage_and_finds_every_frame():
    stream = b"\x00\x13\x42" + ISSUE_VECTOR + b"\xff\x4d" + ISSUE_VECTOR
    found = list(pms5003.frames(stream))
    assert [offset for offset, _ in found] == [3, 37]
    assert all(pms5003.decode(f)["pm25"] == 13 for _, f in found)


def test_sync_asks_for_more_bytes_on_a_split_header():
    assert pms5003.sync(b"\x00\x42", 0, 2) == (1, 0)
    assert pms5003.sync(b"\x42\x4d\x00", 0, 3) == (0, 0)


WAKE_STREAM = hex_stream("pms5003_wake_stream.hex")


def _replay(chunk):
    # Bytes arrive `chunk` at a time, as the UART's FIFO fills between polls.
    uart = FakeUART()
    pm = PMS5003(uart)
    seen = []
    for i in range(0, len(WAKE_STREAM), chunk):
        uart.feed(WAKE_STREAM[i:i + chunk])
        if pm.poll():
            seen.append(None if pm.values is None else pm.values["pm25"])
    return pm, seen


@pytest.mark.parametrize("chunk", [1, 7, 31, 32])
def test_reader_resyncs_through_noise_and_frames_split_across_reads(chunk):
    pm, seen = _replay(chunk)
    # Three warm-up frames, then the four good data frames; the cut-off tail,
    # the acks, the noise and the bit-flipped frame yield nothing.
    assert seen == [None, None, None, 7, 9, 45, 8]
    assert pm.errors == 1 and "checksum" in pm.last_error


def test_one_poll_drains_a_fifo_that_returns_a_few_bytes_per_read():
    pm = PMS5003(FakeUART(WAKE_STREAM, chunk=5))
    assert pm.poll() == 7
    assert pm.values["pm25"] == 8


def test_reader_keeps_a_frame_still_arriving_for_the_next_poll():
    pm, _ = _replay(64)
    pm._uart.feed(frames.pms5003_frame({"pm1": 4, "pm25": 7, "pm10": 9})[11:])
    assert pm.poll() == 1
    assert pm.values["pm10"] == 9


def test_read_returns_none_while_warming_up_then_values():
    uart = FakeUART(frames.pms5003_warmup_frame())
    pm = PMS5003(uart)
    pm.POLL_MS = 0
    assert pm.read() is None
    uart.feed(frames.pms5003_frame({"pm25": 12}))
    assert pm.read()["pm25"] == 12


def test_read_times_out_on_the_timebase_the_sensor_is_given():
    clock = ManualTicks()
    pm = PMS5003(FakeUART(), ticks=clock)
    with pytest.raises(SensorTimeout, match="no frame in 3000 ms"):
        pm.read()
    assert clock.now >= PMS5003.TIMEOUT_MS  # virtual time: the test did not wait 3 s


def test_read_returns_the_newest_of_several_waiting_frames():
    uart = FakeUART(frames.pms5003_frame({"pm25": 12}) + frames.pms5003_frame({"pm25": 14}))
    assert PMS5003(uart).read()["pm25"] == 14


def test_read_times_out_with_advice_when_the_sensor_is_silent():
    pm = PMS5003(FakeUART())
    pm.POLL_MS = 1
    with pytest.raises(SensorTimeout, match="no frame in 5 ms"):
        pm.read(timeout_ms=5)


def test_read_times_out_saying_frames_were_corrupt():
    bad = bytearray(ISSUE_VECTOR)
    bad[10] ^= 0xFF
    pm = PMS5003(FakeUART(bytes(bad)))
    pm.POLL_MS = 1
    with pytest.raises(SensorTimeout, match="1 corrupt frames and no good one.*checksum"):
        pm.read(timeout_ms=5)


def test_sensor_timeout_is_an_oserror_for_the_main_loop():
    assert issubclass(SensorTimeout, OSError)


def test_passive_mode_read_requests_a_frame_and_gets_it():
    uart = FakeUART(responder=frames.pms5003_responder({"pm25": 33}))
    pm = PMS5003(uart)
    pm.POLL_MS = 0
    pm.passive()
    assert pm.read()["pm25"] == 33
    assert uart.writes == [pm5003_cmd("passive"), pm5003_cmd("read")]


def pm5003_cmd(name):
    return {"passive": pms5003.MODE_PASSIVE, "read": pms5003.READ_PASSIVE}[name]


class Pin:
    def __init__(self):
        self.levels = []

    def value(self, v):
        self.levels.append(v)


def test_sleep_and_wake_use_the_set_pin_when_wired():
    pin, uart = Pin(), FakeUART()
    pm = PMS5003(uart, set_pin=pin)
    pm.sleep()
    pm.wake()
    assert pin.levels == [1, 0, 1]  # high at start: SET high is "working"
    assert uart.writes == []


def test_sleep_and_wake_send_commands_without_a_set_pin():
    uart = FakeUART()
    pm = PMS5003(uart)
    pm.sleep()
    pm.wake()
    assert uart.writes == [pms5003.SLEEP, pms5003.WAKE]


def test_wake_in_passive_mode_restates_passive_mode():
    uart = FakeUART()
    pm = PMS5003(uart)
    pm.WAKE_MS = 0
    pm.passive()
    pm.wake()
    assert uart.writes == [pms5003.MODE_PASSIVE, pms5003.WAKE, pms5003.MODE_PASSIVE]


def test_pms7003_is_the_same_driver():
    assert pms5003.PMS7003 is PMS5003
