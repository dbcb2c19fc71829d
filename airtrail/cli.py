"""`airtrail`: the one front door.

Each command group is owned by its package and mounted here by name, lazily:
a group's module is imported only when that group runs or shows its own help,
so `airtrail --help` does not load pydantic, paho or the firmware tooling.
The short help of each mount is written here, so the top-level listing needs
none of them either (tests/test_front_door.py checks it matches the module's).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# name -> (short help, [(module, Typer attribute, command inside it or None)]).
# Several sources are merged into one group (the kit tooling and the hardware
# package both add `airtrail kit` commands); a command name picks one command
# out of a source.
MOUNTS: dict[str, tuple[str, list[tuple[str, str, str | None]]]] = {
    "stack": ("Run the local Mosquitto + InfluxDB stack (loopback, or a TLS listener for kits).", [("collector.cli", "stack", None)]),
    "device": ("Register kits and manage their broker credentials.", [("collector.cli", "device", None)]),
    "collect": ("Run the collector alone (for scale-out replicas): MQTT → validate → InfluxDB.",
                [("collector.cli", "commands", "collect")]),
    "serve": ("Run the collector and the HTTP API in one process.", [("airtrail.serve", "commands", "serve")]),
    "schema": ("The JSON Schema of the MQTT message contract (generated from the one definition).",
               [("collector.cli", "commands", "schema")]),
    "kit": ("Work with ESP32 kits: build, flash, provision, pull, decode, simulate; power, pins, wiring, docs.",
            [("airkit_host.cli", "app", None), ("hardware.cli", "app", None)]),
    "walk": ("Plan data walks and join kit readings with where they were.", [("walks.cli", "app", None)]),
    "map": ("Turn walks into shareable maps.", [("viz.cli", "app", None)]),
    "demo": ("The whole story on the local stack: kits → broker → collector → InfluxDB → API.",
             [("airtrail.demo", "commands", "demo")]),
}


def load_mount(name: str) -> Any:
    """The click command or group mounted as ``name``, built from its package's Typer app."""
    short_help, sources = MOUNTS[name]
    built = []
    for module, attr, command in sources:
        click_obj = typer.main.get_command(getattr(importlib.import_module(module), attr))
        if command and hasattr(click_obj, "commands"):  # a Typer with one command is that command
            click_obj = click_obj.commands[command]
        built.append(click_obj)
    first = built[0]
    for extra in built[1:]:
        for sub in extra.commands.values():
            first.add_command(sub)
    first.name = name
    return first


class LazyGroup(TyperGroup):
    """A group whose mounted commands are imported on first use."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *MOUNTS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in MOUNTS:
            return super().get_command(ctx, cmd_name)
        if self._listing:  # the top-level help only needs each mount's one line
            return TyperCommand(cmd_name, help=MOUNTS[cmd_name][0], short_help=MOUNTS[cmd_name][0])
        return load_mount(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            return super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="airtrail",
    cls=LazyGroup,
    help="Citizen air-quality kits, a zero-loss collector, and data-walk maps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    config: Path = typer.Option(None, "--config", help="airtrail.toml to read (default: ./airtrail.toml, or $AIRTRAIL_CONFIG)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where the stack, registry, spool and quarantine live."),
) -> None:
    """airtrail: citizen air-quality kits, a zero-loss collector, and data-walk maps."""
    from collector.settings import use_global_flags

    use_global_flags(config_file=config, data_dir=data_dir)  # a named config file is checked now, before any work


def main() -> None:
    # Standalone mode: click reports usage errors itself (exit 2); airtrail's
    # own errors are for people, so they get one line and exit 1, never a
    # traceback. Anything else that escapes is a bug and keeps its traceback.
    from airkit.errors import AirtrailError

    try:
        app()
    except AirtrailError as exc:
        from rich.console import Console

        from rich.markup import escape

        # soft_wrap: one line however long, so the message survives a log or a grep
        Console(stderr=True, soft_wrap=True).print(f"[bold red]Problem:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)
