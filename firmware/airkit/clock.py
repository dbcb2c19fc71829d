# The kit's time: Unix seconds for the readings, and which source set them.
#
#   ntp  the RTC was set over the network this boot (ntptime, when online)
#   gps  the RTC was set from a GPS fix (NMEA RMC date + time), when no NTP
#   rtc  never set this boot: the RTC is free-running from the last known
#        time (see restore()), so the walk tooling estimates an offset
#
# A reading's time is taken from the RTC (time.time()), which NTP or GPS set;
# the source label is what the contract calls "clk".
#
# Also the Timebase: monotonic milliseconds and sleeps, injected into the app
# so the virtual kits can run hours of walk in seconds.

import time

import asyncio  # MicroPython >= 1.22 names it asyncio (uasyncio before)

from . import ticks

# MicroPython's epoch is 2000-01-01 on some ports (the ESP32: time.gmtime(0)
# gives 2000 on v1.22) and 1970-01-01 on others; CPython's is 1970. time.gmtime(0)
# tells which, so the kit sends Unix seconds either way.
UNIX_2000 = 946684800
EPOCH_OFFSET = UNIX_2000 if time.gmtime(0)[0] == 2000 else 0

# After an NTP sync, GPS time does not overwrite it until NTP is this old:
# NTP is good to milliseconds, an NMEA RMC time only to the second.
NTP_FRESH_MS = 6 * 3600 * 1000
# A GPS fix arrives every second; re-setting the RTC that often only adds
# jitter, so GPS time is applied once, then hourly against drift.
GPS_RESYNC_MS = 3600 * 1000


class Timebase:
    """Monotonic time, sleeping and waiting for the app (time.ticks_* / asyncio).

    ticks wrap around on MicroPython (2**30 ms, ~12 days, on the ESP32): always
    compare them with ticks_diff and advance them with ticks_add.
    """

    def __init__(self):
        # Attributes, not module functions: the virtual kits replace them with simulated time.
        self.ticks = ticks  # what the drivers are given: the same ticks, blocking sleep_ms (sensorbase.py)
        self.ticks_ms = ticks.ticks_ms
        self.ticks_diff = ticks.ticks_diff
        self.ticks_add = ticks.ticks_add

    async def sleep_ms(self, ms):
        if hasattr(asyncio, "sleep_ms"):
            await asyncio.sleep_ms(ms)
        else:
            await asyncio.sleep(ms / 1000)

    async def wait_event(self, event, ms):
        """Wait for ``event`` at most ``ms``; True if it was set."""
        try:
            if hasattr(asyncio, "wait_for_ms"):
                await asyncio.wait_for_ms(event.wait(), ms)
            else:
                await asyncio.wait_for(event.wait(), ms / 1000)
            return True
        except asyncio.TimeoutError:
            return event.is_set()


class MachineRTC:
    """The ESP32's RTC behind the two calls Clock needs (port-epoch seconds)."""

    def __init__(self, rtc):
        self.rtc = rtc  # machine.RTC()

    def time(self):
        return time.time()

    def set(self, port_seconds):
        y, mo, d, h, mi, s, wd, _ = time.gmtime(port_seconds)
        # machine.RTC.datetime takes (year, month, day, weekday, hours, minutes, seconds, subseconds).
        self.rtc.datetime((y, mo, d, wd, h, mi, s, 0))


class Clock:
    def __init__(self, rtc, timebase):
        self.rtc = rtc  # .time() -> port-epoch seconds; .set(port-epoch seconds)
        self.tb = timebase
        self.source = "rtc"
        self._ntp_at = None  # ticks of the last NTP sync
        self._gps_at = None  # ticks of the last GPS sync

    def now(self):
        """(Unix seconds, clock source) for stamping a reading."""
        return int(self.rtc.time()) + EPOCH_OFFSET, self.source

    def set(self, unix_s, source):
        self.rtc.set(unix_s - EPOCH_OFFSET)
        self.source = source

    def restore(self, last_unix_s):
        """At boot: never run behind the last time this kit knew.

        After a power cut the ESP32's RTC restarts at its epoch (2000-01-01),
        which the collector refuses (contract.EARLIEST_TS). Like Debian's
        fake-hwclock, continue from the last saved time instead: still labelled
        "rtc", but ordered after every earlier reading and plausible enough for
        the walk tooling to correct with an offset.
        """
        if last_unix_s and self.now()[0] < last_unix_s:
            self.rtc.set(last_unix_s - EPOCH_OFFSET)

    def wants_ntp(self):
        return self._ntp_at is None or self.tb.ticks_diff(self.tb.ticks_ms(), self._ntp_at) > NTP_FRESH_MS

    def sync_ntp(self, ntp):
        """Set the RTC over NTP. ``ntp`` is MicroPython's ntptime module (or the
        virtual kit's stand-in): .host, .settime(). Raises OSError if unreachable."""
        ntp.settime()
        self.source = "ntp"
        self._ntp_at = self.tb.ticks_ms()

    def sync_gps(self, unix_s):
        """Set the RTC from a GPS fix's UTC time, unless a recent NTP sync is better."""
        if unix_s is None or unix_s < UNIX_2000:
            return False
        if self.source == "ntp" and not self.wants_ntp():
            return False
        now = self.tb.ticks_ms()
        if self.source == "gps" and self.tb.ticks_diff(now, self._gps_at) < GPS_RESYNC_MS:
            return False
        self.set(unix_s, "gps")
        self._gps_at = now
        return True
