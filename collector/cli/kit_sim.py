"""`airtrail kit simulate`: virtual kits running the real firmware against a real broker.

    airtrail kit simulate --count 3 --readings 120
    airtrail kit simulate --count 1 --readings 500 --outage 0:1000      # no Wi-Fi for the first 1000 s
    airtrail kit simulate --count 5 --outage 2@10m:15m --speedup 120    # kit 2 loses Wi-Fi 10 min in, for 15 min

Each kit is airkit.app on CPython (airkit_host.simulate): its drivers decode
PMS5003 frames, NMEA and BME280 registers generated for a walker on a route,
it keeps every reading in a flash queue (files in a temporary folder), and its
own MQTT client publishes with the device's credentials from the registry
(unregistered kits are registered, and the broker reloaded). Times are
virtual: --speedup 60 walks an hour in a minute; the walk is placed so it
ends about now, so every timestamp is in the past.
"""

from __future__ import annotations

import re
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from airkit_host import route as routes
from airkit_host import simulate as sim
from airkit_host.errors import RouteError
from collector.errors import ConfigError, KitError
from collector.stack import Stack, port_in_use

from .common import console, settings
from .kit import app
from .kit_device import Mode

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}
PER_KIT_BARS = 12  # above this many kits, one bar for the fleet


def parse_duration(text: str, what: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise ConfigError(f"{what} {text!r} is not a duration: use seconds (600) or a unit (10m, 1.5h)")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_outages(specs: list[str], count: int) -> dict[int, list[tuple[float, float]]]:
    """'[KIT@]START:DURATION' -> {kit number (0 = every kit): [(start_s, duration_s)]}."""
    out: dict[int, list[tuple[float, float]]] = {}
    for spec in specs:
        kit = 0
        body = spec
        if "@" in spec:
            head, body = spec.split("@", 1)
            if not head.isdigit() or not 1 <= int(head) <= count:
                raise ConfigError(f"--outage {spec!r}: the kit number before @ must be 1 to {count}")
            kit = int(head)
        if body.count(":") != 1:
            raise ConfigError(f"--outage {spec!r}: write START:DURATION, e.g. 600:300 or 2@10m:5m")
        start, duration = body.split(":")
        out.setdefault(kit, []).append((parse_duration(start, "outage start"), parse_duration(duration, "outage duration")))
    return out


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
    s = settings()
    host, port = parse_broker(broker) if broker else (s.mqtt.host, s.mqtt.port)
    if not port_in_use(port, host):
        raise KitError(f"no MQTT broker answers at {host}:{port}: start the local stack with `airtrail stack up`, or pass --broker HOST:PORT")
    try:
        walk_route = routes.load(route_spec)
    except RouteError as exc:
        raise ConfigError(str(exc)) from exc
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
