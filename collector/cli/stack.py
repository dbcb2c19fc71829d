"""`airtrail stack up | down | status`: the local Mosquitto + InfluxDB."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion
from rich.table import Table

from collector.mqtt_source import prime_session
from collector.service import mqtt_credentials
from collector.settings import COLLECTOR_USER
from collector.stack import Stack

from .common import console, settings

app = typer.Typer(help="Run the local Mosquitto + InfluxDB stack (loopback only).", no_args_is_help=True)


@app.command()
def up() -> None:
    """Start Mosquitto and InfluxDB in the background and create the database."""
    s = settings()
    stack = Stack.from_settings(s)
    broker_was_running = stack.mosquitto.running()
    with console.status("Starting the local stack..."):
        stack.up()
        # Only on a fresh local broker the collector is configured to use: with
        # the same client id, priming would take the session over from a
        # collector already running, here or on an external broker.
        collector_uses_it = s.mqtt.host in ("127.0.0.1", "localhost") and s.mqtt.port == stack.mosquitto.port
        primed = collector_uses_it and not broker_was_running and prime_session(s.mqtt, *mqtt_credentials(s))
    console.print(f"[green]✓[/] InfluxDB  {stack.influxdb.url}  (database [bold]{s.influx.database}[/])")
    console.print(f"[green]✓[/] Mosquitto mqtt://127.0.0.1:{stack.mosquitto.port}  (anonymous access off)")
    if primed:
        console.print(f"[green]✓[/] collector session '{s.mqtt.client_id}' created: the broker keeps readings until `airtrail serve` runs")
    console.print(f"Data and logs in {s.stack_dir}. Next: [bold]airtrail device add <id>[/], then [bold]airtrail serve[/].")


@app.command()
def down() -> None:
    """Stop the local stack cleanly (Mosquitto saves its queue to disk)."""
    stack = Stack.from_settings(settings())
    stack.down()
    console.print("Stopped.")


def _mqtt_login(port: int, password: str) -> str:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="airtrail-status-probe", protocol=mqtt.MQTTv5)
    client.username_pw_set(COLLECTOR_USER, password)
    try:
        client.connect("127.0.0.1", port, keepalive=5)
        result: list[str] = []
        client.on_connect = lambda c, u, f, rc, p: result.append(str(rc))
        for _ in range(20):
            client.loop(timeout=0.1)
            if result:
                break
        client.disconnect()
        return result[0] if result else "no answer"
    except OSError as exc:
        return str(exc)


@app.command()
def status() -> None:
    """Report each service's health. Exits 1 if any is down."""
    s = settings()
    stack = Stack.from_settings(s)
    table = Table("service", "pid", "address", "health")
    m, i = stack.mosquitto, stack.influxdb
    login = _mqtt_login(m.port, stack.registry.collector_password) if m.running() else "not running"
    m_ok = login == "Success"
    i_ok = i.running() and i.healthy()
    ok = m_ok and i_ok
    table.add_row("mosquitto", str(m.pid() or "-"), f"127.0.0.1:{m.port}", "[green]ok[/] (collector login works)" if m_ok else f"[red]{login}[/]")
    table.add_row("influxdb", str(i.pid() or "-"), i.url, "[green]ok[/]" if i_ok else "[red]down[/]")
    console.print(table)
    if not ok:
        console.print(f"Logs: {m.log_file}, {i.log_file}. Start with [bold]airtrail stack up[/].")
        raise typer.Exit(1)
