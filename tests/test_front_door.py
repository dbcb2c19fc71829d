"""The front door mounts each package's own commands, lazily, and loads nothing it does not need."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from airtrail.cli import MOUNTS, app, load_mount

runner = CliRunner()


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0]


@pytest.mark.parametrize("name", sorted(MOUNTS))
def test_each_mounts_one_line_help_is_the_packages_own(name):
    command = load_mount(name)
    assert MOUNTS[name][0] == _first_line(command.help) or name == "kit"
    assert command.name == name


def test_the_kit_group_has_the_kit_tooling_and_the_hardware_commands():
    kit = load_mount("kit")
    assert {"build", "flash", "provision", "pull", "decode", "simulate"} <= set(kit.commands)  # airkit_host.cli
    assert {"power", "pins", "wiring", "docs"} <= set(kit.commands)  # hardware.cli


def test_the_top_level_help_lists_every_mount():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in MOUNTS:
        assert f" {name} " in result.output


def test_the_top_level_help_imports_no_package_behind_the_door():
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom airtrail.cli import app\n"
             "CliRunner().invoke(app, ['--help'])\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('collector', 'airkit_host', 'hardware', 'walks', 'viz', 'pydantic', 'paho')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_a_mounted_command_runs_and_raises_the_one_error_root():
    from airkit.errors import AirtrailError

    result = runner.invoke(app, ["kit", "decode", "pms5003", "zz"])
    assert isinstance(result.exception, AirtrailError)  # the front door's main() prints it as "Problem: ..."
    assert "not a hex digit" in str(result.exception)


def test_an_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["nosuch"])
    assert result.exit_code == 2
