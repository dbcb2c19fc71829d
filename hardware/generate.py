"""Every file generated from the hardware data, in one place.

    out = outputs()            # {path: expected text} for pins.py, the SVGs and A4 sheets, the guide
    stale(out)                 # paths whose file on disk differs (or is missing)
    write(out)                 # writes the changed ones, returns them

The `airtrail kit pins/wiring/docs` commands and the tests both call these
functions, so "the test says stale" and "the command regenerates" can never
disagree.
"""

from __future__ import annotations

from pathlib import Path

from . import guide, pins, sheets, wiring

WIRING_DIR = Path(__file__).with_name("wiring")


def firmware_pins() -> dict[Path, str]:
    return {pins.FIRMWARE_PINS: pins.render_firmware_module(pins.load_all())}


def wiring_svgs() -> dict[Path, str]:
    """The one-column diagrams (walk.svg, for a screen) and the A4 wiring sheets (walk-sheet-1.svg, ...)."""
    maps = pins.load_all()
    drawings = {**wiring.render_all(maps), **sheets.sheets_all(maps)}
    return {WIRING_DIR / name: svg for name, svg in drawings.items()}


def guide_text() -> dict[Path, str]:
    return {guide.GUIDE: guide.refresh(guide.GUIDE.read_text(encoding="utf-8"))}


def outputs() -> dict[Path, str]:
    return {**firmware_pins(), **wiring_svgs(), **guide_text()}


def stale(expected: dict[Path, str]) -> list[Path]:
    return [p for p, text in expected.items() if not p.exists() or p.read_text(encoding="utf-8") != text]


def orphans() -> list[Path]:
    """SVGs in hardware/wiring that no pin map produces any more (a renamed part)."""
    wanted = set(wiring_svgs())
    return sorted(p for p in WIRING_DIR.glob("*.svg") if p not in wanted)


def write(expected: dict[Path, str]) -> list[Path]:
    changed = stale(expected)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
    return changed
