"""Virtual kits: the real firmware (airkit.app) on CPython with simulated parts.

Each VirtualKit runs airkit.app.Kit unchanged: its drivers read byte streams
built by airkit_host.frames (PMS5003 frames with real checksums, NMEA with
real checksums, BME280 register images), its Wi-Fi is a scripted radio with
outages, its clock runs ``speedup`` times faster than the wall clock, its
flash queue and sequence number are files in a temporary folder, and its MQTT
client talks to a real broker with the device's registry credentials.

    kit = VirtualKit("sim-001", password, broker=("127.0.0.1", 1883), interval_s=10, speedup=60)
    report = kit.run(readings=500, outages=[(0, 5000)])   # offline for the first 5000 s
    report.sent == 500

The walker follows a route (route.builtin(): a loop through central
Manchester) at walking speed; the air is cleaner on pedestrian streets and
dirtier beside busy roads (Air). Several kits start at different points of the
route so a fleet draws the whole loop.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from airkit import app as kit_app
from airkit import config as kit_config
from airkit import pms5003, sds011
from airkit.bme280 import REG_CTRL_MEAS

from . import frames
from .fakebus import FakeI2C, FakeUART, RegisterDevice, ScriptedDevice
from .route import WALKING_SPEED_M_S, Point, Route, builtin
from .simhw import SimADC, ScriptedWLAN, SimNTP, SimPin, SimRTC, SimTime, SimWDT

if TYPE_CHECKING:
    from .provision import KitConfig

SIM_SSID = "airtrail-sim"
SIM_WIFI_PASSWORD = "sim-password"


# -- the world ------------------------------------------------------------------


class Air:
    """What a kit at a point of the route would measure.

    PM2.5 = urban background + a traffic excess proportional to the route's
    traffic weight (busy roads add up to ``road_pm25``), a slow drift (weather,
    rush hour) and sample-to-sample noise, the shape of many published
    walking-survey traces (kerbside PM2.5 twice to three times background).
    PM1/PM10 and the particle counts follow typical urban ratios.
    """

    def __init__(self, seed: int = 0, background_pm25: float = 8.0, road_pm25: float = 22.0,
                 temp: float = 11.5, rh: float = 74.0, pressure: float = 1011.0) -> None:
        self.rng = random.Random(seed)
        self.background = background_pm25
        self.road = road_pm25
        self.temp = temp
        self.rh = rh
        self.pressure = pressure
        self.phase = self.rng.uniform(0, 2 * math.pi)

    def pm(self, point: Point, t_s: float) -> dict[str, float]:
        drift = 1 + 0.25 * math.sin(t_s / 1800 * 2 * math.pi + self.phase)
        pm25 = (self.background + self.road * point.traffic ** 1.5) * drift
        pm25 *= math.exp(self.rng.gauss(0, 0.12))
        if self.rng.random() < 0.01:  # a puff of smoke or a bus pulling away
            pm25 *= 3
        pm25 = min(pm25, 900)
        n03 = pm25 * 62 + self.rng.uniform(0, 40)
        return {
            "pm1": pm25 * 0.68, "pm25": pm25, "pm10": pm25 * 1.45,
            "pm1_cf1": pm25 * 0.68, "pm25_cf1": pm25, "pm10_cf1": pm25 * 1.45,
            "n03": n03, "n05": n03 * 0.29, "n10": n03 * 0.055, "n25": n03 * 0.006, "n50": n03 * 0.0015, "n100": n03 * 0.0006,
        }

    def co2(self, t_s: float) -> float:
        """CO2 in ppm beside an open window: outdoor ~420 ppm plus a slow swing."""
        return 460 + 40 * math.sin(t_s / 5400 * 2 * math.pi + self.phase) + self.rng.gauss(0, 5)

    def climate(self, t_s: float) -> tuple[float, float, float]:
        temp = self.temp + 0.8 * math.sin(t_s / 3600 * 2 * math.pi + self.phase) + self.rng.gauss(0, 0.05)
        rh = min(99.0, max(5.0, self.rh - 2.5 * (temp - self.temp) + self.rng.gauss(0, 0.3)))
        return temp, self.pressure + self.rng.gauss(0, 0.05), rh


class Walker:
    """A volunteer carrying the kit along ``route`` from ``start_m``."""

    def __init__(self, route: Route, simtime: SimTime, start_m: float = 0.0, speed_m_s: float = WALKING_SPEED_M_S) -> None:
        self.route = route
        self.simtime = simtime
        self.start_m = start_m
        self.speed = speed_m_s

    def where(self) -> Point:
        return self.route.at(self.start_m + self.speed * self.simtime.elapsed_s())


# -- simulated sensors on fake buses -------------------------------------------------


class _ActivePMUART(FakeUART):
    """A PM sensor in active mode on a UART: one frame per virtual second
    while its fan runs (not put to sleep by pin or command). Subclasses say
    what a frame is and which commands sleep and wake the sensor."""

    FRAME_MS = 1000
    FIFO_FRAMES = 8  # a real UART FIFO would have lost older frames anyway
    SLEEP = b""
    WAKE = b""

    def __init__(self, simtime: SimTime, values: Callable[[], dict[str, float]], set_pin: SimPin | None = None,
                 responder=None) -> None:
        super().__init__(responder=responder)
        self.simtime = simtime
        self.values = values
        self.set_pin = set_pin
        self.commanded_sleep = False
        now = simtime.ticks_ms()
        self._running = self.running()  # powered since the kit booted
        self._woke = now
        self._next = now + self.FRAME_MS

    def frame(self, since_wake_ms: int) -> bytes:
        raise NotImplementedError

    def running(self) -> bool:
        return (self.set_pin is None or self.set_pin.level == 1) and not self.commanded_sleep

    def _generate(self) -> None:
        now = self.simtime.ticks_ms()
        if not self.running():
            self._running = False
            return
        if not self._running:
            self._running = True
            self._woke = now
            self._next = now + self.FRAME_MS
        if now < self._next:
            return
        due = (now - self._next) // self.FRAME_MS + 1
        first = max(0, due - self.FIFO_FRAMES)
        for i in range(first, due):
            self.feed(self.frame(self._next + i * self.FRAME_MS - self._woke))
        self._next += due * self.FRAME_MS

    def any(self) -> int:
        self._generate()
        return super().any()

    def write(self, buf) -> int:
        data = bytes(buf)
        if self.SLEEP in data:
            self.commanded_sleep = True
        if self.WAKE in data:
            self.commanded_sleep = False
        return super().write(data)


class SimPMSUART(_ActivePMUART):
    """A PMS5003 (or PMS7003, the same protocol): its SET pin sleeps it too,
    and it sends all-zero frames for the first FAN_SPINUP_MS after waking,
    as the real sensor does."""

    FAN_SPINUP_MS = 3000
    SLEEP = pms5003.SLEEP
    WAKE = pms5003.WAKE

    def __init__(self, simtime: SimTime, values: Callable[[], dict[str, float]], set_pin: SimPin | None) -> None:
        super().__init__(simtime, values, set_pin, responder=frames.pms5003_responder(values))

    def frame(self, since_wake_ms: int) -> bytes:
        return frames.pms5003_warmup_frame() if since_wake_ms < self.FAN_SPINUP_MS else frames.pms5003_frame(self.values())


class SimSDS011UART(_ActivePMUART):
    """A Nova SDS011: no SET pin, slept and woken by command (protocol V1.3,
    each answered with a 0xC5 reply), PM2.5 and PM10 only."""

    SLEEP = sds011.SLEEP
    WAKE = sds011.WORK

    def __init__(self, simtime: SimTime, values: Callable[[], dict[str, float]]) -> None:
        super().__init__(simtime, values, None, responder=self._reply)

    @staticmethod
    def _reply(written: bytes) -> bytes | None:
        if written[:2] != b"\xaa\xb4" or len(written) < 5:
            return None
        return frames.sds011_reply(written[2], written[3], written[4])

    def frame(self, since_wake_ms: int) -> bytes:
        v = self.values()
        return frames.sds011_frame(v["pm25"], v["pm10"])


class SimGPSUART(FakeUART):
    """A GPS receiver at 9600 baud: GGA + RMC each virtual second at the
    walker's position, no fix for the first ``ttff_s`` (time to first fix)."""

    def __init__(self, simtime: SimTime, walker: Walker, ttff_s: float = 25.0) -> None:
        super().__init__()
        self.simtime = simtime
        self.walker = walker
        self.ttff_s = ttff_s
        self._next_s = 1

    def any(self) -> int:
        now_s = self.simtime.elapsed_s()
        if now_s >= self._next_s:
            second = int(now_s)
            p = self.walker.where()
            when = self.simtime.start_unix + second
            fix = second >= self.ttff_s
            self.feed((frames.gga(p.lat, p.lon, when, fix=fix) + frames.rmc(p.lat, p.lon, when, fix=fix, speed_kn=2.7)).encode())
            self._next_s = second + 1
        return super().any()


