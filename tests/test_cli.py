"""The `airtrail` front door: global flags, and errors for people, not tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from collector.cli import app

runner = CliRunner()


def test_global_flags_apply_to_one_invocation_only(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRTRAIL_DATA_DIR", str(tmp_path / "from-env"))
    first = runner.invoke(app, ["--data-dir", str(tmp_path / "from-flag"), "device", "list"])
    second = runner.invoke(app, ["device", "list"])
    assert str(tmp_path / "from-flag" / "devices.json") in first.output.replace("\n", "")
    assert str(tmp_path / "from-env" / "devices.json") in second.output.replace("\n", "")


def test_a_missing_config_file_is_a_problem_not_a_traceback(tmp_path):
    airtrail = Path(sys.executable).with_name("airtrail")
    result = subprocess.run([str(airtrail), "--config", str(tmp_path / "nope.toml"), "device", "list"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "Problem:" in result.stderr and "nope.toml" in result.stderr and "Traceback" not in result.stderr


def test_a_user_mistake_exits_1_with_what_to_do(tmp_path):
    airtrail = Path(sys.executable).with_name("airtrail")
    result = subprocess.run([str(airtrail), "--data-dir", str(tmp_path), "device", "add", "Not Valid"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "not a valid device id" in result.stderr.replace("\n", " ") and "Traceback" not in result.stderr
