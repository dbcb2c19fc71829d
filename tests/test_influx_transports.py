"""Both write transports, InfluxDB's 5xx and 4xx answers, and InfluxQL queries."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from collector.errors import InfluxRejected, InfluxUnavailable
from collector.influx.client import InfluxQL, V1Writer, V2Writer, make_writer
from collector.influx.lineproto import point_time_us, reading_line
from collector.service import Collector
from collector.settings import InfluxSettings
from collector.stack import free_port
from collector.stack.process import find_binary
from tests.support.faults import FlakyInflux
from tests.support.stack import publish_all, count_points, message, reading, select_readings, wait_for


@pytest.fixture(scope="module")
def victoria_metrics(tmp_path_factory):
    """A real server that speaks /api/v2/write (Debian's victoria-metrics)."""
    binary = find_binary("victoria-metrics", "victoria-metrics")
    port = free_port()
    data = tmp_path_factory.mktemp("vm")
    proc = subprocess.Popen(
        [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data}", "-retentionPeriod=100y", "-loggerLevel=ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(url), timeout=30, what="victoria-metrics")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _vm_series(url: str, metric: str) -> list[dict]:
    httpx.get(url + "/internal/force_flush", timeout=10)
    r = httpx.get(url + "/api/v1/export", params={"match[]": metric}, timeout=10)
    return [json.loads(line) for line in r.text.splitlines() if line]


def test_v2_transport_writes_through_influxdb_client(victoria_metrics):
    writer = make_writer(InfluxSettings(url=victoria_metrics, transport="v2", bucket="airtrail", org="citizens", token="t"))
    assert isinstance(writer, V2Writer)
    ts = int(time.time()) - 60
    lines = [reading_line("kit-v2", ts + i, i, "ntp", {"pm25": 10.0 + i}, []) for i in range(3)]
    writer.write("\n".join(lines).encode())
    wait_for(lambda: len(_vm_series(victoria_metrics, 'readings_pm25{device="kit-v2"}')) == 1, timeout=30, what="series in victoria-metrics")
    series = _vm_series(victoria_metrics, 'readings_pm25{device="kit-v2"}')[0]
    assert series["values"] == [10.0, 11.0, 12.0]
    assert series["timestamps"] == [point_time_us(ts + i, i) // 1000 for i in range(3)]
    writer.close()


def test_collector_stores_through_the_v2_transport_end_to_end(stack, tmp_path, victoria_metrics):
    settings = stack.collector_settings(tmp_path, **{"influx.transport": "v2", "influx.url": victoria_metrics, "influx.bucket": "airtrail"})
    with Collector(settings) as collector:
        publish_all(stack, "kit-v2e", [message("kit-v2e", [reading(s, ts=int(time.time()) - 600 + s) for s in range(200)])])
        wait_for(lambda: collector.counts()["stored"] == 200, what="200 stored")
    wait_for(lambda: sum(len(s["values"]) for s in _vm_series(victoria_metrics, 'readings_seq{device="kit-v2e"}')) == 200, timeout=30, what="200 points")


def test_unreachable_influxdb_is_unavailable_not_rejected():
    writer = V1Writer(InfluxSettings(url=f"http://127.0.0.1:{free_port()}", timeout_s=1))
    with pytest.raises(InfluxUnavailable, match="cannot reach InfluxDB"):
        writer.write(b"readings,device=x pm25=1.0 1")
    assert writer.ping() is False


def test_a_5xx_from_influxdb_never_costs_a_reading(stack, tmp_path):
    proxy = FlakyInflux(stack.influx_url, fail_every=3)
    settings = stack.collector_settings(tmp_path, **{"influx.url": proxy.url, "collector.batch_max_readings": 50})
    try:
        with Collector(settings) as collector:
            publish_all(stack, "kit-5xx", [message("kit-5xx", [reading(seq)]) for seq in range(1500)])
            wait_for(lambda: count_points(settings, "kit-5xx") == 1500 and len(collector.spool) == 0, timeout=120, what="all readings")
            assert collector.wait_idle()
        assert proxy.failed > 0
        assert [row[1] for row in select_readings(settings, "kit-5xx")] == list(range(1500))
    finally:
        proxy.close()


def test_a_field_type_conflict_quarantines_only_the_offending_points(stack, collector, collector_settings):
    # Someone else wrote co2 as a string in the same shard (field types are per
    # shard in InfluxDB 1.x): InfluxDB now refuses float co2 values there.
    V1Writer(collector_settings.influx).write(f'readings,device=other co2="oops" {(int(time.time()) - 7200) * 1_000_000}'.encode())
    rows = [reading(s, co2=420.0 + s) if s % 10 == 0 else reading(s) for s in range(100)]
    publish_all(stack, "kit-4xx", [message("kit-4xx", rows)])
    wait_for(lambda: collector.quarantine.count() == 10, what="10 quarantined points")
    assert collector.wait_idle()
    stored = [row[1] for row in select_readings(collector_settings, "kit-4xx") if row[1] is not None]
    assert stored == [s for s in range(100) if s % 10]
    items = collector.quarantine.list(limit=100)
    assert {i["reason"] for i in items} == {"influx_rejected"}
    assert all("field type conflict" in i["detail"] for i in items)
    assert sorted(int(i["payload_text"].split("seq=")[1].split("i")[0]) for i in items) == list(range(0, 100, 10))


def test_influxql_errors_name_the_query(stack, collector_settings):
    with pytest.raises(InfluxRejected, match="SELEC nonsense"):
        InfluxQL(collector_settings.influx).query("SELEC nonsense")
