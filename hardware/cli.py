"""The hardware package's commands, mounted by the front door under `airtrail kit`:

    airtrail kit power --variant walk --interval 10 --battery-mah 5000
    airtrail kit pins [--check] [--write]     check the pin maps, regenerate firmware/airkit/pins.py
    airtrail kit wiring [--check]             regenerate hardware/wiring/*.svg
    airtrail kit docs [--check]               all of the above plus the tables in hardware/README.md

The data and the generators live in the `hardware` package; these commands
only print and write. `--check` writes nothing and exits 1 when a generated
file is stale, which is also what the tests assert.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from rich.console import Console

from airkit.errors import ConfigError

from . import generate, pins, power

__all__ = ["app"]

console = Console()
app = typer.Typer(help="Hardware calculators and generators: power, pins, wiring, docs.", no_args_is_help=True)


class Variant(str, Enum):
    walk = "walk"
    fixed = "fixed"


class PmSensor(str, Enum):
    pms5003 = "pms5003"
    sds011 = "sds011"


def _rel(path: Path) -> str:
    """A path as the person typing sees it: relative to where they are, when it is below."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _pct(duty: float) -> str:
    return f"{duty * 100:.2f} %" if 0 < duty < 0.001 or 0.999 < duty < 1 else f"{duty * 100:.1f} %"


@app.command("power")
def power_(
    variant: Variant = typer.Option(Variant.walk, help="Which kit."),
    interval: float = typer.Option(10, min=0.1, help="Seconds between readings."),
    battery_mah: float = typer.Option(5000, "--battery-mah", min=1, help="Power bank capacity as printed on it (mAh at 3.7 V)."),
    wifi: bool = typer.Option(True, "--wifi/--no-wifi", help="Wi-Fi connected (hotspot) or walk mode with the radio off."),
    pm: PmSensor = typer.Option(PmSensor.pms5003, help="Particle sensor fitted."),
    co2: bool = typer.Option(False, "--co2/--no-co2", help="SCD40 fitted (fixed kit option)."),
    efficiency: float = typer.Option(None, min=0.01, max=1.0, help="Power bank conversion efficiency (default from hardware/power.toml)."),
) -> None:
    """Expected battery runtime, from the datasheet current of every part and state."""
    r = power.runtime(variant.value, interval, battery_mah, wifi=wifi, pm=pm.value, co2=co2, efficiency=efficiency)
    title = (f"{variant.value} kit, {pm.value}, a reading every {interval:g} s, "
             f"Wi-Fi {'on' if wifi else 'off'}{', SCD40' if co2 else ''}")
    # Sources as numbered notes under the table: they are long, and a
    # terminal is narrow.
    table = Table("State", "Current (mA)", "Duty cycle", "Average (mA)", "Source", title=title)
    notes: list[str] = []
    for use in r.uses:
        s = use.state
        recheck = not s.verified and s.kind != "assumption"
        note = s.source + (" (not yet re-read in the document)" if recheck else "")
        if note not in notes:
            notes.append(note)
        table.add_row(s.label, f"{s.ma:g}", _pct(use.duty), f"{use.average_ma:.3f}", f"[{notes.index(note) + 1}]")
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"[dim][{i}] {note}[/]", highlight=False)
    console.print(f"Average current: [bold]{r.average_ma:.1f} mA[/] at {r.output_v:g} V"
                  + (f" (including the GPS cold start, {r.cold_start_mah:.3f} mAh once)" if r.cold_start_mah else ""))
    console.print(f"Usable charge: {battery_mah:g} mAh x {r.cell_v:g} V / {r.output_v:g} V x {r.efficiency:.0%} "
                  f"= {r.usable_mah:.0f} mAh at {r.output_v:g} V. The {1 - r.efficiency:.0%} derating is the power "
                  "bank's boost-converter loss; cold weather and an ageing bank lower it further.")
    console.print(f"Expected runtime: [bold]{r.hours:.1f} hours[/]. Upper datasheet figures are used, so this is a floor.")


