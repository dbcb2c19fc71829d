"""`airtrail kit build | flash | provision | pull`: a kit on the USB cable.

    airtrail kit build [--out firmware/bundle]
    airtrail kit flash --port /dev/ttyUSB0 --firmware ESP32_GENERIC-....bin
    airtrail kit provision --port /dev/ttyUSB0 --device kit-01 --wifi 'home:secret' --broker-host 192.168.1.10
    airtrail kit pull --port /dev/ttyUSB0 --out walks/ [--delete]

The work is done by airkit_host (firmware/host/): bundle, flash, link
(mpremote's transport), provision and pull. These commands add the progress
bars and turn its errors into KitError ("Problem: ...", exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from airkit_host import bundle as kit_bundle
from airkit_host import flash as kit_flash
from airkit_host import provision as kit_provision
from airkit_host import pull as kit_pull
from airkit_host.errors import KitToolError
from airkit_host.link import KitLink
from collector.devices import DeviceRegistry
from collector.errors import KitError

from .common import console, settings
from .kit import app


class Chip(str, Enum):
    esp32 = "esp32"
    esp32s2 = "esp32s2"
    esp32s3 = "esp32s3"
    esp32c3 = "esp32c3"
    esp32c6 = "esp32c6"


class Mode(str, Enum):
    online = "online"
    walk = "walk"


@contextmanager
def _kit_errors() -> Iterator[None]:
    try:
        yield
    except KitToolError as exc:
        raise KitError(str(exc)) from exc


def _bar(counting: str = "bytes") -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn() if counting == "bytes" else MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class _FileBars:
    """One progress task per file, fed by (path, done, total) callbacks."""

    def __init__(self, progress: Progress, overall: TaskID | None = None) -> None:
        self.progress = progress
        self.overall = overall
        self.tasks: dict[str, TaskID] = {}
        self.done: dict[str, int] = {}

    def __call__(self, path: str, done: int, total: int) -> None:
        if path not in self.tasks:
            self.tasks[path] = self.progress.add_task(path, total=total)
            self.done[path] = 0
        self.progress.update(self.tasks[path], completed=done, total=total)
        if self.overall is not None:
            self.progress.advance(self.overall, done - self.done[path])
        self.done[path] = done


@app.command()
def build(
    out: Path = typer.Option(kit_bundle.DEFAULT_OUT, "--out", help="Folder for the bundle (replaced)."),
) -> None:
    """Compile the firmware (firmware/airkit/*.py -> .mpy with mpy-cross) into a deployable bundle."""
    with _kit_errors():
        items = kit_bundle.plan()
        with _bar("files") as progress:
            task = progress.add_task("compiling", total=len(items))
            manifest = kit_bundle.build(out, progress=lambda rel: progress.advance(task))
    size = sum(f.size for f in manifest.files)
    console.print(
        f"Bundle [bold]{out}[/]: firmware {manifest.firmware_version}, {len(manifest.files)} files, {size} bytes, "
        f".mpy v{manifest.mpy_version} (MicroPython >= 1.23)."
    )


@app.command()
def flash(
    port: str = typer.Option(..., "--port", help="The kit's serial port, e.g. /dev/ttyUSB0 or /dev/ttyACM0."),
    firmware: Path = typer.Option(
        ...,
        "--firmware",
        help=f"MicroPython .bin for the board, downloaded from {kit_flash.DOWNLOAD_URL} "
        "(ESP32_GENERIC_S3 / _C3 pages for those chips).",
    ),
    chip: Chip = typer.Option(Chip.esp32, "--chip", help="ESP32 family member on the board."),
    baud: int = typer.Option(460800, "--baud", help="Serial speed for writing; 115200 if the cable is flaky."),
) -> None:
    """Erase the kit and write MicroPython onto it with esptool.

    Download the image first: https://micropython.org/download/ESP32_GENERIC/
    (the .bin file). Then `airtrail kit provision` puts airtrail's firmware on it.
    """
    stages = {"connect": "connecting", "erase": "erasing flash", "write": "writing MicroPython", "reset": "restarting"}
    with _kit_errors(), _bar() as progress:
        task = progress.add_task("connecting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            if stage == "write" and total > 1:
                progress.update(task, description=stages[stage], completed=done, total=total)
            else:
                progress.update(task, description=stages.get(stage, stage))

        kit_flash.flash(port, firmware, chip.value, baud, progress=report)
    console.print(f"MicroPython written to the kit on {port}. Next: airtrail kit provision --port {port} --device <id>")


@app.command()
def provision(
    port: str = typer.Option(..., "--port", help="The kit's serial port, e.g. /dev/ttyUSB0."),
    device: str = typer.Option(..., "--device", help="Device id registered with `airtrail device add`."),
    wifi: list[str] = typer.Option([], "--wifi", help="SSID:PASSWORD, repeatable, in priority order (home first, then a phone hotspot)."),
    broker_host: str = typer.Option(None, "--broker-host", help="Address of the MQTT broker as the kit sees it (not 127.0.0.1)."),
    broker_port: int = typer.Option(None, "--broker-port", help="Broker port (default 1883, 8883 with --tls)."),
    tls: bool = typer.Option(False, "--tls", help="Connect to the broker over TLS."),
    mode: Mode = typer.Option(Mode.online, "--mode", help="online: send as readings are taken; walk: record, forward later."),
    bundle_dir: Path = typer.Option(None, "--bundle", help="A bundle built by `airtrail kit build` (default: build one now)."),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Soft-reboot the kit into its new firmware at the end."),
) -> None:
    """Copy the firmware bundle onto a kit and write its /config.json (with mpremote).

    The broker password comes from the device registry. Stored readings and
    the sequence number on the kit are kept.
    """
    registry = DeviceRegistry(settings().registry_path)
    dev = registry.get(device)
    with _kit_errors():
        networks = [kit_provision.parse_wifi(w) for w in wifi]
        conf = kit_provision.build_config(
            dev.device_id, dev.password, networks, broker_host, broker_port, tls, mode.value
        )
        if bundle_dir is None:
            bundle_dir = kit_bundle.DEFAULT_OUT
            kit_bundle.build(bundle_dir)
        manifest = kit_bundle.Manifest.load(bundle_dir)
        total = sum(f.size for f in manifest.files)
        with KitLink(port) as link, _bar() as progress:
            overall = progress.add_task(f"firmware {manifest.firmware_version}", total=total)
            result = kit_provision.provision(link, bundle_dir, conf, progress=_FileBars(progress, overall))
            if restart:
                link.restart()
    console.print(
        f"Kit [bold]{dev.device_id}[/] on {port}: {len(result.copied)} files copied, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} stale removed; config.json written ({mode.value} mode, "
        f"{len(networks)} Wi-Fi network(s), broker {broker_host or '-'})."
    )


@app.command()
def pull(
    port: str = typer.Option(..., "--port", help="The kit's serial port, e.g. /dev/ttyUSB0."),
    out: Path = typer.Option(..., "--out", help="Folder for the JSONL, CSV and raw copy."),
    device: str = typer.Option(None, "--device", help="Device id (default: the kit's own, from its config.json)."),
    delete: bool = typer.Option(False, "--delete", help="After a verified copy, remove the pulled readings from the kit."),
) -> None:
    """Copy the readings stored on a kit to this computer (JSONL + CSV, see firmware/PULL_FORMAT.md).

    Nothing is removed from the kit unless --delete is given, and then only
    after the copy is verified and written.
    """
    with _kit_errors(), KitLink(port) as link, _bar() as progress:
        result = kit_pull.pull(link, out, device, delete=delete, progress=_FileBars(progress))
    console.print(f"{result.readings} readings from [bold]{result.device_id}[/] -> {result.jsonl} and {result.csv}")
    if result.undecodable:
        console.print(f"[yellow]Warning:[/] {result.undecodable} stored records were not readings and were skipped.")
    if result.dropped:
        console.print(f"[yellow]Note:[/] the kit had dropped {result.dropped} older readings when its flash was full.")
    if delete:
        console.print(f"Removed {result.deleted} readings from the kit; {result.left_on_kit} left.")
    else:
        console.print("The readings are still on the kit (use --delete to remove them after a pull).")
