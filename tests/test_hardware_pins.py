"""The pin maps: the checker refuses ESP32 pitfalls, and the firmware's pins are the maps'."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airtrail.cli import app
from hardware import esp32, generate, pins
from tests.support.micropython import requires_micropython, run_micropython

ROOT = Path(__file__).resolve().parents[1]


def walk_map(**changes) -> pins.PinMap:
    """The shipped walk map as raw TOML data, with some pins changed (None removes one)."""
    data = tomllib.loads((pins.PINS_DIR / "walk.toml").read_text())
    for role, gpio in changes.items():
        if gpio is None:
            data["pins"].pop(role)
        else:
            data["pins"][role] = gpio
    return pins.from_dict(data)


def problems_for(pinmap: pins.PinMap, role: str, severity: str | None = None) -> list[pins.Problem]:
    return [p for p in pins.check(pinmap) if role in p.role and (severity is None or p.severity == severity)]


# ------------------------------------------------------------------ the shipped maps


@pytest.mark.parametrize("variant", ["walk", "fixed"])
def test_shipped_pin_maps_have_no_problems(variant):
    assert pins.check(pins.load_variant(variant)) == []


def test_both_variants_exist():
    assert pins.variants() == ["fixed", "walk"]


def test_shared_parts_use_the_same_pins_in_both_kits():
    walk, fixed = pins.load_variant("walk"), pins.load_variant("fixed")
    for role in fixed.pins:
        assert fixed.pins[role] == walk.pins[role], role


# ------------------------------------------------------------------ what the checker refuses


def test_a_deliberately_conflicting_map_fails_the_check():
    conflicting = walk_map(gps_rx=19)  # pm_rx is already on GPIO 19
    errors = pins.errors(pins.check(conflicting))
    assert errors, "a GPIO used twice must be an error"
    assert any(p.gpio == 19 and "pm_rx" in p.role and "gps_rx" in p.role for p in errors)
    assert "more than one role" in str(errors[0])


@pytest.mark.parametrize("gpio", sorted(esp32.FLASH_PINS))
def test_flash_pins_are_rejected(gpio):
    [p] = problems_for(walk_map(led=gpio), "led", "error")
    assert "flash" in p.message


def test_an_output_on_an_input_only_pin_is_rejected():
    [p] = problems_for(walk_map(pm_tx=34, batt_adc=33, gps_tx=None), "pm_tx", "error")
    assert p.gpio == 34 and "input-only" in p.message


def test_i2c_on_an_input_only_pin_is_rejected():
    assert problems_for(walk_map(i2c_sda=36), "i2c_sda", "error")


def test_an_input_on_an_input_only_pin_is_fine():
    assert problems_for(walk_map(gps_rx=34), "gps_rx") == []


def test_gpio12_is_an_error_that_explains_the_flash_voltage():
    [p] = problems_for(walk_map(led=12), "led", "error")
    assert "flash voltage" in p.message and "1.8 V" in p.message


@pytest.mark.parametrize("gpio", [0, 2, 5, 15])
def test_other_strapping_pins_are_warnings_with_the_reason(gpio):
    found = problems_for(walk_map(led=gpio), "led")
    assert [p.severity for p in found] == ["warning"]
    assert "strapping pin" in found[0].message


def test_an_adc2_pin_cannot_read_analog_while_wifi_is_on():
    [p] = problems_for(walk_map(batt_adc=27), "batt_adc", "error")
    assert "Wi-Fi" in p.message and "ADC1" in p.message


def test_an_adc2_pin_is_fine_for_analog_without_wifi():
    pinmap = walk_map(batt_adc=27)
    no_wifi = pins.PinMap(**{**pinmap.__dict__, "wifi": False})
    assert problems_for(no_wifi, "batt_adc", "error") == []


def test_a_digital_only_pin_cannot_be_the_adc():
    [p] = problems_for(walk_map(batt_adc=16), "batt_adc", "error")
    assert "not an analog-capable pin" in p.message


@pytest.mark.parametrize("gpio", [20, 24, 28, 31, 37, 40, -1])
def test_a_gpio_that_does_not_exist_is_rejected(gpio):
    [p] = problems_for(walk_map(led=gpio), "led", "error")
    assert "no such GPIO" in p.message


@pytest.mark.parametrize("gpio", [1, 3])
def test_the_usb_console_pins_are_rejected(gpio):
    [p] = problems_for(walk_map(led=gpio), "led", "error")
    assert "console" in p.message


def test_psram_pins_are_a_warning_for_wrover_boards():
    [p] = problems_for(walk_map(led=16), "led")
    assert p.severity == "warning" and "WROVER" in p.message


def test_an_unknown_role_is_rejected():
    data = tomllib.loads((pins.PINS_DIR / "walk.toml").read_text())
    data["pins"]["pm_txd"] = 26
    [p] = problems_for(pins.from_dict(data), "pm_txd", "error")
    assert "unknown role" in p.message


def test_a_wire_to_a_role_without_a_pin_is_rejected():
    assert problems_for(walk_map(pm_set=None), "pm_set", "error")


def test_a_pin_that_no_part_uses_is_a_warning():
    data = tomllib.loads((pins.PINS_DIR / "walk.toml").read_text())
    data["pins"]["gps_pps"] = 26
    [p] = problems_for(pins.from_dict(data), "gps_pps")
    assert p.severity == "warning" and "no part" in p.message


def test_messages_name_the_role_the_pin_and_free_alternatives():
    [p] = problems_for(walk_map(led=9), "led", "error")
    text = str(p)
    assert text.startswith("error: led on GPIO 9:")
    assert "free pins without pitfalls:" in text and " 26" in text


@pytest.mark.parametrize("bad", ['pins = { led = true }', 'pins = { led = "25" }', 'title = "no pins"'])
def test_a_malformed_pin_map_raises_an_error_that_says_what_is_wrong(bad):
    with pytest.raises(pins.PinMapError, match="pins"):
        pins.from_dict(tomllib.loads('variant = "x"\n' + bad))


def test_a_pin_map_with_broken_toml_says_how_to_fix_it(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("variant = walk\n")
    with pytest.raises(pins.PinMapError, match="not valid TOML"):
        pins.load(path)


# ------------------------------------------------------------------ the firmware's pins


def test_firmware_pins_file_is_exactly_what_the_generator_produces():
    assert generate.stale(generate.firmware_pins()) == [], "run `airtrail kit pins --write`"


def test_firmware_PINS_values_equal_the_toml():
    from airkit import pins as firmware_pins

    for variant in ("walk", "fixed"):
        raw = tomllib.loads((ROOT / "hardware" / "pins" / f"{variant}.toml").read_text())
        assert firmware_pins.PINS[variant] == raw["pins"]
        assert firmware_pins.UART[variant] == raw["uart"]
        assert firmware_pins.I2C_ADDR[variant] == raw["i2c"]["addresses"]
    walk = tomllib.loads((ROOT / "hardware" / "pins" / "walk.toml").read_text())["batt_adc"]
    assert firmware_pins.BATT_DIVIDER["walk"] == pytest.approx((walk["r_top"] + walk["r_bottom"]) / walk["r_bottom"])


def test_the_generated_module_changes_when_a_pin_changes():
    maps = pins.load_all()
    moved = {**maps, "walk": walk_map(led=26)}
    assert '"led": 26' in pins.render_firmware_module(moved)
    assert pins.render_firmware_module(moved) != pins.render_firmware_module(maps)


@pytest.mark.micropython
@requires_micropython
def test_firmware_pins_import_under_micropython_with_the_toml_values():
    printed = run_micropython(
        "import json\nfrom airkit import pins\n"
        "print(json.dumps({'PINS': pins.PINS, 'UART': pins.UART, 'I2C': pins.I2C, 'I2C_ADDR': pins.I2C_ADDR}))"
    )
    got = json.loads(printed.strip().splitlines()[-1])
    for variant in ("walk", "fixed"):
        raw = tomllib.loads((ROOT / "hardware" / "pins" / f"{variant}.toml").read_text())
        assert got["PINS"][variant] == raw["pins"]
        assert got["I2C_ADDR"][variant] == raw["i2c"]["addresses"]


# ------------------------------------------------------------------ the command


def test_pins_check_passes_on_the_shipped_maps():
    result = CliRunner().invoke(app, ["kit", "pins", "--check"])
    assert result.exit_code == 0, result.output
    assert "No pin problems" in result.output


def test_pins_check_exits_1_on_a_conflicting_map(tmp_path, monkeypatch):
    for variant in ("walk", "fixed"):
        text = (pins.PINS_DIR / f"{variant}.toml").read_text()
        if variant == "walk":
            text = text.replace("gps_rx = 32", "gps_rx = 19")
        (tmp_path / f"{variant}.toml").write_text(text)
    monkeypatch.setattr(pins, "PINS_DIR", tmp_path)
    result = CliRunner().invoke(app, ["kit", "pins", "--check"])
    assert result.exit_code == 1
    assert "more than one role" in str(result.exception)


def test_pins_write_refuses_a_map_with_errors(tmp_path, monkeypatch):
    for variant in ("walk", "fixed"):
        text = (pins.PINS_DIR / f"{variant}.toml").read_text().replace("led = 25", "led = 12")
        (tmp_path / f"{variant}.toml").write_text(text)
    monkeypatch.setattr(pins, "PINS_DIR", tmp_path)
    target = tmp_path / "pins.py"
    monkeypatch.setattr(pins, "FIRMWARE_PINS", target)
    result = CliRunner().invoke(app, ["kit", "pins", "--write"])
    assert result.exit_code == 1 and not target.exists()
    assert "GPIO12" in str(result.exception)


def test_pins_write_regenerates_a_stale_firmware_module(tmp_path, monkeypatch):
    target = tmp_path / "pins.py"
    target.write_text("PINS = {}\n")
    monkeypatch.setattr(pins, "FIRMWARE_PINS", target)
    assert CliRunner().invoke(app, ["kit", "pins", "--check"]).exit_code == 1
    assert CliRunner().invoke(app, ["kit", "pins", "--write"]).exit_code == 0
    assert target.read_text() == pins.render_firmware_module(pins.load_all())
    assert CliRunner().invoke(app, ["kit", "pins", "--check"]).exit_code == 0
