"""The guide's path, verified (issue 10, build item 4).

The commands a volunteer types, as printed in hardware/README.md step 3 and in
README.md's "Kits on a real network", are taken from the Markdown (every line
starting with `airtrail ` in the ```sh blocks of that step or section) and run
verbatim with the installed `airtrail`, substituting only the placeholders the
guide says to replace: the laptop's address `192.168.1.10` becomes the broker
side of a network namespace pair (tests/support/netns.py), `/dev/ttyUSB0` the
virtual board's port. The Wi-Fi name and password stay as written. The data
folder and the bundle cache come from the environment (AIRTRAIL_DATA_DIR,
XDG_CACHE_HOME), so the commands themselves are untouched.

Then the outcome the guide promises: the kit's config names the stack's kit
address, port and CA; the provisioned kit (its firmware on CPython, in the other
namespace, as in tests/test_kit_network.py) connects over TLS and its readings
reach InfluxDB and the collector's /devices (`airtrail serve`, in the stack's
namespace). A broken copy of the guide must make the same runner fail, naming
the command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airkit_host.link import KitLink
from airkit_host.provision import KIT_CA_PATH
from airkit_host.virtual_board import VirtualBoard
from tests.support import netns
from tests.test_kit_network import AIRTRAIL, needs_board, needs_netns, run_kit

ROOT = Path(__file__).resolve().parents[1]
HARDWARE_GUIDE = (ROOT / "hardware" / "README.md", "3. **Flash and provision the board before wiring anything.**")
README = (ROOT / "README.md", "## Kits on a real network")
LAPTOP_ADDRESS, SERIAL_PORT = "192.168.1.10", "/dev/ttyUSB0"

Run = Callable[[list[str]], subprocess.CompletedProcess]


def section(markdown: Path, marker: str) -> list[str]:
    """The lines of the step or section that starts with `marker`, up to the next sibling."""
    lines = markdown.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith(marker)), None)
    assert start is not None, f"{markdown.name}: no section starting with {marker!r}"
    heading = re.match(r"#+ ", marker)
    sibling = re.compile(rf"^#{{1,{len(heading.group()) - 1}}} " if heading else r"^(#+ |\d+\. )")
    end = next((i for i in range(start + 1, len(lines)) if sibling.match(lines[i])), len(lines))
    return lines[start:end]


def guide_commands(markdown: Path, marker: str) -> list[str]:
    """Every line starting with `airtrail ` inside the ```sh blocks of that section, as printed."""
    commands, in_sh = [], False
    for line in section(markdown, marker):
        text = line.strip()
        if text.startswith("```"):
            in_sh = not in_sh and text == "```sh"
        elif in_sh and text.startswith("airtrail "):
            commands.append(text)
    assert commands, f"{markdown.name}: no `airtrail` commands in the ```sh blocks of {marker!r}"
    return commands


