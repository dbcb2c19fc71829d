"""The collector's commands, mounted by the front door (airtrail.cli):

    airtrail stack up | down | status       the local Mosquitto + InfluxDB
    airtrail device add | list | locate | remove | rotate   kits, their broker accounts and registered places
    airtrail collect                        the collector alone (scale-out replicas)
    airtrail schema [--write]               the JSON Schema of the message contract

`airtrail serve` (collector + HTTP API) is assembled by the front door, which
mounts the collector's API and the routers of the packages above it; it
takes its collector options from here (``collector_options``).
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from .errors import ConfigError, DeviceError
from .settings import COLLECTOR_USER, cli_settings

__all__ = ["stack", "device", "commands", "console", "setup_logging", "collector_settings", "check_hosts"]

console = Console()

# --------------------------------------------------------------- stack

stack = typer.Typer(help="Run the local Mosquitto + InfluxDB stack (loopback, or a TLS listener for kits).", no_args_is_help=True)

PLAIN_KIT_WARNING = ("[bold red]Warning:[/] the kit listener has no TLS: every kit's MQTT password travels in clear over "
                     "the network. Use this only on a trusted workshop hotspot; without --no-kit-tls kits get TLS.")


@stack.command()
def up(
    kit_address: str = typer.Option(None, "--kit-address", help="This computer's address on the kits' network (e.g. 192.168.1.10): "
                                    "the broker listens there for kits too. Default: stack.kit_address, else loopback only."),
    kit_port: int = typer.Option(None, "--kit-port", help="Port of the kit listener (default: stack.kit_port, 18883)."),
    kit_tls: bool = typer.Option(None, "--kit-tls/--no-kit-tls", help="TLS on the kit listener, with a local CA made in the stack "
                                 "folder (default: on). --no-kit-tls sends the kits' passwords in clear."),
) -> None:
    """Start Mosquitto and InfluxDB in the background and create the database."""
    from .mqtt_source import prime_session
    from .service import mqtt_credentials
    from .stack import Stack

    s = cli_settings(**{"stack.kit_address": kit_address, "stack.kit_port": kit_port, "stack.kit_tls": kit_tls})
    local = Stack.from_settings(s)
    broker_was_running = local.mosquitto.running()
    with console.status("Starting the local stack..."):
        local.up()
        # Only on a fresh local broker the collector is configured to use: with
        # the same client id, priming would take the session over from a
        # collector already running, here or on an external broker.
        collector_uses_it = s.mqtt.host in ("127.0.0.1", "localhost") and s.mqtt.port == local.mosquitto.port
        primed = collector_uses_it and not broker_was_running and prime_session(s.mqtt, *mqtt_credentials(s))
    console.print(f"[green]✓[/] InfluxDB  {local.influxdb.url}  (database [bold]{s.influx.database}[/])")
    console.print(f"[green]✓[/] Mosquitto mqtt://127.0.0.1:{local.mosquitto.port}  (anonymous access off)")
    _print_kit_endpoint(local.kit_endpoint())
    if primed:
        console.print(f"[green]✓[/] collector session '{s.mqtt.client_id}' created: the broker keeps readings until `airtrail serve` runs")
    console.print(f"Data and logs in {s.stack_dir}. Next: [bold]airtrail device add <id>[/], then [bold]airtrail serve[/].")


def _print_kit_endpoint(endpoint) -> None:
    if endpoint is None:
        console.print("  Kits cannot reach this broker (loopback only): give this computer's address with --kit-address.")
        return
    ca = f", CA {endpoint.ca_file}" if endpoint.tls else ""
    console.print(f"[green]✓[/] Kits connect to {endpoint.url}  (host {endpoint.address}, port {endpoint.port}, "
                  f"{'TLS' if endpoint.tls else 'no TLS'}{ca})")
    if not endpoint.tls:
        console.print(PLAIN_KIT_WARNING)


@stack.command()
def down() -> None:
    """Stop the local stack cleanly (Mosquitto saves its queue to disk)."""
    from .stack import Stack

    s = cli_settings()
    stopped = Stack.from_settings(s).down()
    if stopped:
        console.print(f"Stopped {' and '.join(stopped)}.")
    else:
        console.print(f"Nothing was running (no stack in {s.stack_dir}; `airtrail stack status` shows what is there).")


def _mqtt_login(port: int, password: str) -> str:
    """Log in with the probe account, never a collector's: its session would be taken over."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from .devices import PROBE_USER

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=PROBE_USER, protocol=mqtt.MQTTv5)
    client.username_pw_set(PROBE_USER, password)
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


