"""Virtual kits: the real firmware on CPython, a real broker, the real collector.

Acceptance (issue 3): a virtual kit offline for 500 readings, then
reconnected, delivers all 500 through Mosquitto and the collector to InfluxDB,
in order, exactly once.
"""

from __future__ import annotations

import json
import uuid

import pytest

from airkit.queue import read_queue
from airkit_host import route
from airkit_host.simulate import VirtualKit
from tests.support.stack import Watcher, count_points, select_readings, start_plain_mosquitto, wait_for


def new_device(stack, prefix: str = "sim") -> tuple[str, str]:
    device_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return device_id, stack.add_device(device_id)


def test_a_kit_offline_for_500_readings_delivers_all_of_them_once_and_in_order(stack, collector, collector_settings):
    device, password = new_device(stack, "sim-offline")
    interval_s = 2
    kit = VirtualKit(device, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=interval_s, sample_s=1, speedup=100)
    # No Wi-Fi from power-on until well after the 500th reading.
    report = kit.run(readings=500, outages=[(0, 500 * interval_s + 30)])
    assert report.error is None, report.log
    assert (report.stored, report.sent, report.queued, report.dropped) == (500, 500, 0, 0)

    wait_for(lambda: count_points(collector_settings, device) >= 500, what="500 readings in InfluxDB")
    assert collector.wait_idle()
    rows = select_readings(collector_settings, device, '"seq", "pm25", "clk"')
    seqs = [row[1] for row in rows]
    assert len(rows) == 500
    assert seqs == sorted(seqs) and len(set(seqs)) == 500  # in time order = in sequence order, no duplicates
    kit.cleanup()


def test_readings_taken_offline_wait_in_the_kits_flash_queue(tmp_path):
    kit = VirtualKit("sim-flash", "unused", broker=("127.0.0.1", 9), interval_s=5, speedup=400, data_dir=tmp_path)
    report = kit.run(readings=12, outages=[(0, 10_000)], drain_s=0)
    assert (report.stored, report.sent, report.queued) == (12, 0, 12)
    payloads, dropped = read_queue(str(tmp_path / "queue"))
    readings = [json.loads(p) for p in payloads]
    assert [r["seq"] for r in readings] == list(range(12))
    assert all("pm25" in r and "temp" in r for r in readings)


def test_builtin_route_is_a_two_and_a_half_kilometre_loop_in_central_manchester():
    r = route.builtin()
    assert 2000 <= r.length_m <= 3000
    start, end = r.points[0], r.points[-1]
    assert (start.lat, start.lon) == (end.lat, end.lon)
    assert all(53.47 < p.lat < 53.49 and -2.26 < p.lon < -2.23 for p in r.points)


def test_pm_is_higher_beside_the_busy_road_than_on_the_pedestrian_street(tmp_path):
    from airkit_host.simulate import Air

    air = Air(seed=3)
    r = route.builtin()
    quiet = [p for p in r.points if p.traffic <= 0.1][0]
    busy = [p for p in r.points if p.traffic >= 1.0][0]
    q = sorted(air.pm(quiet, t)["pm25"] for t in range(200))[100]
    b = sorted(air.pm(busy, t)["pm25"] for t in range(200))[100]
    assert b > 2 * q


# -- the CLI ----------------------------------------------------------------------


def test_kit_simulate_command_runs_kits_that_deliver_every_reading(stack, collector, collector_settings):
    from typer.testing import CliRunner

    from airtrail.cli import app as cli
    from tests.support.stack import settings_env

    prefix = "cli-" + uuid.uuid4().hex[:6]
    devices = [f"{prefix}-01", f"{prefix}-02"]
    for d in devices:
        stack.add_device(d)  # registered through the test's registry, so the CLI only reads it
    env = settings_env(stack.settings)
    result = CliRunner().invoke(
        cli,
        ["kit", "simulate", "--count", "2", "--readings", "20", "--interval", "5", "--speedup", "200",
         "--device-prefix", prefix, "--outage", "2@0:60"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "Virtual kits" in result.output
    for d in devices:
        wait_for(lambda: count_points(collector_settings, d) >= 20, what=f"20 readings from {d}")
    assert collector.wait_idle()
    assert [count_points(collector_settings, d) for d in devices] == [20, 20]


def test_kit_simulate_without_a_broker_says_how_to_start_one(tmp_path):
    from typer.testing import CliRunner

    from airtrail.cli import app as cli
    from collector.stack import free_port

    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "kit", "simulate", "--broker", f"127.0.0.1:{free_port()}"])
    assert result.exit_code != 0
    assert "airtrail stack up" in str(result.exception)


@pytest.mark.parametrize("spec, expected", [
    (["600:300"], {0: [(600.0, 300.0)]}),
    (["2@10m:5m", "1@0:1.5h"], {2: [(600.0, 300.0)], 1: [(0.0, 5400.0)]}),
])
def test_outage_options_name_an_optional_kit_a_start_and_a_duration(spec, expected):
    from airkit_host.outages import parse_outages

    assert parse_outages(spec, 3) == expected


@pytest.mark.parametrize("spec", ["600", "4@0:10", "a:b", "0@1:2"])
def test_a_malformed_outage_is_refused_with_the_expected_form(spec):
    from airkit_host.outages import parse_outages
    from collector.errors import ConfigError

    with pytest.raises(ConfigError, match="--outage|duration"):
        parse_outages([spec], 3)