def run_guide(markdown: Path, marker: str, substitutions: dict[str, str], run: Run) -> list[str]:
    """Run the section's commands in order; raise AssertionError naming the first that fails."""
    commands = guide_commands(markdown, marker)
    for command in commands:
        typed = command
        for placeholder, value in substitutions.items():
            typed = typed.replace(placeholder, value)
        argv = shlex.split(typed)
        done = run([AIRTRAIL, *argv[1:]])
        if done.returncode != 0:
            raise AssertionError(f"{markdown.name}: `{command}` exited {done.returncode}\n"
                                 f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return commands


# -- running it --------------------------------------------------------------------------

QUERY_SCRIPT = """
import json, sys, urllib.request
from collector.influx.client import InfluxQL
from collector.settings import load_settings

device = sys.argv[1]
series = InfluxQL(load_settings().influx).query(f'SELECT count("seq") FROM "readings" WHERE "device" = \\'{device}\\'')
with urllib.request.urlopen("http://127.0.0.1:8000/devices", timeout=10) as answer:
    devices = json.load(answer)
print(json.dumps({"points": int(series[0]["values"][0][1]) if series else 0,
                  "device": next((d for d in devices if d["device_id"] == device), None)}))
"""


def in_namespace(net: netns.Network, env: dict[str, str]) -> Run:
    return lambda argv: net.run_broker(argv, env=env, timeout=600)


def guide_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "AIRTRAIL_DATA_DIR": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


def stack_down(net: netns.Network, env: dict[str, str]) -> None:
    net.run_broker([AIRTRAIL, "stack", "down"], env=env)


def provisioned_devices(commands: list[str]) -> list[str]:
    provisions = [shlex.split(c) for c in commands if c.startswith("airtrail kit provision ")]
    return [argv[argv.index("--device") + 1] for argv in provisions]


@needs_netns
@needs_board
@pytest.mark.parametrize(("markdown", "marker"), [HARDWARE_GUIDE, README], ids=["hardware-step-3", "readme-kits-on-a-network"])
def test_the_guides_commands_run_as_printed_and_the_kit_s_readings_are_stored(markdown, marker, tmp_path):
    printed = " ".join(guide_commands(markdown, marker))
    assert LAPTOP_ADDRESS in printed and SERIAL_PORT in printed  # else the substitutions below are stale
    env = guide_env(tmp_path)
    data = tmp_path / "data"
    with netns.Network() as net, VirtualBoard() as board:
        try:
            commands = run_guide(markdown, marker, {LAPTOP_ADDRESS: net.broker_address, SERIAL_PORT: board.port},
                                 in_namespace(net, env))
            assert commands[0].startswith("airtrail stack up --kit-address ")
            device = provisioned_devices(commands)[-1]  # the board holds the last kit provisioned on it
            with KitLink(board.port) as link:
                conf = json.loads(link.read("/config.json"))
                ca = link.read(KIT_CA_PATH)
            assert conf["device_id"] == device
            assert conf["mqtt"]["host"] == net.broker_address
            assert (conf["mqtt"]["port"], conf["mqtt"]["tls"], conf["mqtt"]["ca_file"]) == (18883, True, KIT_CA_PATH)
            assert ca == (data / "stack" / "mosquitto" / "tls" / "ca.pem").read_bytes()
            assert [w["ssid"] for w in conf["wifi"]] == ["workshop"]  # the Wi-Fi as written

            serve = subprocess.Popen(["ip", "netns", "exec", net.broker_ns, AIRTRAIL, "serve"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                report = run_kit(net, tmp_path, conf, ca)
                assert report["error"] is None, report["log"]
                assert (report["stored"], report["sent"]) == (3, 3), report["log"]
                assert any(f"connected to broker {net.broker_address}:18883" in line for line in report["log"])
                seen = stored(net, env, device, serve)
                assert seen["points"] == 3
                assert seen["device"]["device_id"] == device and seen["device"]["last_reading_at"]
            finally:
                serve.terminate()
                serve.wait(timeout=30)
        finally:
            stack_down(net, env)


def stored(net: netns.Network, env: dict[str, str], device: str, serve: subprocess.Popen, timeout: float = 60) -> dict:
    """InfluxDB's count and /devices' entry for the kit, once all three readings are stored."""
    deadline, seen = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        assert serve.poll() is None, f"airtrail serve exited: {serve.stdout.read()}"
        asked = net.run_broker([sys.executable, "-c", QUERY_SCRIPT, device], env=env, cwd=ROOT)
        if asked.returncode == 0:
            seen = json.loads(asked.stdout.strip().splitlines()[-1])
            if seen["points"] >= 3 and seen["device"]:
                return seen
        time.sleep(0.5)
    raise AssertionError(f"readings of {device} not stored after {timeout:.0f} s: {seen or asked.stderr}")


# -- the test is honest -------------------------------------------------------------------

BROKEN = [
    (HARDWARE_GUIDE, "kit provision --port", "kit provison --port"),
    (README, "stack up --kit-address", "stack up --kit-adress"),
]


@needs_netns
@needs_board
@pytest.mark.parametrize(("guide", "typo", "broken"), BROKEN, ids=["hardware-provison", "readme-kit-adress"])
def test_a_broken_command_in_a_copy_of_the_guide_fails_the_runner_and_is_named(guide, typo, broken, tmp_path):
    markdown, marker = guide
    text = markdown.read_text()
    assert typo in text
    copy = tmp_path / markdown.name
    copy.write_text(text.replace(typo, broken, 1))
    env = guide_env(tmp_path)
    with netns.Network() as net, VirtualBoard() as board:
        try:
            with pytest.raises(AssertionError) as failed:
                run_guide(copy, marker, {LAPTOP_ADDRESS: net.broker_address, SERIAL_PORT: board.port}, in_namespace(net, env))
        finally:
            stack_down(net, env)
    message = str(failed.value)
    assert broken in message and "exited 2" in message, message


def test_a_section_without_commands_is_an_error(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text("## Kits on a real network\n\nNo commands here.\n\n```sh\nmake setup\n```\n\n## Next\n\n```sh\nairtrail stack up\n```\n")
    with pytest.raises(AssertionError, match="no `airtrail` commands"):
        guide_commands(copy, "## Kits on a real network")
