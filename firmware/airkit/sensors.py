# The sensor adapters: one small class per kind of sensor gives the kit's
# sampler a common shape over the drivers:
#   name, health (status.OK / MISSING / ERROR / ...), problem (text or None),
#   sample() -> dict of contract fields, or None for "nothing this time".
# Adapters copy the drivers' reused dicts, and keep time with the app's
# timebase, which the drivers are given too (virtual kits run faster than the
# wall clock). build_sensors()
# makes the ones config.json enables from what Hardware provides; a sensor
# that is enabled but unreachable is an _Absent, reported "missing".

from . import status


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
    """The sensor adapters for the sensors enabled in config.json. The
    drivers get the timebase's blocking ticks (tb.ticks, sensorbase.py)."""
    ticks = tb.ticks
    sensors = {}
    which = cfg["sensors"]
    pm = which["pm"]
    if pm != "none":
        if hw.pm_uart is None:
            sensors["pm"] = _Absent("pm", "no UART for the PM sensor")
        else:
            if pm == "sds011":
                from .sds011 import SDS011
                drv = SDS011(hw.pm_uart, ticks)
            else:
                from .pms5003 import PMS5003
                drv = PMS5003(hw.pm_uart, hw.pm_set, ticks)
            sensors["pm"] = PMSensor(drv, tb, cfg["pm_warmup_s"] * 1000)
    if which["bme280"]:
        from .bme280 import BME280
        addr = hw.i2c_addr.get("bme280", 0x76)
        sensors["bme280"] = _on_i2c(hw, "bme280", lambda: BME280(hw.i2c, addr, ticks), lambda d: d.read(), tb)
    if which["scd4x"]:
        from .scd4x import SCD4x
        addr = hw.i2c_addr.get("scd4x", 0x62)
        own_climate = not which["bme280"]  # the SCD4x's T/RH read high from its own heat

        def build():
            d = SCD4x(hw.i2c, addr, ticks)
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
        elif hw.batt_divider is None:
            sensors["battery"] = _Absent("battery", "no divider ratio for the battery ADC (pins.BATT_DIVIDER)")
        else:
            from .battery import Battery
            sensors["battery"] = BatterySensor(Battery(hw.batt_adc, hw.batt_divider))
    if which["gps"]:
        if hw.gps_uart is None:
            sensors["gps"] = _Absent("gps", "no UART for the GPS")
        else:
            from .nmea import GPS
            sensors["gps"] = GPSSensor(GPS(hw.gps_uart, ticks), tb)
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