def bme280_device(air: Air, simtime: SimTime) -> RegisterDevice:
    """A BME280 whose data registers are refreshed at each forced measurement."""

    def on_write(dev: RegisterDevice, reg: int, data: bytes) -> None:
        if reg == REG_CTRL_MEAS and data and data[0] & 0x03:
            dev.load(frames.bme280_data(*air.climate(simtime.elapsed_s())))

    temp, pressure, rh = air.climate(0)
    return RegisterDevice(frames.bme280_registers(temp, pressure, rh), on_write=on_write)


# -- a virtual kit --------------------------------------------------------------------


@dataclass
class KitReport:
    device_id: str
    stored: int = 0
    sent: int = 0
    queued: int = 0
    dropped: int = 0
    virtual_s: float = 0.0
    error: str | None = None
    log: list[str] = field(default_factory=list)


class VirtualKit:
    """One virtual kit. ``run()`` blocks; ``run_async()`` for an event loop."""

    def __init__(self, device_id: str, password: str, broker: tuple[str, int] | None = None,
                 interval_s: int = 10, sample_s: int | None = None, speedup: float = 60.0,
                 route: Route | None = None, start_m: float = 0.0, mode: str = "online",
                 gps: bool = True, seed: int | None = None, data_dir: Path | None = None,
                 rtc_error_s: float = -7.0, batch_max: int = 50, queue_budget_kb: int = 512,
                 keepalive: int = 60, start_unix: float | None = None, air: Air | None = None,
                 missing: tuple[str, ...] = (), pm_duty: str = "cycle", pm_warmup_s: int = 30,
                 new_client: Callable[[dict], object] | None = None, provisioned: KitConfig | None = None) -> None:
        self.device_id = device_id
        self.password = password
        self.broker = broker
        self.interval_s = interval_s
        self.sample_s = sample_s or min(5, interval_s)
        self.speedup = speedup
        self.route = route or builtin()
        self.start_m = start_m
        self.mode = mode
        self.gps = gps
        self.seed = seed if seed is not None else sum(device_id.encode())
        self.rtc_error_s = rtc_error_s
        self.batch_max = batch_max
        self.queue_budget_kb = queue_budget_kb
        self.keepalive = keepalive
        self.start_unix = start_unix
        self.air = air
        self.missing = set(missing)  # parts enabled in config.json but not fitted: "pm", "bme280", "gps"
        self.pm_duty = pm_duty
        self.pm_warmup_s = pm_warmup_s
        self.new_client = new_client  # cfg -> MQTT client (tests watch the wire with it); None: the kit's own
        # A config.json built by `kit provision` (provision.build_config): then
        # it, not the arguments above, says which parts the kit has, its
        # intervals, Wi-Fi and broker; ``broker`` (if given) stands for the
        # network route from the kit to the broker it names.
        self.provisioned = provisioned
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix=f"airtrail-{device_id}-"))
        self.kit: kit_app.Kit | None = None
        self.simtime: SimTime | None = None
        self.report = KitReport(device_id)
        self.done = False

    def config(self) -> dict:
        """The kit's config.json, validated by the firmware's own rules."""
        raw = self._provisioned_config() if self.provisioned is not None else self._own_config()
        cfg, problems = kit_config.validate(raw)
        if problems:
            raise ValueError(f"virtual kit {self.device_id}: " + "; ".join(problems))
        return cfg

    def _own_config(self) -> dict:
        host, port = self.broker or ("127.0.0.1", 1883)
        return {
            "device_id": self.device_id,
            "variant": "walk",
            "mode": self.mode,
            "wifi": [{"ssid": SIM_SSID, "password": SIM_WIFI_PASSWORD}],
            "mqtt": {"host": host, "port": port, "password": self.password, "keepalive": self.keepalive},
            "interval_s": self.interval_s,
            "sample_s": self.sample_s,
            "sensors": {"pm": "pms5003", "bme280": True, "gps": self.gps, "scd4x": False, "battery": True},
            "pm_duty": self.pm_duty,
            "pm_warmup_s": self.pm_warmup_s,
            "batch_max": self.batch_max,
            "queue_budget_kb": self.queue_budget_kb,
            "walk_wifi_retry_s": max(10, min(300, self.interval_s * 30)),
        }

    def _provisioned_config(self) -> dict:
        assert self.provisioned is not None
        raw = json.loads(json.dumps(self.provisioned.config))
        mqtt = raw.setdefault("mqtt", {})
        if self.broker is not None:
            mqtt["host"], mqtt["port"] = self.broker
        if self.provisioned.ca_pem is not None:
            # The kit's filesystem is data_dir: the CA goes where config.json names it.
            ca = self.data_dir / mqtt["ca_file"].lstrip("/")
            ca.parent.mkdir(parents=True, exist_ok=True)
            ca.write_bytes(self.provisioned.ca_pem)
            mqtt["ca_file"] = str(ca)
        return raw

    def _build(self, outages) -> kit_app.Kit:
        from airkit import pins
        from airkit.queue import FlashQueue
        from airkit.seqno import SeqCounter

        cfg = self.config()
        tb = SimTime(self.speedup, self.start_unix)
        self.simtime = tb
        air = self.air or Air(self.seed)
        walker = Walker(self.route, tb, self.start_m)
        wlan = ScriptedWLAN(tb, {n["ssid"]: n.get("password", "") for n in cfg["wifi"]}, outages)
        rtc = SimRTC(tb, self.rtc_error_s)
        pm_set = SimPin(1)
        variant, fitted = cfg["variant"], cfg["sensors"]
        addresses = pins.I2C_ADDR[variant]
        devices: dict[int, object] = {}
        if fitted["bme280"] and "bme280" not in self.missing:
            devices[addresses["bme280"]] = bme280_device(air, tb)
        if fitted["scd4x"] and "scd4x" not in self.missing:
            devices[addresses["scd4x"]] = ScriptedDevice(frames.scd4x_responses(
                lambda: (air.co2(tb.elapsed_s()), *air.climate(tb.elapsed_s())[::2])))
        i2c = FakeI2C(devices)
        divider = pins.BATT_DIVIDER.get(variant)
        start = time.monotonic()
        pm_uart = self._pm_uart(fitted["pm"], tb, lambda: air.pm(walker.where(), tb.elapsed_s()), pm_set)
        gps_uart = (FakeUART() if "gps" in self.missing else SimGPSUART(tb, walker)) if fitted["gps"] else None
        hw = kit_app.Hardware(
            rtc=rtc,
            pm_uart=pm_uart,
            pm_set=pm_set,
            gps_uart=gps_uart,
            i2c=i2c,
            i2c_addr=addresses,
            batt_adc=SimADC(lambda: 5.05 - 0.02 * (time.monotonic() - start) / 3600, divider)
            if fitted["battery"] and divider is not None else None,
            batt_divider=divider,
            wlan=wlan,
            ntp=SimNTP(rtc, wlan),
            wdt=SimWDT(tb, kit_app.WDT_TIMEOUT_MS),
            led=SimPin(0),
        )
        self.wlan, self.hw, self.i2c = wlan, hw, i2c
        self.data_dir.mkdir(parents=True, exist_ok=True)
        queue = FlashQueue(str(self.data_dir / "queue"), cfg["queue_budget_kb"] * 1024)
        seq = SeqCounter(str(self.data_dir / "seq"))
        return kit_app.Kit(cfg, hw, queue, seq, tb, data_dir=str(self.data_dir), log=self.report.log.append,
                            new_client=self.new_client)

    def _pm_uart(self, sensor: str, tb: SimTime, values: Callable[[], dict[str, float]], pm_set: SimPin) -> FakeUART | None:
        """The simulated PM sensor config.json names (sensors.pm); a silent UART if it is "missing"."""
        if sensor == "none":
            return None
        if "pm" in self.missing:
            return FakeUART()
        if sensor == "sds011":
            return SimSDS011UART(tb, values)
        return SimPMSUART(tb, values, pm_set)  # pms5003 and pms7003 speak the same protocol

    def prepare(self, outages=()) -> kit_app.Kit:
        """Build the kit (and its simulated parts) without running it, so a
        test can look inside or wrap parts first; run() then uses it."""
        self.kit = self._build(outages)
        return self.kit

    async def run_async(self, readings: int, outages=(), drain_s: float | None = None) -> KitReport:
        """Take ``readings`` readings, then keep forwarding until the queue is
        empty or ``drain_s`` virtual seconds have passed (default: an hour).
        ``outages``: [(start_s, duration_s)] of Wi-Fi loss, virtual seconds."""
        kit = self.kit if self.kit is not None else self.prepare(outages)
        try:
            drain_ms = int((3600 if drain_s is None else drain_s) * 1000)
            await kit.run(readings=readings, drain_ms=drain_ms)
        except Exception as exc:  # report, do not hide: the fleet shows it
            self.report.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._fill_report()
            self.done = True
        return self.report

    def run(self, readings: int, outages=(), drain_s: float | None = None) -> KitReport:
        return asyncio.run(self.run_async(readings, outages, drain_s))

    def _fill_report(self) -> None:
        k = self.kit
        if k is None:
            return
        self.report.stored = k.stored
        self.report.sent = k.sent
        self.report.queued = k.queue.depth
        self.report.dropped = k.queue.dropped
        self.report.virtual_s = self.simtime.elapsed_s() if self.simtime else 0.0

    def progress(self) -> tuple[int, int]:
        """(stored, sent) so far, safe to call from another thread."""
        k = self.kit
        return (k.stored, k.sent) if k is not None else (0, 0)

    def state(self) -> str:
        """What the kit is doing, in a word or two, for a progress display."""
        k = self.kit
        if k is None:
            return "starting"
        if self.report.error:
            return "crashed"
        if self.done:
            return "done"
        if k.uplink is None or not k.uplink.wifi.isconnected():
            return "no Wi-Fi"
        if k.uplink.mqtt is None or not k.uplink.mqtt.connected:
            return "no broker"
        return "online"

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def device_ids(count: int, prefix: str = "sim") -> list[str]:
    """<prefix>-01, <prefix>-02, ... (three digits from 100 kits on)."""
    width = max(2, len(str(count)))
    return [f"{prefix}-{i + 1:0{width}d}" for i in range(count)]


