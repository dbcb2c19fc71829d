# The kit's main loop: sample, aggregate, stamp, store, then forward.
#
#   sampler  every sample_s: read the sensors; every interval_s: aggregate the
#            samples into one reading, stamp it (time, clock source, sequence
#            number), append it to the flash queue, feed the watchdog
#   gps      every 0.5 s: read NMEA, keep the latest fix, set the clock from it
#   uplink   Wi-Fi (networks in priority order, backoff), NTP, MQTT; sends the
#            queue in batches and pops a batch only after the broker's PUBACK;
#            publishes the retained status message
#
# Every reading is in flash before anyone tries to send it, so a power cut,
# a crash or an outage costs at most the interval in progress. All hardware
# arrives through Hardware (buses, radio, RTC, watchdog), so the virtual kits
# run this file unchanged with simulated parts.

import asyncio  # MicroPython >= 1.22 names it asyncio (uasyncio before)

from . import aggregate, contract, encode, status, version
from .clock import Clock
from .mqtt import MQTTClient
from .net import Backoff, WiFi
from .queue import read_atomic, write_atomic

# Watchdog: the sampler feeds it at least every MAX_SLEEP_MS. The timeout
# leaves room for the longest blocking call (a TLS handshake or an MQTT
# publish waiting MQTTClient.TIMEOUT_MS for its PUBACK).
WDT_TIMEOUT_MS = 60000
MAX_SLEEP_MS = 5000

# PM duty cycle: after warm-up, sample for PM_WINDOW_MS (at least two
# samples); cycling is worth it only if the fan then sleeps at least
# PM_MIN_SLEEP_MS per interval.
PM_WINDOW_MS = 10000
PM_MIN_SLEEP_MS = 20000

RH_HIGH = 85  # % RH: optical PM sensors over-read in mist and fog (contract.FLAGS)
GPS_POLL_MS = 500
GPS_STALE_MAX_MS = 120000  # an older fix is no position at all
STATUS_EVERY_MS = 600000
# The last known time is saved at most this often (a tiny file, replaced
# atomically). After a power cut the RTC continues from it plus this much and
# an interval, so new readings are never stamped before ones already stored.
CLOCK_SAVE_MS = 60000
CLOCK_FILE = "clock.txt"  # last known Unix time, for Clock.restore() after a power cut
# Readings taken before the kit has ever known the time wait in RAM (see
# Kit._store); at most this many, oldest dropped first.
UNSTAMPED_MAX = 120


class Hardware:
    """What main.py (real ESP32) or the virtual kit hands to the app.

    Buses and parts may be None when the kit does not have them; the sensors
    enabled in config.json then report "missing".
      pm_uart, pm_set   UART to the PM sensor; the PMS5003 SET pin (optional)
      gps_uart          UART from the GPS
      i2c, i2c_addr     I2C bus; {"bme280": 0x76, "scd4x": 0x62}
      batt_adc, batt_divider   ADC on the supply divider, its ratio
      wlan, ntp         network.WLAN(STA_IF); the ntptime module
      rtc               airkit.clock.MachineRTC (or the virtual kit's)
      wdt, led          machine.WDT (already started) and the status LED Pin
    """

    def __init__(self, rtc, pm_uart=None, pm_set=None, gps_uart=None, i2c=None, i2c_addr=None,
                 batt_adc=None, batt_divider=2.0, wlan=None, ntp=None, wdt=None, led=None):
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


# -- sensors -------------------------------------------------------------------
#
# One small adapter per kind of sensor gives the loop a common shape:
#   name, health (status.OK / MISSING / ERROR / ...), problem (text or None),
#   sample() -> dict of contract fields, or None for "nothing this time".
# Adapters copy the drivers' reused dicts, and keep time with the app's
# timebase (virtual kits run faster than the drivers' own clock).


