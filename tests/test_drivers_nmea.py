"""GPS NMEA driver (firmware/airkit/nmea.py) on CPython.

The same parser runs under real MicroPython in test_drivers_micropython.py.
"""

from __future__ import annotations

import calendar

import pytest

from airkit import contract, nmea
from airkit.nmea import GPS, NMEAReader
from airkit_host import frames
from airkit_host.fakebus import FakeUART, ManualTicks
from tests.vectors import HERE, nmea_bytes

TEXTBOOK_GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
TEXTBOOK_RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"


def test_textbook_gga_gives_position_altitude_hdop_and_satellites():
    v = nmea.parse(TEXTBOOK_GGA)
    assert v["fix"] is True
    assert v["lat"] == pytest.approx(48 + 7.038 / 60)
    assert v["lon"] == pytest.approx(11 + 31.0 / 60)
    assert (v["alt"], v["hdop"], v["sats"]) == (545.4, 0.9, 8)
    assert v["time"] == 12 * 3600 + 35 * 60 + 19


def test_textbook_rmc_gives_position_and_unix_time():
    v = nmea.parse(TEXTBOOK_RMC)
    assert v["fix"] is True
    assert v["ts"] == calendar.timegm((1994, 3, 23, 12, 35, 19))


def test_position_keys_are_contract_position_names():
    v = nmea.parse(TEXTBOOK_GGA)
    assert set(nmea.POSITION_KEYS) == set(contract.POSITION)
    assert set(v) - {"type", "fix", "time"} <= set(contract.POSITION)


def test_published_receiver_examples_parse():
    lines = (HERE / "nmea_published.nmea").read_text().splitlines()
    got = [nmea.parse(s) for s in lines]
    assert all(v["fix"] for v in got)
    ublox_gga, sirf_gga = got[2], got[4]
    assert ublox_gga["lat"] == pytest.approx(47 + 17.11399 / 60)
    assert ublox_gga["lon"] == pytest.approx(8 + 33.91590 / 60)
    assert sirf_gga["lon"] == pytest.approx(-(117 + 51.3858 / 60))  # west is negative
    assert got[3]["ts"] == calendar.timegm((2002, 12, 9, 8, 35, 59))


def test_southern_and_western_hemispheres_are_negative():
    v = nmea.parse(frames.gga(-33.8688, -70.6693, 1763900000))
    assert v["lat"] == pytest.approx(-33.8688, abs=1e-6)
    assert v["lon"] == pytest.approx(-70.6693, abs=1e-6)


@pytest.mark.parametrize("talker", ["GP", "GN", "GL"])
def test_gga_and_rmc_are_read_from_gps_glonass_and_combined_talkers(talker):
    gga = nmea.parse(frames.gga(52.52, 13.405, 1763900000, talker=talker))
    rmc = nmea.parse(frames.rmc(52.52, 13.405, 1763900000, talker=talker))
    assert gga["lat"] == pytest.approx(52.52) and rmc["lon"] == pytest.approx(13.405)


def test_gga_without_a_fix_gives_no_position():
    v = nmea.parse(frames.gga(None, None, 1763900000, fix=False))
    assert v == {"type": "GGA", "fix": False, "time": 44000}


def test_rmc_with_status_void_gives_no_position_but_keeps_the_receiver_time():
    v = nmea.parse(frames.rmc(None, None, 1763900000, fix=False))
    assert v["fix"] is False and "lat" not in v
    assert v["ts"] == 1763900000


def test_rmc_with_status_a_but_mode_n_is_not_a_fix():
    body = "GPRMC,121320.00,A,5231.20048,N,01324.29724,E,0.000,,231125,,,N"
    assert nmea.parse(frames.nmea_sentence(body))["fix"] is False


def test_gga_dead_reckoning_quality_6_is_not_a_fix():
    body = "GPGGA,121320.00,5231.20048,N,01324.29724,E,6,00,99.99,34.0,M,47.0,M,,"
    assert nmea.parse(frames.nmea_sentence(body))["fix"] is False


def test_bad_checksum_raises_value_error_naming_both():
    with pytest.raises(ValueError, match="checksum 46 does not match 47"):
        nmea.parse(TEXTBOOK_GGA[:-2] + "46")


def test_changed_character_fails_the_checksum():
    with pytest.raises(ValueError, match="checksum"):
        nmea.parse(TEXTBOOK_GGA.replace("4807", "4817"))


