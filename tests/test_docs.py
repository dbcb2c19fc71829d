"""The README tells the truth about the contract, the configuration and the commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from airkit import contract as wire
from airtrail.cli import app
from collector.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_documents_every_contract_field_and_flag():
    for name in [*wire.FIELDS, *wire.POSITION, *wire.FLAGS]:
        assert re.search(rf"`{name}`", README), f"README does not document {name!r}"


def test_readme_lists_exactly_the_quarantine_reason_codes_in_the_contracts_order():
    paragraph = README.split("**What is refused**", 1)[1].split("\n\n", 1)[0]
    named = [w for w in re.findall(r"`([a-z_]+)`", paragraph) if w not in wire.STATUS_FIELDS and w not in wire.FIELDS]
    assert named == list(wire.REASONS)


def test_the_pull_format_lists_the_row_columns_in_the_contracts_order():
    text = (ROOT / "firmware" / "PULL_FORMAT.md").read_text()
    listed = text.split("## CSV", 1)[1].split("\n`", 1)[1].split("`, then the `x_*` columns", 1)[0]
    assert [c.strip() for c in listed.split(",")] == list(wire.READING_COLUMNS)
    table = text.split("## One row per reading", 1)[1].split("## JSONL", 1)[0]
    in_table = [c for line in table.splitlines() if line.startswith("| `") for c in re.findall(r"`([a-z_0-9*]+)`", line.split("|")[1])]
    assert in_table == [*wire.READING_COLUMNS, "x_*", "flags"]


def test_readme_config_example_is_valid_and_covers_every_setting():
    block = README.split("# airtrail.toml — every key is optional", 1)[1].split("```", 1)[0]
    doc = tomllib.loads(block)
    for section, model in Settings.model_fields.items():
        if section == "data_dir":
            assert "data_dir" in doc
            continue
        documented = set(doc[section])
        assert documented == set(model.annotation.model_fields), f"[{section}] in README differs from the settings"


def test_readme_lists_every_command_group():
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"airtrail {name}" in README, name
    for group in app.registered_groups:
        assert f"airtrail {group.name}" in README, group.name


def test_readme_shows_the_two_commands():
    assert "make demo" in README and "make test" in README


def test_readme_documents_every_walk_output_and_every_walk_column_with_its_unit():
    from walks.outputs import OUTPUTS, WALK_COLUMNS

    section = README.split("## Data walks", 1)[1].split("\n## ", 1)[0]
    for name in OUTPUTS:
        assert f"| `{name}` |" in section, name
    for name, _, unit, _ in WALK_COLUMNS:
        assert re.search(rf"^\| `{name}` \| *{re.escape(unit)} *\|", section, re.M), name