@stack.command()
def status() -> None:
    """Report each service's health and where kits connect. Exits 1 if any is down."""
    from .stack import Stack, port_in_use

    s = cli_settings()
    local = Stack.from_settings(s)
    table = Table("service", "pid", "address", "health")
    m, i = local.mosquitto, local.influxdb
    login = _mqtt_login(m.port, local.registry.probe_password) if m.running() else "not running"
    m_ok = login == "Success"
    i_ok = i.running() and i.healthy()
    table.add_row("mosquitto", str(m.pid() or "-"), f"127.0.0.1:{m.port}", "[green]ok[/] (logins work)" if m_ok else f"[red]{login}[/]")
    table.add_row("influxdb", str(i.pid() or "-"), i.url, "[green]ok[/]" if i_ok else "[red]down[/]")
    endpoint = local.kit_endpoint()
    if endpoint is not None:
        listening = port_in_use(endpoint.port, endpoint.address)
        m_ok = m_ok and listening
        table.add_row("mosquitto (kits)", str(m.pid() or "-"), f"{endpoint.address}:{endpoint.port}",
                      "[green]ok[/] (listening)" if listening else "[red]not listening[/]")
    console.print(table)
    if m_ok:
        _print_kit_endpoint(endpoint)
    if not (m_ok and i_ok):
        console.print(f"Logs: {m.log_file}, {i.log_file}. Start with [bold]airtrail stack up[/].")
        raise typer.Exit(1)


# --------------------------------------------------------------- device

device = typer.Typer(help="Register kits and manage their broker credentials.", no_args_is_help=True)


def _local_stack():
    from .stack import Stack

    return Stack.from_settings(cli_settings())


def _applied(local) -> str:
    return "broker reloaded" if local.sync_broker_auth() else "takes effect at the next `airtrail stack up`"


Location = typer.Option(None, "--location", metavar="LAT,LON", help="Where a fixed kit stands (decimal degrees, WGS84): public answers show this instead of the kit's GPS.")
Exact = typer.Option(False, "--exact/--coarse", help="Publish the location as given, or snapped to a 0.01° grid (default).")


def _privacy(exact: bool) -> str:
    return "exact" if exact else "coarse"


def _place(d) -> str:
    return f"{d.lat},{d.lon} ({d.location_privacy})" if d.lat is not None else "-"


@device.command()
def add(
    device_id: str,
    note: str = typer.Option("", help="Free text, e.g. who carries the kit."),
    location: str = Location,
    exact: bool = Exact,
) -> None:
    """Register a kit; prints its MQTT password (also used by `airtrail kit provision`)."""
    from .devices import parse_location

    place = parse_location(location) if location is not None else None
    local = _local_stack()
    added = local.registry.add(device_id, note=note, location=place, location_privacy=_privacy(exact))
    console.print(f"Added [bold]{added.device_id}[/] ({_applied(local)}). MQTT user {added.device_id}, password {added.password}")


@device.command()
def locate(
    device_id: str,
    location: str = Location,
    exact: bool = Exact,
    clear: bool = typer.Option(False, "--clear", help="Forget the registered location: public answers show no position."),
) -> None:
    """Register where a fixed kit stands, and whether to publish it exactly or coarsened."""
    from .devices import parse_location

    if (location is None) == (not clear):
        raise DeviceError("give either --location LAT,LON or --clear")
    place = parse_location(location) if location is not None else None
    located = _local_stack().registry.locate(device_id, place, _privacy(exact))
    console.print(f"{device_id}: location {_place(located)}; published as {located.published_location() or 'no position'}")


@device.command("list")
def list_() -> None:
    """List registered kits."""
    local = _local_stack()
    table = Table("device", "registered", "password rotated", "location", "note")
    for d in local.registry:
        rotated = datetime.fromtimestamp(d.rotated, UTC).strftime("%Y-%m-%d %H:%M") if d.rotated else "-"
        table.add_row(d.device_id, datetime.fromtimestamp(d.created, UTC).strftime("%Y-%m-%d %H:%M"), rotated, _place(d), d.note)
    console.print(table)
    console.print(f"{len(local.registry)} kit(s); collector accounts: {', '.join(local.registry.collectors())}; registry {local.registry.path}")


@device.command()
def remove(device_id: str) -> None:
    """Remove a kit; the broker refuses it from now on (its stored readings stay)."""
    local = _local_stack()
    local.registry.remove(device_id)
    console.print(f"Removed {device_id} ({_applied(local)}).")