def test_sentence_without_checksum_is_rejected():
    with pytest.raises(ValueError, match="no checksum"):
        nmea.parse(TEXTBOOK_GGA[:-3])


def test_other_sentences_are_checked_but_not_decoded():
    assert nmea.parse(frames.nmea_sentence("GPGSV,1,1,02,05,43,120,28,13,12,045,")) is None


def test_bytes_with_cr_lf_are_accepted():
    assert nmea.parse((TEXTBOOK_GGA + "\r\n").encode())["sats"] == 8


def test_truncated_gga_raises_value_error():
    with pytest.raises(ValueError, match="GGA sentence has 4 fields"):
        nmea.parse(frames.nmea_sentence("GPGGA,123519,4807.038,N,01131.000"))


def test_rmc_time_matches_the_calendar_across_leap_years():
    for y, m, d in [(2000, 2, 29), (2024, 12, 31), (2025, 3, 1), (2038, 1, 19)]:
        ddmmyy = "%02d%02d%02d" % (d, m, y % 100)
        v = nmea.parse(frames.nmea_sentence("GPRMC,235959,A,4807.038,N,01131.000,E,022.4,084.4,%s,003.1,W" % ddmmyy))
        assert v["ts"] == calendar.timegm((y, m, d, 23, 59, 59))


# -- the line reader and the GPS class ------------------------------------------------


def test_reader_splits_a_uart_stream_into_sentences_across_reads():
    data = nmea_bytes("nmea_published.nmea")
    reader = NMEAReader(FakeUART(data, chunk=13))
    lines = list(reader.lines())
    assert len(lines) == 6
    assert lines[0] == TEXTBOOK_GGA.encode()


def test_reader_drops_noise_before_a_dollar_sign():
    reader = NMEAReader(FakeUART(b"\x00\xff#garbage" + (TEXTBOOK_GGA + "\r\n").encode()))
    assert list(reader.lines()) == [TEXTBOOK_GGA.encode()]


def test_reader_drops_an_overlong_line_and_recovers():
    uart = FakeUART(b"$" + b"x" * 300 + (TEXTBOOK_GGA + "\r\n").encode())
    reader = NMEAReader(uart)
    assert list(reader.lines()) == [TEXTBOOK_GGA.encode()]
    assert reader.overflows >= 1


def test_reader_keeps_a_partial_sentence_until_its_end_arrives():
    uart = FakeUART(TEXTBOOK_GGA[:20].encode())
    reader = NMEAReader(uart)
    assert list(reader.lines()) == []
    uart.feed((TEXTBOOK_GGA[20:] + "\r\n").encode())
    assert list(reader.lines()) == [TEXTBOOK_GGA.encode()]


class EveryRMC(GPS):
    RESYNC_MS = 0  # parse every RMC, not just one a minute


def test_gps_on_the_recorded_walk_has_the_last_fix_and_counts_broken_sentences():
    gps = EveryRMC(FakeUART(nmea_bytes("nmea_walk.nmea"), chunk=16))
    while gps.reader._uart.any():
        gps.update()
    pos = gps.position()
    assert pos["lat"] == pytest.approx(52.520231, abs=1e-6)
    assert pos["lon"] == pytest.approx(13.405265, abs=1e-6)
    assert (pos["alt"], pos["hdop"], pos["sats"]) == (34.6, 1.1, 7)
    assert gps.errors == 2  # one changed character, one sentence cut short
    assert "no checksum" in gps.last_error  # the last one: cut short


def test_gps_has_no_position_or_time_before_the_first_fix():
    gps = GPS(FakeUART((frames.rmc(None, None, 1763900000, fix=False)
                        + frames.gga(None, None, 1763900000, fix=False)).encode()))
    assert gps.update() == 2
    assert gps.position() is None
    assert gps.unix_time() is None


def test_gps_unix_time_comes_from_rmc_with_a_fix():
    gps = GPS(FakeUART(frames.rmc(52.52, 13.405, 1763900000).encode()))
    gps.update()
    assert gps.unix_time() in (1763900000, 1763900001)


def test_gps_ignores_rmc_time_before_2020():
    gps = GPS(FakeUART(TEXTBOOK_RMC.encode() + b"\r\n"))  # 1994
    gps.update()
    assert gps.position() is not None
    assert gps.unix_time() is None