def fleet(count: int, passwords: dict[str, str], broker: tuple[str, int], prefix: str = "sim", **kw) -> list[VirtualKit]:
    """``count`` kits named by device_ids(), spread evenly along the route."""
    route = kw.pop("route", None) or builtin()
    return [
        VirtualKit(device_id, passwords[device_id], broker, route=route, start_m=route.length_m * i / max(count, 1), **kw)
        for i, device_id in enumerate(device_ids(count, prefix))
    ]


def run_fleet(kits: list[VirtualKit], readings: int, outages: Mapping[str, Sequence[tuple[float, float]]] | Sequence[tuple[float, float]] = (),
              on_tick: Callable[[], None] | None = None, tick_s: float = 0.2) -> list[KitReport]:
    """Run every kit in its own thread (each with its own event loop, as each
    real kit has its own CPU); call ``on_tick`` while they run (progress bars).
    ``outages``: one list of (start_s, duration_s) for every kit, or a dict
    of lists by device id."""
    threads = []
    for kit in kits:
        mine = outages.get(kit.device_id, ()) if isinstance(outages, Mapping) else outages
        t = threading.Thread(target=_run_quietly, args=(kit, readings, mine), name=kit.device_id, daemon=True)
        t.start()
        threads.append(t)
    while any(t.is_alive() for t in threads):
        if on_tick:
            on_tick()
        time.sleep(tick_s)
    if on_tick:
        on_tick()
    return [k.report for k in kits]


def _run_quietly(kit: VirtualKit, readings: int, outages) -> None:
    try:
        kit.run(readings, outages)
    except Exception:  # already in kit.report.error
        pass
