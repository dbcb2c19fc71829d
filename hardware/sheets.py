"""Wiring sheets to print on A4 and follow at a workshop table, drawn from a pin map.

    pages = render_sheets(pinmap)              # ["<svg ... sheet 1", "<svg ... sheet 2", ...]
    sheets_all(pins.load_all())                # {"walk-sheet-1.svg": ..., "walk-sds011-sheet-1.svg": ...}

Each page is an SVG of exactly 210 x 297 mm whose viewBox is in millimetres
(one user unit = 1 mm), so printing it "at actual size" gives A4. In order:

* the breadboard, drawn at BREADBOARD_SCALE times its real size with the same
  row letters and column numbers as the real one: which strip carries 5V, 3V3
  and GND, where each power wire and resistor leg goes (a numbered hole, and a
  list of the numbers);
* the ESP32 board's two headers with the pins in use;
* one card per part: every wire as "from -> colour -> to", where "from" is an
  ESP32 pin or a breadboard hole.

Text widths come from the advance widths of DejaVu Sans and DejaVu Sans Bold,
the first font in the SVGs' font-family (hardware/font_metrics.toml, read
from the fonts' hmtx tables; tests/test_hardware_wiring.py re-reads them from
the TTF files). Kerning, which the widths leave out, mostly narrows a line,
and the fallbacks (Arial, Helvetica) are narrower than DejaVu Sans, so a label
that fits here fits when printed.
Every boxed label is checked while the page is built: text that would overrun
its box is wrapped onto a second line, or made smaller, or refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from . import breadboard
from .breadboard import Layout
from .pins import BUS_PART, RAILS, Part, PinMap
from .wiring import FONT, INK, LEFT_HEADER, MUTED, RIGHT_HEADER, _colour, _pin_name, _short, _text, _wire, fitted_parts

PAGE_W, PAGE_H = 210.0, 297.0  # A4 portrait, mm
MARGIN = 10.0
CONTENT_W = PAGE_W - 2 * MARGIN
BREADBOARD_SCALE = 3  # the drawing's 2.54 mm pitch becomes 7.62 mm: holes big enough for a number

TITLE, HEADING, BODY, SMALL = 6.0, 5.0, 4.0, 3.4  # font sizes in mm (SMALL is about 9.6 pt)
LIGHT = "#F4F4F4"

# Advance widths of DejaVu Sans and DejaVu Sans Bold, the first font in the
# sheets' font-family: see the comment in the file.
_METRICS = tomllib.loads(Path(__file__).with_name("font_metrics.toml").read_text(encoding="utf-8"))
UNITS_PER_EM = _METRICS["units_per_em"]
ASCENT, DESCENT = _METRICS["ascender"] / UNITS_PER_EM, _METRICS["descender"] / UNITS_PER_EM
FONT_ADVANCES = {w: tuple(_METRICS[w]["ascii"]) for w in ("normal", "bold")}  # chr(32) onwards
FONT_EXTRA_ADVANCES = {w: dict(_METRICS[w]["other"]) for w in ("normal", "bold")}


class SheetError(ValueError):
    """A label that cannot fit its box even wrapped and small: shorten it in the pin map."""


def text_width(s: str, size: float, weight: str = "normal") -> float:
    """Width in mm of one line of DejaVu Sans (Bold) at `size` mm, without kerning."""
    table, extra = FONT_ADVANCES[weight], FONT_EXTRA_ADVANCES[weight]
    units = 0
    for ch in s:
        code = ord(ch)
        if 32 <= code < 32 + len(table):
            units += table[code - 32]
        elif ch in extra:
            units += extra[ch]
        else:
            raise SheetError(f"no width for {ch!r} in {s!r}: add its advance width to hardware/font_metrics.toml")
    return units * size / UNITS_PER_EM


def _lines(s: str, width: float, size: float, weight: str) -> list[str]:
    """Words of `s` in lines no wider than `width` mm (a lone long word stays over-wide)."""
    lines: list[str] = []
    for word in s.split():
        if lines and text_width(f"{lines[-1]} {word}", size, weight) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _n(v: float) -> str:
    return f"{round(v, 3):g}"


def _rect(x: float, y: float, w: float, h: float, fill: str = "#FFFFFF", stroke: str = INK, width: float = 0.35,
          rx: float = 1.2, extra: str = "") -> str:
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="{_n(rx)}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{_n(width)}"{extra}/>')


PAD = 1.5  # mm between a box's edge and its text


def _boxed(x: float, y: float, w: float, h: float, text: str, size: float = BODY, weight: str = "bold",
           fill: str = LIGHT, anchor: str = "start", max_lines: int = 2, extra: str = "",
           pad: float = PAD) -> list[str]:
    """A box with `text` inside it: on one line if it fits, else wrapped, else smaller."""
    inner_w = w - 2 * pad
    for s in (size, SMALL) if size > SMALL else (size,):
        lines = _lines(text, inner_w, s, weight)
        leading = s * 1.2
        if (len(lines) <= max_lines and all(text_width(ln, s, weight) <= inner_w for ln in lines)
                and (len(lines) - 1) * leading + (ASCENT + DESCENT) * s <= h - 0.6):
            break
    else:
        raise SheetError(f"{text!r} does not fit a {w:.1f} x {h:.1f} mm box")
    block = (len(lines) - 1) * leading + (ASCENT + DESCENT) * s
    baseline = y + (h - block) / 2 + ASCENT * s
    tx = {"start": x + pad, "middle": x + w / 2, "end": x + w - pad}[anchor]
    out = [_rect(x, y, w, h, fill, extra=extra)]
    out += [_text(round(tx, 3), round(baseline + i * leading, 3), ln, s, anchor, weight) for i, ln in enumerate(lines)]
    return out


def _paragraph(x: float, y: float, text: str, size: float = BODY, weight: str = "normal", fill: str = INK,
               width: float = CONTENT_W) -> tuple[list[str], float]:
    """Unboxed text wrapped to `width`; returns the elements and the y below it."""
    out = []
    for ln in _lines(text, width, size, weight):
        y += size * 1.25
        out.append(_text(round(x, 3), round(y, 3), ln, size, weight=weight, fill=fill))
    return out, y + size * 0.4


@dataclass
class Block:
    """A piece of a page: `draw(top)` returns its elements and the y below it. Pages take blocks in order."""

    draw: Callable[[float], tuple[list[str], float]]
    gap: float = 4.0  # mm left below it
    keep_with_next: bool = False  # a heading: never the last thing on a page

    @property
    def height(self) -> float:
        return self.draw(0.0)[1] + self.gap


# ---------------------------------------------------------------- the breadboard


def _hole_xy(plan: Layout, hole: str, left: float, top: float) -> tuple[float, float]:
    """Centre of a hole, in mm on the page; rows e and f sit either side of the centre gap (0.3 inch)."""
    p = plan.board.pitch_mm * BREADBOARD_SCALE
    row = plan.board.rows.index(hole[0])
    half = row // plan.board.strip_holes
    return left + int(hole[1:]) * p, top + (row + 1 + half * 2) * p


def _plug_text(pinmap: PinMap, parts: dict[str, Part], plug: breadboard.Plug) -> str:
    _, cname = _colour(plug.source)
    if plug.kind == "bridge":
        return f"{cname} wire {plug.to} (joins the halves)"
    if plug.kind == "leg":
        return f"resistor {plug.to} leg"
    if plug.part == BUS_PART:
        return f"{cname} wire to ESP32 {plug.source} pin"
    if plug.part == breadboard.BOARD or plug.part in breadboard.ON_BREADBOARD:
        return f"{cname} wire to ESP32 GPIO{pinmap.pins[plug.source]} {plug.source}"
    return f"{cname} wire to {_short(parts[plug.part])} {plug.to}"


def _hole_list(pinmap: PinMap, plan: Layout, parts: list[Part]) -> list[tuple[str, str, str]]:
    """(hole, net, what goes in it) for every used hole, strip by strip: the numbers drawn in the holes."""
    by_id = {p.id: p for p in parts}
    entries = [(p.hole, p.net, _plug_text(pinmap, by_id, p)) for p in plan.plugs]
    taken = {p.hole for p in plan.plugs}
    for r in plan.resistors:
        for hole, other in (r.holes, r.holes[::-1]):
            if hole not in taken:
                entries.append((hole, plan.strip_of(hole).net, f"resistor {r.value}, other leg in {other}"))
    order = {(s.column, s.half): i for i, s in enumerate(plan.strips)}
    return sorted(entries, key=lambda e: (order[(plan.strip_of(e[0]).column, plan.strip_of(e[0]).half)],
                                          plan.board.rows.index(e[0][0])))


def _breadboard_block(pinmap: PinMap, plan: Layout, parts: list[Part]) -> list[Block]:
    board = plan.board
    p = board.pitch_mm * BREADBOARD_SCALE
    rows_tall = len(board.rows) + 2 * (len(board.halves) - 1)  # the gap is two extra pitches
    width = (board.columns + 1) * p
    height = (rows_tall + 1) * p
    left = MARGIN + (CONTENT_W - width) / 2
    label_h = 11.0
    numbered = _hole_list(pinmap, plan, parts)
    number = {hole: i + 1 for i, (hole, _, _) in enumerate(numbered)}
    title = f"1. The power bus: the breadboard, drawn {BREADBOARD_SCALE}× real size"
    how = (f"A {board.columns * len(board.rows)}-hole breadboard: each column is two strips of "
           f"{board.strip_holes} connected holes ({board.halves[0][0]}-{board.halves[0][-1]} and "
           f"{board.halves[-1][0]}-{board.halves[-1][-1]}). Tape a label on each coloured strip. Push each "
           "wire into the hole with its number; the list says what goes where.")

    def draw(top: float) -> tuple[list[str], float]:
        out, y = _paragraph(MARGIN, top, title, HEADING, "bold")
        intro, y = _paragraph(MARGIN, y, how, BODY)
        out += intro
        board_top = y + label_h + 2
        out.append(f'<g data-breadboard="{board.columns}x{len(board.rows)}" data-scale="{BREADBOARD_SCALE}" '
                   f'data-pitch="{_n(p)}">')
        out.append(_rect(left, board_top, width, height, "#FAFAFA", width=0.5, rx=2.5))
        for strip in plan.strips:
            holes = strip.holes(board)
            (x1, y1), (_, y2) = _hole_xy(plan, holes[0], left, board_top), _hole_xy(plan, holes[-1], left, board_top)
            colour, _ = _colour(strip.net)
            out.append(_rect(x1 - p / 2 + 0.4, y1 - p / 2 + 0.4, p - 0.8, y2 - y1 + p - 0.8, "#FFFFFF", colour, 1.0,
                             extra=f' data-strip="{strip.column}{holes[0][0]}-{holes[-1][0]}" data-net="{strip.net}"'))
            label_y = board_top - label_h - 1 if strip.half == 0 else board_top + height + 1
            label_w = breadboard.NET_SPACING * p - 1.5
            out += _boxed(x1 - label_w / 2, label_y, label_w, label_h, strip.label, BODY, anchor="middle",
                          fill="#FFFFFF")
        for i, row in enumerate(board.rows):
            _, ry = _hole_xy(plan, f"{row}1", left, board_top)
            out.append(_text(round(left + p / 2 - 1.2, 3), round(ry + 1.1, 3), row, 3.2, "middle", fill=MUTED))
        for c in range(1, board.columns + 1):
            cx, _ = _hole_xy(plan, f"a{c}", left, board_top)
            out.append(_text(round(cx, 3), round(board_top + p / 2 - 0.2, 3), str(c), 3.2, "middle", fill=MUTED))
        holes = [f"{row}{c}" for c in range(1, board.columns + 1) for row in board.rows]
        for hole in holes:  # the empty ones first: resistor bodies may lie over them
            if hole not in number:
                x, yy = _hole_xy(plan, hole, left, board_top)
                out.append(_rect(x - 1.1, yy - 1.1, 2.2, 2.2, "#BBBBBB", "#777777", 0.2, 0.3,
                                 extra=f' data-hole="{hole}"'))
        for r in plan.resistors:
            (ax, ay), (bx, by) = (_hole_xy(plan, h, left, board_top) for h in r.holes)
            out.append(_wire(ax, ay, bx, by, "#C8A165", 0.8, 0.5))
            body = 13.0
            mx = (ax + bx) / 2
            out += _boxed(mx - body / 2, ay - 2.4, body, 4.8, r.value, SMALL, anchor="middle", fill="#E9D8B4",
                          extra=f' data-resistor="{r.holes[0]} {r.holes[1]}"')
        bridges = [pl for pl in plan.plugs if pl.kind == "bridge"]
        for a, b in zip(bridges[::2], bridges[1::2]):
            (ax, ay), (bx, by) = (_hole_xy(plan, h, left, board_top) for h in (a.hole, b.hole))
            out.append(_wire(ax, ay, bx, by, _colour(a.net)[0], 1.4, 0.8)
                       .replace("<line ", f'<line data-bridge="{a.hole} {b.hole}" ', 1))
        wire_of = {pl.hole: pl for pl in plan.plugs}
        for hole in (h for h in holes if h in number):
            x, yy = _hole_xy(plan, hole, left, board_top)
            pl = wire_of.get(hole)
            tag = f' data-hole="{hole}"'
            if pl and pl.kind != "bridge" and pl.part != breadboard.BOARD:
                tag += f' data-wire="{pl.part}/{escape(pl.to, {chr(34): "&quot;"})}"'
            s = 6.0
            out.append(_rect(x - s / 2 - 0.3, yy - s / 2 - 0.3, s + 0.6, s + 0.6, INK, INK, 0.2, 1.6))
            out += _boxed(x - s / 2, yy - s / 2, s, s, str(number[hole]), SMALL, anchor="middle",
                          fill="#FFFFFF", max_lines=1, extra=tag, pad=0.4)
        out.append("</g>")
        below = label_h + 1 if any(s.half for s in plan.strips) else 0
        return out, board_top + height + below

    return [Block(draw), *_hole_list_blocks(plan, numbered)]


def _hole_list_blocks(plan: Layout, numbered: list[tuple[str, str, str]]) -> list[Block]:
    """The numbered list under the drawing: one box per net, two columns of entries."""
    blocks = []
    row_h = 6.2
    col_w = (CONTENT_W - 4) / 2
    i = 0
    for net in dict.fromkeys(s.net for s in plan.strips):
        strips = [s for s in plan.strips if s.net == net]
        entries = [(i + k + 1, e) for k, e in enumerate(e for e in numbered if e[1] == net)]
        i += len(entries)
        columns = sorted({s.column for s in strips})
        where = f"column {', '.join(map(str, columns))}"
        if len(strips) > 1:
            where += f", both halves: {len(entries) - 2} wires and the jumper that joins the halves"
        heading = f"{strips[0].label}: {where}"

        def draw(top: float, heading=heading, entries=entries, net=net) -> tuple[list[str], float]:
            colour, _ = _colour(net)
            n_rows = (len(entries) + 1) // 2
            box_h = 9 + n_rows * row_h + 1.5
            out = [_rect(MARGIN, top, CONTENT_W, box_h, "#FFFFFF", colour, 0.8, 2)]
            out.append(_text(MARGIN + 3, round(top + 6.2, 3), heading, BODY, weight="bold"))
            for k, (num, (hole, _, what)) in enumerate(entries):
                x = MARGIN + 2 + (k // n_rows) * (col_w + 0.0)
                y = top + 8.5 + (k % n_rows) * row_h
                out += _boxed(x, y, 9, row_h - 0.8, str(num), BODY, anchor="middle", fill="#FFFFFF", max_lines=1)
                out += _boxed(x + 10, y, col_w - 12, row_h - 0.8, f"{hole}: {what}", SMALL, "normal", max_lines=1)
            return out, top + box_h

        blocks.append(Block(draw, 3.0))
    return blocks


# ---------------------------------------------------------------- the ESP32 board


def _board_block(pinmap: PinMap, plan: Layout, parts: list[Part]) -> Block:
    """Both headers of the DevKit in their physical order; the pins in use labelled outside."""
    role_of_gpio = {gpio: role for role, gpio in pinmap.pins.items()}
    users: dict[str, list[str]] = {str(pinmap.pins[p.source]): [f"breadboard {p.hole}"]
                                   for p in plan.plugs if p.part == breadboard.BOARD}
    for part in parts:
        for w in part.wires:
            if w.source in RAILS:
                if part.id == BUS_PART:
                    users.setdefault(w.source, []).append(f"breadboard {plan.hole(part.id, w.to)}")
                continue
            key = str(pinmap.pins[w.source])
            if w.source in plan.shared:
                continue
            target = (f"breadboard {plan.hole(part.id, w.to)}" if part.id in breadboard.ON_BREADBOARD
                      else _short(part))
            users.setdefault(key, []).append(target)
    pitch, board_w = 5.6, 38.0
    board_x = MARGIN + (CONTENT_W - board_w) / 2
    label_w = (CONTENT_W - board_w) / 2 - 3
    title = "2. The ESP32 board's pins, USB end down (not to scale)"
    rows = len(LEFT_HEADER)

    def draw(top: float) -> tuple[list[str], float]:
        out, y = _paragraph(MARGIN, top, title, HEADING, "bold")
        body_top = y + 1
        first = body_top + 12
        height = pitch * (rows - 1) + 20
        out += [
            _rect(board_x, body_top, board_w, height, LIGHT, width=0.6, rx=2.5),
            _text(round(board_x + board_w / 2, 3), round(body_top + 7, 3), "ESP32", BODY, "middle", "bold", MUTED),
            _rect(board_x + board_w / 2 - 6, body_top + height - 3, 12, 6, "#FFFFFF", width=0.6, rx=0.8),
        ]
        drawn: set[str] = set()
        for side, header in (("left", LEFT_HEADER), ("right", RIGHT_HEADER)):
            px = board_x + 4 if side == "left" else board_x + board_w - 4
            for i, pin in enumerate(header):
                cy = first + i * pitch
                key = str(pin)
                used = key in users and key not in drawn
                if used and isinstance(pin, str):
                    drawn.add(key)
                source = role_of_gpio.get(pin, "") if isinstance(pin, int) else str(pin)
                colour, cname = _colour(source) if used else ("#FFFFFF", "")
                inner = px + 3 if side == "left" else px - 3
                out.append(_text(round(inner, 3), round(cy + 1.2, 3), str(pin), 3.2,
                                 "start" if side == "left" else "end", "bold" if used else "normal",
                                 INK if used else MUTED))
                if used:
                    edge = board_x - 3 if side == "left" else board_x + board_w + 3
                    out.append(_wire(px, cy, edge, cy, colour, 1.2, 0.6))
                    name = f"GPIO{pin} {source}" if isinstance(pin, int) else f"{pin}"
                    text = f"{name}: {', '.join(users[key])} ({cname})"
                    bx = edge - label_w if side == "left" else edge
                    out += _boxed(bx, cy - pitch / 2 + 0.3, label_w, pitch - 0.6, text, SMALL, "normal",
                                  anchor="end" if side == "left" else "start", max_lines=1)
                out.append(f'<circle cx="{_n(px)}" cy="{_n(cy)}" r="1.3" fill="{colour}" stroke="{INK}" '
                           f'stroke-width="0.4"/>')
        return out, body_top + height + 4

    return Block(draw)


# ---------------------------------------------------------------- one card per part


def _strip_hole(plan: Layout, hole: str) -> str:
    return f"{plan.strip_of(hole).label} strip, hole {hole}"


def _ends(pinmap: PinMap, plan: Layout, part: Part, w) -> tuple[str, str, str]:
    """(from, through, to) of one wire as a builder does it."""
    colour = _colour(w.source)[1]
    if part.id == BUS_PART:
        return f"ESP32 {w.source} pin", f"{colour} wire", _strip_hole(plan, plan.hole(part.id, w.to))
    if part.id in breadboard.ON_BREADBOARD:
        if w.source in RAILS:
            return _strip_hole(plan, plan.hole(part.id, w.to)), "resistor leg", w.to
        return (f"ESP32 {_pin_name(pinmap.pins[w.source])} {w.source}", f"{colour} wire",
                _strip_hole(plan, plan.hole(part.id, w.to)))
    if w.source in RAILS or w.source in plan.shared:
        return _strip_hole(plan, plan.hole(part.id, w.to)), f"{colour} wire", w.to
    return f"ESP32 {_pin_name(pinmap.pins[w.source])} {w.source}", f"{colour} wire", w.to


def _card(pinmap: PinMap, plan: Layout, part: Part, number: int) -> Block:
    inner = CONTENT_W - 8
    note = _lines(part.note, inner, SMALL, "normal") if part.note else []
    row_h, end_w = 11.0, 64.0
    mid_w = inner - 2 * end_w - 8
    rows = [(_ends(pinmap, plan, part, w), w) for w in part.wires]
    extra = [p for p in plan.plugs if p.kind == "bridge"][::2] if part.id == BUS_PART else []
    shared = [p for p in plan.plugs if p.part == breadboard.BOARD] if part.id == BUS_PART else []
    height = 10 + len(note) * SMALL * 1.25 + 2 + (len(rows) + len(extra) + len(shared)) * row_h + 2

    def draw(top: float) -> tuple[list[str], float]:
        dash = ' stroke-dasharray="3 1.5"' if part.optional else ""
        out = [_rect(MARGIN, top, CONTENT_W, height, "#FFFFFF", width=0.6, rx=2.5, extra=dash)]
        out.append(_text(MARGIN + 4, round(top + 7.5, 3), f"{number}. {part.label}", HEADING, weight="bold"))
        y = top + 9
        for ln in note:
            y += SMALL * 1.25
            out.append(_text(MARGIN + 4, round(y, 3), ln, SMALL, fill=MUTED))
        y += 2.5
        lines = [(ends, _colour(w.source)[0], w.note) for ends, w in rows]
        lines += [((_strip_hole(plan, b.hole), "short black wire", _strip_hole(plan, b.to[3:])),
                   _colour(b.net)[0], "") for b in extra]
        lines += [((f"ESP32 GPIO{pinmap.pins[b.source]} {b.source}", f"{_colour(b.source)[1]} wire",
                    _strip_hole(plan, b.hole)), _colour(b.source)[0], "") for b in shared]
        for (src, through, dst), colour, wnote in lines:
            x = MARGIN + 4
            cy = y + row_h / 2 - 0.5
            out.append(_wire(x + end_w, cy, x + end_w + 8 + mid_w, cy, colour, 2.0, 0.8))
            out += _boxed(x, y, end_w, row_h - 1.5, src)
            label = through if not wnote else f"{through}; {wnote}"
            out += _boxed(x + end_w + 4, y, mid_w, row_h - 1.5, label, SMALL, anchor="middle", fill="#FFFFFF")
            out += _boxed(x + end_w + 8 + mid_w, y, end_w, row_h - 1.5, dst)
            y += row_h
        return out, top + height

    return Block(draw)


# ---------------------------------------------------------------- pages


def _page(pinmap: PinMap, subtitle: str, number: int, total: int, body: list[str]) -> str:
    title = f"airtrail {pinmap.title.lower()}: wiring sheet {number} of {total}"
    head = [
        _text(MARGIN, MARGIN + 5, title, TITLE, weight="bold"),
        _text(MARGIN, MARGIN + 11, subtitle, BODY, weight="bold"),
        _text(PAGE_W - MARGIN, MARGIN + 11, f"hardware/pins/{pinmap.variant}.toml", SMALL, "end", fill=MUTED),
    ]
    foot = [_text(MARGIN, PAGE_H - MARGIN + 2, "Print on A4 at actual size (100 %). Generated from the pin map: "
                  "do not edit, run `airtrail kit docs`.", SMALL, fill=MUTED)]
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(PAGE_W)}mm" height="{_n(PAGE_H)}mm" '
        f'viewBox="0 0 {_n(PAGE_W)} {_n(PAGE_H)}" font-family="{FONT}" role="img">',
        f"<title>{escape(title + ', ' + subtitle)}</title>",
        f'<rect x="0" y="0" width="{_n(PAGE_W)}" height="{_n(PAGE_H)}" fill="#FFFFFF"/>',
        *head, *body, *foot,
        "</svg>",
        "",
    ])


HEADER_H = MARGIN + 16
FOOTER_H = MARGIN + 4


def render_sheets(pinmap: PinMap, alternate: str = "") -> list[str]:
    """The A4 pages for one variant (optionally with an alternate part fitted)."""
    parts = [p for p in fitted_parts(pinmap, alternate) if p.wires]
    plan = breadboard.layout(pinmap, parts)
    blocks = _breadboard_block(pinmap, plan, parts)
    blocks.append(_board_block(pinmap, plan, parts))
    blocks.append(Block(lambda top: _paragraph(
        MARGIN, top, "3. Part by part. Names are the ESP32 side: pm_tx is the ESP32's TX pin, wired to the "
        "part's RX pin. A dashed card is an optional part.", BODY, "bold"), 1.0, keep_with_next=True))
    blocks += [_card(pinmap, plan, part, i + 1) for i, part in enumerate(parts)]
    pages: list[list[str]] = [[]]
    y = HEADER_H
    for i, block in enumerate(blocks):
        if block.height > PAGE_H - HEADER_H - FOOTER_H:
            raise SheetError(f"a block of {block.height:.0f} mm does not fit on an A4 page")
        needed = block.height + (blocks[i + 1].height if block.keep_with_next and i + 1 < len(blocks) else 0)
        if y + needed > PAGE_H - FOOTER_H:
            pages.append([])
            y = HEADER_H
        elements, bottom = block.draw(y)
        pages[-1] += elements
        y = bottom + block.gap
    subtitle = f"with the {pinmap.part(alternate).label}" if alternate else pinmap.board.split(" (")[0]
    return [_page(pinmap, subtitle, i + 1, len(pages), body) for i, body in enumerate(pages)]


def sheets_all(maps: dict[str, PinMap]) -> dict[str, str]:
    """File name -> SVG page, for every variant and alternate part: walk-sheet-1.svg, ..."""
    out = {}
    for variant, pinmap in sorted(maps.items()):
        for alternate in ["", *(p.id for p in pinmap.parts if p.alternate_for)]:
            stem = f"{variant}-{alternate}" if alternate else variant
            for i, page in enumerate(render_sheets(pinmap, alternate)):
                out[f"{stem}-sheet-{i + 1}.svg"] = page
    return out
