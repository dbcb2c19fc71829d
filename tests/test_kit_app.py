"""The kit's main loop (airkit.app): intervals, flags, sensor health, store-then-send.

The pure steps (aggregating an interval, flags, the PM duty cycle) are tested
directly, and under real MicroPython. The loop itself runs as a virtual kit:
the real app with the drivers reading simulated byte streams (PMS5003 frames,
BME280 registers, NMEA), a scripted Wi-Fi and, where sending matters, the real
MQTT client against a real Mosquitto.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid

import pytest

from airkit import aggregate, contract, intervals, sensors, status, uplink
from airkit_host.simulate import Air, VirtualKit
from collector.contract import StatusMessage
from tests.support.micropython import requires_micropython, run_micropython

# -- the pure steps --------------------------------------------------------------


def interval(pm=(), pm_warm=(), env=(), faults=0) -> intervals.Interval:
    iv = intervals.Interval()
    iv.pm, iv.pm_warm, iv.env, iv.faults = list(pm), list(pm_warm), list(env), faults
    return iv


def test_a_reading_is_the_median_of_its_interval_so_one_spike_does_not_move_it():
    values, flags = intervals.interval_values(interval(pm=[{"pm25": v} for v in (12, 11, 240, 13, 12)], env=[{"temp": 20.0}, {"temp": 21.0}, {"temp": 22.0}]))
    assert values == {"pm25": 12, "temp": 21.0}
    assert flags == []


def test_the_trimmed_mean_is_the_other_aggregate_on_offer():
    values, _ = intervals.interval_values(interval(pm=[{"pm25": v} for v in (10, 12, 14, 16, 400)]), "trimmed")
    assert values["pm25"] == aggregate.trimmed_mean([10, 12, 14, 16, 400])


def test_pm_at_85_percent_humidity_or_more_is_flagged_rh_high_and_left_as_measured():
    values, flags = intervals.interval_values(interval(pm=[{"pm25": 40}], env=[{"rh": 85.0}]))
    assert values["pm25"] == 40 and "rh_high" in flags


def test_no_rh_high_flag_below_85_percent_or_without_pm():
    assert "rh_high" not in intervals.interval_values(interval(pm=[{"pm25": 40}], env=[{"rh": 84.9}]))[1]
    assert "rh_high" not in intervals.interval_values(interval(env=[{"rh": 95.0}]))[1]


def test_warm_up_samples_are_used_only_when_there_are_no_others_and_then_flagged():
    values, flags = intervals.interval_values(interval(pm=[{"pm25": 20}], pm_warm=[{"pm25": 3}]))
    assert values["pm25"] == 20 and "pm_warmup" not in flags
    values, flags = intervals.interval_values(interval(pm_warm=[{"pm25": 3}, {"pm25": 5}]))
    assert values["pm25"] == 4 and "pm_warmup" in flags


def test_a_sensor_that_failed_during_the_interval_sets_sensor_fault():
    assert "sensor_fault" in intervals.interval_values(interval(env=[{"temp": 20.0}], faults=2))[1]


FIX = {"lat": 53.48, "lon": -2.24, "alt": 40.0, "hdop": 0.9, "sats": 9}


def test_a_fix_from_this_interval_is_the_readings_position():
    values, flags = {}, []
    intervals.add_position(values, flags, FIX, 800, 10000)
    assert values == FIX and flags == []


def test_an_older_fix_is_flagged_gps_stale_and_a_much_older_one_left_out():
    values, flags = {}, []
    intervals.add_position(values, flags, FIX, 30000, 10000)
    assert values == FIX and flags == ["gps_stale"]
    values, flags = {}, []
    intervals.add_position(values, flags, FIX, intervals.GPS_STALE_MAX_MS + 1, 10000)
    assert values == {} and flags == []


def test_the_pm_fan_is_cycled_only_when_the_interval_leaves_it_time_to_sleep():
    assert intervals.pm_wake_offset_ms(300_000, 30_000, 5_000, "cycle") == 300_000 - 30_000 - 10_000
    assert intervals.pm_wake_offset_ms(30_000, 30_000, 5_000, "cycle") is None
    assert intervals.pm_wake_offset_ms(300_000, 30_000, 5_000, "continuous") is None


def test_the_pm_sensor_is_warming_up_after_wake_until_its_warmup_time_passes():
    # The one warm-up rule (config pm_warmup_s); the drivers have none of their own.
    from airkit.pms5003 import PMS5003
    from airkit_host.fakebus import FakeUART, ManualTicks

    tb = ManualTicks()
    pm = sensors.PMSensor(PMS5003(FakeUART(), ticks=tb), tb, warmup_ms=30_000)
    pm.sleep()
    tb.advance(60_000)
    pm.wake()
    assert pm.warming()
    tb.advance(30_000)
    assert not pm.warming()


def test_a_battery_adc_without_a_divider_ratio_is_reported_missing_not_guessed():
    from airkit import app, config
    from airkit.clock import Timebase

    cfg, problems = config.validate({"device_id": "kit-test", "mode": "walk", "sensors": {"pm": "none", "bme280": False, "gps": False}})
    assert not problems
    battery = sensors.build_sensors(cfg, app.Hardware(rtc=None, batt_adc=object()), Timebase())["battery"]
    assert battery.health == status.MISSING and "divider" in battery.problem


@requires_micropython
def test_one_interval_aggregates_and_encodes_to_the_same_reading_under_micropython():
    from airkit import encode

    pm = [{"pm25": 12, "pm10": 20, "n03": 700}, {"pm25": 11, "pm10": 19, "n03": 650}, {"pm25": 300, "pm10": 400, "n03": 9000}]
    env = [{"temp": 21.37, "rh": 86.1, "pressure": 1008.25}, {"temp": 21.41, "rh": 86.3, "pressure": 1008.27}]
    code = (
        "from airkit import encode, intervals\n"
        f"iv = intervals.Interval()\niv.pm = {pm!r}\niv.env = {env!r}\n"
        "values, flags = intervals.interval_values(iv)\n"
        "r = {'ts': 1790000000, 'clk': 'gps', 'seq': 7}\n"
        "for k in values:\n    r[k] = values[k]\n"
        "r['flags'] = flags\n"
        "print(encode.reading_json(r).decode())\n"
    )
    iv = interval(pm=pm, env=env)
    values, flags = intervals.interval_values(iv)
    expected = encode.reading_json({"ts": 1790000000, "clk": "gps", "seq": 7, **values, "flags": flags}).decode()
    # Same reading, same values; the key order of the bytes is encode.py's business.
    assert json.loads(run_micropython(code)) == json.loads(expected)
    assert '"rh_high"' in expected


# -- the loop, as a virtual kit ------------------------------------------------------


class SteadyAir(Air):
    """Air with fixed values, so a test knows what each sensor should say."""

    def __init__(self, pm25: float = 12.0, rh: float = 60.0, temp: float = 15.0, pressure: float = 1010.0) -> None:
        super().__init__(seed=1)
        self.pm25, self.rh_value, self.temp_value, self.pressure_value = pm25, rh, temp, pressure

    def pm(self, point, t_s):
        return {"pm1": self.pm25 * 0.7, "pm25": self.pm25, "pm10": self.pm25 * 1.5, "n03": self.pm25 * 60}

    def climate(self, t_s):
        return self.temp_value, self.pressure_value, self.rh_value


def offline_kit(tmp_path, **kw) -> VirtualKit:
    kw.setdefault("interval_s", 10)
    kw.setdefault("sample_s", 2)
    kw.setdefault("speedup", 400)
    return VirtualKit("kit-test", "unused", broker=("127.0.0.1", 9), data_dir=tmp_path, **kw)


def run_offline(kit: VirtualKit, readings: int) -> list[tuple[dict, intervals.Interval]]:
    seen: list[tuple[dict, intervals.Interval]] = []
    kit.prepare(outages=[(0, 10**7)])
    kit.kit.on_reading = lambda r, iv: seen.append((dict(r), iv))
    report = kit.run(readings, drain_s=0)
    assert report.error is None, report.log
    return seen


def test_each_stored_reading_is_the_median_of_the_samples_taken_in_its_interval(tmp_path):
    seen = run_offline(offline_kit(tmp_path, pm_duty="continuous", pm_warmup_s=0, speedup=100), 6)
    for reading, iv in seen[1:]:
        samples = iv.pm or iv.pm_warm
        assert reading["pm25"] == aggregate.median([s["pm25"] for s in samples])
        assert reading["temp"] == aggregate.median([s["temp"] for s in iv.env if "temp" in s])
    assert any(len(iv.pm) >= 3 for _, iv in seen)


def test_readings_carry_time_clock_source_and_an_increasing_sequence_number(tmp_path):
    seen = run_offline(offline_kit(tmp_path), 5)
    assert [r["seq"] for r, _ in seen] == list(range(5))
    assert all(r["clk"] in contract.CLOCKS and r["ts"] >= contract.EARLIEST_TS for r, _ in seen)
    assert [r["ts"] for r, _ in seen] == sorted(r["ts"] for r, _ in seen)


def test_the_sequence_continues_across_a_reboot(tmp_path):
    run_offline(offline_kit(tmp_path), 3)
    seen = run_offline(offline_kit(tmp_path), 2)
    assert [r["seq"] for r, _ in seen][0] > 2


def test_after_a_power_cut_reset_the_rtc_the_clock_continues_after_the_last_stored_reading(tmp_path):
    import time

    from airkit import clock

    first = run_offline(offline_kit(tmp_path, gps=False), 3)
    # Power returns: the ESP32's RTC restarts at its epoch, 2000-01-01.
    reset = -(time.time() - clock.UNIX_2000)
    after = run_offline(offline_kit(tmp_path, gps=False, rtc_error_s=reset), 2)
    assert all(r["clk"] == "rtc" for r, _ in after)
    assert after[0][0]["ts"] > first[-1][0]["ts"]


def test_a_kit_that_never_knew_the_time_keeps_readings_in_ram_and_stamps_them_once_gps_sets_the_clock(tmp_path):
    import time

    from airkit import clock

    kit = offline_kit(tmp_path, rtc_error_s=-(time.time() - clock.UNIX_2000))  # new board, no clock.txt
    seen = run_offline(kit, 6)
    assert [r["seq"] for r, _ in seen] == list(range(6))
    assert all(r["clk"] == "gps" and r["ts"] >= contract.EARLIEST_TS for r, _ in seen)
    assert [r["ts"] for r, _ in seen] == sorted(r["ts"] for r, _ in seen)


def test_humid_air_flags_pm_rh_high_and_leaves_the_values_uncorrected(tmp_path):
    seen = run_offline(offline_kit(tmp_path, air=SteadyAir(pm25=30, rh=92.0), pm_warmup_s=0, pm_duty="continuous"), 4)
    for reading, _ in seen[1:]:
        assert "rh_high" in reading["flags"]
        assert reading["pm25"] == 30


def test_dry_air_gives_no_rh_high_flag(tmp_path):
    seen = run_offline(offline_kit(tmp_path, air=SteadyAir(rh=50.0), pm_warmup_s=0, pm_duty="continuous"), 3)
    assert all("rh_high" not in r.get("flags", []) for r, _ in seen)


def test_a_missing_sensor_is_reported_missing_and_its_fields_left_out_while_the_kit_runs_on(tmp_path):
    kit = offline_kit(tmp_path, missing=("bme280",))
    seen = run_offline(kit, 4)
    assert len(seen) == 4
    for reading, _ in seen:
        assert not {"temp", "rh", "pressure"} & set(reading)
        assert "sensor_fault" in reading["flags"]
    assert kit.kit.health()["bme280"] == status.MISSING
    assert any("pm25" in r for r, _ in seen[1:])


def test_a_pm_sensor_that_sends_nothing_is_reported_missing(tmp_path):
    kit = offline_kit(tmp_path, missing=("pm",), pm_duty="continuous")
    seen = run_offline(kit, 3)
    assert kit.kit.health()["pm"] == status.MISSING
    assert all("pm25" not in r for r, _ in seen)


def test_a_sensor_that_stops_answering_is_reported_as_error_and_the_kit_keeps_sampling(tmp_path):
    kit = offline_kit(tmp_path)
    kit.prepare(outages=[(0, 10**7)])
    seen: list[dict] = []

    def on_reading(reading, iv):
        seen.append(dict(reading))
        if len(seen) == 3:
            kit.i2c.absent(0x76)  # the BME280's connector falls out

    kit.kit.on_reading = on_reading
    report = kit.run(8, drain_s=0)
    assert report.stored == 8
    assert all("temp" in r for r in seen[:3])
    assert all("temp" not in r and "sensor_fault" in r["flags"] for r in seen[4:])
    assert kit.kit.health()["bme280"] == status.ERROR


def test_a_reconnected_sensor_comes_back_without_a_reset(tmp_path, monkeypatch):
    monkeypatch.setattr(sensors.I2CSensor, "RETRY_MS", 5000)
    kit = offline_kit(tmp_path)
    kit.prepare(outages=[(0, 10**7)])
    seen: list[dict] = []

    def on_reading(reading, iv):
        seen.append(dict(reading))
        if len(seen) == 2:
            kit.i2c.absent(0x76)
        if len(seen) == 4:
            kit.i2c.present(0x76)

    kit.kit.on_reading = on_reading
    kit.run(9, drain_s=0)
    assert "temp" not in seen[3] and "temp" in seen[-1]
    assert kit.kit.health()["bme280"] == status.OK


def test_the_status_message_meets_the_contract_and_names_each_sensors_health(tmp_path):
    kit = offline_kit(tmp_path, missing=("bme280",))
    run_offline(kit, 2)
    doc = json.loads(kit.kit.status_message())
    msg = StatusMessage.model_validate(doc, context={"device": "kit-test"})
    assert msg.online and msg.fw and msg.mode == "online"
    assert msg.queue == 2 and msg.dropped == 0
    assert msg.sensors["bme280"] == "missing" and msg.sensors["scd4x"] == "off"
    assert msg.sensors["pm"] in ("ok", "warmup") and msg.sensors["gps"] in ("ok", "nofix")


def test_the_watchdog_is_fed_by_the_sampling_loop(tmp_path):
    kit = offline_kit(tmp_path)
    run_offline(kit, 3)
    assert kit.hw.wdt.feeds >= 3  # at least once per interval, whatever the load


# -- store, then send -------------------------------------------------------------


@pytest.fixture
def device(stack):
    device_id = "app-" + uuid.uuid4().hex[:8]
    return device_id, stack.add_device(device_id)


def test_every_reading_is_in_the_flash_queue_before_it_is_sent(stack, listener, device, tmp_path):
    device_id, password = device
    events: list[tuple[str, int]] = []

    def logged_client(cfg):
        client = uplink.mqtt_client(cfg)
        publish = client.publish

        def logged_publish(topic, msg, retain=False, qos=0, timeout_ms=None, must_reach=False):
            if topic.endswith("/readings"):
                events.extend(("sent", r["seq"]) for r in json.loads(b"".join(msg))["r"])
            return publish(topic, msg, retain, qos, timeout_ms, must_reach)

        client.publish = logged_publish
        return client

    kit = VirtualKit(device_id, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=5, sample_s=1, speedup=200,
                     data_dir=tmp_path, new_client=logged_client)
    k = kit.prepare()
    append = k.queue.append

    def logged_append(record):
        append(record)
        events.append(("stored", json.loads(record)["seq"]))

    k.queue.append = logged_append
    report = kit.run(10, outages=[(12, 20)])
    assert report.sent == 10
    for seq in range(10):
        assert events.index(("stored", seq)) < events.index(("sent", seq))


def test_the_uplink_reports_the_broker_connection_going_down_and_up_across_an_outage(stack, listener, device, tmp_path):
    import asyncio

    device_id, password = device
    kit = VirtualKit(device_id, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=5, sample_s=1, speedup=200, data_dir=tmp_path)
    uplink = kit.prepare(outages=[(12, 20)]).uplink
    seen: list[str] = []

    async def watch():
        while True:  # mqtt_as style: whoever waits on the events clears them
            await uplink.up.wait()
            uplink.up.clear()
            seen.append("up")
            await uplink.down.wait()
            uplink.down.clear()
            seen.append("down")

    async def main():
        watcher = asyncio.create_task(watch())
        try:
            return await kit.run_async(10)
        finally:
            watcher.cancel()

    report = asyncio.run(main())
    assert report.sent == 10
    assert seen[:3] == ["up", "down", "up"]


class ReadingsBlackHole:
    """An MQTT broker that acknowledges everything except readings.

    It answers CONNACK, PINGRESP and the PUBACK of status messages, and never
    the PUBACK of a readings publish, like a broker that dies between
    receiving a batch and acknowledging it.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.readings_seen = 0
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def _client(self, conn: socket.socket) -> None:
        try:
            while True:
                kind = self._read(conn, 1)[0]
                length, shift = 0, 0
                while True:  # MQTT 3.1.1 section 2.2.3
                    b = self._read(conn, 1)[0]
                    length |= (b & 0x7F) << shift
                    shift += 7
                    if not b & 0x80:
                        break
                body = self._read(conn, length)
                if kind >> 4 == 1:  # CONNECT
                    conn.sendall(b"\x20\x02\x00\x00")
                elif kind >> 4 == 12:  # PINGREQ
                    conn.sendall(b"\xd0\x00")
                elif kind >> 4 == 3:  # PUBLISH
                    topic_len = int.from_bytes(body[:2], "big")
                    topic = body[2:2 + topic_len].decode()
                    pid = body[2 + topic_len:4 + topic_len]
                    if topic.endswith("/readings"):
                        self.readings_seen += 1
                    elif kind & 0x06:
                        conn.sendall(b"\x40\x02" + pid)
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_a_batch_without_puback_stays_in_the_queue_and_is_sent_again_later(stack, listener, device, tmp_path, monkeypatch):
    monkeypatch.setattr("airkit.mqtt.MQTTClient.TIMEOUT_MS", 300)
    broker = ReadingsBlackHole()
    device_id, password = device
    kit = VirtualKit(device_id, password, broker=("127.0.0.1", broker.port), interval_s=5, sample_s=1, speedup=200, data_dir=tmp_path)
    report = kit.run(4, drain_s=60)
    broker.close()
    assert broker.readings_seen >= 2  # it sent, and sent again after reconnecting
    assert (report.stored, report.sent, report.queued) == (4, 0, 4)

    # Same kit (same flash), a broker that acknowledges: the backlog goes out.
    again = VirtualKit(device_id, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=5, sample_s=1, speedup=200, data_dir=tmp_path)
    report = again.run(1)
    assert (report.sent, report.queued) == (5, 0)


