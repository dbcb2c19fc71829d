"""The power budget: runtimes follow from the cited currents, and the guide's worked example is right."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from airtrail.cli import app
from hardware import guide, power

DATA = power.load_data()
STATES = power.states(DATA)
BY_LABEL = {s.label: s for s in STATES.values()}


def worked_example() -> str:
    text = guide.GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- worked-example -->\n(.*?)<!-- /worked-example -->", text, re.S)
    assert match, "hardware/README.md lost its worked example markers"
    return match.group(1)


def number(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"the worked example no longer says {pattern!r}"
    return match.group(1)


def decimals(shown: str) -> int:
    return len(shown.split(".")[1]) if "." in shown else 0


def assert_shown(shown: str, exact: float, what: str) -> None:
    """The guide's figure equals the exact one rounded as the guide shows it."""
    assert float(shown) == pytest.approx(round(exact, decimals(shown)), abs=1e-9), (
        f"{what}: the guide says {shown}, the cited currents give {exact:.6f}")


# ------------------------------------------------------------------ the worked example in the guide


def example_rows() -> list[tuple[str, str, str, str]]:
    rows = re.findall(r"^\| ([^|]+?) \| ([\d.]+) \| ([\d.]+) % \| ([\d.]+) \|$", worked_example(), re.M)
    assert len(rows) >= 6, "the worked example's table is missing"
    return rows


def test_worked_example_currents_are_the_cited_datasheet_figures():
    for label, current, _, _ in example_rows():
        assert label in BY_LABEL, f"'{label}' is not a state in hardware/power.toml"
        assert float(current) == BY_LABEL[label].ma, f"{label}: guide {current} mA, power.toml {BY_LABEL[label].ma} mA"


def test_worked_example_recomputed_from_the_cited_currents():
    """Redo the guide's five steps by hand from power.toml, then compare every number it prints."""
    text = worked_example()
    t, b = DATA["timing"], DATA["battery"]
    interval, capacity = 10, 5000

    # Step 1: duty cycles, from the timing figures the guide quotes
    assert int(number(r"takes (\d+) ms of transmitting", text)) == t["wifi_tx_s_per_publish"] * 1000
    assert int(number(r"needs (\d+) s of warm-up", text)) == t["pm_warmup_s"]
    assert int(number(r"plus (\d+) s of sampling", text)) == t["pm_sample_s"]
    assert int(number(r"cold start of (\d+) s", text)) == t["gps_ttff_s"]
    tx = t["wifi_tx_s_per_publish"] / interval
    fan = min(1.0, (t["pm_warmup_s"] + t["pm_sample_s"]) / interval)
    duty = {"esp32_wifi_tx": tx, "esp32_wifi_rx": 1 - tx, "board_overhead": 1.0, "pms5003_active": fan,
            "pms5003_standby": 1 - fan, "bme280": 1.0, "gps_tracking": 1.0}

    # Step 2: the table, row by row
    steady = 0.0
    for label, _, shown_duty, shown_avg in example_rows():
        name = BY_LABEL[label].name
        assert_shown(shown_duty, duty[name] * 100, f"duty cycle of {label}")
        average = STATES[name].ma * duty[name]
        assert_shown(shown_avg, average, f"average of {label}")
        steady += average
    assert {BY_LABEL[row[0]].name for row in example_rows()} == set(duty), "a state is missing from the table"
    assert_shown(number(r"Steady current: \*\*([\d.]+) mA\*\*", text), steady, "steady current")

    # Step 3: the cold start
    cold = (STATES["gps_acquisition"].ma - STATES["gps_tracking"].ma) * t["gps_ttff_s"] / 3600
    assert_shown(number(r"= \*\*([\d.]+) mAh\*\*, taken off", text), cold, "cold-start charge")

    # Step 4: what the bank delivers, with the conversion derating
    assert f"{capacity} mAh × {b['cell_v']:g} V / {b['output_v']:.1f} V × {b['efficiency']:g}" in text
    usable = capacity * b["cell_v"] / b["output_v"] * b["efficiency"]
    assert_shown(number(r"= \*\*([\d.]+) mAh\*\* at 5 V", text), usable, "usable charge")

    # Step 5: the runtime and the average
    hours = (usable - cold) / steady
    assert_shown(number(r"= \*\*([\d.]+) hours\*\*", text), hours, "runtime")
    assert_shown(number(r"draws\s+\*\*([\d.]+) mA\*\*", text), usable / hours, "average current")


def test_the_calculator_gives_the_worked_example():
    text = worked_example()
    r = power.runtime("walk", interval_s=10, battery_mah=5000)
    assert_shown(number(r"= \*\*([\d.]+) hours\*\*", text), r.hours, "runtime")
    assert_shown(number(r"draws\s+\*\*([\d.]+) mA\*\*", text), r.average_ma, "average current")
    shown = {BY_LABEL[label].name: avg for label, _, _, avg in example_rows()}
    for use in r.uses:
        if use.state.name == "gps_tracking":
            # the guide's table shows the steady state; the cold start is its step 3
            assert_shown(shown["gps_tracking"], use.state.ma, use.state.label)
        elif use.state.name in shown:
            assert_shown(shown[use.state.name], use.average_ma, use.state.label)