def test_gps_skips_rmc_once_the_clock_is_set_while_gga_keeps_coming():
    t = 1763900000
    uart = FakeUART((frames.rmc(52.52, 13.405, t) + frames.gga(52.52, 13.405, t)).encode())
    gps = GPS(uart)
    assert gps.update() == 2
    uart.feed((frames.rmc(52.53, 13.405, t + 1) + frames.gga(52.53, 13.405, t + 1)).encode())
    assert gps.update() == 1
    assert gps.position()["lat"] == pytest.approx(52.53)


def test_gps_reads_rmc_again_when_gga_stops():
    t = 1763900000
    uart = FakeUART((frames.rmc(52.52, 13.405, t) + frames.gga(52.52, 13.405, t)).encode())
    gps = GPS(uart)
    gps.update()
    gps._gga_ms -= 10_000  # the receiver stopped sending GGA ten seconds ago
    uart.feed(frames.rmc(52.54, 13.405, t + 10).encode())
    assert gps.update() == 1
    assert gps.position()["lat"] == pytest.approx(52.54)


def test_parse_can_fill_a_given_dict():
    out = {"stale": 1}
    assert nmea.parse(TEXTBOOK_GGA, out) is out
    assert "stale" not in out and out["sats"] == 8


def test_a_reused_dict_loses_the_position_of_the_previous_fix():
    out = {}
    nmea.parse(TEXTBOOK_GGA, out)
    nmea.parse(frames.gga(None, None, 1763900000, fix=False), out)
    assert out["fix"] is False
    assert not set(out) & set(nmea.POSITION_KEYS)


def test_bytes_and_str_sentences_give_the_same_result():
    assert nmea.parse(TEXTBOOK_RMC.encode()) == nmea.parse(TEXTBOOK_RMC)


def test_numbers_are_read_exactly_as_float_reads_them():
    # The in-place parser divides the digits by a power of ten; both are
    # exact, so the float is the correctly rounded one, as float() gives.
    v = nmea.parse(frames.nmea_sentence("GNGGA,235959.00,0000.00001,S,17959.99999,W,2,12,10.25,-12.345,M,0,M,,"))
    assert (v["alt"], v["hdop"], v["sats"]) == (-12.345, 10.25, 12)
    assert v["lat"] == -(float("00.00001") / 60)
    assert v["lon"] == -(179 + float("59.99999") / 60)
    assert v["time"] == 86399


def test_a_field_that_is_not_a_number_raises_value_error_naming_the_sentence():
    with pytest.raises(ValueError, match="GGA sentence: .*'0x9' is not a number"):
        nmea.parse(frames.nmea_sentence("GPGGA,123519,4807.038,N,01131.000,E,1,08,0x9,545.4,M,46.9,M,,"))


def test_sixty_minutes_is_not_a_coordinate():
    with pytest.raises(ValueError, match="has 60.000 minutes"):
        nmea.parse(frames.nmea_sentence("GPRMC,123519,A,4860.000,N,01131.000,E,022.4,084.4,230394,003.1,W"))


def test_a_sentence_with_non_ascii_bytes_is_refused():
    sentence = frames.nmea_sentence("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,\xe9").strip().encode("latin-1")
    with pytest.raises(ValueError, match="not ASCII"):
        nmea.parse(sentence)


def test_locate_finds_the_address_and_every_field():
    b = TEXTBOOK_GGA.encode()
    f = [nmea._text(b, k) for k in range(nmea._locate(b))]
    assert (f[0], f[2], f[13], len(f)) == ("GPGGA", "4807.038", "", 15)


def test_reader_with_kinds_drops_other_sentences():
    gsv = frames.nmea_sentence("GPGSV,1,1,02,05,43,120,28,13,12,045,")
    reader = NMEAReader(FakeUART((gsv + TEXTBOOK_GGA + "\r\n").encode()), kinds=(b"GGA",))
    assert list(reader.lines()) == [TEXTBOOK_GGA.encode()]


def test_the_gps_says_how_old_its_fix_is_and_leaves_staleness_to_the_kit():
    # The one staleness rule is intervals.add_position (tests/test_kit_app.py).
    clock = ManualTicks()
    gps = GPS(FakeUART(frames.gga(52.52, 13.405, 1763900000).encode()), ticks=clock)
    gps.update()
    clock.advance(10_000)  # the fix is now ten seconds old
    assert gps.fix_age_ms() == 10_000
    assert gps.position() is not None
