"""`airtrail`: the one front door. One module per command group."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from collector.errors import AirtrailError

from . import device, kit, service, stack, walk

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

err_console = Console(stderr=True)


def main() -> None:
    try:
        app(standalone_mode=False)
    except AirtrailError as exc:
        err_console.print(f"[bold red]Problem:[/] {exc}")
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("Aborted.")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
