"""Wiring diagrams: generated from the pin maps, readable without colour, never stale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from airtrail.cli import app
from hardware import generate, pins, wiring

SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.split("?>", 1)[1])
    return ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]


def contrast(hex_colour: str, background: str = "#FFFFFF") -> float:
    """WCAG 2.1 contrast ratio between two sRGB colours."""

    def luminance(h: str) -> float:
        channels = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((luminance(hex_colour), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.fixture(scope="module")
def maps():
    return pins.load_all()


def test_committed_svgs_are_exactly_what_the_pin_maps_produce():
    assert generate.stale(generate.wiring_svgs()) == [], "run `airtrail kit wiring`"
    assert generate.orphans() == []


def test_there_is_a_drawing_per_kit_and_per_alternate_part(maps):
    assert sorted(wiring.render_all(maps)) == ["fixed-sds011.svg", "fixed.svg", "walk-sds011.svg", "walk.svg"]


@pytest.mark.parametrize("variant", ["walk", "fixed"])
def test_every_wire_is_labelled_with_its_pin_colour_name_and_part_pin(maps, variant):
    pinmap = maps[variant]
    labels = texts(wiring.render_svg(pinmap))
    for part in wiring.fitted_parts(pinmap):
        for w in part.wires:
            _, colour_name = wiring.COLOURS[w.source]
            assert w.to in labels, (part.id, w.to)
            assert colour_name in labels, (part.id, w.source)
            if w.source not in pins.RAILS:
                assert f"GPIO{pinmap.pins[w.source]} {w.source}" in labels


def test_a_moved_pin_moves_in_the_drawing(maps):
    data = dict(maps["walk"].pins, led=26)
    moved = pins.PinMap(**{**maps["walk"].__dict__, "pins": data})
    svg = wiring.render_svg(moved)
    assert "GPIO26 led" in texts(svg) and "GPIO25 led" not in texts(svg)
    assert svg != wiring.render_svg(maps["walk"])


def test_the_alternate_drawing_swaps_the_part(maps):
    labels = texts(wiring.render_svg(maps["walk"], alternate="sds011"))
    assert "SDS011 particle sensor" in labels and "PMS5003 particle sensor" not in labels
    assert "7 TXD" in labels and "3 SET" not in labels


def test_optional_parts_are_drawn_dashed_and_said_to_be_optional(maps):
    svg = wiring.render_svg(maps["fixed"])
    assert "SCD40 CO2 sensor (optional)" in texts(svg)
    assert "stroke-dasharray" in svg


@pytest.mark.parametrize("name", ["walk.svg", "fixed.svg", "walk-sds011.svg"])
def test_text_is_large_and_dark_enough_for_a_phone_and_print(maps, name):
    svg = wiring.render_all(maps)[name]
    sizes = [int(s) for s in re.findall(r'font-size="(\d+)"', svg)]
    assert min(sizes) >= 14
    for fill in set(re.findall(r'<text[^>]*fill="(#[0-9A-Fa-f]{6})"', svg)):
        assert contrast(fill) >= 4.5, fill  # WCAG AA for body text


def test_every_wire_colour_is_visible_on_white_thanks_to_its_dark_casing(maps):
    root = ET.fromstring(wiring.render_svg(maps["walk"]).split("?>", 1)[1])
    lines = list(root.iter(SVG_NS + "line"))
    coloured = [(i, ln) for i, ln in enumerate(lines) if ln.get("stroke") != wiring.INK]
    assert coloured
    for i, ln in coloured:
        casing = lines[i - 1]  # drawn just before, underneath
        assert casing.get("stroke") == wiring.INK
        assert [casing.get(k) for k in ("x1", "y1", "x2", "y2")] == [ln.get(k) for k in ("x1", "y1", "x2", "y2")]
        assert int(casing.get("stroke-width")) == int(ln.get("stroke-width")) + 4


def test_the_drawing_has_a_title_and_a_text_description_for_screen_readers(maps):
    svg = wiring.render_svg(maps["walk"])
    root = ET.fromstring(svg.split("?>", 1)[1])
    assert root.find(SVG_NS + "title").text.startswith("airtrail walk kit")
    assert "GPIO18 pm_tx to 4 RXD" in root.find(SVG_NS + "desc").text


def test_wiring_check_fails_when_a_drawing_is_stale_and_the_command_fixes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "WIRING_DIR", tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["kit", "wiring"]).exit_code == 0
    (tmp_path / "walk.svg").write_text((tmp_path / "walk.svg").read_text().replace("GPIO18", "GPIO17"))
    (tmp_path / "old-part.svg").write_text("<svg/>")

    result = runner.invoke(app, ["kit", "wiring", "--check"])
    assert result.exit_code == 1
    assert "walk.svg" in str(result.exception) and "old-part.svg" in str(result.exception)

    assert runner.invoke(app, ["kit", "wiring"]).exit_code == 0
    assert runner.invoke(app, ["kit", "wiring", "--check"]).exit_code == 0
    assert not (tmp_path / "old-part.svg").exists()
