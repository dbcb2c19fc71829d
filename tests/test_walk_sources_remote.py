"""The same walk read from the collector's real InfluxDB and from its HTTP API gives the same result as from pull files.

The simulated walk's readings are stored as the collector stores them; a
facilitator whose laptop cannot reach that InfluxDB asks the collector's API
instead, with the read token.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from collector.api.app import create_app
from collector.influx.client import make_writer
from collector.influx.lineproto import reading_line
from tests.support.walksim import Kit, Walk, walk_file
from walks.build import assemble, load_inputs
from walks.plan import load_plan
from walks.sources import ApiSource, InfluxSource, PullSource, ReadingsError

KITS = [Kit("walk-a", "Heron", 0, "gps", 1.0, phone=False), Kit("walk-c", "Otter", 3 * 3600, "rtc", 0.85, phone=True, lag_m=3)]
FIELDS = ("pm25", "pm10", "pm1", "pm25_cf1", "rh", "temp", "lat", "lon")


@pytest.fixture
def stored(tmp_path, collector):
    sim = Walk(KITS)
    sim.write(tmp_path)
    lines = []
    pulled = PullSource(tmp_path / "pulls")
    for kit in KITS:  # exactly what the kits pulled, stored as the collector stores it
        for r in pulled.by_seq(kit.device, None, None).to_dict("records"):
            lines.append(reading_line(kit.device, r["ts"], r["seq"], r["clk"], {k: r[k] for k in FIELDS if k in r and r[k] == r[k]}))
    # The office the day before, synced: the walk's unsynchronised readings are numbered after these.
    lines += [reading_line("walk-c", sim.t0 - 86400 + 10 * i, 900 + i, "ntp", {"pm25": 4.0}) for i in range(5)]
    writer = make_writer(collector.settings.influx)
    writer.write("\n".join(lines).encode())
    writer.close()
    (tmp_path / "walk.toml").write_text(walk_file(sim))
    return load_plan(tmp_path / "walk.toml"), sim


def _published(plan, source) -> pd.DataFrame:
    walk = assemble(plan, load_inputs(plan, source))
    return walk.readings[["kit", "seq", "t", "lat", "lon", "pm25", "clock"]].reset_index(drop=True)


def test_the_walk_from_influxdb_and_from_the_api_with_a_token_is_the_walk_from_pull_files(stored, collector):
    plan, sim = stored
    # The pull files hold what the kits measured; InfluxDB holds those readings plus the office ones.
    expected = _published(plan, PullSource(plan.path(plan.readings.folder)))
    assert (expected["kit"] == "walk-c").sum() > 250
    source = InfluxSource(collector.settings.influx)
    try:
        pd.testing.assert_frame_equal(_published(plan, source), expected, check_dtype=False, check_categorical=False)
    finally:
        source.close()
    collector.settings.api.read_token = SecretStr("reader")
    api = TestClient(create_app(collector), headers={"Authorization": "Bearer reader"})
    pd.testing.assert_frame_equal(_published(plan, ApiSource("http://testserver", "reader", page_size=100, client=api)),
                                  expected, check_dtype=False, check_categorical=False)


def test_without_the_read_token_the_api_withholds_positions_and_the_build_says_so(stored, collector):
    plan, _ = stored
    api = TestClient(create_app(collector))
    with pytest.raises(ReadingsError, match="withholds kit walk-a's positions without the read token: set AIRTRAIL_READ_TOKEN"):
        load_inputs(plan, ApiSource("http://testserver", None, client=api))


def test_the_read_token_is_not_sent_to_a_next_page_on_another_host(stored, collector):
    plan, _ = stored
    collector.settings.api.read_token = SecretStr("reader")
    collector.settings.api.public_url = "https://elsewhere.example"  # a collector that names another address
    try:
        api = TestClient(create_app(collector), headers={"Authorization": "Bearer reader"})
        with pytest.raises(ReadingsError, match=r"linked its next page at another address \(https://elsewhere.example/devices/"):
            load_inputs(plan, ApiSource("http://testserver", "reader", page_size=100, client=api))
    finally:
        collector.settings.api.public_url = None
