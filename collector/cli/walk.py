"""`airtrail walk` and `airtrail map`: the data-walk tooling's command groups.

They are declared now so the front door does not change shape when the walk
plan, alignment and map commands arrive.
"""

import typer

app = typer.Typer(help="Plan data walks and join kit readings with where they were.", no_args_is_help=True)
map_app = typer.Typer(help="Turn walks into shareable maps.", no_args_is_help=True)


@app.callback()
def _walk() -> None:
    """Data-walk tooling (walk plans, alignment, privacy zones)."""


@map_app.callback()
def _map() -> None:
    """Maps of walks and neighbourhoods."""