class PMSensor:
    name = "pm"
    SILENT_MS = 5000  # awake but no frame this long: not there, or stopped

    def __init__(self, driver, tb, warmup_ms):
        self.drv = driver
        self.tb = tb
        self.warmup_ms = warmup_ms
        self.health = status.WARMUP
        self.problem = None
        self.seen = False  # a frame ever arrived
        self.awake = True  # both drivers leave the sensor running at power-on
        self.woke = tb.ticks_ms()
        self.last_frame = self.woke

    def wake(self):
        self.drv.wake()
        self.awake = True
        self.woke = self.last_frame = self.tb.ticks_ms()

    def sleep(self):
        self.drv.sleep()
        self.awake = False

    def warming(self):
        return self.tb.ticks_diff(self.tb.ticks_ms(), self.woke) < self.warmup_ms

    def sample(self):
        errors = self.drv.errors
        try:
            got = self.drv.poll()
        except OSError as exc:
            self.health, self.problem = status.ERROR, str(exc)
            return None
        now = self.tb.ticks_ms()
        if got:
            self.seen = True
            self.last_frame = now
            values = self.drv.values
            if values is None:  # all-zero frame: fan still spinning up
                self.health = status.WARMUP
                return None
            self.health = status.WARMUP if self.warming() else status.OK
            self.problem = None
            return dict(values)
        if self.tb.ticks_diff(now, self.last_frame) > self.SILENT_MS:
            if self.drv.errors > errors or self.seen:
                self.health = status.ERROR
                self.problem = self.drv.last_error or "PM sensor stopped sending frames"
            else:
                self.health = status.MISSING
                self.problem = "no frames from the PM sensor: check its 5 V supply and that its TX goes to the kit's RX pin"
        return None


