"""The `airtrail` front door: global flags, and errors for people, not tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from airtrail.cli import app

runner = CliRunner()
AIRTRAIL = Path(sys.executable).with_name("airtrail")


def _airtrail(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed command, away from the caller's AIRTRAIL_* variables and airtrail.toml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRTRAIL_")}
    return subprocess.run([str(AIRTRAIL), *args], capture_output=True, text=True, cwd=tmp_path, env=env)


def test_global_flags_apply_to_one_invocation_only(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRTRAIL_DATA_DIR", str(tmp_path / "from-env"))
    first = runner.invoke(app, ["--data-dir", str(tmp_path / "from-flag"), "device", "list"])
    second = runner.invoke(app, ["device", "list"])
    assert str(tmp_path / "from-flag" / "devices.json") in first.output.replace("\n", "")
    assert str(tmp_path / "from-env" / "devices.json") in second.output.replace("\n", "")


def test_a_missing_config_file_is_a_problem_not_a_traceback(tmp_path):
    result = _airtrail(tmp_path, "--config", str(tmp_path / "nope.toml"), "device", "list")
    assert result.returncode == 1
    assert "Problem:" in result.stderr and "nope.toml" in result.stderr and "Traceback" not in result.stderr


def test_a_user_mistake_exits_1_with_what_to_do(tmp_path):
    result = _airtrail(tmp_path, "--data-dir", str(tmp_path), "device", "add", "Not Valid")
    assert result.returncode == 1
    assert "not a valid device id" in result.stderr.replace("\n", " ") and "Traceback" not in result.stderr


def _stack_up(tmp_path: Path, monkeypatch, **env: str) -> str:
    from collector.stack import free_port

    monkeypatch.setenv("AIRTRAIL_CONFIG", os.devnull)
    for key, value in {"STACK__MQTT_PORT": str(free_port()), "STACK__INFLUX_PORT": str(free_port()),
                       "STACK__INFLUX_RPC_PORT": str(free_port()), **env}.items():
        monkeypatch.setenv("AIRTRAIL_" + key, value)
    try:
        result = runner.invoke(app, ["--data-dir", str(tmp_path), "stack", "up"])
        assert result.exit_code == 0, result.output
        return result.output
    finally:
        runner.invoke(app, ["--data-dir", str(tmp_path), "stack", "down"])


def test_stack_up_primes_the_collectors_session_on_its_own_broker_only(tmp_path, monkeypatch):
    # The broker keeps readings only for sessions that exist, so a fresh local
    # stack gets the collector's. Pointed at another broker, the collector's
    # client id must not be used there: it would take over a running collector.
    from collector.stack import free_port
    from tests.support.stack import start_plain_mosquitto

    assert "collector session" in _stack_up(tmp_path / "local", monkeypatch)
    external_port = free_port()
    (tmp_path / "external").mkdir()
    external = start_plain_mosquitto(tmp_path / "external", external_port)  # would accept the collector's login
    try:
        output = _stack_up(tmp_path / "external", monkeypatch, MQTT__HOST="localhost", MQTT__PORT=str(external_port))
        assert "collector session" not in output
    finally:
        external.terminate()
        external.wait(10)
