"""Wi-Fi with several networks, reconnect backoff, and the kit's clock.

airkit.net.WiFi drives the virtual kits' scripted radio (airkit_host.simhw),
which has the network.WLAN interface, so this is the code that runs on the kit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest

from airkit import clock, contract, net, nmea
from airkit_host.simhw import ScriptedWLAN, SimNTP, SimRTC, SimTime
from tests.support.micropython import requires_micropython, run_micropython

HOME = {"ssid": "home", "password": "home-secret"}
PHONE = {"ssid": "phone", "password": "phone-secret"}


def run(coro):
    return asyncio.run(coro)


def wifi(networks_in_range: dict[str, str], outages=(), speedup: float = 1000) -> tuple[net.WiFi, ScriptedWLAN, SimTime]:
    tb = SimTime(speedup=speedup)
    wlan = ScriptedWLAN(tb, networks_in_range, outages)
    return net.WiFi(wlan, [HOME, PHONE], tb), wlan, tb


# -- Wi-Fi ----------------------------------------------------------------------


def test_wifi_joins_the_first_network_of_the_priority_list_when_both_are_in_range():
    w, _, _ = wifi({"phone": "phone-secret", "home": "home-secret"})
    assert run(w.connect()) == "home"
    assert w.isconnected()


def test_wifi_falls_back_to_the_hotspot_when_home_is_out_of_range():
    w, _, _ = wifi({"phone": "phone-secret"})
    assert run(w.connect()) == "phone"


def test_wifi_reports_a_wrong_password_and_tries_the_next_network():
    w, _, _ = wifi({"home": "changed-password", "phone": "phone-secret"})
    assert run(w.connect()) == "phone"
    w2, _, _ = wifi({"home": "changed-password"})
    assert run(w2.connect()) is None
    assert "refused the password" in w2.problem and "home" in w2.problem


def test_wifi_says_when_no_configured_network_is_in_range():
    w, _, _ = wifi({"cafe": "x"})
    assert run(w.connect()) is None
    assert "none of the configured Wi-Fi networks" in w.problem


def test_wifi_outage_drops_the_connection_until_the_kit_joins_again():
    # Sleeps never end early, so a stall only makes a check later; the one that
    # must land inside the outage has 9 virtual seconds (0.45 s real at 20x) to spare.
    w, wlan, tb = wifi({"home": "home-secret"}, outages=[(5, 10)], speedup=20)
    assert run(w.connect()) == "home"
    run(tb.sleep_ms(6000))
    assert not w.isconnected()
    assert run(w.connect()) is None  # still inside the outage
    run(tb.sleep_ms(10000))
    assert not w.isconnected()  # the outage is over, but a dropped kit must rejoin
    assert run(w.connect()) == "home"


def test_wifi_off_powers_the_radio_down():
    w, wlan, _ = wifi({"home": "home-secret"})
    run(w.connect())
    w.off()
    assert not wlan.active() and not w.isconnected()


def test_rssi_is_reported_only_while_connected():
    w, _, _ = wifi({"home": "home-secret"})
    assert w.rssi() is None
    run(w.connect())
    assert w.rssi() == -61


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half():
    random.seed(1)
    b = net.Backoff(first_ms=1000, max_ms=8000)
    delays = [b.next_ms() for _ in range(6)]
    for d, nominal in zip(delays, [1000, 2000, 4000, 8000, 8000, 8000]):
        assert nominal // 2 <= d <= nominal
    b.reset()
    assert b.next_ms() <= 1000


def test_backoff_jitter_spreads_kits_that_failed_together():
    b = [net.Backoff(first_ms=60000) for _ in range(20)]
    assert len({x.next_ms() for x in b}) > 10


# -- clock ----------------------------------------------------------------------


def _unix_seconds(y: int, m: int, d: int, h: int, mi: int, s: int) -> int:
    # The kit's calendar maths: what nmea turns an RMC date and time into.
    return nmea.days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s


def test_days_from_civil_matches_the_calendar_for_leap_days_and_century_years():
    for y, m, d, h, mi, s in [(1970, 1, 1, 0, 0, 0), (2000, 2, 29, 12, 0, 1), (2024, 2, 29, 23, 59, 59), (2100, 3, 1, 0, 0, 0), (2026, 11, 23, 12, 30, 5)]:
        expected = int(dt.datetime(y, m, d, h, mi, s, tzinfo=dt.UTC).timestamp())
        assert _unix_seconds(y, m, d, h, mi, s) == expected


@requires_micropython
def test_days_from_civil_and_epoch_offset_agree_under_micropython():
    out = run_micropython(
        "from airkit import clock, nmea\nimport time\n"
        "print(nmea.days_from_civil(2024, 2, 29) * 86400 + 23 * 3600 + 59 * 60 + 59, clock.EPOCH_OFFSET, time.gmtime(0)[0])\n"
    )
    stamp, offset, epoch_year = out.split()
    assert int(stamp) == int(dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    assert int(offset) == (clock.UNIX_2000 if epoch_year == "2000" else 0)


def make_clock(error_s: float = 0.0):
    tb = SimTime(speedup=1000, start_unix=1_790_000_000)
    rtc = SimRTC(tb, error_s)
    return clock.Clock(rtc, tb), rtc, tb


def assert_true_time(ts: int, before: float, after: float) -> None:
    # At 1000 x, each real millisecond of a busy machine is a virtual second,
    # so compare with true time read before the sync and after the reading:
    # the kit's whole seconds may floor once when set and once when read.
    assert before - 2 <= ts <= after


def test_clock_is_labelled_rtc_until_it_is_synchronised():
    c, _, _ = make_clock()
    assert c.now()[1] == "rtc"


def test_ntp_sync_sets_the_rtc_and_labels_readings_ntp():
    c, rtc, tb = make_clock(error_s=-3600)
    wlan = ScriptedWLAN(tb, {"home": "pw-123456"})
    wlan.active(True)
    wlan.connect("home", "pw-123456")
    run(tb.sleep_ms(2000))
    before = tb.unix()
    c.sync_ntp(SimNTP(rtc, wlan))
    ts, clk = c.now()
    assert clk == "ntp"
    assert_true_time(ts, before, tb.unix())


def test_ntp_sync_offline_raises_and_keeps_the_rtc_label():
    c, rtc, tb = make_clock()
    with pytest.raises(OSError):
        c.sync_ntp(SimNTP(rtc, ScriptedWLAN(tb, {})))
    assert c.now()[1] == "rtc"


def test_gps_time_sets_the_clock_when_there_is_no_ntp():
    c, _, tb = make_clock(error_s=-500)
    before = tb.unix()
    assert c.sync_gps(int(before))
    ts, clk = c.now()
    assert clk == "gps"
    assert_true_time(ts, before, tb.unix())


def test_gps_time_does_not_override_a_fresh_ntp_sync():
    c, rtc, tb = make_clock()
    c._ntp_at = tb.ticks_ms()
    c.source = "ntp"
    assert not c.sync_gps(int(tb.unix()) + 100)
    assert c.now()[1] == "ntp"


def test_restore_moves_an_rtc_that_restarted_at_its_epoch_to_the_last_known_time():
    c, rtc, tb = make_clock(error_s=-(1_790_000_000 - clock.UNIX_2000))  # RTC says 2000-01-01
    last = 1_789_990_000
    c.restore(last)
    ts, clk = c.now()
    assert ts >= last and ts >= contract.EARLIEST_TS and clk == "rtc"


def test_restore_leaves_an_rtc_that_is_already_later_alone():
    c, _, tb = make_clock()
    before = c.now()[0]
    c.restore(before - 1000)
    assert c.now()[0] >= before