class I2CSensor:
    """A sensor built on the I2C bus (BME280, SCD4x); rebuilt after failures,
    so a connector that was loose comes back without a reset."""

    RETRY_MS = 60000

    def __init__(self, name, build, read, tb):
        self.name = name
        self._build = build  # () -> driver; raises OSError (absent) or ValueError (wrong chip)
        self._read = read  # driver -> dict or None
        self.tb = tb
        self.drv = None
        self.seen = False
        self.health = status.MISSING
        self.problem = None
        self.retry_at = None

    def start(self):
        try:
            self.drv = self._build()
        except (OSError, ValueError) as exc:
            self.drv = None
            self.health = status.ERROR if self.seen else status.MISSING
            self.problem = str(exc)
            self.retry_at = self.tb.ticks_add(self.tb.ticks_ms(), self.RETRY_MS)
            return False
        self.seen = True
        self.health, self.problem = status.OK, None
        return True

    def sample(self):
        if self.drv is None:
            if self.retry_at is None or self.tb.ticks_diff(self.tb.ticks_ms(), self.retry_at) < 0:
                return None
            if not self.start():
                return None
        try:
            values = self._read(self.drv)
        except (OSError, ValueError) as exc:
            self.health, self.problem = status.ERROR, str(exc)
            self.drv = None
            self.retry_at = self.tb.ticks_add(self.tb.ticks_ms(), self.RETRY_MS // 6)
            return None
        self.health, self.problem = status.OK, None
        return dict(values) if values else None


class BatterySensor:
    name = "battery"

    def __init__(self, driver):
        self.drv = driver
        self.health = status.OK
        self.problem = None
        self.last = None

    def sample(self):
        try:
            v = self.drv.read()
        except OSError as exc:
            self.health, self.problem = status.ERROR, str(exc)
            return None
        self.last = v
        return {"batt_v": v}


class GPSSensor:
    name = "gps"
    SILENT_MS = 5000

    def __init__(self, driver, tb):
        self.drv = driver
        self.tb = tb
        self.health = status.NOFIX  # until it has been heard from, or SILENT_MS passed
        self.problem = None
        self.fix = None  # copy of the latest position
        self.fix_at = None  # timebase ticks of that fix
        self._fix_ms = None
        self.heard = None
        self.started = tb.ticks_ms()

    def poll(self):
        """Read the UART; return the GPS's Unix time when a new fix came in."""
        errors = self.drv.errors
        used = self.drv.update()
        now = self.tb.ticks_ms()
        if used:
            self.heard = now
        new = self.drv.fix_ms is not None and self.drv.fix_ms != self._fix_ms
        if new:
            self._fix_ms = self.drv.fix_ms
            self.fix = dict(self.drv.position())
            self.fix_at = now
        if self.heard is not None and self.tb.ticks_diff(now, self.heard) <= self.SILENT_MS:
            fresh = self.fix_at is not None and self.tb.ticks_diff(now, self.fix_at) <= self.SILENT_MS
            self.health = status.OK if fresh else status.NOFIX
            self.problem = None if fresh else "GPS has no fix: it needs open sky, up to a minute after power-on"
        elif self.tb.ticks_diff(now, self.heard if self.heard is not None else self.started) > self.SILENT_MS:
            self.health = status.ERROR if (self.heard is not None or self.drv.errors > errors) else status.MISSING
            self.problem = self.drv.last_error or "no NMEA from the GPS: check its power and that its TX goes to the kit's gps_rx pin"
        return self.drv.unix_time() if new else None


def build_sensors(cfg, hw, tb):
    """The sensor adapters for the sensors enabled in config.json."""
    sensors = {}
    which = cfg["sensors"]
    pm = which["pm"]
    if pm != "none":
        if hw.pm_uart is None:
            sensors["pm"] = _Absent("pm", "no UART for the PM sensor")
        else:
            if pm == "sds011":
                from .sds011 import SDS011
                drv = SDS011(hw.pm_uart)
            else:
                from .pms5003 import PMS5003
                drv = PMS5003(hw.pm_uart, hw.pm_set)
            sensors["pm"] = PMSensor(drv, tb, cfg["pm_warmup_s"] * 1000)
    if which["bme280"]:
        from .bme280 import BME280
        addr = hw.i2c_addr.get("bme280", 0x76)
        sensors["bme280"] = _on_i2c(hw, "bme280", lambda: BME280(hw.i2c, addr), lambda d: d.read(), tb)
    if which["scd4x"]:
        from .scd4x import SCD4x
        addr = hw.i2c_addr.get("scd4x", 0x62)
        own_climate = not which["bme280"]  # the SCD4x's T/RH read high from its own heat

        def build():
            d = SCD4x(hw.i2c, addr)
            d.start()
            return d

        def read(d):
            v = d.read()
            if v is None or own_climate:
                return v
            return {"co2": v["co2"]}

        sensors["scd4x"] = _on_i2c(hw, "scd4x", build, read, tb)
    if which["battery"]:
        if hw.batt_adc is None:
            sensors["battery"] = _Absent("battery", "no ADC for the battery divider")
        else:
            from .battery import Battery
            sensors["battery"] = BatterySensor(Battery(hw.batt_adc, hw.batt_divider))
    if which["gps"]:
        if hw.gps_uart is None:
            sensors["gps"] = _Absent("gps", "no UART for the GPS")
        else:
            from .nmea import GPS
            sensors["gps"] = GPSSensor(GPS(hw.gps_uart), tb)
    return sensors


def _on_i2c(hw, name, build, read, tb):
    if hw.i2c is None:
        return _Absent(name, "no I2C bus")
    s = I2CSensor(name, build, read, tb)
    s.start()
    return s


class _Absent:
    """An enabled sensor the hardware cannot reach at all."""

    def __init__(self, name, problem):
        self.name = name
        self.health = status.MISSING
        self.problem = problem

    def sample(self):
        return None


# -- one interval ----------------------------------------------------------------


class Interval:
    """The samples collected during one reading interval."""

    def __init__(self):
        self.pm = []  # PM samples after warm-up
        self.pm_warm = []  # PM samples inside the warm-up time
        self.env = []  # every other sensor's samples
        self.faults = 0  # samples an enabled sensor failed to give


def pm_wake_offset_ms(interval_ms, warmup_ms, sample_ms, duty):
    """When in each interval to wake the PM fan (ms after the interval starts),
    or None to keep it running: cycling only pays when the fan can then sleep
    for PM_MIN_SLEEP_MS and still warm up and sample before the interval ends."""
    window = max(PM_WINDOW_MS, 2 * sample_ms)
    if duty != "cycle" or interval_ms < warmup_ms + window + PM_MIN_SLEEP_MS:
        return None
    return interval_ms - warmup_ms - window


def interval_values(iv, method="median"):
    """Aggregate an Interval: (values, flags). Pure: runs the same on the kit,
    in the virtual kits and under the tests.

    PM samples from inside the warm-up time count only when the interval had
    no others, and then carry the pm_warmup flag. PM taken at RH >= 85 % is
    flagged rh_high and left as measured: corrections belong to the collector
    or the walk tooling, where the raw values are kept.
    """
    flags = []
    values = aggregate.combine(iv.env, method)
    pm = iv.pm
    if not pm and iv.pm_warm:
        pm = iv.pm_warm
        flags.append("pm_warmup")
    pm_values = aggregate.combine(pm, method)
    for k in pm_values:
        values[k] = pm_values[k]
    if pm_values and values.get("rh", 0) >= RH_HIGH:
        flags.append("rh_high")
    if iv.faults:
        flags.append("sensor_fault")
    return values, flags


def add_position(values, flags, fix, fix_age_ms, interval_ms):
    """Put the GPS fix into the reading: a fix from this interval as is, an
    older one (up to GPS_STALE_MAX_MS) flagged gps_stale, none otherwise."""
    if fix is None or fix_age_ms is None or fix_age_ms > GPS_STALE_MAX_MS:
        return
    for k in fix:
        values[k] = fix[k]
    if fix_age_ms > interval_ms:
        flags.append("gps_stale")


def mqtt_client(cfg):
    """The kit's MQTT client for config.json, not yet connected. Its last will
    marks the kit offline when the connection breaks without a goodbye."""
    m = cfg["mqtt"]
    dev = cfg["device_id"]
    client = MQTTClient(dev, m["host"], m["port"], user=m["username"], password=m["password"],
                        keepalive=m["keepalive"], tls=m["tls"], ca_file=m["ca_file"] or None)
    client.set_last_will(contract.status_topic(dev), contract.offline_status(dev), retain=True, qos=1)
    return client


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
        self.wifi = WiFi(hw.wlan, cfg["wifi"], timebase) if hw.wlan is not None and cfg["wifi"] else None
        self.mqtt = None
        # cfg -> an unconnected MQTTClient with the kit's last will; tests
        # hand in one that wraps it to watch what goes on the wire.
        self.new_client = new_client or mqtt_client
        self.topic = contract.readings_topic(self.dev)
        self.wake = asyncio.Event()  # a new reading is in the queue
        self.booted = timebase.ticks_ms()
        self.stored = 0  # readings appended this boot
        self.sent = 0  # readings the broker acknowledged this boot
        self.crashed = None
        self.stopping = False
        self._health = None
        self._status_at = None
        self._clock_saved_at = None
        self._led_off_at = None  # ticks when the heartbeat flick ends; None while dark
        self._unstamped = []  # (ticks, values, flags) taken before the clock was ever set
        self.unstamped_dropped = 0
        # Optional callable(reading, interval) after each reading is stored
        # (interval None for one re-stamped once the clock was set): live
        # views and tests of the virtual kits; None on the kit.
        self.on_reading = None

    # -- start and stop ------------------------------------------------------

    def _say(self, msg):
        self.log("airtrail: " + msg)

    def _clock_path(self):
        return self.data_dir.rstrip("/") + "/" + CLOCK_FILE

    def boot(self):
        try:
            saved = int((read_atomic(self._clock_path()) or b"0").split()[0])
            if saved:
                self.clock.restore(saved + CLOCK_SAVE_MS // 1000 + self.cfg["interval_s"])
        except (OSError, ValueError, IndexError):
            pass
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
        if self.wifi is not None:
            tasks.append(asyncio.create_task(self._guard(self._uplink())))
        try:
            await self._sampler(readings)
            if drain_ms is not None and self.wifi is not None:
                until = self.tb.ticks_add(self.tb.ticks_ms(), drain_ms)
                while self.queue.depth and self.tb.ticks_diff(until, self.tb.ticks_ms()) > 0 and self.crashed is None:
                    self._feed()
                    await self.tb.sleep_ms(200)
        finally:
            self.stopping = True
            for t in tasks:
                t.cancel()
            for t in tasks:
                try:
                    await t
                except BaseException:  # CancelledError is not an Exception on CPython
                    pass
            self._goodbye()
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

    def _goodbye(self):
        if self.mqtt is not None and self.mqtt.connected:
            try:
                self.mqtt.publish(contract.status_topic(self.dev), status.offline_message(self.dev), retain=True, qos=1)
                self.mqtt.disconnect()
            except OSError:
                self.mqtt.close()

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
        ts, clk = self.clock.now()
        if ts < contract.EARLIEST_TS:
            # A kit that has never known the time (a new board, RTC at its
            # epoch, no clock.txt) cannot stamp a reading the collector would
            # accept. Keep it in RAM with its ticks and stamp it once NTP or
            # GPS sets the clock; only this case waits before flash.
            self._unstamped.append((self.tb.ticks_ms(), values, flags))
            if len(self._unstamped) > UNSTAMPED_MAX:
                self._unstamped.pop(0)
                self.unstamped_dropped += 1
            return
        if self._unstamped:
            self._restamp(ts, clk)
        self._append(ts, clk, values, flags, iv)
        if self.hw.led is not None:
            self.hw.led.value(1)
            self._led_off_at = self.tb.ticks_add(self.tb.ticks_ms(), status.HEARTBEAT[0][0])
        self._save_clock(ts)

    def _append(self, ts, clk, values, flags, iv=None):
        reading = {"ts": ts, "clk": clk, "seq": self.seq.next()}
        for k in values:
            reading[k] = values[k]
        if flags:
            reading["flags"] = flags
        # The one rule that keeps readings safe: into flash before any send.
        self.queue.append(encode.reading_json(reading))
        self.stored += 1
        self.wake.set()
        if self.on_reading is not None:
            self.on_reading(reading, iv)

    def _restamp(self, ts, clk):
        now = self.tb.ticks_ms()
        for ticks, values, flags in self._unstamped:
            then = ts - self.tb.ticks_diff(now, ticks) // 1000
            if then >= contract.EARLIEST_TS:
                self._append(then, clk, values, flags)  # no Interval: it is gone
        self._unstamped = []

    def _save_clock(self, ts):
        now = self.tb.ticks_ms()
        if self._clock_saved_at is not None and self.tb.ticks_diff(now, self._clock_saved_at) < CLOCK_SAVE_MS:
            return
        self._clock_saved_at = now
        try:
            write_atomic(self._clock_path(), b"%d\n" % ts)
        except OSError:
            pass

    async def _gps_loop(self):
        while True:
            unix = self.gps.poll()
            if unix is not None:
                self.clock.sync_gps(unix)
            await self.tb.sleep_ms(GPS_POLL_MS)

    # -- forwarding ------------------------------------------------------------

    def status_message(self):
        """The retained status message this kit would publish now (bytes)."""
        batt = self.sensors.get("battery")
        return status.status_message(
            self.dev, version.VERSION, self.cfg["mode"], self.clock.now(), self.queue.depth, self.queue.dropped,
            rssi=self.wifi.rssi() if self.wifi else None,
            batt_v=batt.last if isinstance(batt, BatterySensor) else None,
            uptime_s=self.tb.ticks_diff(self.tb.ticks_ms(), self.booted) // 1000,
            sensors=self.health())

    def _publish_status(self):
        self.mqtt.publish(contract.status_topic(self.dev), self.status_message(), retain=True, qos=1)
        self._status_at = self.tb.ticks_ms()
        self._health = self.health()

    def _status_due(self):
        if self._status_at is None or self.health() != self._health:
            return True
        return self.tb.ticks_diff(self.tb.ticks_ms(), self._status_at) >= STATUS_EVERY_MS

    def _drop_mqtt(self):
        if self.mqtt is not None:
            self.mqtt.close()  # abrupt on purpose: the broker publishes our last will

    def send_batch(self):
        """Send up to batch_max queued readings as one message; pop them only
        once the broker has acknowledged it. Returns how many were sent."""
        records = self.queue.peek(self.cfg["batch_max"], encode.batch_budget(self.dev, version.VERSION))
        if not records:
            return 0
        count = len(records)
        parts = encode.batch_parts(self.dev, version.VERSION, records)
        del records  # joined into parts[1]: the GC may have them during the send
        self.mqtt.publish(self.topic, parts, qos=1)  # returns after PUBACK, raises otherwise
        self.queue.pop(count)
        self.sent += count
        return count

    async def _join_wifi(self):
        """True once Wi-Fi is up (and NTP tried); False after a failed attempt."""
        if self.wifi.isconnected():
            return True
        self._drop_mqtt()
        ssid = await self.wifi.connect()
        if ssid is None:
            self._say("no Wi-Fi: %s" % (self.wifi.problem or "no network joined"))
            return False
        self._say("joined Wi-Fi %s (RSSI %s)" % (ssid, self.wifi.rssi()))
        if self.clock.wants_ntp() and self.hw.ntp is not None:
            try:
                self.hw.ntp.host = self.cfg["ntp_host"]
                self.clock.sync_ntp(self.hw.ntp)
            except (OSError, OverflowError) as exc:
                self._say("NTP failed (%s); keeping %s time" % (exc, self.clock.source))
        return True

    def _connect_broker(self):
        m = self.cfg["mqtt"]
        self.mqtt = self.new_client(self.cfg)
        self.mqtt.connect()
        self._say("connected to broker %s:%d" % (m["host"], m["port"]))
        self._publish_status()

    async def _uplink(self):
        walk = self.cfg["mode"] == "walk"
        walk_pause = self.cfg["walk_wifi_retry_s"] * 1000
        wifi_backoff = Backoff(2000, 300000)
        broker_backoff = Backoff(2000, 300000)
        while not self.stopping:
            if not await self._join_wifi():
                if walk:
                    self.wifi.off()
                    await self.tb.sleep_ms(walk_pause)
                else:
                    await self.tb.sleep_ms(wifi_backoff.next_ms())
                continue
            wifi_backoff.reset()
            try:
                if self.mqtt is None or not self.mqtt.connected:
                    self._connect_broker()
                while self.queue.depth and self.wifi.isconnected() and not self.stopping:
                    if not self.send_batch():
                        break  # a guard only: depth counts exactly the records peek() can return
                    await self.tb.sleep_ms(0)  # let the sampler run between batches
                # Reset only once the broker has acknowledged what we had: one
                # that accepts connections but never a PUBACK keeps backing off.
                broker_backoff.reset()
                if not self.wifi.isconnected():
                    continue
                if self._status_due():
                    self._publish_status()
                self.mqtt.ping_if_due()
            except OSError as exc:
                self._say("broker: %s" % exc)
                self._drop_mqtt()
                await self.tb.sleep_ms(broker_backoff.next_ms())
                continue
            if walk and not self.queue.depth:
                # Backlog forwarded: say so, then radio off until the next try.
                self._say("walk mode: backlog forwarded; Wi-Fi off for %d s" % (walk_pause // 1000))
                self._goodbye()
                self.wifi.off()
                await self.tb.sleep_ms(walk_pause)
                continue
            await self.tb.wait_event(self.wake, 1000)
            self.wake.clear()