def test_the_cli_prints_the_worked_example_runtime():
    result = CliRunner().invoke(app, ["kit", "power", "--variant", "walk", "--interval", "10", "--battery-mah", "5000"])
    assert result.exit_code == 0, result.output
    hours = number(r"= \*\*([\d.]+) hours\*\*", worked_example())
    assert f"Expected runtime: {hours} hours" in result.output
    assert "85%" in result.output and "derating" in result.output
    assert "ESP32 Series Datasheet v5.2, Table 5-4" in result.output


# ------------------------------------------------------------------ the model


def test_every_figure_has_a_source_line():
    for s in STATES.values():
        assert s.source.strip(), s.name
        if s.kind == "datasheet":
            assert re.search(r"(Table|Section|Technical|key parameters|Operating conditions|power consumption)",
                             s.source), f"{s.name}: say where in the document the figure is"
        else:
            assert s.kind == "assumption" and s.source.startswith("Assumption") and s.note


def test_the_average_is_the_sum_of_the_state_averages():
    for kwargs in ({}, {"wifi": False}, {"pm": "sds011"}, {"interval_s": 300}):
        r = power.runtime("walk", **kwargs)
        assert sum(u.average_ma for u in r.uses) == pytest.approx(r.average_ma)
        assert r.hours == pytest.approx(r.usable_mah / r.average_ma)


def test_every_part_spends_all_of_its_time_in_some_state():
    r = power.runtime("walk", interval_s=120)
    by_part: dict[str, float] = {}
    for u in r.uses:
        part = u.state.name.split("_")[0]
        by_part[part] = by_part.get(part, 0.0) + u.duty
    assert by_part == pytest.approx({p: 1.0 for p in by_part})


def test_the_fan_runs_continuously_when_the_interval_is_shorter_than_warmup_plus_sampling():
    assert power.pm_duty(10, 30, 10) == 1.0
    assert power.pm_duty(40, 30, 10) == 1.0
    # Nor when it could sleep only briefly: the firmware keeps it running then.
    assert power.pm_duty(45, 30, 10) == 1.0


def test_the_fan_sleeps_between_readings_at_long_intervals():
    # 30 s warm-up + a 10 s window (two samples at sample_s = 5) out of 120 s.
    assert power.pm_duty(120, 30, 5) == pytest.approx(1 / 3)
    # At sample_s = 10 the firmware samples for 20 s (two samples), so the fan
    # runs 50 of 120 s; the model's old re-derivation said 40.
    assert power.pm_duty(120, 30, 10) == pytest.approx(5 / 12)
    assert power.runtime("walk", interval_s=120).hours > power.runtime("walk", interval_s=10).hours


def test_the_fan_duty_is_the_firmwares_wake_rule():
    from airkit import config, intervals

    for interval_s, sample_s in ((60, 5), (120, 10), (300, 30), (600, 60)):
        wake = intervals.pm_wake_offset_ms(interval_s * 1000, 30_000, sample_s * 1000, "cycle")
        assert power.pm_duty(interval_s, 30, sample_s) == pytest.approx(1 - wake / (interval_s * 1000))
    # power.toml's sampling figure is the firmware's window at the default sample_s.
    t = DATA["timing"]
    window_ms = 300_000 - t["pm_warmup_s"] * 1000 - intervals.pm_wake_offset_ms(
        300_000, t["pm_warmup_s"] * 1000, config.DEFAULTS["sample_s"] * 1000, "cycle")
    assert window_ms == t["pm_sample_s"] * 1000


def test_walk_mode_without_wifi_counts_the_cpu_not_the_radio():
    names = {u.state.name for u in power.runtime("walk", wifi=False).uses}
    assert "esp32_modem_sleep" in names and "esp32_wifi_rx" not in names
    assert power.runtime("walk", wifi=False).hours > power.runtime("walk", wifi=True).hours


def test_the_fixed_kit_has_no_gps_and_the_co2_option_adds_the_scd40():
    plain = power.runtime("fixed", interval_s=60)
    assert not any(u.state.name.startswith("gps") for u in plain.uses)
    with_co2 = power.runtime("fixed", interval_s=60, co2=True)
    assert with_co2.average_ma == pytest.approx(plain.average_ma + STATES["scd40"].ma)


def test_usable_charge_applies_the_conversion_derating():
    assert power.usable_mah(5000, 3.7, 5.0, 1.0) == pytest.approx(3700)
    assert power.usable_mah(5000, 3.7, 5.0, 0.85) == pytest.approx(3145)
    better = power.runtime("walk", efficiency=0.95)
    assert better.hours > power.runtime("walk").hours


def test_twice_the_battery_gives_about_twice_the_hours():
    one, two = power.runtime("walk", battery_mah=5000), power.runtime("walk", battery_mah=10000)
    assert two.hours / one.hours == pytest.approx(2, rel=1e-3)


@pytest.mark.parametrize("kwargs, message", [
    ({"variant": "boat"}, "unknown variant"),
    ({"pm": "pms9000"}, "unknown PM sensor"),
    ({"interval_s": 0}, "interval"),
    ({"battery_mah": -1}, "battery"),
    ({"efficiency": 1.5}, "efficiency"),
])
def test_impossible_inputs_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(power.PowerModelError, match=message):
        power.runtime(**kwargs)


def test_the_cli_refuses_a_nonsense_interval():
    result = CliRunner().invoke(app, ["kit", "power", "--interval", "0"])
    assert result.exit_code == 2