@device.command("add-collector")
def add_collector(username: str = typer.Argument(..., help=f"The replica's account, e.g. {COLLECTOR_USER}-2.")) -> None:
    """Give one more collector replica its own broker account (its user name is its client id)."""
    local = _local_stack()
    password = local.registry.add_collector(username)
    console.print(f"Added collector account [bold]{username}[/] ({_applied(local)}). Run the replica with:\n"
                  f"  AIRTRAIL_MQTT__USERNAME={username} AIRTRAIL_MQTT__SHARE_GROUP=collectors airtrail collect\n"
                  f"(its password, {password}, is read from the registry; on another machine set AIRTRAIL_MQTT__PASSWORD too)")


@device.command("remove-collector")
def remove_collector(username: str) -> None:
    """Remove a replica's broker account; the broker refuses it from now on."""
    local = _local_stack()
    local.registry.remove_collector(username)
    console.print(f"Removed collector account {username} ({_applied(local)}).")


@device.command()
def rotate(device_id: str) -> None:
    """Give a kit a new password (re-provision the kit afterwards)."""
    local = _local_stack()
    rotated = local.registry.rotate(device_id)
    console.print(f"New password for {device_id}: {rotated.password} ({_applied(local)}). Re-provision the kit: airtrail kit provision --device {device_id}")


# --------------------------------------------------------------- collect, schema

commands = typer.Typer()


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def collector_settings(verbose: bool, client_id, share_group, mqtt_host, mqtt_port, influx_url, transport, **more):
    """Logging set up, and the settings of a collector from its command-line flags
    (shared with `serve`, which adds its own in ``more``), checked before start."""
    setup_logging(verbose)
    s = cli_settings(**{
        "mqtt.client_id": client_id,
        "mqtt.share_group": share_group,
        "mqtt.host": mqtt_host,
        "mqtt.port": mqtt_port,
        "influx.url": influx_url,
        "influx.transport": transport,
        **more,
    })
    check_hosts(s)
    return s


ClientId = typer.Option(None, help="Fixed MQTT client id; each replica needs its own.")
ShareGroup = typer.Option(None, help="Share the readings subscription ($share/<group>/...) with other replicas.")
MqttHost = typer.Option(None, help="Broker host (default: the local stack).")
MqttPort = typer.Option(None, help="Broker port.")
InfluxUrl = typer.Option(None, help="InfluxDB URL.")
Transport = typer.Option(None, help="v1 (/write) or v2 (/api/v2/write via influxdb-client).")
Verbose = typer.Option(False, "--verbose", "-v")


def check_hosts(s) -> None:
    """Refuse to start on a broker or InfluxDB host name that does not resolve.

    A host that resolves but is down is not refused: the collector waits for
    the broker and spools for InfluxDB. A name that does not resolve is a typo.
    """
    import socket
    from urllib.parse import urlsplit

    for key, host in (("mqtt.host", s.mqtt.host), ("influx.url", urlsplit(s.influx.url).hostname or "")):
        try:
            socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConfigError(f"{key}: the host {host!r} does not resolve ({exc}); check the name") from None


@commands.command()
def collect(
    client_id: str = ClientId,
    share_group: str = ShareGroup,
    mqtt_host: str = MqttHost,
    mqtt_port: int = MqttPort,
    influx_url: str = InfluxUrl,
    transport: str = Transport,
    verbose: bool = Verbose,
) -> None:
    """Run the collector alone (for scale-out replicas): MQTT → validate → InfluxDB."""
    from .service import Collector

    s = collector_settings(verbose, client_id, share_group, mqtt_host, mqtt_port, influx_url, transport)
    collector = Collector(s).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"Collecting from mqtt://{s.mqtt.host}:{s.mqtt.port} into {s.influx.url} (db {s.influx.database}). Ctrl-C stops.")
    stop.wait()
    collector.stop()


def schema_file() -> Path:
    """The published JSON Schema, package data of the collector (also in an installed wheel)."""
    return Path(str(resources.files("collector") / "schema" / "airtrail-v1.schema.json"))


@commands.command()
def schema(write: bool = typer.Option(False, "--write", help="Write collector/schema/airtrail-v1.schema.json instead of printing.")) -> None:
    """The JSON Schema of the MQTT message contract (generated from the one definition)."""
    import json

    from .contract import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if write:
        schema_file().write_text(text)
        console.print(f"Wrote {schema_file()}")
    else:
        print(text, end="")
