"""`airtrail demo` (what `make demo` runs): the whole path from kit to database.

1. start the local stack (Mosquitto + InfluxDB, loopback only);
2. register three kits and give the broker their credentials;
3. run the collector and the HTTP API in this process;
4. run three virtual kits — the real firmware on CPython with simulated sensor
   buses — carried around a city-centre loop, with a Wi-Fi outage on one;
5. show what arrived;
6. build their walk from InfluxDB: every reading placed on the loop, the
   privacy filter applied, the open outputs written (`airtrail walk build`);
7. say where to look.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.table import Table

from airkit.errors import AirtrailError
from airkit_host import simulate as sim
from collector.service import Collector
from collector.settings import cli_settings, global_flags_argv
from collector.stack import Stack

from .web import build_app

console = Console()
commands = typer.Typer()

KIT_PREFIX = "demo-walk"
KITS = tuple(sim.device_ids(3, KIT_PREFIX))  # the ids `kit simulate` gives them
READINGS_PER_KIT = 120


def _serve_api(collector: Collector, host: str, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(build_app(collector), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="airtrail-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise AirtrailError(f"the API could not start on {host}:{port}; is the port in use? Set api.port in airtrail.toml")
    return server, thread


@commands.command()
def demo() -> None:
    """The whole story on the local stack: kits → broker → collector → InfluxDB → API."""
    s = cli_settings()
    stack = Stack.from_settings(s)
    console.rule("[bold]airtrail demo")
    with console.status("Starting Mosquitto and InfluxDB..."):
        stack.up()
    console.print(f"[green]✓[/] local stack: mqtt://127.0.0.1:{s.stack.mqtt_port}, {stack.influxdb.url} (data in {s.stack_dir})")

    for kit in KITS:
        if kit not in stack.registry:
            stack.registry.add(kit, note="demo kit")
    stack.sync_broker_auth()
    console.print(f"[green]✓[/] registered kits: {', '.join(KITS)} (each may publish only under its own topic)")

    collector = Collector(s).start()
    if not collector.wait_subscribed(30):
        raise AirtrailError(f"the collector could not subscribe on mqtt://127.0.0.1:{s.stack.mqtt_port}: {collector.source.last_error}")
    server, thread = _serve_api(collector, s.api.host, s.api.port)
    base = f"http://{s.api.host}:{s.api.port}"
    console.print(f"[green]✓[/] collector and API running: {base}")
    try:
        console.print(f"Walking {len(KITS)} virtual kits around the loop ({READINGS_PER_KIT} readings each; kit 2 loses Wi-Fi for a while)...")
        command = [
            sys.executable, "-m", "airtrail", *global_flags_argv(), "kit", "simulate",
            "--count", str(len(KITS)), "--device-prefix", KIT_PREFIX, "--readings", str(READINGS_PER_KIT),
            "--broker", f"127.0.0.1:{s.stack.mqtt_port}",
            "--outage", "2@300:400",  # kit 2 walks through a Wi-Fi dead zone; its flash queue catches up after
        ]
        launched = time.time()
        result = subprocess.run(command)
        if result.returncode != 0:
            raise AirtrailError("the virtual kits failed (see above)")
        with console.status("Waiting for the collector to store everything..."):
            collector.wait_idle(timeout=120)
            time.sleep(1)
            collector.wait_idle(timeout=60)
        _summary(base)
        outputs = _walk(s, launched)
        _where_to_look(base, s, outputs)
        if sys.stdin.isatty():
            console.print("\nThe API keeps running; press [bold]Ctrl-C[/] to stop it (the stack stays up: `airtrail stack down`).")
            try:
                while thread.is_alive():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        collector.stop()


def _summary(base: str) -> None:
    devices = {d["device_id"]: d for d in httpx.get(f"{base}/devices", timeout=10).json()}
    # The stack keeps earlier demos' readings: show this run's next to the total.
    table = Table("kit", "received this run", "stored in all", "last reading (UTC)", "online", "supply", "firmware", "sensors",
                  title="What the collector stored")
    for kit in KITS:
        d = devices.get(kit, {})
        readings = httpx.get(f"{base}/devices/{kit}/readings", params={"fields": "pm25", "start": "2020-01-01T00:00:00Z", "limit": 100_000},
                             timeout=30).json()
        battery = f"{d['battery_v']:.2f} V" if d.get("battery_v") else "-"
        sensors = ", ".join(f"{k}:{v}" for k, v in (d.get("sensors") or {}).items()) or "-"
        online = {True: "yes", False: "no"}.get(d.get("online"), "-")
        table.add_row(kit, str(d.get("readings_since_start", 0)), str(readings.get("count", 0)), str(d.get("last_reading_at") or "-"), online, battery, str(d.get("firmware") or "-"), sensors)
    console.print(table)
    health = httpx.get(f"{base}/health", timeout=10).json()
    console.print(f"Collector health: [bold]{health['status']}[/], spool {health['spool']['points']} points, broker connected: {health['broker']['connected']}")


WALKERS = ("Heron", "Kestrel", "Otter")  # the demo's pseudonyms, one per kit


def _walk(s, launched: float) -> Path:
    """The demo's walk file (the kits' loop, their time window, a privacy zone) and its build from InfluxDB."""
    import json
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from airkit_host import route as routes
    from walks.build import assemble, load_inputs
    from walks.outputs import write_walk
    from walks.plan import load_plan
    from walks.sources import InfluxSource

    folder = Path(s.data_dir) / "demo-walk"
    folder.mkdir(parents=True, exist_ok=True)
    loop = routes.builtin()
    (folder / "route.geojson").write_text(json.dumps({"type": "Feature", "properties": {"name": loop.name}, "geometry": {
        "type": "LineString", "coordinates": [[p.lon, p.lat] for p in loop.points]}}))
    zone = ZoneInfo("Europe/London")
    # The kits' virtual clocks ran from READINGS_PER_KIT readings (10 s apart) before the launch to now.
    start = datetime.fromtimestamp(launched - READINGS_PER_KIT * 10 - 120, zone).replace(second=0, microsecond=0)
    end = datetime.fromtimestamp(time.time() + 120, zone).replace(second=0, microsecond=0)
    if end.date() != start.date():  # a walk is one day's: a demo run across midnight keeps its first day's part
        end = datetime.combine(start.date(), datetime.max.time().replace(microsecond=0), zone)
    middle = loop.points[len(loop.points) // 2]
    participants = "".join(f'[[participants]]\npseudonym = "{name}"\nkit = "{kit}"\n\n' for name, kit in zip(WALKERS, KITS))
    (folder / "walk.toml").write_text(f'''# The demo's walk: three virtual kits on the Manchester loop (airtrail demo writes this file).
title = "Demo walk: Manchester city centre loop"
date = {start.date().isoformat()}
timezone = "Europe/London"
languages = ["en", "es"]
licence = "CC-BY-4.0"

[window]
start = {start:%H:%M:%S}
end = {end:%H:%M:%S}

[route]
file = "route.geojson"
segment_m = 100

[readings]
source = "influxdb"

[privacy]
trim_m = 200

[[privacy_zones]]
name = "a participant's home on the loop (demo)"
lat = {middle.lat:.5f}
lon = {middle.lon:.5f}
radius_m = 80

{participants}''')
    plan = load_plan(folder / "walk.toml")
    source = InfluxSource(s.influx)
    with console.status("Building the walk: clocks, positions, privacy filter, segments, outputs..."):
        try:
            walk = assemble(plan, load_inputs(plan, source))
        finally:
            source.close()
        out = folder / "build"
        write_walk(walk, out)
    counts = walk.summary["readings"]
    removed = counts["removed"]
    hot = walk.summary["route"]["hot_spots"]["count"]
    console.print(f"[green]✓[/] walk built from InfluxDB: {counts['published']} of {counts['in_walk']} readings published on "
                  f"{len(walk.segments)} segments of the loop ({hot} hot spot(s)); privacy removed {removed['privacy_zone']} in the "
                  f"zone, {removed['trimmed_start'] + removed['trimmed_end']} near where traces start and end")
    return out


def _where_to_look(base: str, s, walk: Path | None = None) -> None:
    console.rule("Where to look")
    console.print(f"  API docs            {base}/docs")
    console.print(f"  kits                {base}/devices")
    console.print(f"  readings (CSV)      {base}/devices/{KITS[0]}/readings?format=csv&start=2020-01-01T00:00:00Z")
    console.print(f"  health / metrics    {base}/health   {base}/metrics")
    console.print(f"  message contract    {base}/schema/v1.json")
    console.print(f"  InfluxQL            influx -port {s.stack.influx_port} -database {s.influx.database} -execute 'SELECT count(pm25) FROM readings GROUP BY device'")
    console.print(f"  stack logs          {Path(s.stack_dir)}")
    if walk is not None:
        console.print(f"  the walk            {walk.parent / 'walk.toml'}  →  {walk}/ (readings.csv, points.geojson, segments.geojson, "
                      "summary.json, datapackage.json)")
