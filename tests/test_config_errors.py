"""Every configuration mistake is one Problem line and exit 1, never a traceback.

Run through the installed `airtrail` command, as a person would meet them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

AIRTRAIL = Path(sys.executable).with_name("airtrail")

# (what is wrong, airtrail.toml text or None, extra environment, arguments, what the message must say)
CASES = [
    ("TOML syntax", '[mqtt]\nhost = "x"\nport = \n', {}, ["device", "list"], ["airtrail.toml", "not valid TOML", "line 3"]),
    ("unknown key in the file", '[mqtt]\nhostt = "x"\n', {}, ["device", "list"],
     ["unknown setting mqtt.hostt", "airtrail.toml", "the keys of [mqtt] are", "host,"]),
    ("unknown top-level key", 'dta_dir = "/tmp"\n', {}, ["device", "list"], ["unknown setting dta_dir", "data_dir"]),
    ("unknown key from the environment", None, {"AIRTRAIL_MQTT__PORTX": "3"}, ["device", "list"],
     ["unknown setting mqtt.portx", "environment variable AIRTRAIL_MQTT__PORTX"]),
    ("wrong type in the file", '[mqtt]\nport = "abc"\n', {}, ["device", "list"], ["mqtt.port", "airtrail.toml", "valid integer", "'abc'"]),
    ("wrong type from the environment", None, {"AIRTRAIL_API__PORT": "eighty"}, ["device", "list"],
     ["api.port", "environment variable AIRTRAIL_API__PORT", "valid integer"]),
    ("a folder as --config", None, {}, ["--config", "{tmp}", "device", "list"], ["is a folder", "airtrail.toml"]),
    ("a missing --config", None, {}, ["--config", "{tmp}/nope.toml", "device", "list"], ["nope.toml", "does not exist"]),
    ("a missing AIRTRAIL_CONFIG", None, {"AIRTRAIL_CONFIG": "{tmp}/gone.toml"}, ["device", "list"], ["gone.toml", "AIRTRAIL_CONFIG"]),
    ("an InfluxDB URL without a scheme", None, {}, ["collect", "--influx-url", "127.0.0.1:18086"],
     ["influx.url", "http://127.0.0.1:18086"]),
    ("a broker host that does not resolve", None, {}, ["collect", "--mqtt-host", "broker.invalid"], ["mqtt.host", "broker.invalid", "does not resolve"]),
    ("the collector's account name as a kit", None, {}, ["device", "add", "airtrail-collector"], ["is reserved"]),
    ("a malformed device id to provision", None, {}, ["kit", "provision", "--port", "/dev/null", "--device", "BAD ID"],
     ["not a valid device id"]),
]


@pytest.mark.parametrize(("what", "toml", "env", "args", "says"), CASES, ids=[c[0] for c in CASES])
def test_a_configuration_mistake_is_one_problem_line(tmp_path, what, toml, env, args, says):
    if toml is not None:
        (tmp_path / "airtrail.toml").write_text(toml)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRTRAIL_")}
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    args = [a.format(tmp=tmp_path) for a in args]
    result = subprocess.run([str(AIRTRAIL), "--data-dir", str(tmp_path / "data"), *args], capture_output=True, text=True,
                            cwd=tmp_path, env={**base, **env}, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    problem = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(problem) == 1 and problem[0].startswith("Problem: "), result.stderr
    for text in says:
        assert text in problem[0], problem[0]


def test_a_mistyped_option_is_a_usage_error_exit_2(tmp_path):
    result = subprocess.run([str(AIRTRAIL), "device", "list", "--nosuch"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
