"""`airtrail`: the one front door. One module per command group."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from collector.errors import AirtrailError
from collector.settings import config_file_path

from . import device, kit, service, stack, walk
from .common import GLOBAL_OVERRIDES

app = typer.Typer(
    name="airtrail",
    help="Citizen air-quality kits, a zero-loss collector, and data-walk maps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(device.app, name="device")
app.add_typer(kit.app, name="kit")
app.add_typer(walk.app, name="walk")
app.add_typer(walk.map_app, name="map")
service.register(app)


@app.callback()
def _root(
    config: Path = typer.Option(None, "--config", help="airtrail.toml to read (default: ./airtrail.toml, or $AIRTRAIL_CONFIG)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where the stack, registry, spool and quarantine live."),
) -> None:
    """airtrail: citizen air-quality kits, a zero-loss collector, and data-walk maps."""
    # Module state, so reset at every invocation (tests run many in one process).
    GLOBAL_OVERRIDES.clear()
    if config is not None:
        GLOBAL_OVERRIDES["config_file"] = config_file_path(config)  # checked now, before any command starts work
    if data_dir is not None:
        GLOBAL_OVERRIDES["data_dir"] = str(data_dir)

err_console = Console(stderr=True)


def main() -> None:
    # Standalone mode: click reports usage errors and exit codes itself; our
    # own errors are for people, so they get one line, never a traceback.
    try:
        app()
    except AirtrailError as exc:
        err_console.print(f"[bold red]Problem:[/] {exc}")
        sys.exit(1)
