"""Bills of materials: quantities, dated price ranges, alternates, and totals computed, never typed."""

from __future__ import annotations

import pytest

from hardware import bom, guide

DATA = bom.load_data()


@pytest.mark.parametrize("variant", ["walk", "fixed"])
def test_totals_are_quantity_times_unit_price_summed(variant):
    for cur in bom.currencies(DATA):
        lo = sum(e["qty"] * DATA["parts"][e["part"]]["price"][cur][0]
                 for e in DATA["variants"][variant] if not e.get("optional"))
        hi = sum(e["qty"] * DATA["parts"][e["part"]]["price"][cur][1]
                 for e in DATA["variants"][variant] if not e.get("optional"))
        assert bom.totals(variant, data=DATA)[cur] == pytest.approx((lo, hi))


def test_optional_parts_are_left_out_of_the_total_and_added_in_the_second():
    without = bom.totals("fixed", data=DATA)
    with_optional = bom.totals("fixed", include_optional=True, data=DATA)
    scd40 = DATA["parts"]["scd40"]["price"]
    for cur in bom.currencies(DATA):
        assert with_optional[cur] == pytest.approx((without[cur][0] + scd40[cur][0], without[cur][1] + scd40[cur][1]))


def test_every_part_has_a_low_to_high_price_in_every_currency():
    for name, part in DATA["parts"].items():
        for cur in bom.currencies(DATA):
            lo, hi = part["price"][cur]
            assert 0 < lo <= hi, (name, cur)


def test_prices_say_when_they_were_checked():
    assert bom.checked(DATA) == "2026-11"


def test_every_kit_lists_the_parts_its_pin_map_wires():
    from hardware import pins

    needed = {"walk": {"esp32", "pms5003", "bme280", "gps", "divider", "led", "breadboard"},
              "fixed": {"esp32", "pms5003", "bme280", "scd40", "led", "breadboard"}}
    for variant, parts in needed.items():
        assert parts <= {line.part for line in bom.items(variant, DATA)}
        wired = {p.id for p in pins.load_variant(variant).parts if p.wires and not p.alternate_for}
        assert wired - {"bus"} <= parts | {"bus"}


def test_the_particle_sensor_lists_its_alternate():
    [pm] = [line for line in bom.items("walk", DATA) if line.part == "pms5003"]
    assert any("SDS011" in alt for alt in pm.alternates)


@pytest.mark.parametrize("variant", ["walk", "fixed"])
def test_the_guide_states_the_computed_totals_and_the_check_date(variant):
    text = guide.GUIDE.read_text(encoding="utf-8")
    total = bom.totals(variant, data=DATA)["GBP"]
    assert f"**Total for one {variant} kit** (typical prices checked 2026-11" in text
    assert guide._range("GBP", *total) in text


def test_an_unknown_kit_has_no_bill_of_materials():
    with pytest.raises(ValueError, match="no bill of materials"):
        bom.items("boat", DATA)
