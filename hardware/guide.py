"""The generated parts of hardware/README.md (the build guide).

Tables that come from data (bills of materials and totals, pin tables, the
current figures and runtimes) sit between markers in the guide:

    <!-- generated:bom-walk -->
    ...replaced by `airtrail kit docs`...
    <!-- /generated:bom-walk -->

Everything outside the markers is written by people. :func:`refresh` rewrites
the blocks and leaves the prose alone; a test fails when they are stale.
The worked power example is deliberately prose, checked by its own test.
"""

from __future__ import annotations

from airkit.errors import ConfigError

import re
from collections.abc import Callable
from pathlib import Path

from . import bom, breadboard, pins, power, sheets, wiring

GUIDE = Path(__file__).with_name("README.md")
SYMBOL = {"GBP": "£", "EUR": "€", "USD": "$"}


class GuideError(ConfigError):
    pass


def _money(cur: str, value: float) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
    return SYMBOL.get(cur, cur + " ") + text


def _range(cur: str, lo: float, hi: float) -> str:
    return f"{_money(cur, lo)}–{_money(cur, hi)}"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_bom(variant: str) -> str:
    data = bom.load_data()
    curs = bom.currencies(data)
    lines = [
        f"| ☐ | Qty | Part | {' | '.join(curs)} | Alternates and notes |",
        "|---|---:|---|" + "---:|" * len(curs) + "---|",
    ]
    for line in bom.items(variant, data):
        extra = " · ".join([*line.alternates, *([line.note] if line.note else [])])
        name = line.name + (" **(optional)**" if line.optional else "")
        prices = " | ".join(_range(c, *line.price[c]) for c in curs)
        lines.append(f"| ☐ | {line.qty} | {_cell(name)} | {prices} | {_cell(extra)} |")
    total = bom.totals(variant, data=data)
    lines.append("")
    lines.append(f"**Total for one {variant} kit** (typical prices checked {bom.checked(data)}, unit prices, "
                 f"no shipping): " + ", ".join(_range(c, *total[c]) for c in curs) + ".")
    if any(line.optional for line in bom.items(variant, data)):
        with_opt = bom.totals(variant, include_optional=True, data=data)
        lines.append("")
        lines.append("With the optional parts: " + ", ".join(_range(c, *with_opt[c]) for c in curs) + ".")
    return "\n".join(lines)


def render_pins(variant: str) -> str:
    pinmap = pins.load_variant(variant)
    lines = ["| Role | GPIO | Wired to | Wire colour | What it does |", "|---|---:|---|---|---|"]
    wired_to: dict[str, list[str]] = {}
    for part in pinmap.parts:
        if part.alternate_for:
            continue
        for w in part.wires:
            wired_to.setdefault(w.source, []).append(f"{part.short or part.id} {w.to}")
    for role, gpio in sorted(pinmap.pins.items(), key=lambda kv: kv[1]):
        _, cname = wiring.COLOURS.get(role, wiring.DEFAULT_COLOUR)
        lines.append(f"| `{role}` | {gpio} | {_cell(', '.join(wired_to.get(role, ['—'])))} | {cname} | "
                     f"{_cell(pins.ROLES.get(role, ('', '?'))[1])} |")
    uart = ", ".join(f"{k} on UART{v}" for k, v in sorted(pinmap.uart.items(), key=lambda kv: kv[1]))
    addr = ", ".join(f"{k} at 0x{v:02X}" for k, v in sorted(pinmap.i2c_addresses.items()))
    lines += ["", f"Serial ports: {uart}. I2C bus {pinmap.i2c.get('id', 0)} at "
              f"{pinmap.i2c.get('freq', 100000) // 1000} kHz: {addr}."]
    alternates = [p for p in pinmap.parts if p.alternate_for]
    for p in alternates:
        lines.append("")
        lines.append(f"With the {p.label} instead of the {pinmap.part(p.alternate_for).label}: "
                     + ", ".join(f"`{w.source}` to {w.to}" for w in p.wires) + ".")
    return "\n".join(lines)


def render_power_states() -> str:
    lines = ["| State | Current (mA) | Source |", "|---|---:|---|"]
    for s in power.states().values():
        mark = "" if s.verified or s.kind == "assumption" else " *(to re-check)*"
        kind = "**Assumption.** " if s.kind == "assumption" else ""
        source = s.source.removeprefix("Assumption: ")
        lines.append(f"| {_cell(s.label)} | {s.ma:g} | {kind}{_cell(source)}{mark} |")
    data = power.load_data()
    t, b = data["timing"], data["battery"]
    lines += [
        "",
        f"- PM warm-up {t['pm_warmup_s']} s: {t['pm_warmup_source']}.",
        f"- PM sampling {t['pm_sample_s']} s: {t['pm_sample_source']}.",
        f"- GPS cold start {t['gps_ttff_s']} s: {t['gps_ttff_source']}.",
        f"- Radio time per reading {t['wifi_tx_s_per_publish'] * 1000:g} ms: {t['wifi_tx_source']}.",
        f"- Cells {b['cell_v']:g} V: {b['cell_v_source']}.",
        f"- Power bank conversion efficiency {b['efficiency']:.0%}: {b['efficiency_source']}",
    ]
    return "\n".join(lines)


