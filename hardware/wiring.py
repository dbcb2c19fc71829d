"""Wiring diagrams as SVG, drawn from a pin map.

    svgs = render_all(pins.load_all())   # {"walk.svg": "<svg ...", "walk-sds011.svg": ...}

One drawing per variant (and one per alternate part, e.g. the walk kit with an
SDS011 instead of the PMS5003). Each has two halves:

* the board: both pin headers of an ESP32-DevKitC V4 in their physical order,
  the used pins marked, so a builder can find the pin on the board;
* one panel per part: every wire as a row "board pin -> part pin".

Readable on a phone and on a black-and-white printout: large text, dark on
white, and every wire carries its signal name and colour name as text, so the
colour (Okabe-Ito palette, distinguishable with the common colour-vision
deficiencies) is a help, never the only cue. Plain hand-written XML, no
dependency; the output is deterministic so a stale file can be detected.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from .pins import BUS_PART, RAILS, Part, PinMap

# ESP32-DevKitC V4 headers, top (antenna end) to bottom (USB end), as in
# Espressif's "ESP32-DevKitC V4 Getting Started Guide", Header Block table.
# Ints are GPIO numbers, strings are rails or non-GPIO pins.
LEFT_HEADER: list[int | str] = ["3V3", "EN", 36, 39, 34, 35, 32, 33, 25, 26, 27, 14, 12, "GND", 13, 9, 10, 11, "5V"]
RIGHT_HEADER: list[int | str] = ["GND", 23, 22, 1, 3, 21, "GND", 19, 18, 5, 17, 16, 4, 0, 2, 15, 8, 7, 6]

# Okabe & Ito (2008), "Color Universal Design": colours that stay distinct for
# protanopia, deuteranopia and tritanopia. The name printed on each wire is the
# jumper colour we suggest; any colour works if the label is followed.
COLOURS = {
    "5V": ("#D55E00", "red"),
    "3V3": ("#E69F00", "orange"),
    "GND": ("#000000", "black"),
    "i2c_sda": ("#0072B2", "blue"),
    "i2c_scl": ("#009E73", "green"),
    "pm_tx": ("#CC79A7", "purple"),
    "pm_rx": ("#F0E442", "yellow"),
    "pm_set": ("#56B4E9", "light blue"),
    "pm_reset": ("#56B4E9", "light blue"),
    "gps_tx": ("#CC79A7", "purple"),
    "gps_rx": ("#F0E442", "yellow"),
    "gps_pps": ("#56B4E9", "light blue"),
    "batt_adc": ("#7F7F7F", "grey"),
    "led": ("#FFFFFF", "white"),
}
DEFAULT_COLOUR = ("#7F7F7F", "grey")

WIDTH = 600
INK = "#111111"
MUTED = "#555555"
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"


def _colour(source: str) -> tuple[str, str]:
    return COLOURS.get(source, DEFAULT_COLOUR)


def _text(x: float, y: float, s: str, size: int = 20, anchor: str = "start", weight: str = "normal",
          fill: str = INK) -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def _wire(x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 8, casing: float = 4) -> str:
    # A dark casing under every wire keeps light colours (yellow, white)
    # visible on white paper and in greyscale.
    return (f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{INK}" '
            f'stroke-width="{width + casing:g}" stroke-linecap="round"/>'
            f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linecap="round"/>')


def _wrap(s: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in s.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


def fitted_parts(pinmap: PinMap, alternate: str = "") -> list[Part]:
    """The parts drawn in one diagram: the primaries, or with one alternate
    swapped in for the part it replaces."""
    chosen = []
    swap_out = pinmap.part(alternate).alternate_for if alternate else ""
    for part in pinmap.parts:
        if part.alternate_for:
            if part.id == alternate:
                chosen.append(part)
        elif part.id != swap_out:
            chosen.append(part)
    # keep the alternate where the part it replaces was
    if alternate:
        order = [p.id for p in pinmap.parts]
        chosen.sort(key=lambda p: order.index(p.alternate_for or p.id))
    return chosen


def _pin_name(pin: int | str) -> str:
    return f"GPIO{pin}" if isinstance(pin, int) else pin


def _short(part: Part) -> str:
    return part.short or part.id


def _board(pinmap: PinMap, parts: list[Part], top: float) -> tuple[list[str], float]:
    """The DevKit outline with both headers; used pins labelled outside.

    Rails are drawn once each (the first 5V, 3V3 and GND pin): they feed the
    power bus that every part's power wires plug into.
    """
    role_of_gpio = {gpio: role for role, gpio in pinmap.pins.items()}
    users: dict[str, list[str]] = {}  # pin key -> short part names using it
    for part in parts:
        for w in part.wires:
            key = w.source if w.source in RAILS else str(pinmap.pins.get(w.source))
            if _short(part) not in users.setdefault(key, []):
                users[key].append(_short(part))

    pitch = 44
    board_w = 170
    board_x = (WIDTH - board_w) / 2
    first = top + 114  # room for the board's name at the antenna end
    height = pitch * (len(LEFT_HEADER) - 1) + 148
    out = [
        _text(WIDTH / 2, top + 24, "Pins on the board (USB end down)", 22, "middle", "bold"),
        f'<rect x="{board_x:g}" y="{top + 40}" width="{board_w}" height="{height}" rx="14" '
        f'fill="#F4F4F4" stroke="{INK}" stroke-width="3"/>',
        _text(WIDTH / 2, top + 82, "ESP32", 24, "middle", "bold", MUTED),
        f'<rect x="{WIDTH / 2 - 32:g}" y="{top + 40 + height - 14}" width="64" height="28" '
        f'rx="4" fill="#FFFFFF" stroke="{INK}" stroke-width="3"/>',
        _text(WIDTH / 2, top + 40 + height + 40, "USB", 18, "middle", "bold", MUTED),
    ]
    drawn_rails: set[str] = set()
    for side, header in (("left", LEFT_HEADER), ("right", RIGHT_HEADER)):
        px = board_x + 20 if side == "left" else board_x + board_w - 20
        for i, pin in enumerate(header):
            y = first + i * pitch
            key = pin if isinstance(pin, str) else str(pin)
            used = key in users and key not in drawn_rails
            if isinstance(pin, str) and used:
                drawn_rails.add(key)
            source: str = role_of_gpio.get(pin, "") if isinstance(pin, int) else pin
            colour, cname = _colour(source) if used else ("#FFFFFF", "")
            inner_x = px + 18 if side == "left" else px - 18
            inner_anchor = "start" if side == "left" else "end"
            out.append(_text(inner_x, y + 6, str(pin), 16, inner_anchor, "bold" if used else "normal",
                             INK if used else MUTED))
            if used:
                edge = board_x - 12 if side == "left" else board_x + board_w + 12
                out.append(_wire(px, y, edge, y, colour, 6))
                tx = edge - 8 if side == "left" else edge + 8
                anchor = "end" if side == "left" else "start"
                if isinstance(pin, int):
                    name, detail = f"{source}  GPIO{pin}", f"{', '.join(users[key])} · {cname}"
                else:
                    name, detail = pin, f"power bus · {cname}"
                out.append(_text(tx, y - 3, name, 18, anchor, "bold"))
                out.append(_text(tx, y + 17, detail, 14, anchor, "normal", MUTED))
            out.append(f'<circle cx="{px:g}" cy="{y}" r="9" fill="{colour}" stroke="{INK}" stroke-width="3"/>')
    return out, top + 40 + height + 90


def _panel(pinmap: PinMap, part: Part, top: float) -> tuple[list[str], float]:
    """One part: a title, its note, and one row per wire."""
    out = []
    y = top
    note_lines = _wrap(part.note, 50) if part.note else []
    rows = len(part.wires)
    height = 56 + 26 * len(note_lines) + (rows * 64 + 16 if rows else 0)
    dash = ' stroke-dasharray="14 8"' if part.optional else ""
    out.append(f'<rect x="10" y="{y:g}" width="{WIDTH - 20}" height="{height:g}" rx="12" fill="#FFFFFF" '
               f'stroke="{INK}" stroke-width="3"{dash}/>')
    out.append(_text(26, y + 36, part.label, 24, weight="bold"))
    y += 48
    for line in note_lines:
        y += 26
        out.append(_text(26, y, line, 18, fill=MUTED))
    y += 16
    box = (WIDTH - 2 * 22 - 150) / 2  # two pin boxes and a wire long enough to show round its label
    right_x = WIDTH - 22 - box
    mid = WIDTH / 2
    for w in part.wires:
        cy = y + 32
        colour, cname = _colour(w.source)
        if w.source in RAILS:
            left = f"{'board' if part.id == BUS_PART else 'bus'} {w.source}"
        else:
            left = f"{_pin_name(pinmap.pins.get(w.source, '?'))} {w.source}"
        out.append(f'<rect x="22" y="{cy - 24:g}" width="{box:g}" height="48" rx="8" fill="#F4F4F4" '
                   f'stroke="{INK}" stroke-width="2"/>')
        out.append(_text(32, cy + 8, left, 20, weight="bold"))
        out.append(_wire(22 + box, cy, right_x, cy, colour, 10))
        out.append(f'<rect x="{mid - 50:g}" y="{cy - 15:g}" width="100" height="30" rx="6" fill="#FFFFFF" '
                   f'stroke="{INK}" stroke-width="2"/>')
        out.append(_text(mid, cy + 7, cname, 17, "middle", "bold"))
        out.append(f'<rect x="{right_x:g}" y="{cy - 24:g}" width="{box:g}" height="48" rx="8" '
                   f'fill="#F4F4F4" stroke="{INK}" stroke-width="2"/>')
        out.append(_text(right_x + 10, cy + 8, w.to, 20, weight="bold"))
        y += 64
    return out, top + height + 24


def render_svg(pinmap: PinMap, alternate: str = "") -> str:
    """The wiring diagram of a variant, optionally with an alternate part fitted."""
    parts = fitted_parts(pinmap, alternate)
    wired_parts = [p for p in parts if p.wires]
    title = f"airtrail {pinmap.title.lower()}: wiring"
    subtitle = f"with the {pinmap.part(alternate).label}" if alternate else pinmap.board.split(" (")[0]
    body: list[str] = [
        _text(WIDTH / 2, 40, title, 28, "middle", "bold"),
        _text(WIDTH / 2, 70, subtitle, 19, "middle", "bold"),
        _text(WIDTH / 2, 98, f"Generated from hardware/pins/{pinmap.variant}.toml;", 15, "middle", fill=MUTED),
        _text(WIDTH / 2, 118, "do not edit, run `airtrail kit docs`.", 15, "middle", fill=MUTED),
        _text(WIDTH / 2, 144, "Names are the ESP32 side: pm_tx is the", 17, "middle", "bold"),
        _text(WIDTH / 2, 166, "ESP32's TX pin, wired to the sensor's RX pin.", 17, "middle", "bold"),
    ]
    board, y = _board(pinmap, wired_parts, 180)
    body += board
    body.append(_text(WIDTH / 2, y, "Wires, part by part", 24, "middle", "bold"))
    if any(p.optional for p in wired_parts):
        y += 26
        body.append(_text(WIDTH / 2, y, "(dashed box: optional part)", 17, "middle", fill=MUTED))
    y += 24
    for part in wired_parts:
        panel, y = _panel(pinmap, part, y)
        body += panel
    height = int(y + 8)
    desc = "; ".join(
        f"{part.label}: " + ", ".join(
            f"{w.source if w.source in RAILS else _pin_name(pinmap.pins.get(w.source, '?')) + ' ' + w.source} to {w.to}"
            for w in part.wires)
        for part in wired_parts)
    # Fixed pixel size: a phone's browser fits the width and the reader zooms;
    # a Markdown viewer scales it down to the column.
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" role="img">',
        f"<title>{escape(title + ' ' + subtitle)}</title>",
        f"<desc>{escape(desc)}</desc>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#FFFFFF"/>',
        *body,
        "</svg>",
        "",
    ])


def render_all(maps: dict[str, PinMap]) -> dict[str, str]:
    """File name -> SVG text, for every variant and every alternate part."""
    out = {}
    for variant, pinmap in sorted(maps.items()):
        out[f"{variant}.svg"] = render_svg(pinmap)
        for part in pinmap.parts:
            if part.alternate_for:
                out[f"{variant}-{part.id}.svg"] = render_svg(pinmap, alternate=part.id)
    return out
