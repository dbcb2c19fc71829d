"""Private by default: without a token, no answer holds where a walk kit has been.

Kits as the collector sees them, with their readings in the real InfluxDB and
their status messages received over the real broker:

- walk-kit: in walk mode, registered with its owner's home as an exact location;
- fixed-kit: in online mode, registered with a coarse location, and a GPS;
- quiet-kit: never sent a status, so its mode is unknown (treated as walk).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from collector.api.app import create_app
from collector.devices import DeviceRegistry
from collector.influx.client import InfluxQL
from collector.stack import free_port
from tests.support.stack import count_points, message, publish_all, reading, wait_for

READER = {"Authorization": "Bearer read-secret"}
ADMIN = {"Authorization": "Bearer admin-secret"}
N = 20

# Each kit's GPS fixes share these leading digits (about 10 m), so finding
# one in an answer's text finds any of its fixes, however it is formatted.
GPS = {
    "walk-kit": {"lat": 48.1371, "lon": 11.5753, "alt": 1234.567},
    "fixed-kit": {"lat": 40.4168, "lon": -3.7038, "alt": 2345.678},
    "quiet-kit": {"lat": 45.4642, "lon": 9.1899, "alt": 3456.789},
}
WALK_KIT_HOME = (48.14029, 11.56013)  # registered exact, but the kit walks: never public
FIXED_KIT_PLACE = (40.45301, -3.68834)  # registered coarse: published as the centre of its 0.01° cell
FIXED_KIT_PUBLISHED = (40.455, -3.685)


# An experimental field that could say where a kit is (its builder's choice: a Wi-Fi network, a cell).
X_WIFI = {"walk-kit": 7777.125, "fixed-kit": 8888.375, "quiet-kit": 9999.625}


def _fixes(device: str, seq: int) -> dict[str, float]:
    base = GPS[device]
    return {"lat": base["lat"] + seq * 1e-6, "lon": base["lon"] + (seq * 1e-6 if base["lon"] > 0 else -seq * 1e-6),
            "alt": base["alt"] + seq * 1e-5, "hdop": 0.9, "sats": 9.0, "x_wifi": X_WIFI[device]}


def _needles(device: str) -> list[str]:
    return [f"{value}" for value in GPS[device].values()]


def _four_decimals(value: float) -> str:
    text = str(value)
    return text[: text.index(".") + 5]


def _secret_needles() -> list[str]:
    """Every number that must not reach a caller without a token."""
    registered = [_four_decimals(v) for v in (*WALK_KIT_HOME, *FIXED_KIT_PLACE)]
    experimental = [str(X_WIFI[d]) for d in ("walk-kit", "quiet-kit")]  # a fixed kit's may be shown
    return [*_needles("walk-kit"), *_needles("fixed-kit"), *_needles("quiet-kit"), *registered, *experimental]


@pytest.fixture
def kits(stack, collector, collector_settings):
    registry = DeviceRegistry(collector.settings.registry_path)
    registry.add("walk-kit", location=WALK_KIT_HOME, location_privacy="exact")
    registry.add("fixed-kit", location=FIXED_KIT_PLACE, location_privacy="coarse")
    start = int(time.time()) - 3600  # inside the readings endpoint's default window, the last 24 h
    for device in GPS:
        rows = [reading(s, ts=start + 10 * s, pm25=float(s), **_fixes(device, s)) for s in range(N)]
        publish_all(stack, device, [message(device, rows)])
    for device, mode in (("walk-kit", "walk"), ("fixed-kit", "online")):
        status = {"v": 1, "dev": device, "online": True, "fw": "0.2.0", "mode": mode}
        publish_all(stack, device, [json.dumps(status).encode()], topic=f"airtrail/v1/{device}/status")
    wait_for(lambda: all(count_points(collector_settings, d) == N for d in GPS), what="every kit's readings")
    wait_for(lambda: all(getattr(collector.states.get(d), "status", {}).get("mode") for d in ("walk-kit", "fixed-kit")), what="statuses")
    collector.settings.api.admin_token = SecretStr("admin-secret")
    collector.settings.api.read_token = SecretStr("read-secret")
    return start


@pytest.fixture
def api(collector):
    return TestClient(create_app(collector))


def _every_request(app) -> list[tuple[str, str, dict, dict]]:
    """(method, url, query, headers) for every operation of the OpenAPI document,
    for every kit, plain and in each format the operation offers."""
    requests = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            params = {p["name"]: p for p in operation.get("parameters", [])}
            in_path = {name for name, p in params.items() if p["in"] == "path"}
            assert in_path <= {"device_id"}, f"{method} {path}: teach this test the path parameters {in_path}"
            urls = [path.replace("{device_id}", device) for device in GPS] if in_path else [path]
            variants: list[tuple[dict, dict]] = [({}, {}), ({}, {"Accept": "text/csv"})]
            if "format" in params:
                variants += [({"format": "json"}, {}), ({"format": "csv"}, {})]
            if "limit" in params:
                variants.append(({"limit": 3}, {}))
            if "fields" in params:  # asked for by name: the positions and an experimental field
                variants.append(({"fields": "pm25,lat,lon,alt,x_wifi"}, {}))
            requests += [(method.upper(), url, query, headers) for url in urls for query, headers in variants]
    return requests


def _text(response) -> str:
    return "\n".join([response.text, *(f"{k}: {v}" for k, v in response.headers.items())])


def test_no_answer_without_a_token_holds_a_walk_kits_or_any_kits_own_positions(api, kits):
    requests = _every_request(api.app)
    assert {url for _, url, _, _ in requests} >= {"/devices", "/devices/walk-kit/readings", "/health", "/metrics"}
    for method, url, query, headers in requests:
        response = api.request(method, url, params=query, headers=headers)
        text = _text(response)
        for needle in _secret_needles():
            assert needle not in text, f"{method} {url} {query} {headers}: {needle} in {response.text[:300]}"


def test_with_the_read_token_the_raw_traces_are_there_in_json_and_csv(api, kits):
    for headers in (READER, ADMIN):
        for device in GPS:
            as_json = api.get(f"/devices/{device}/readings", headers=headers)
            as_csv = api.get(f"/devices/{device}/readings", params={"format": "csv"}, headers=headers)
            assert as_json.json()["positions"] == "gps" and as_csv.headers["Airtrail-Positions"] == "gps"
            for needle in _needles(device):
                assert needle in as_json.text and needle in as_csv.text, (device, needle)


def test_a_walk_kits_experimental_fields_need_the_token_and_a_fixed_kits_do_not(api, kits):
    def x_wifi(device, headers=None):
        answer = api.get(f"/devices/{device}/readings", params={"fields": "pm25,x_wifi"}, headers=headers or {})
        return {r["x_wifi"] for r in answer.json()["readings"]}

    assert x_wifi("walk-kit") == x_wifi("quiet-kit") == {None}
    assert x_wifi("walk-kit", READER) == {X_WIFI["walk-kit"]} and x_wifi("quiet-kit", READER) == {X_WIFI["quiet-kit"]}
    assert x_wifi("fixed-kit") == {X_WIFI["fixed-kit"]}


def test_without_a_token_a_fixed_kit_shows_its_registered_place_coarsened(api, kits):
    body = api.get("/devices/fixed-kit/readings").json()
    assert body["positions"] == "registered" and body["count"] == N
    assert {(r["lat"], r["lon"], r["alt"], r["hdop"], r["sats"]) for r in body["readings"]} == {(*FIXED_KIT_PUBLISHED, None, None, None)}
    rows = list(csv.DictReader(io.StringIO(api.get("/devices/fixed-kit/readings", params={"format": "csv"}).text)))
    assert {(r["lat"], r["lon"], r["alt"]) for r in rows} == {("40.455", "-3.685", "")}
    listed = {d["device_id"]: d for d in api.get("/devices").json()}
    assert listed["fixed-kit"]["location"] == {"lat": 40.455, "lon": -3.685, "precision": "coarse"}


def test_without_a_token_a_walk_kit_and_a_kit_of_unknown_mode_show_no_position(api, kits):
    for device in ("walk-kit", "quiet-kit"):
        body = api.get(f"/devices/{device}/readings", params={"fields": "pm25,lat,lon,alt"}).json()
        assert body["positions"] == "withheld" and body["count"] == N
        assert all(r["lat"] is None and r["lon"] is None and r["alt"] is None for r in body["readings"])
        assert [r["pm25"] for r in body["readings"]] == [float(s) for s in range(N)]  # the measurements stay
    listed = {d["device_id"]: d for d in api.get("/devices").json()}
    assert listed["walk-kit"]["location"] is None and listed["quiet-kit"]["location"] is None


def test_with_a_token_devices_show_the_registered_location_as_registered(api, kits):
    listed = {d["device_id"]: d for d in api.get("/devices", headers=READER).json()}
    assert listed["walk-kit"]["location"] == {"lat": WALK_KIT_HOME[0], "lon": WALK_KIT_HOME[1], "precision": "exact"}
    assert listed["fixed-kit"]["location"] == {"lat": FIXED_KIT_PLACE[0], "lon": FIXED_KIT_PLACE[1], "precision": "exact"}


# -- server errors -------------------------------------------------------------------


def _dead_influx(collector, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(collector, "influxql", InfluxQL(collector.settings.influx.model_copy(update={"url": url})))
    return url


def test_a_server_error_tells_a_caller_without_a_token_only_a_message_and_a_request_id(api, collector, kits, monkeypatch, caplog):
    url = _dead_influx(collector, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="airtrail.api"):
        response = api.get("/devices/walk-kit/readings")
    assert response.status_code == 503
    error = response.json()["error"]
    assert set(error) == {"code", "message", "detail", "request_id"} and error["detail"] is None
    assert error["request_id"] == response.headers["X-Request-ID"] and error["request_id"] in error["message"]
    assert url not in response.text and "127.0.0.1" not in response.text
    logged = [r.getMessage() for r in caplog.records if error["request_id"] in r.getMessage()]
    assert len(logged) == 1 and url in logged[0]


def test_a_refused_query_keeps_influxdbs_words_for_the_log_unless_the_caller_has_a_token(api, collector_settings, kits, caplog):
    InfluxQL(collector_settings.influx).query(f'DROP DATABASE "{collector_settings.influx.database}"', write=True, epoch=None)
    with caplog.at_level(logging.WARNING, logger="airtrail.api"):
        public = api.get("/devices/walk-kit/readings")
    assert public.status_code == 502 and "database not found" not in public.text
    assert re.fullmatch(r"[0-9a-f]{16}", public.json()["error"]["request_id"])
    assert any("database not found" in r.getMessage() and public.json()["error"]["request_id"] in r.getMessage() for r in caplog.records)
    with_token = api.get("/devices/walk-kit/readings", headers=READER)
    assert with_token.status_code == 502 and "database not found" in with_token.json()["error"]["message"]


def test_every_answer_carries_a_request_id_header(api, collector):
    ids = {api.get(path).headers["X-Request-ID"] for path in ("/health", "/devices", "/nowhere", "/quarantine")}
    assert len(ids) == 4