@requires_micropython
def test_the_main_loop_runs_under_micropython_and_stores_aggregated_readings():
    """Three intervals of the real loop on MicroPython: fake buses replaying a
    PMS5003 stream and a BME280 register image, the real flash queue."""
    from airkit_host import frames

    from tests.support.micropython import ROOT

    stream = b"".join(frames.pms5003_frame({"pm25": 13, "pm10": 22, "pm1": 5, "n03": 765}) for _ in range(12))
    regs = frames.bme280_registers(21.5, 1009.0, 88.0)
    code = f"""
import json
from airkit import app, clock, config
from airkit.queue import FlashQueue, read_queue
from airkit.seqno import SeqCounter
from airkit_host.fakebus import FakeUART, FakeI2C, RegisterDevice

class RTC:
    def __init__(self):
        self.t = 1790000000 - clock.EPOCH_OFFSET
    def time(self):
        return self.t
    def set(self, s):
        self.t = s

cfg, problems = config.validate({{"device_id": "mp-kit", "mode": "walk", "interval_s": 1, "sample_s": 1,
    "pm_warmup_s": 0, "pm_duty": "continuous", "sensors": {{"gps": False, "battery": False}}}})
assert not problems, problems
hw = app.Hardware(RTC(), pm_uart=FakeUART({stream!r}), i2c=FakeI2C({{0x76: RegisterDevice({regs!r})}}), i2c_addr={{"bme280": 0x76}})
kit = app.Kit(cfg, hw, FlashQueue("/work/q", 65536), SeqCounter("/work/seq"), clock.Timebase(), data_dir="/work", log=lambda m: None)
await kit.run(readings=3)
payloads, dropped = read_queue("/work/q")
for p in payloads:
    print(p.decode())
"""
    lines = run_micropython(code, mounts={ROOT / "firmware" / "host": "/lib/airkit_host"}).splitlines()
    readings = [json.loads(line) for line in lines]
    assert [r["seq"] for r in readings] == [0, 1, 2]
    assert all(r["clk"] == "rtc" and r["ts"] >= 1790000000 for r in readings)
    first = readings[0]
    assert (first["pm25"], first["pm10"], first["n03"]) == (13, 22, 765)
    assert abs(first["temp"] - 21.5) < 0.05 and abs(first["rh"] - 88.0) < 0.2
    assert "rh_high" in first["flags"]


