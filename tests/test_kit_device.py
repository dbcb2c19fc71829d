"""`airtrail kit build | provision | pull | flash`, without hardware.

provision and pull run for real through mpremote against a virtual board:
MicroPython's WebAssembly port answering its raw REPL behind a pseudo-terminal
(airkit_host.virtual_board). The files land in the board's filesystem, the
board imports the compiled firmware, and the queue that pull reads is written
by the firmware's own queue code running under MicroPython on the board.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airkit import contract as wire
from airkit import encode
from airkit.queue import read_queue
from airkit_host import bundle as kit_bundle
from airkit_host.link import KitLink
from airkit_host.virtual_board import VirtualBoard, available
from airtrail.cli import app
from collector.devices import DeviceRegistry
from airkit_host.errors import KitError
from collector.errors import DeviceError

needs_board = pytest.mark.skipif(available() is not None, reason=str(available()))
runner = CliRunner()
DEVICE = "kit-07"


def airtrail(data_dir: Path, *args: str):
    return runner.invoke(app, ["--data-dir", str(data_dir), "kit", *args])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("airtrail-data")
    DeviceRegistry(d / "devices.json").add(DEVICE)
    return d


@pytest.fixture(scope="module")
def password(data_dir) -> str:
    return DeviceRegistry(data_dir / "devices.json").get(DEVICE).password


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle"
    kit_bundle.build(out)
    return out


@pytest.fixture(scope="module")
def board(data_dir, bundle_dir):
    """A virtual board provisioned once with `airtrail kit provision`; (board, CLI result)."""
    with VirtualBoard() as vb:
        result = airtrail(
            data_dir, "provision", "--port", vb.port, "--device", DEVICE, "--wifi", "home:correct-horse",
            "--wifi", "phone:battery-staple", "--broker-host", "10.0.0.2", "--bundle", str(bundle_dir),
        )  # fmt: skip
        yield vb, result


def on_board(board, code: str) -> str:
    # A fresh interpreter, so imports see the files now on the board (the
    # virtual board has no watchdog for a soft reset to upset).
    with KitLink(board[0].port, soft_reset=True) as link:
        return link.exec(code)


def fill_queue(board, n: int, torn: bool = False) -> list[bytes]:
    """Readings appended by the firmware's queue code on the board; returns the expected records."""
    code = f"""
import os
from airkit.queue import FlashQueue
from airkit import contract as wire
from airkit import encode
try:
    for name in os.listdir('/queue'):
        os.remove('/queue/' + name)
except OSError:
    pass
q = FlashQueue('/queue', 16384, 1024)
for i in range({n}):
    q.append(encode.reading_json({{'ts': 1763900000 + 60 * i, 'clk': 'gps', 'seq': i, 'pm25': 10 + i / 10,
                                   'temp': 21.5, 'lat': 52.5 + i / 1e5, 'lon': 13.4,
                                   'flags': ['rh_high'] if i % 7 == 0 else []}}))
if {torn}:
    # Power cut in the middle of the last append: its file ends 5 bytes early.
    last = '/queue/' + sorted(n for n in os.listdir('/queue') if n.startswith('s'))[-1]
    data = open(last, 'rb').read()
    f = open(last, 'wb'); f.write(data[:-5]); f.close()
"""
    on_board(board, code)
    return [
        encode.reading_json({"ts": 1763900000 + 60 * i, "clk": "gps", "seq": i, "pm25": 10 + i / 10, "temp": 21.5,
                             "lat": 52.5 + i / 1e5, "lon": 13.4, "flags": ["rh_high"] if i % 7 == 0 else []})
        for i in range(n)
    ]  # fmt: skip


# -- build ------------------------------------------------------------------------


def test_build_compiles_every_firmware_module_to_mpy(bundle_dir):
    manifest = kit_bundle.Manifest.load(bundle_dir)
    sources = sorted(p.stem for p in (kit_bundle.FIRMWARE_DIR / "airkit").glob("*.py"))
    compiled = sorted(Path(f.path).stem for f in manifest.files if f.path.startswith("lib/airkit/"))
    assert compiled == sources
    assert all(f.path.endswith(".mpy") for f in manifest.files if f.path.startswith("lib/"))


