"""`airtrail walk`: the data-walk tooling's commands, mounted by the front door.

Declared now so the front door does not change shape when the walk plan,
alignment and summary commands arrive (issue 11).
"""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="Plan data walks and join kit readings with where they were.", no_args_is_help=True)


@app.callback()
def _walk() -> None:
    """Data-walk tooling (walk plans, alignment, privacy zones)."""
