"""The build guide: generated tables are current, links resolve, safety and licence are stated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airtrail.cli import app
from hardware import generate, guide

TEXT = guide.GUIDE.read_text(encoding="utf-8")


def test_the_guides_generated_tables_are_current():
    assert generate.stale(generate.guide_text()) == [], "run `airtrail kit docs`"


def test_docs_check_passes_on_the_repository():
    result = CliRunner().invoke(app, ["kit", "docs", "--check"])
    assert result.exit_code == 0, result.output or result.exception


def test_docs_check_fails_when_a_generated_table_was_edited_by_hand(tmp_path, monkeypatch):
    edited = TEXT.replace("| ☐ | 1 | BME280", "| ☐ | 2 | BME280", 1)
    assert edited != TEXT
    copy = tmp_path / "README.md"
    copy.write_text(edited, encoding="utf-8")
    monkeypatch.setattr(guide, "GUIDE", copy)
    result = CliRunner().invoke(app, ["kit", "docs", "--check"])
    assert result.exit_code == 1 and "README.md" in str(result.exception)


def test_refresh_keeps_the_prose_and_rewrites_only_the_blocks():
    stale = TEXT.replace("| ☐ | 1 | BME280", "| ☐ | 2 | BME280", 1).replace("Tick the boxes", "Tick all the boxes")
    refreshed = guide.refresh(stale)
    assert "| ☐ | 2 | BME280" not in refreshed and "Tick all the boxes" in refreshed


def test_a_guide_without_a_block_is_refused_with_the_marker_to_add():
    with pytest.raises(guide.GuideError, match="generated:bom-walk"):
        guide.refresh(TEXT.replace("<!-- generated:bom-walk -->", ""))


def test_every_relative_link_in_the_guide_resolves():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", TEXT):
        if "://" in target:
            continue
        assert (guide.GUIDE.parent / target).exists(), target


@pytest.mark.parametrize("topic", [
    "Parts checklist", "step by step", "Worked example", "Hours per walk kit", "Siting a fixed kit",
    "Calibration by co-location", "Lithium batteries", "Enclosure ventilation", "Mains USB adapters", "Licence",
])
def test_the_guide_covers(topic):
    assert topic.lower() in TEXT.lower()


def test_the_licences_are_named_by_spdx_id_for_docs_and_designs():
    assert "`CERN-OHL-P-2.0`" in TEXT and "`CC-BY-SA-4.0`" in TEXT
    assert (guide.GUIDE.parent / "LICENSE.md").read_text().count("CERN-OHL-P-2.0") >= 1


def test_the_guide_explains_which_side_tx_means():
    assert "`pm_tx` is the ESP32's TX pin, wired to\nthe sensor's RX pin" in TEXT


def test_the_guide_states_the_calibration_storage_and_that_raw_values_are_kept():
    assert "hardware/calibration/<device>.toml" in TEXT
    assert "Raw readings are always kept" in TEXT
    assert Path(guide.GUIDE.parent / "calibration" / "_example.toml").exists()


def test_the_guide_links_every_page_of_every_wiring_sheet():
    from hardware import pins, sheets

    for name in sheets.sheets_all(pins.load_all()):
        assert f"](wiring/{name})" in TEXT, name


def test_the_guide_gives_the_walk_kits_six_ground_connections_enough_holes():
    assert "pick three rows" not in TEXT
    assert "six ground connections" in TEXT and "both halves" in TEXT
    assert "GND column 10, both halves joined e10–f10 (6 connections)" in TEXT
