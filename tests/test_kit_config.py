"""The kit's config.json: defaults, validation, and how problems are reported.

validate() returns (config, problems) and never raises, so boot can print every
problem and blink instead of crash-looping; the same rules run on the kit
(checked here under real MicroPython) and in `airtrail kit provision`.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airkit import config, contract, pins, status
from tests.support.micropython import requires_micropython, run_micropython

GOOD = {
    "device_id": "kit-01",
    "wifi": [{"ssid": "home", "password": "home-secret"}, {"ssid": "phone", "password": "phone-secret"}],
    "mqtt": {"host": "collector.local", "password": "s3cret"},
}


def problems_of(raw) -> list[str]:
    return config.validate(raw)[1]


def test_a_provisioned_config_has_no_problems_and_fills_in_the_defaults():
    conf, problems = config.validate(GOOD)
    assert problems == []
    assert conf["interval_s"] == config.DEFAULTS["interval_s"]
    assert conf["mode"] == "online" and conf["pm_warmup_s"] == 30 and conf["pm_duty"] == "cycle"


def test_pins_default_to_the_hardware_pin_map_of_the_variant():
    assert config.validate(GOOD)[0]["pins"] == pins.PINS["walk"]
    assert config.validate({**GOOD, "variant": "fixed"})[0]["pins"] == pins.PINS["fixed"]


def test_a_pin_override_replaces_only_that_pin():
    conf = config.validate({**GOOD, "pins": {"pm_tx": 17}})[0]
    assert conf["pins"] == {**pins.PINS["walk"], "pm_tx": 17}


def test_an_unknown_pin_role_or_gpio_is_a_problem():
    assert any("pins.pm_txd" in p for p in problems_of({**GOOD, "pins": {"pm_txd": 17}}))
    assert any("GPIO number" in p for p in problems_of({**GOOD, "pins": {"pm_tx": 99}}))


def test_the_fixed_kit_has_no_gps_or_battery_unless_asked():
    sensors = config.validate({**GOOD, "variant": "fixed"})[0]["sensors"]
    assert sensors["gps"] is False and sensors["battery"] is False


def test_enabling_a_sensor_the_variant_has_no_pins_for_says_which_pin_to_set():
    found = problems_of({**GOOD, "variant": "fixed", "sensors": {"gps": True}})
    assert any("sensors.gps" in p and "gps_rx" in p for p in found)
    assert problems_of({**GOOD, "variant": "fixed", "sensors": {"gps": True}, "pins": {"gps_rx": 32}}) == []


def test_validate_never_changes_the_defaults():
    before = json.dumps(config.DEFAULTS, sort_keys=True)
    config.validate({**GOOD, "mqtt": {"host": "h", "password": "p", "tls": True}, "sensors": {"gps": False}})
    assert json.dumps(config.DEFAULTS, sort_keys=True) == before


def test_a_missing_device_id_tells_the_user_to_provision():
    raw = {k: v for k, v in GOOD.items() if k != "device_id"}
    assert any("device_id is missing" in p and "airtrail kit provision" in p for p in problems_of(raw))


@pytest.mark.parametrize("bad", ["Kit-01", "kit 01", "-kit", "kit/01", "kit+", "a" * 33, ""])
def test_a_device_id_outside_the_contract_pattern_is_refused(bad):
    assert any("device_id" in p for p in problems_of({**GOOD, "device_id": bad}))


@given(st.text(alphabet="abcz09_-/+ A#é", max_size=34))
def test_device_id_check_agrees_with_the_contract_pattern(device_id):
    assert config.device_id_ok(device_id) == bool(re.fullmatch(contract.DEVICE_ID_PATTERN, device_id))


def test_an_unknown_setting_is_named_so_a_typo_is_not_silently_ignored():
    found = problems_of({**GOOD, "interval": 30})
    assert any("'interval'" in p for p in found)


@pytest.mark.parametrize("value", [0, -5, 100000, 30.5, "60", True, None])
def test_interval_must_be_a_whole_number_of_seconds_in_range(value):
    assert any(p.startswith("interval_s") for p in problems_of({**GOOD, "interval_s": value}))


def test_sampling_slower_than_the_interval_is_a_problem():
    assert any("sample_s" in p for p in problems_of({**GOOD, "interval_s": 10, "sample_s": 20}))


@pytest.mark.parametrize("key, value", [("mode", "offline"), ("variant", "pocket"), ("pm_duty", "sometimes"), ("aggregate", "mean")])
def test_a_choice_outside_its_list_names_the_choices(key, value):
    found = problems_of({**GOOD, key: value})
    assert any(p.startswith(key) and "use one of" in p for p in found)


def test_sensors_pm_accepts_only_supported_sensors():
    assert problems_of({**GOOD, "sensors": {"pm": "sds011"}}) == []
    assert any("sensors.pm" in p for p in problems_of({**GOOD, "sensors": {"pm": "hpma115"}}))


def test_online_mode_needs_a_wifi_network():
    assert any("wifi lists no networks" in p for p in problems_of({**GOOD, "wifi": []}))


def test_walk_mode_runs_without_any_network_or_broker():
    raw = {"device_id": "walker-1", "mode": "walk"}
    assert problems_of(raw) == []


def test_a_kit_that_will_talk_to_the_broker_needs_its_password():
    raw = {**GOOD, "mqtt": {"host": "collector.local"}}
    assert any("mqtt.password is empty" in p and "--device kit-01" in p for p in problems_of(raw))


@pytest.mark.parametrize("wifi", [[{"ssid": ""}], [{"ssid": "home", "password": "short"}], [{"ssid": "x" * 33}], {"ssid": "home"}, ["home"]])
def test_bad_wifi_entries_are_problems(wifi):
    assert any(p.startswith("wifi") for p in problems_of({**GOOD, "wifi": wifi}))


def test_an_open_network_needs_no_password():
    assert problems_of({**GOOD, "wifi": [{"ssid": "cafe"}]}) == []


def test_the_mqtt_user_name_defaults_to_the_device_id_and_the_port_to_the_tls_choice():
    conf = config.validate(GOOD)[0]
    assert conf["mqtt"]["username"] == "kit-01" and conf["mqtt"]["port"] == 1883
    tls = config.validate({**GOOD, "mqtt": {**GOOD["mqtt"], "tls": True}})[0]
    assert tls["mqtt"]["port"] == 8883


def test_keepalive_below_ten_seconds_is_refused():
    assert any("mqtt.keepalive" in p for p in problems_of({**GOOD, "mqtt": {**GOOD["mqtt"], "keepalive": 2}}))


def test_config_that_is_not_an_object_is_one_clear_problem():
    assert problems_of([1, 2]) == ["config.json must hold one JSON object {...}"]


def test_load_reports_a_missing_file_and_broken_json(tmp_path):
    assert "not found" in config.load(str(tmp_path / "config.json"))[1][0]
    (tmp_path / "config.json").write_text('{"device_id": "kit-01",')
    assert "not valid JSON" in config.load(str(tmp_path / "config.json"))[1][0]


def test_load_reads_a_good_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(GOOD))
    assert config.load(str(tmp_path / "config.json"))[1] == []


def test_bad_config_keeps_printing_the_problems_and_blinking_instead_of_crashing():
    printed: list[str] = []

    class Led:
        def __init__(self):
            self.blinks = 0

        def value(self, v):
            self.blinks += v

    led = Led()
    status.safe_loop(["device_id is missing: ..."], led, lambda ms: None, out=printed.append, rounds=11)
    assert printed.count("  - device_id is missing: ...") == 2  # every tenth round
    assert led.blinks == 11 * len(status.CONFIG_PROBLEM)


CASES = [
    GOOD,
    {**GOOD, "variant": "fixed", "sensors": {"gps": True}},
    {**GOOD, "device_id": "Kit 1", "interval": 5, "interval_s": True, "mode": "walk"},
    {**GOOD, "wifi": [{"ssid": "", "password": "x"}], "pins": {"led": 60, "nope": 1}, "mqtt": {"port": 70000, "keepalive": 1}},
    {"mode": "walk", "device_id": "walker-1", "pm_duty": "continuous", "aggregate": "trimmed"},
]


@requires_micropython
def test_micropython_validates_exactly_like_cpython():
    code = "import json\nfrom airkit import config\n" + "".join(
        f"c, p = config.validate(json.loads({json.dumps(json.dumps(raw))}))\nprint(json.dumps([c, p]))\n" for raw in CASES
    )
    lines = run_micropython(code).splitlines()
    assert len(lines) == len(CASES)
    for raw, line in zip(CASES, lines):
        assert json.loads(line) == json.loads(json.dumps(list(config.validate(raw))))


def test_every_setting_is_documented_in_the_firmware_readme():
    from tests.support.micropython import ROOT

    readme = (ROOT / "firmware" / "README.md").read_text()
    keys = []
    for key, value in config.DEFAULTS.items():
        keys += [f"{key}.{sub}" for sub in value] if isinstance(value, dict) and key != "pins" else [key]
    undocumented = [k for k in keys if f"| `{k}` |" not in readme]
    assert undocumented == []