def render_runtimes() -> str:
    lines = ["| Walk kit | Wi-Fi | 5000 mAh bank | 10000 mAh bank | Average current |",
             "|---|---|---:|---:|---:|"]
    for pm in power.PM_SENSORS:
        for wifi in (True, False):
            small = power.runtime("walk", 10, 5000, wifi=wifi, pm=pm)
            large = power.runtime("walk", 10, 10000, wifi=wifi, pm=pm)
            label = "on (phone hotspot)" if wifi else "off (walk mode)"
            lines.append(f"| {pm.upper()}, reading every 10 s | {label} | {small.hours:.1f} h | {large.hours:.1f} h | "
                         f"{small.average_ma:.0f} mA |")
    fixed = power.runtime("fixed", 10, 5000)
    fixed_co2 = power.runtime("fixed", 10, 5000, co2=True)
    lines += ["", f"The fixed kit, reading every 10 s, draws about {fixed.average_ma:.0f} mA ({fixed_co2.average_ma:.0f} mA with the SCD40) "
              "from its mains adapter: any 5 V, 1 A adapter is ample."]
    return "\n".join(lines)


def render_unverified() -> str:
    todo = [s for s in power.states().values() if not s.verified]
    if not todo:
        return "Every figure above was checked against its document."
    return "\n".join(f"- {s.label}: {s.ma:g} mA. {s.note}".rstrip() for s in todo)


def render_wiring_sheets() -> str:
    """Links to every A4 sheet, and where the power bus goes on the breadboard, per kit."""
    maps = pins.load_all()
    names = list(sheets.sheets_all(maps))
    lines = ["| Kit | A4 wiring sheets (print at 100 %) | Power bus on the breadboard |", "|---|---|---|"]
    for variant, pinmap in sorted(maps.items(), key=lambda kv: kv[0] != "walk"):
        for alternate in ["", *(p.id for p in pinmap.parts if p.alternate_for)]:
            stem = f"{variant}-{alternate}" if alternate else variant
            pages = [n for n in names if n.rsplit("-sheet-", 1)[0] == stem]
            links = " · ".join(f"[sheet {i + 1}](wiring/{n})" for i, n in enumerate(pages))
            plan = breadboard.layout(pinmap, [p for p in wiring.fitted_parts(pinmap, alternate) if p.wires])
            bus = []
            for net in dict.fromkeys(s.net for s in plan.strips):
                strips = [s for s in plan.strips if s.net == net]
                wires = [p for p in plan.plugs if p.net == net and p.kind != "bridge"]
                where = f"{strips[0].label} column {strips[0].column}"
                if len(strips) > 1:
                    ends = "–".join(p.hole for p in plan.plugs if p.net == net and p.kind == "bridge")
                    where += f", both halves joined {ends}"
                bus.append(f"{where} ({len(wires)} connection{'s' if len(wires) != 1 else ''})" if net in pins.RAILS
                           else where)
            kit = pinmap.title + (f" with the {pinmap.part(alternate).short or alternate}" if alternate else "")
            lines.append(f"| {kit} | {links} | {_cell('; '.join(bus))} |")
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "bom-walk": lambda: render_bom("walk"),
    "bom-fixed": lambda: render_bom("fixed"),
    "pins-walk": lambda: render_pins("walk"),
    "pins-fixed": lambda: render_pins("fixed"),
    "power-states": render_power_states,
    "power-runtimes": render_runtimes,
    "power-unverified": render_unverified,
    "wiring-sheets": render_wiring_sheets,
}


def refresh(text: str) -> str:
    """The guide with every generated block rewritten from the data."""
    for name, render in BLOCKS.items():
        pattern = re.compile(
            rf"(<!-- generated:{re.escape(name)} -->\n)(.*?)(<!-- /generated:{re.escape(name)} -->)", re.S)
        found = pattern.findall(text)
        if len(found) != 1:
            raise GuideError(f"hardware/README.md must contain the block <!-- generated:{name} --> ... "
                             f"<!-- /generated:{name} --> exactly once (found {len(found)})")
        body = render().rstrip("\n") + "\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(3), text)
    return text