def test_build_keeps_main_and_boot_as_source_at_the_root(bundle_dir):
    for name in kit_bundle.SOURCE_FILES:
        if (kit_bundle.FIRMWARE_DIR / name).exists():
            assert (bundle_dir / name).read_bytes() == (kit_bundle.FIRMWARE_DIR / name).read_bytes()


def test_build_manifest_lists_sizes_hashes_and_versions(bundle_dir):
    manifest = kit_bundle.Manifest.load(bundle_dir)
    for f in manifest.files:
        data = (bundle_dir / f.path).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (f.size, f.sha256)
    assert manifest.firmware_version == kit_bundle.firmware_version()
    assert manifest.mpy_version == "6.3" and "mpy-cross" in manifest.mpy_cross


def test_a_compile_error_names_the_file_and_keeps_the_previous_bundle(tmp_path, bundle_dir):
    fw = tmp_path / "firmware"
    (fw / "airkit").mkdir(parents=True)
    (fw / "airkit" / "version.py").write_text('VERSION = "9.9"\n')
    (fw / "airkit" / "broken.py").write_text("def f(:\n")
    out = tmp_path / "out"
    kit_bundle.build(out, firmware_dir=kit_bundle.FIRMWARE_DIR)
    with pytest.raises(kit_bundle.BuildError, match="broken.py"):
        kit_bundle.build(out, firmware_dir=fw)
    assert kit_bundle.Manifest.load(out).firmware_version == kit_bundle.firmware_version()


def test_build_command_reports_the_bundle(tmp_path, data_dir):
    result = airtrail(data_dir, "build", "--out", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / kit_bundle.MANIFEST).exists()
    assert "firmware" in result.output


# -- provision ----------------------------------------------------------------------


@needs_board
def test_provision_copies_every_bundle_file_intact(board, bundle_dir):
    vb, result = board
    assert result.exit_code == 0, result.output
    manifest = kit_bundle.Manifest.load(bundle_dir)
    with KitLink(vb.port) as link:
        for f in manifest.files:
            assert link.sha256("/" + f.path).hex() == f.sha256, f.path
        assert json.loads(link.read(kit_bundle.KIT_MANIFEST)) == json.loads((bundle_dir / "manifest.json").read_text())


@needs_board
def test_provision_writes_config_with_the_registry_password(board, password):
    with KitLink(board[0].port) as link:
        conf = json.loads(link.read("/config.json"))
    assert conf["device_id"] == DEVICE
    assert conf["mqtt"] == {"host": "10.0.0.2", "username": DEVICE, "password": password, "tls": False}
    assert conf["wifi"] == [{"ssid": "home", "password": "correct-horse"}, {"ssid": "phone", "password": "battery-staple"}]


@needs_board
def test_the_board_runs_the_provisioned_compiled_firmware(board):
    out = on_board(board, "from airkit import encode, version, config\nprint(version.VERSION, encode.__file__)\n"
                          "c, p = config.load('/config.json')\nprint(c['device_id'], p)")  # fmt: skip
    assert out.split()[:2] == [kit_bundle.firmware_version(), "/lib/airkit/encode.mpy"]
    assert f"{DEVICE} []" in out


@needs_board
def test_reprovision_sends_only_changed_files_and_removes_stale_ones(board, data_dir, bundle_dir):
    on_board(board, "f = open('/lib/airkit/queue.py', 'w'); f.write('raise ImportError'); f.close()")
    result = airtrail(data_dir, "provision", "--port", board[0].port, "--device", DEVICE, "--mode", "walk",
                      "--bundle", str(bundle_dir))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0 files copied" in result.output and "1 stale removed" in result.output
    assert "ok" in on_board(board, "from airkit import queue\nprint('ok')")


@needs_board
def test_provision_keeps_the_readings_stored_on_the_kit(board, data_dir, bundle_dir):
    expected = fill_queue(board, 30)
    result = airtrail(data_dir, "provision", "--port", board[0].port, "--device", DEVICE, "--mode", "walk",
                      "--bundle", str(bundle_dir))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "30" in on_board(board, "from airkit.queue import FlashQueue\nprint(FlashQueue('/queue').depth)")
    assert len(expected) == 30


