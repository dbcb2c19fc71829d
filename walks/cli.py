"""`airtrail walk`: the data-walk tooling's commands, mounted by the front door.

    airtrail walk new [walk.toml]     a commented walk file to fill in
    airtrail walk check walk.toml     every problem with its line and what to change

(`walk build`, which joins the kits' readings with where they were and writes
the walk's outputs, comes next: issue 11.)
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from airkit.errors import ConfigError

from .plan import load_plan, template

__all__ = ["app"]

console = Console()
app = typer.Typer(help="Plan data walks and join kit readings with where they were.", no_args_is_help=True)


@app.command()
def new(
    path: Path = typer.Argument(Path("walk.toml"), help="Where to write the walk file."),
    title: str = typer.Option("Our data walk", "--title", help="The walk's title, as the maps will show it."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Write a commented walk file to fill in: when, where, who carried which kit, privacy zones."""
    if path.exists() and not force:
        raise ConfigError(f"{path} exists already: edit it, or pass --force to start again from the template")
    path.write_text(template(title), encoding="utf-8")
    console.print(f"Wrote {path}. Fill it in (route, participants, privacy zones), then: airtrail walk check {path}")


@app.command()
def check(path: Path = typer.Argument(..., help="The walk file.")) -> None:
    """Check a walk file: every problem with its line and what to change; exit 1 if there is any."""
    plan = load_plan(path)
    start, end = plan.utc_window()
    console.print(f"[green]✓[/] {path}: “{plan.title}”, {plan.date} {plan.window.start:%H:%M}–{plan.window.end:%H:%M} {plan.timezone} "
                  f"({start:%H:%M}–{end:%H:%M} UTC), {len(plan.participants)} participant(s) with kits {', '.join(plan.kits)}, "
                  f"{len(plan.privacy_zones)} privacy zone(s), trim {plan.privacy.trim_m:g} m, outputs in {', '.join(plan.languages)}, "
                  f"licence {plan.licence}.")
