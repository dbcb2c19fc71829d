"""`airtrail kit decode`: a serial log in, the firmware decoders' view out."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from airkit_host import frames
from airtrail.cli import app
from airkit_host.errors import KitError
from tests.vectors import HERE, hex_stream

runner = CliRunner()

ISSUE_VECTOR = "424d001c0005000d00160005000d001602fd00fc001d000f00060006970003c5"
ISSUE_VALUES = {"pm1_cf1": 5, "pm25_cf1": 13, "pm10_cf1": 22, "pm1": 5, "pm25": 13, "pm10": 22,
                "n03": 765, "n05": 252, "n10": 29, "n25": 15, "n50": 6, "n100": 6}


def decode(*args: str, stdin: str | None = None) -> list[dict]:
    result = runner.invoke(app, ["kit", "decode", *args], input=stdin)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return [json.loads(line) for line in result.stdout.splitlines()]


def problem(*args: str) -> str:
    result = runner.invoke(app, ["kit", "decode", *args])
    assert isinstance(result.exception, KitError), result.output
    return str(result.exception)


def test_pms5003_issue_vector_prints_its_values_as_json():
    assert decode("pms5003", ISSUE_VECTOR) == [{"offset": 0, **ISSUE_VALUES}]


def test_pms7003_uses_the_same_decoder():
    assert decode("pms7003", ISSUE_VECTOR)[0]["pm25"] == 13


def test_hex_with_spaces_as_several_arguments():
    spaced = " ".join(ISSUE_VECTOR[i:i + 2] for i in range(0, len(ISSUE_VECTOR), 2))
    assert decode("pms5003", *spaced.split())[0]["n03"] == 765


def test_hex_with_0x_prefixes_commas_and_colons():
    data = bytes.fromhex(ISSUE_VECTOR)
    assert decode("pms5003", ",".join(f"0x{b:02X}" for b in data))[0]["pm10"] == 22
    assert decode("pms5003", ":".join(f"{b:02x}" for b in data))[0]["pm10"] == 22


def test_a_stream_of_several_frames_with_noise_warmup_and_replies():
    stream = (b"\x00\xff" + frames.pms5003_reply(0xE1, 0) + frames.pms5003_warmup_frame()
              + bytes.fromhex(ISSUE_VECTOR) + frames.pms5003_frame({"pm25": 40}))
    out = decode("pms5003", stream.hex())
    assert out[0] == {"offset": 2, "reply_to": "0xe1", "data": 0}
    assert out[1] == {"offset": 10, "warming_up": True}
    assert out[2]["pm25"] == 13 and out[3]["pm25"] == 40


def test_bad_pms5003_checksum_says_which_frame_and_both_sums():
    bad = ISSUE_VECTOR[:-1] + "4"
    msg = problem("pms5003", ISSUE_VECTOR + bad)
    assert msg.startswith("frame 2 at byte 32:")
    assert "checksum 0x03c4 does not match 0x03c5" in msg


def test_truncated_pms5003_frame_says_how_short_it_is():
    assert "is 20 bytes, expected 32" in problem("pms5003", ISSUE_VECTOR[:40])


def test_no_frame_header_in_the_input_suggests_the_baud_rate():
    assert "no PMS5003 frame" in problem("pms5003", "00 11 22 33")


def test_sds011_published_frame():
    assert decode("sds011", "AA C0 D4 04 3A 0A A1 60 1D AB") == [
        {"offset": 0, "pm25": 123.6, "pm10": 261.8, "device_id": "0xa160"}]


def test_sds011_recorded_stream_stops_at_the_corrupt_frame():
    msg = problem("sds011", hex_stream("sds011_stream.hex").hex())
    assert msg.startswith("frame 4 at byte 34:")
    assert "checksum" in msg


def test_scd4x_datasheet_response():
    out = decode("scd4x", "01f433 6667a2 5eb93c")
    assert out[0]["co2"] == 500
    assert out[0]["temp"] == pytest.approx(25.0, abs=0.01)


def test_scd4x_other_responses_print_their_words():
    assert decode("scd4x", "8006" + f"{frames.scd4x_words(0x8006)[2]:02x}") == [{"words": ["0x8006"]}]


def test_scd4x_bad_crc_names_the_word():
    assert "word 1 (0x6667): CRC 0xa3 does not match 0xa2" in problem("scd4x", "01f4336667a35eb93c")


def test_scd4x_bytes_not_in_threes():
    assert "3-byte groups" in problem("scd4x", "01f433 66")


def test_nmea_sentences_decode_and_others_are_noted():
    gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    gsv = frames.nmea_sentence("GPGSV,1,1,02,05,43,120,28,13,12,045,").strip()
    out = decode("nmea", gga, gsv)
    assert out[0]["lat"] == 48.1173 and out[0]["sats"] == 8
    assert out[1] == {"type": "GSV", "note": "not decoded: the kit uses GGA and RMC"}


def test_nmea_log_from_standard_input():
    log = (HERE / "nmea_published.nmea").read_text()
    out = decode("nmea", "-", stdin=log)
    assert len(out) == 6 and all(o["fix"] for o in out)


def test_nmea_bad_checksum_names_the_sentence():
    msg = problem("nmea", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*46")
    assert msg.startswith("sentence 1 ($GPGGA,12351...)")
    assert "checksum 46 does not match 47" in msg


def test_text_without_a_dollar_is_not_nmea():
    assert "no NMEA sentence" in problem("nmea", "hello")


def test_non_hex_input_says_which_character():
    assert "'g' is not a hex digit" in problem("pms5003", "42 4g")


def test_odd_number_of_hex_digits():
    assert "3 hex digits is not a whole number of bytes" in problem("sds011", "aac")


def test_unknown_sensor_is_a_usage_error():
    result = runner.invoke(app, ["kit", "decode", "pms9000", "00"])
    assert result.exit_code == 2