def test_provision_refuses_a_device_that_is_not_registered(data_dir, tmp_path):
    result = airtrail(data_dir, "provision", "--port", str(tmp_path / "tty"), "--device", "nobody")
    assert isinstance(result.exception, DeviceError)
    assert "airtrail device add nobody" in str(result.exception)


def test_provision_refuses_a_config_the_kit_would_reject(data_dir, tmp_path):
    result = airtrail(data_dir, "provision", "--port", str(tmp_path / "tty"), "--device", DEVICE, "--wifi", "home:short")
    assert isinstance(result.exception, KitError)
    assert "wifi[0].password" in str(result.exception)


def test_provision_without_a_broker_in_online_mode_says_what_to_set(data_dir, tmp_path):
    result = airtrail(data_dir, "provision", "--port", str(tmp_path / "tty"), "--device", DEVICE, "--wifi", "home:longenough")
    assert isinstance(result.exception, KitError)
    assert "mqtt.host" in str(result.exception)


def test_provision_to_a_missing_port_says_how_to_connect(data_dir, tmp_path, bundle_dir):
    result = airtrail(data_dir, "provision", "--port", str(tmp_path / "ttyUSB9"), "--device", DEVICE, "--mode", "walk",
                      "--bundle", str(bundle_dir))  # fmt: skip
    assert isinstance(result.exception, KitError)
    assert "there is no serial port" in str(result.exception) and "--port" in str(result.exception)


# -- pull ---------------------------------------------------------------------------


def _pulled(out: Path, suffix: str) -> Path:
    [path] = sorted(out.glob(f"{DEVICE}-*{suffix}"))
    return path


@needs_board
def test_pull_writes_every_stored_reading_as_jsonl_in_order(board, data_dir, tmp_path):
    expected = fill_queue(board, 60)
    result = airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    lines = _pulled(tmp_path, ".jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [_as_row(r) for r in expected]
    assert list(json.loads(lines[0])) == ["device", "time", "ts", "clk", "seq", "pm25", "temp", "lat", "lon", "flags"]


def _as_row(record: bytes) -> dict:
    """A queued reading as the row a pull writes: who and when first, flags joined, nothing empty."""
    reading = json.loads(record)
    flags = reading.pop("flags", [])
    ts = reading["ts"]
    row = {"device": DEVICE, "time": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **reading}
    return {**row, "flags": ",".join(flags)} if flags else row


@needs_board
def test_pull_writes_the_same_readings_as_csv(board, data_dir, tmp_path):
    fill_queue(board, 8)
    airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path))
    with _pulled(tmp_path, ".csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["seq"] for r in rows] == [str(i) for i in range(8)]
    assert rows[1]["time"] == "2025-11-23T12:14:20Z" and rows[1]["pm25"] == "10.1" and rows[1]["co2"] == ""
    assert list(rows[0]) == [*wire.READING_COLUMNS, "flags"] and rows[0]["device"] == DEVICE
    assert rows[0]["flags"] == "rh_high" and rows[1]["flags"] == ""


@needs_board
def test_pull_keeps_a_verified_raw_copy_that_decodes_to_the_same_readings(board, data_dir, tmp_path):
    expected = fill_queue(board, 40)
    airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path))
    raw = _pulled(tmp_path, ".raw") / "queue"
    assert read_queue(str(raw)) == (expected, 0)


@needs_board
def test_pull_leaves_the_readings_on_the_kit_unless_told(board, data_dir, tmp_path):
    fill_queue(board, 25)
    airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path))
    assert "25" in on_board(board, "from airkit.queue import FlashQueue\nprint(FlashQueue('/queue').depth)")


@needs_board
def test_pull_delete_removes_the_pulled_readings_from_the_kit(board, data_dir, tmp_path):
    fill_queue(board, 25)
    result = airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path), "--delete")
    assert result.exit_code == 0, result.output
    assert len(_pulled(tmp_path, ".jsonl").read_text().splitlines()) == 25
    assert on_board(board, "from airkit.queue import FlashQueue\nprint(FlashQueue('/queue').depth)").strip() == "0"


