"""`airtrail walk`: the data-walk tooling's commands, mounted by the front door.

    airtrail walk new [walk.toml]              a commented walk file to fill in
    airtrail walk check walk.toml              every problem with its line and what to change
    airtrail walk build walk.toml --out DIR    every reading in its place; the walk's open outputs
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from airkit.errors import ConfigError

from .plan import load_plan, template

__all__ = ["app"]

console = Console(soft_wrap=True)
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
def build(
    path: Path = typer.Argument(..., help="The walk file."),
    out: Path = typer.Option(None, "--out", help="Folder for the outputs (default: build/ next to the walk file)."),
    token: str = typer.Option(None, "--token", envvar="AIRTRAIL_READ_TOKEN", show_envvar=True,
                              help='[readings] source = "api": the collector\'s read token.'),
    influx_url: str = typer.Option(None, "--influx-url", help='[readings] source = "influxdb": InfluxDB URL (default: the collector settings).'),
) -> None:
    """Join the kits' readings with where they were; write readings.csv, GeoJSON, summary.json and a data package."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .build import assemble, load_inputs
    from .outputs import write_walk

    plan = load_plan(path)
    out = out or path.parent / "build"
    source = _source(plan, token, influx_url)
    # Redrawn at each step, not by a thread of its own: the build forks its parsing and writing
    # processes, and a fork while another thread runs can leave a lock held in the child.
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True,
                  auto_refresh=False) as bar:
        task = bar.add_task("reading", total=None)

        def step(what: str) -> None:
            bar.update(task, description=what, refresh=True)

        try:
            inputs = load_inputs(plan, source, step)
        finally:
            close = getattr(source, "close", None)
            if close:
                close()
        walk = assemble(plan, inputs, step)
        step("writing")
        write_walk(walk, out)
    s = walk.summary
    counts = s["readings"]
    console.print(f"[green]✓[/] {plan.title}: {counts['published']} readings published ({counts['published_placed']} with a position) "
                  f"of {counts['in_walk']} on the walk; {len(walk.segments)} segments; outputs in {out}")
    for c in s["clocks"]:
        if c["method"] in ("unconfirmed", "no_reference"):
            console.print(f"[yellow]![/] kit {c['kit']} ({c['participant']}): clock not put right ({c['method']}); "
                          f"its {c['readings']} unsynchronised readings keep the kit's own time. Set clock_offset_s if you know it.")
        elif c["method"] == "estimated":
            console.print(f"  kit {c['kit']} ({c['participant']}): clock offset {c['offset_s']:+.0f} s, estimated (peak {c['peak']:.2f})")
    removed = counts["removed"]
    console.print(f"  privacy: removed {removed['privacy_zone']} in zones, {removed['trimmed_start']} at starts, {removed['trimmed_end']} at ends")


def _source(plan, token: str | None, influx_url: str | None):
    from .sources import ApiSource, InfluxSource, PullSource

    if plan.readings.source == "pull":
        return PullSource(plan.path(plan.readings.folder))
    if plan.readings.source == "api":
        return ApiSource(plan.readings.url, token)
    from collector.settings import cli_settings

    return InfluxSource(cli_settings(**({"influx.url": influx_url} if influx_url else {})).influx)


@app.command()
def check(path: Path = typer.Argument(..., help="The walk file.")) -> None:
    """Check a walk file: every problem with its line and what to change; exit 1 if there is any."""
    plan = load_plan(path)
    start, end = plan.utc_window()
    console.print(f"[green]✓[/] {path}: “{plan.title}”, {plan.date} {plan.window.start:%H:%M}–{plan.window.end:%H:%M} {plan.timezone} "
                  f"({start:%H:%M}–{end:%H:%M} UTC), {len(plan.participants)} participant(s) with kits {', '.join(plan.kits)}, "
                  f"{len(plan.privacy_zones)} privacy zone(s), trim {plan.privacy.trim_m:g} m, outputs in {', '.join(plan.languages)}, "
                  f"licence {plan.licence}.")
