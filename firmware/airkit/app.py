# The kit's main loop: sample, aggregate, stamp, store, then forward.
#
#   sampler  every sample_s: read the sensors (sensors.py); every interval_s:
#            aggregate the samples into one reading (intervals.py), stamp it
#            (time, clock source, sequence number; stamping.py), append it to
#            the flash queue, feed the watchdog
#   gps      every 0.5 s: read NMEA, keep the latest fix, set the clock from it
#   uplink   uplink.Uplink: Wi-Fi (networks in priority order, backoff), NTP,
#            MQTT; sends the queue in batches and pops a batch only after the
#            broker's PUBACK; publishes the retained status message
#
# Every reading is in flash before anyone tries to send it, so a power cut,
# a crash or an outage costs at most the interval in progress. All hardware
# arrives through Hardware (buses, radio, RTC, watchdog), so the virtual kits
# run this file unchanged with simulated parts.

import asyncio  # MicroPython >= 1.22 names it asyncio (uasyncio before)

from . import encode, status, version
from .clock import Clock
from .intervals import Interval, add_position, interval_values, pm_wake_offset_ms
from .sensors import BatterySensor, PMSensor, build_sensors
from .stamping import Stamper
from .uplink import Uplink

# Watchdog: the sampler feeds it at least every MAX_SLEEP_MS. The timeout
# leaves room for the longest blocking call (a TLS handshake or an MQTT
# publish waiting MQTTClient.TIMEOUT_MS for its PUBACK).
WDT_TIMEOUT_MS = 60000
MAX_SLEEP_MS = 5000

GPS_POLL_MS = 500


class Hardware:
    """What main.py (real ESP32) or the virtual kit hands to the app.

    Buses and parts may be None when the kit does not have them; the sensors
    enabled in config.json then report "missing".
      pm_uart, pm_set   UART to the PM sensor; the PMS5003 SET pin (optional)
      gps_uart          UART from the GPS
      i2c, i2c_addr     I2C bus; {"bme280": 0x76, "scd4x": 0x62}
      batt_adc, batt_divider   ADC on the supply divider, its ratio (pins.BATT_DIVIDER)
      wlan, ntp         network.WLAN(STA_IF); the ntptime module
      rtc               airkit.clock.MachineRTC (or the virtual kit's)
      wdt, led          machine.WDT (already started) and the status LED Pin
    """

    def __init__(self, rtc, pm_uart=None, pm_set=None, gps_uart=None, i2c=None, i2c_addr=None,
                 batt_adc=None, batt_divider=None, wlan=None, ntp=None, wdt=None, led=None):
        self.rtc = rtc
        self.pm_uart = pm_uart
        self.pm_set = pm_set
        self.gps_uart = gps_uart
        self.i2c = i2c
        self.i2c_addr = i2c_addr or {}
        self.batt_adc = batt_adc
        self.batt_divider = batt_divider
        self.wlan = wlan
        self.ntp = ntp
        self.wdt = wdt
        self.led = led


# -- the kit -------------------------------------------------------------------


