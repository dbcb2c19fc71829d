"""`airtrail map`: the maps' commands, mounted by the front door.

Declared now so the front door does not change shape when the walk maps and
the council view arrive.
"""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="Turn walks into shareable maps.", no_args_is_help=True)


@app.callback()
def _map() -> None:
    """Maps of walks and neighbourhoods."""
