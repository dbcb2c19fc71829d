"""`airtrail device add | list | remove | rotate`: kits and their broker accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from collector.stack import Stack

from .common import console, settings

app = typer.Typer(help="Register kits and manage their broker credentials.", no_args_is_help=True)


def _stack() -> Stack:
    return Stack.from_settings(settings())


def _applied(stack: Stack) -> str:
    return "broker reloaded" if stack.sync_broker_auth() else "takes effect at the next `airtrail stack up`"


@app.command()
def add(device_id: str, note: str = typer.Option("", help="Free text, e.g. who carries the kit.")) -> None:
    """Register a kit; prints its MQTT password (also used by `airtrail kit provision`)."""
    stack = _stack()
    device = stack.registry.add(device_id, note=note)
    console.print(f"Added [bold]{device.device_id}[/] ({_applied(stack)}). MQTT user {device.device_id}, password {device.password}")


@app.command("list")
def list_() -> None:
    """List registered kits."""
    stack = _stack()
    table = Table("device", "registered", "password rotated", "note")
    for d in stack.registry:
        rotated = datetime.fromtimestamp(d.rotated, UTC).strftime("%Y-%m-%d %H:%M") if d.rotated else "-"
        table.add_row(d.device_id, datetime.fromtimestamp(d.created, UTC).strftime("%Y-%m-%d %H:%M"), rotated, d.note)
    console.print(table)
    console.print(f"{len(stack.registry)} kit(s); registry {stack.registry.path}")


@app.command()
def remove(device_id: str) -> None:
    """Remove a kit; the broker refuses it from now on (its stored readings stay)."""
    stack = _stack()
    stack.registry.remove(device_id)
    console.print(f"Removed {device_id} ({_applied(stack)}).")


@app.command()
def rotate(device_id: str) -> None:
    """Give a kit a new password (re-provision the kit afterwards)."""
    stack = _stack()
    device = stack.registry.rotate(device_id)
    console.print(f"New password for {device_id}: {device.password} ({_applied(stack)}). Re-provision the kit: airtrail kit provision --device {device_id}")