# -- failure modes (firmware/README.md has a section for each) ------------------------


def test_broker_down_at_first_the_kit_keeps_every_reading_and_sends_them_when_it_comes_back(tmp_path):
    from collector.stack import free_port

    port = free_port()
    kit = VirtualKit("sim-brokerdown", "any", broker=("127.0.0.1", port), interval_s=5, sample_s=1, speedup=200, data_dir=tmp_path / "kit")
    k = kit.prepare()
    broker = []

    listening = []

    def on_reading(reading, iv):
        if reading["seq"] == 10 and not broker:  # the broker starts only now, and someone subscribes
            broker.append(start_plain_mosquitto(tmp_path, port))
            listening.append(Watcher(port, "airtrail/v1/+/readings", qos=0))

    k.on_reading = on_reading
    try:
        report = kit.run(20)
    finally:
        for w in listening:
            w.close()
        for b in broker:
            b.terminate()
            b.wait(timeout=10)
    assert broker, "the broker was never started"
    assert (report.stored, report.sent, report.queued) == (20, 20, 0)
    assert any("broker:" in line for line in report.log)  # it said why it could not send


def test_wifi_lost_the_broker_publishes_the_last_will_then_the_kit_comes_back_online(stack, listener, tmp_path):
    import queue as queuelib

    from airkit import contract

    device, password = new_device(stack, "sim-will")
    # online (re-sent as sensor health changes), then the will when Wi-Fi
    # went, then online again, then the planned goodbye
    expected = [True, False, True, False]

    def runs(values: list[bool]) -> list[bool]:
        return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]

    seen: list[bool] = []
    with Watcher(stack.mqtt_port, contract.status_topic(device), *stack.collector_account()) as watcher:
        kit = VirtualKit(device, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=5, sample_s=1, speedup=50, data_dir=tmp_path)
        report = kit.run(30, outages=[(40, 40)])
        # The goodbye is still on its way from the broker to the watcher: wait
        # for it, then for anything else the broker had routed here by then.
        try:
            while len(runs(seen)) < len(expected):
                seen.append(json.loads(watcher.next(timeout=10).payload)["online"])
        except queuelib.Empty:
            pass  # the assertion below shows what did arrive
        watcher.sync()
        seen += [json.loads(m.payload)["online"] for m in watcher.drain()]
    assert report.sent == 30
    assert runs(seen) == expected, seen


def test_walk_mode_records_without_network_and_forwards_when_wifi_is_in_reach(stack, collector, collector_settings, tmp_path):
    device, password = new_device(stack, "sim-walk")
    kit = VirtualKit(device, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=5, sample_s=1, speedup=200, mode="walk", data_dir=tmp_path)
    report = kit.run(60)
    assert (report.stored, report.sent, report.queued) == (60, 60, 0)
    assert kit.wlan.joins >= 2  # forwarded, radio off, came back for the rest
    assert any("walk mode: backlog forwarded" in line for line in report.log)
    wait_for(lambda: count_points(collector_settings, device) >= 60, what="60 walk readings")


def test_flash_full_drops_the_oldest_readings_counts_them_and_reports_the_count(tmp_path):
    kit = VirtualKit("sim-full", "unused", broker=("127.0.0.1", 9), interval_s=5, sample_s=5, speedup=400, queue_budget_kb=16, data_dir=tmp_path)
    report = kit.run(160, outages=[(0, 10**6)], drain_s=0)
    payloads, dropped = read_queue(str(tmp_path / "queue"))
    seqs = [json.loads(p)["seq"] for p in payloads]
    assert report.dropped == dropped > 0
    assert dropped + len(seqs) == 160  # every reading is either kept or counted
    assert seqs == list(range(160 - len(seqs), 160))  # the newest are kept, in order
    assert json.loads(kit.kit.status_message())["dropped"] == dropped


def test_power_cut_mid_walk_loses_nothing_that_was_stored(stack, collector, collector_settings, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    device, password = new_device(stack, "sim-cut")
    data = tmp_path / "kit"
    script = (
        "from airkit_host.simulate import VirtualKit\n"
        f"VirtualKit({device!r}, {password!r}, broker=('127.0.0.1', {stack.mqtt_port}), interval_s=5, sample_s=1, speedup=200, data_dir={str(data)!r})"
        ".run(100000, outages=[(0, 10**7)])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (data / "queue").exists() and len(read_queue(str(data / "queue"))[0]) >= 25:
            break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # no goodbye, no flush: a pulled battery
    proc.wait()
    stored = [json.loads(p) for p in read_queue(str(data / "queue"))[0]]
    kept = [r["seq"] for r in stored]
    assert len(kept) >= 25

    # Power back on a little later in the (virtual) world's time.
    again = VirtualKit(device, password, broker=("127.0.0.1", stack.mqtt_port), interval_s=5, sample_s=1, speedup=200,
                       data_dir=data, start_unix=stored[-1]["ts"] + 30)
    report = again.run(5)
    assert report.queued == 0 and report.sent == len(kept) + 5
    wait_for(lambda: count_points(collector_settings, device) >= len(kept) + 5, what="every stored reading")
    rows = select_readings(collector_settings, device)
    seqs = [row[1] for row in rows]
    assert seqs[: len(kept)] == kept and len(set(seqs)) == len(seqs)  # the new ones follow, never reuse a number
