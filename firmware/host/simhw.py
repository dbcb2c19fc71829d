"""Stand-ins for the ESP32 parts a virtual kit cannot have.

Each one has the interface of the MicroPython object it replaces (network.WLAN,
machine.RTC via airkit.clock, ntptime, machine.Pin, machine.WDT, machine.ADC),
so the real firmware (airkit.app, airkit.net, airkit.clock) drives them
unchanged. Time is virtual: SimTime runs ``speedup`` times faster than the
wall clock, so an hour-long walk takes seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from airkit import net


class SimTime:
    """airkit.clock.Timebase on a virtual clock running ``speedup`` x real time."""

    def __init__(self, speedup: float = 1.0, start_unix: float | None = None) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self.speedup = speedup
        self.start_unix = time.time() if start_unix is None else start_unix
        self._t0 = time.monotonic()
        self.ticks = SimDriverTicks(self)

    def ticks_ms(self) -> int:
        return int((time.monotonic() - self._t0) * self.speedup * 1000)

    @staticmethod
    def ticks_diff(a: int, b: int) -> int:
        return a - b

    @staticmethod
    def ticks_add(a: int, b: int) -> int:
        return a + b

    async def sleep_ms(self, ms: int) -> None:
        await asyncio.sleep(max(ms, 0) / 1000 / self.speedup)

    async def wait_event(self, event: asyncio.Event, ms: int) -> bool:
        try:
            await asyncio.wait_for(event.wait(), max(ms, 0) / 1000 / self.speedup)
            return True
        except asyncio.TimeoutError:
            return event.is_set()

    def elapsed_s(self) -> float:
        return self.ticks_ms() / 1000

    def unix(self) -> float:
        """True (virtual) UTC time: what an NTP server or a GPS would say."""
        return self.start_unix + self.elapsed_s()


class SimDriverTicks:
    """What the drivers are given on a SimTime (airkit.sensorbase): its
    virtual ticks, and blocking sleeps that shrink with the speedup like every
    other wait. Unscaled, a BME280's 10 ms conversion at 400x would cost four
    virtual seconds per sample."""

    def __init__(self, simtime: SimTime) -> None:
        self.ticks_ms = simtime.ticks_ms
        self.ticks_diff = simtime.ticks_diff
        self.ticks_add = simtime.ticks_add
        self._speedup = simtime.speedup

    def sleep_ms(self, ms: int) -> None:
        time.sleep(max(ms, 0) / 1000 / self._speedup)


class SimRTC:
    """The kit's RTC (airkit.clock's rtc interface): true time plus an error.

    ``error_s`` is how wrong the RTC is at boot: 0 for a kit that kept its
    time, large and negative for one whose RTC restarted at the epoch.
    """

    def __init__(self, simtime: SimTime, error_s: float = 0.0) -> None:
        self.simtime = simtime
        self.error_s = error_s

    def time(self) -> float:
        return self.simtime.unix() + self.error_s

    def set(self, seconds: float) -> None:
        self.error_s = seconds - self.simtime.unix()


class SimNTP:
    """ntptime: sets the RTC to the true time, if the Wi-Fi is up."""

    def __init__(self, rtc: SimRTC, wlan: "ScriptedWLAN") -> None:
        self.rtc = rtc
        self.wlan = wlan
        self.host = "pool.ntp.org"

    def settime(self) -> None:
        if not self.wlan.isconnected():
            raise OSError(113, "EHOSTUNREACH")  # what ntptime raises offline
        self.rtc.set(self.rtc.simtime.unix())


class ScriptedWLAN:
    """network.WLAN(STA_IF) whose access points vanish during scripted outages.

    ``outages``: [(start_s, duration_s)] in virtual seconds since the kit
    started. An outage drops an existing association; the firmware has to
    notice and join again, as on a real kit.
    """

    ASSOCIATE_MS = 1500  # a typical WPA2 join plus DHCP

    def __init__(self, simtime: SimTime, networks: dict[str, str], outages: Sequence[tuple[float, float]] = (), rssi: int = -61) -> None:
        self.simtime = simtime
        self.networks = dict(networks)  # ssid -> password of the access points in range
        self.outages = [(float(s), float(s) + float(d)) for s, d in outages]
        self.rssi = rssi
        self._active = False
        self._target: tuple[str, str] | None = None
        self._joined_at: float | None = None
        self.joins = 0

    def in_outage(self, at_s: float | None = None) -> bool:
        t = self.simtime.elapsed_s() if at_s is None else at_s
        return any(start <= t < end for start, end in self.outages)

    def _outage_since(self, since_s: float) -> bool:
        now = self.simtime.elapsed_s()
        return any(start < now and end > since_s for start, end in self.outages)

    # network.WLAN interface ----------------------------------------------

    def active(self, on: bool | None = None) -> bool:
        if on is not None:
            self._active = bool(on)
            if not on:
                self._target = None
                self._joined_at = None
        return self._active

    def scan(self) -> list[tuple]:
        if not self._active:
            raise OSError("Wi-Fi Not Started")
        if self.in_outage():
            return []
        # (ssid, bssid, channel, RSSI, security, hidden) as on the ESP32
        return [(ssid.encode(), b"\x02\x00\x00\x00\x00%c" % i, 6, self.rssi, 3, False) for i, ssid in enumerate(self.networks)]

    def connect(self, ssid: str, password: str = "") -> None:
        if not self._active:
            raise OSError("Wi-Fi Not Started")
        self._target = (ssid, password)
        self._joined_at = self.simtime.elapsed_s()
        self.joins += 1

    def disconnect(self) -> None:
        self._target = None
        self._joined_at = None

    def status(self, param: str | None = None):
        if param == "rssi":
            if not self.isconnected():
                raise OSError("not connected")
            return self.rssi
        if self._target is None:
            return net.STAT_IDLE
        ssid, password = self._target
        if self.in_outage() or ssid not in self.networks:
            return net.STAT_NO_AP_FOUND
        if self.networks[ssid] != password:
            return net.STAT_WRONG_PASSWORD
        if self._outage_since(self._joined_at or 0):
            return net.STAT_NO_AP_FOUND  # dropped by an outage; needs a new connect()
        if (self.simtime.elapsed_s() - (self._joined_at or 0)) * 1000 < self.ASSOCIATE_MS:
            return net.STAT_CONNECTING
        return net.STAT_GOT_IP

    def isconnected(self) -> bool:
        connected = self._active and self.status() == net.STAT_GOT_IP
        return connected


class SimPin:
    """machine.Pin as an output: remembers its level (the PM sensor's SET line, the LED)."""

    def __init__(self, level: int = 0) -> None:
        self.level = level
        self.changes = 0

    def value(self, v: int | None = None) -> int:
        if v is not None and int(bool(v)) != self.level:
            self.level = int(bool(v))
            self.changes += 1
        return self.level

    def on(self) -> None:
        self.value(1)

    def off(self) -> None:
        self.value(0)


class SimWDT:
    """machine.WDT: counts feeds; ``starved_ms`` tells a test the longest gap."""

    def __init__(self, simtime: SimTime, timeout: int = 60000) -> None:
        self.simtime = simtime
        self.timeout = timeout
        self.feeds = 0
        self._last = simtime.ticks_ms()
        self.longest_gap_ms = 0

    def feed(self) -> None:
        now = self.simtime.ticks_ms()
        self.longest_gap_ms = max(self.longest_gap_ms, now - self._last)
        self._last = now
        self.feeds += 1


class SimADC:
    """machine.ADC with read_uv(): a supply voltage seen through the kit's divider."""

    def __init__(self, volts, divider: float) -> None:
        self.volts = volts  # a callable giving the supply voltage now
        self.divider = divider  # V_in / V_adc

    def read_uv(self) -> int:
        return int(self.volts() / self.divider * 1_000_000)