def test_the_readme_says_what_the_kit_does_in_each_failure_mode():
    from tests.support.micropython import ROOT

    readme = (ROOT / "firmware" / "README.md").read_text()
    for mode in ("No Wi-Fi at boot", "Wi-Fi lost", "Broker down", "Flash full", "Sensor missing", "Clock unsynced", "Power cut"):
        assert f"### {mode}\n" in readme, mode


class _TimedLed:
    """The kit's LED, recording (virtual ms, level) at each change."""

    def __init__(self, tb) -> None:
        self.tb, self.level, self.changes = tb, 0, []

    def value(self, v=None):
        if v is not None and int(bool(v)) != self.level:
            self.level = int(bool(v))
            self.changes.append((self.tb.ticks_ms(), self.level))
        return self.level


def test_each_stored_reading_flicks_the_led_long_enough_to_see(tmp_path):
    # The power-on check in hardware/README.md: one visible flick per reading.
    kit = offline_kit(tmp_path)
    kit.prepare(outages=[(0, 10**7)])
    led = kit.kit.hw.led = _TimedLed(kit.kit.tb)
    stored = []
    kit.kit.on_reading = lambda r, iv: stored.append(r)
    report = kit.run(4, drain_s=0)
    assert report.error is None, report.log
    ons = [t for t, level in led.changes if level == 1]
    offs = [t for t, level in led.changes if level == 0]
    # The sampler, which ends flicks, stops with the run right after the last reading.
    assert len(ons) == len(stored) == 4 and len(offs) == len(ons) - 1
    for on, off in zip(ons, offs):
        assert off - on >= status.HEARTBEAT[0][0]