class Kit:
    def __init__(self, cfg, hw, queue, seq, timebase, data_dir="/", log=print, new_client=None):
        self.cfg = cfg
        self.hw = hw
        self.queue = queue  # airkit.queue.FlashQueue
        self.seq = seq  # airkit.seqno.Sequence
        self.tb = timebase
        self.data_dir = data_dir
        self.log = log
        self.dev = cfg["device_id"]
        self.clock = Clock(hw.rtc, timebase)
        self.sensors = {}
        self.gps = None
        self.stamps = Stamper(self.clock, timebase, data_dir)
        # None without a radio or networks: the kit then only stores.
        self.uplink = None
        if hw.wlan is not None and cfg["wifi"]:
            self.uplink = Uplink(cfg, hw.wlan, hw.ntp, self.clock, queue, timebase,
                                 self.status_message, self.health, self._say, new_client)
        self.booted = timebase.ticks_ms()
        self.stored = 0  # readings appended this boot
        self.crashed = None
        self._led_off_at = None  # ticks when the heartbeat flick ends; None while dark
        # Optional callable(reading, interval) after each reading is stored
        # (interval None for one re-stamped once the clock was set): live
        # views and tests of the virtual kits; None on the kit.
        self.on_reading = None

    # -- start and stop ------------------------------------------------------

    def _say(self, msg):
        self.log("airtrail: " + msg)

    @property
    def sent(self):
        """Readings the broker acknowledged this boot."""
        return self.uplink.sent if self.uplink is not None else 0

    def boot(self):
        self.stamps.restore(self.cfg["interval_s"])
        self.sensors = build_sensors(self.cfg, self.hw, self.tb)
        self.gps = self.sensors.pop("gps", None)
        self._say("%s %s (%s mode), %d readings queued, %d dropped so far"
                  % (self.dev, version.VERSION, self.cfg["mode"], self.queue.depth, self.queue.dropped))
        for s in self._all_sensors():
            self._say("  %-8s %s%s" % (s.name, s.health, (": " + s.problem) if s.problem else ""))

    def _all_sensors(self):
        out = list(self.sensors.values())
        if self.gps is not None:
            out.append(self.gps)
        return out

    def health(self):
        h = {}
        for s in self._all_sensors():
            h[s.name] = s.health
        for name in ("bme280", "scd4x", "battery", "gps"):
            if name not in h and not self.cfg["sensors"][name]:
                h[name] = status.OFF
        if "pm" not in h:
            h["pm"] = status.OFF
        return h

    async def run(self, readings=None, drain_ms=None):
        """Run the kit. The real kit runs forever (readings=None). Virtual kits
        and tests stop after ``readings`` readings, then keep forwarding for
        up to ``drain_ms`` until the queue is empty."""
        self.boot()
        tasks = []
        if self.gps is not None:
            tasks.append(asyncio.create_task(self._guard(self._gps_loop())))
        if self.uplink is not None:
            tasks.append(asyncio.create_task(self._guard(self.uplink.run())))
        try:
            await self._sampler(readings)
            if drain_ms is not None and self.uplink is not None:
                until = self.tb.ticks_add(self.tb.ticks_ms(), drain_ms)
                while self.queue.depth and self.tb.ticks_diff(until, self.tb.ticks_ms()) > 0 and self.crashed is None:
                    self._feed()
                    await self.tb.sleep_ms(200)
        finally:
            if self.uplink is not None:
                self.uplink.stopping = True
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except BaseException:  # CancelledError is not an Exception on CPython
                    pass
            if self.uplink is not None:
                self.uplink.goodbye()
        if self.crashed is not None:
            raise self.crashed

    async def _guard(self, coro):
        # A bug in a background task must not leave a kit that samples but
        # never sends: remember it, and the sampler re-raises it so main.py
        # logs it and restarts the kit.
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.crashed = exc

    def _feed(self):
        if self.hw.wdt is not None:
            self.hw.wdt.feed()

    # -- sampling ------------------------------------------------------------

    async def _sampler(self, readings):
        tb = self.tb
        interval = self.cfg["interval_s"] * 1000
        sample = self.cfg["sample_s"] * 1000
        pm = self.sensors.get("pm")
        if not isinstance(pm, PMSensor):
            pm = None
        wake_at = pm_wake_offset_ms(interval, self.cfg["pm_warmup_s"] * 1000, sample, self.cfg["pm_duty"]) if pm else None
        if wake_at is not None:
            pm.sleep()
        start = tb.ticks_ms()
        count = 0
        while readings is None or count < readings:
            end = tb.ticks_add(start, interval)
            pm_wake = tb.ticks_add(start, wake_at) if wake_at is not None else None
            iv = Interval()
            # Samples close each sample_s slice of the interval, the last one
            # at its end: a sensor just woken has had time to send something.
            next_sample = tb.ticks_add(start, sample)
            while True:
                if self.crashed is not None:
                    raise self.crashed
                now = tb.ticks_ms()
                if pm_wake is not None and not pm.awake and tb.ticks_diff(now, pm_wake) >= 0:
                    pm.wake()
                if tb.ticks_diff(now, next_sample) >= 0 and tb.ticks_diff(next_sample, end) <= 0:
                    self._take_samples(iv)
                    next_sample = tb.ticks_add(next_sample, sample)
                    if tb.ticks_diff(now, next_sample) > 0:  # fell behind: skip, never burst
                        next_sample = tb.ticks_add(now, sample)
                if tb.ticks_diff(now, end) >= 0:
                    break
                nxt = next_sample
                if pm_wake is not None and not pm.awake and tb.ticks_diff(pm_wake, nxt) < 0:
                    nxt = pm_wake
                if tb.ticks_diff(end, nxt) < 0:
                    nxt = end
                self._feed()
                if self._led_off_at is not None:
                    # The flick lasts its full length: wake for its end too.
                    if tb.ticks_diff(tb.ticks_ms(), self._led_off_at) >= 0:
                        self.hw.led.value(0)
                        self._led_off_at = None
                    elif tb.ticks_diff(self._led_off_at, nxt) < 0:
                        nxt = self._led_off_at
                await tb.sleep_ms(max(0, min(tb.ticks_diff(nxt, tb.ticks_ms()), MAX_SLEEP_MS)))
            if wake_at is not None:
                pm.sleep()
            self._store(iv, interval)
            count += 1
            start = end
            if tb.ticks_diff(tb.ticks_ms(), end) > interval:
                # Blocked for more than an interval (a long outage of the event
                # loop): start afresh rather than emit empty intervals.
                start = tb.ticks_ms()

    def _take_samples(self, iv):
        for name in self.sensors:
            s = self.sensors[name]
            is_pm = name == "pm" and isinstance(s, PMSensor)
            if is_pm and not s.awake:
                continue  # asleep between duty cycles: nothing to read
            v = s.sample()
            if v is None:
                if s.health in (status.MISSING, status.ERROR):
                    iv.faults += 1
            elif is_pm:
                (iv.pm_warm if s.warming() else iv.pm).append(v)
            else:
                iv.env.append(v)

    def _store(self, iv, interval_ms):
        values, flags = interval_values(iv, self.cfg["aggregate"])
        if self.gps is not None and self.gps.fix_at is not None:
            add_position(values, flags, self.gps.fix, self.tb.ticks_diff(self.tb.ticks_ms(), self.gps.fix_at), interval_ms)
        stamp = self.stamps.now()
        if stamp is None:
            self.stamps.hold(values, flags)  # stamped once NTP or GPS sets the clock
            return
        ts, clk = stamp
        if self.stamps.held:
            for then, held_values, held_flags in self.stamps.release(ts):
                self._append(then, clk, held_values, held_flags)  # no Interval: it is gone
        self._append(ts, clk, values, flags, iv)
        if self.hw.led is not None:
            refused = self.uplink is not None and self.uplink.refusing is not None
            self.hw.led.value(1)
            self._led_off_at = self.tb.ticks_add(self.tb.ticks_ms(), (status.REFUSED if refused else status.HEARTBEAT)[0][0])
        self.stamps.save(ts)

    def _append(self, ts, clk, values, flags, iv=None):
        reading = {"ts": ts, "clk": clk, "seq": self.seq.next()}
        for k in values:
            reading[k] = values[k]
        if flags:
            reading["flags"] = flags
        # The one rule that keeps readings safe: into flash before any send.
        self.queue.append(encode.reading_json(reading))
        self.stored += 1
        if self.uplink is not None:
            self.uplink.wake.set()
        if self.on_reading is not None:
            self.on_reading(reading, iv)

    async def _gps_loop(self):
        while True:
            unix = self.gps.poll()
            if unix is not None:
                self.clock.sync_gps(unix)
            await self.tb.sleep_ms(GPS_POLL_MS)

    # -- what the kit says about itself -------------------------------------------

    def status_message(self):
        """The retained status message this kit would publish now (bytes)."""
        batt = self.sensors.get("battery")
        return status.status_message(
            self.dev, version.VERSION, self.cfg["mode"], self.clock.now(), self.queue.depth, self.queue.dropped,
            rssi=self.uplink.rssi() if self.uplink is not None else None,
            batt_v=batt.last if isinstance(batt, BatterySensor) else None,
            uptime_s=self.tb.ticks_diff(self.tb.ticks_ms(), self.booted) // 1000,
            sensors=self.health(),
            refused=self.uplink.refused if self.uplink is not None else 0)