@needs_board
def test_pull_does_not_soft_reset_the_kit(board, data_dir, tmp_path):
    # main.py parks the ESP32 watchdog on a machine.Timer when interrupted; a
    # soft reset stops every timer and the watchdog would reset the kit mid-pull.
    fill_queue(board, 3)
    with KitLink(board[0].port) as link:
        link.exec("still_here = 'yes'")
    airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path))
    with KitLink(board[0].port) as link:
        assert link.exec("print(still_here)").strip() == "yes"


@needs_board
def test_a_record_torn_by_a_power_cut_on_the_kit_is_not_pulled(board, data_dir, tmp_path):
    expected = fill_queue(board, 20, torn=True)
    airtrail(data_dir, "pull", "--port", board[0].port, "--out", str(tmp_path))
    lines = _pulled(tmp_path, ".jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [json.loads(r)["seq"] for r in expected[:-1]]


@needs_board
def test_pull_from_a_kit_without_a_device_id_asks_for_one(data_dir, tmp_path):
    with VirtualBoard() as vb:
        result = airtrail(data_dir, "pull", "--port", vb.port, "--out", str(tmp_path))
    assert isinstance(result.exception, KitError)
    assert "--device" in str(result.exception)


@needs_board
def test_files_copied_to_the_virtual_board_land_in_its_filesystem(tmp_path, data_dir):
    # A two-module firmware keeps this quick; the full bundle is covered above.
    fw = tmp_path / "firmware"
    (fw / "airkit").mkdir(parents=True)
    for name in ("version.py", "contract.py"):
        (fw / "airkit" / name).write_bytes((kit_bundle.FIRMWARE_DIR / "airkit" / name).read_bytes())
    (fw / "main.py").write_text("print('hello from main')\n")
    small = tmp_path / "bundle"
    kit_bundle.build(small, firmware_dir=fw)
    with VirtualBoard(dump_to=tmp_path / "flash") as vb:
        result = airtrail(data_dir, "provision", "--port", vb.port, "--device", DEVICE, "--mode", "walk",
                          "--bundle", str(small), "--no-restart")  # fmt: skip
        assert result.exit_code == 0, result.output
    for f in kit_bundle.Manifest.load(small).files:
        assert (tmp_path / "flash" / f.path).read_bytes() == (small / f.path).read_bytes()
    assert json.loads((tmp_path / "flash" / "config.json").read_text())["mode"] == "walk"


# -- flash --------------------------------------------------------------------------


def test_flash_help_says_where_to_download_micropython(data_dir):
    result = airtrail(data_dir, "flash", "--help")
    assert "micropython.org/download/ESP32_GENERIC" in result.output


def test_flash_with_a_missing_image_says_where_to_download_it(data_dir, tmp_path):
    result = airtrail(data_dir, "flash", "--port", str(tmp_path / "tty"), "--firmware", str(tmp_path / "nope.bin"))
    assert isinstance(result.exception, KitError)
    assert "micropython.org/download/ESP32_GENERIC" in str(result.exception)


def test_flash_refuses_a_file_that_is_not_an_esp32_image(data_dir, tmp_path):
    (tmp_path / "page.bin").write_bytes(b"<!DOCTYPE html>")
    result = airtrail(data_dir, "flash", "--port", str(tmp_path / "tty"), "--firmware", str(tmp_path / "page.bin"))
    assert isinstance(result.exception, KitError)
    assert "not an ESP32 firmware image" in str(result.exception)


def test_flash_to_a_missing_port_says_how_to_connect(data_dir, tmp_path):
    (tmp_path / "fw.bin").write_bytes(b"\xe9" + bytes(64))
    result = airtrail(data_dir, "flash", "--port", str(tmp_path / "ttyUSB9"), "--firmware", str(tmp_path / "fw.bin"))
    assert isinstance(result.exception, KitError)
    assert "there is no serial port" in str(result.exception)


def test_flash_to_a_port_where_no_bootloader_answers_explains_the_boot_button(data_dir, tmp_path):
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        (tmp_path / "fw.bin").write_bytes(b"\xe9" + bytes(64))
        result = airtrail(data_dir, "flash", "--port", os.ttyname(slave), "--firmware", str(tmp_path / "fw.bin"))
    finally:
        os.close(master)
        os.close(slave)
    assert isinstance(result.exception, KitError)
    assert "BOOT" in str(result.exception)