def _load_maps(variant: Variant | None) -> dict[str, pins.PinMap]:
    maps = pins.load_all()
    return {variant.value: maps[variant.value]} if variant else maps


@app.command("pins")
def pins_(
    variant: Variant = typer.Option(None, help="Only this kit (default: all)."),
    check: bool = typer.Option(False, "--check", help="Exit 1 on a pin problem or a stale firmware/airkit/pins.py."),
    write: bool = typer.Option(False, "--write", help="Regenerate firmware/airkit/pins.py from the pin maps."),
) -> None:
    """Show the pin maps, check them against ESP32 pitfalls, regenerate the firmware's pins."""
    maps = _load_maps(variant)
    all_errors: list[str] = []
    for name, pinmap in maps.items():
        problems = pins.check(pinmap)
        table = Table("Role", "GPIO", "Kind", "What it does", title=f"{pinmap.title} ({_rel(Path(pinmap.source))})")
        for role, gpio in sorted(pinmap.pins.items(), key=lambda kv: kv[1]):
            kind, what = pins.ROLES.get(role, ("?", "unknown role"))
            table.add_row(role, str(gpio), kind, what)
        console.print(table)
        for p in problems:
            colour = "red" if p.severity == "error" else "yellow"
            console.print(f"[{colour}]{p}[/]")
        all_errors += [f"{name}: {p}" for p in pins.errors(problems)]
        if not problems:
            console.print("[green]No pin problems.[/]")
    if all_errors and (check or write):
        raise ConfigError(f"{len(all_errors)} pin problem(s), fix the pin map first:\n" + "\n".join(all_errors))
    expected = generate.firmware_pins()
    if write:
        changed = generate.write(expected)
        console.print("Wrote " + ", ".join(map(_rel, changed)) if changed else "firmware/airkit/pins.py is up to date.")
    elif check:
        stale = generate.stale(expected)
        if stale:
            raise ConfigError(f"{_rel(stale[0])} does not match the pin maps: run `airtrail kit pins --write`")
        console.print("firmware/airkit/pins.py matches the pin maps.")


def _regenerate(expected: dict[Path, str], check: bool, what: str, remove: list[Path]) -> None:
    stale = generate.stale(expected)
    if check:
        if stale or remove:
            names = ", ".join(_rel(p) for p in [*stale, *remove])
            raise ConfigError(f"stale {what}: {names}; run `airtrail kit {'wiring' if what == 'wiring diagrams' else 'docs'}`")
        console.print(f"All {what} are up to date.")
        return
    generate.write(expected)
    for p in remove:
        p.unlink()
    for p in stale:
        console.print(f"Wrote {_rel(p)}")
    for p in remove:
        console.print(f"Removed {_rel(p)} (no pin map produces it any more)")
    if not stale and not remove:
        console.print(f"All {what} were already up to date.")


def _checked_outputs(build) -> dict[Path, str]:
    maps = pins.load_all()
    errors = [f"{v}: {p}" for v, m in maps.items() for p in pins.errors(pins.check(m))]
    if errors:
        raise ConfigError("the pin maps have problems; fix them before generating anything:\n" + "\n".join(errors))
    try:
        return build()
    except ValueError as exc:  # a guide without its markers, a malformed data file
        raise ConfigError(str(exc)) from exc


@app.command("wiring")
def wiring_(
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 when an SVG is stale."),
) -> None:
    """Regenerate the wiring diagrams (hardware/wiring/*.svg) from the pin maps."""
    _regenerate(_checked_outputs(generate.wiring_svgs), check, "wiring diagrams", generate.orphans())


@app.command("docs")
def docs(
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 when a generated file is stale."),
) -> None:
    """Regenerate everything made from hardware/: pins.py, the wiring SVGs, the guide's tables."""
    _regenerate(_checked_outputs(generate.outputs), check, "generated hardware files", generate.orphans())
