"""Where every power wire goes on the kit's breadboard, worked out from the pin map.

    board = geometry()                        # the breadboard in hardware/bom.toml
    plan = layout(pinmap, wiring.fitted_parts(pinmap))
    plan.hole("pms5003", "2 GND")             # "c10"
    plan.strips                               # which strip carries which net

The breadboard is the kit's power bus. The DevKit has one 5V and one 3V3 pin
and few GND pins, so every part's power wire plugs into a strip instead:
one strip (column) per net, with empty columns between nets so a bent leg
cannot bridge 5V to 3V3. A strip has five holes; a net that needs more (the
walk kit's ground has six connections) takes the strip across the centre gap
too, joined by a short jumper, which costs one hole on each side.

The supply divider is the one part that sits *on* the breadboard: its two
resistors lie along rows a and b between the 5V strip, a strip of its own
(the middle, where the ADC wire plugs in) and the GND strip. Every other part
is a module on jumper wires. Its signal wires go straight to the ESP32, except
a GPIO that two parts share (I2C with an SCD40 fitted): a header pin takes
one connector, so that signal gets a strip too.
"""

from __future__ import annotations

from dataclasses import dataclass

from airkit.errors import ConfigError

from . import bom
from .pins import RAILS, Part, PinMap

# Columns from one net's strip to the next: two empty columns between them,
# so a bent leg or a stray strand cannot join 5V to 3V3. Where a divider
# resistor spans two strips they are four columns (0.4 inch) apart, the
# standard lead spacing of a 1/4 W resistor lying flat.
NET_SPACING = 3
RESISTOR_SPACING = 4
FIRST_COLUMN = 2
BOARD = "esp32"  # the part id of the ESP32's own jumpers to a shared signal strip
# A pin map that needs more strips or holes than the breadboard has raises
# ConfigError (the error tree is drawn in airkit/errors.py), which the CLI
# prints as a Problem line.
# Parts that are components on the breadboard rather than modules on wires.
ON_BREADBOARD = ("divider",)


@dataclass(frozen=True)
class Geometry:
    columns: int
    rows: str  # row letters, top to bottom; each half of them is one strip per column
    strip_holes: int
    pitch_mm: float
    power_rails: int

    @property
    def halves(self) -> tuple[str, ...]:
        return tuple(self.rows[i:i + self.strip_holes] for i in range(0, len(self.rows), self.strip_holes))


def geometry(data: dict | None = None) -> Geometry:
    """The breadboard the BOM lists, from its `layout` table in hardware/bom.toml."""
    spec = (data if data is not None else bom.load_data())["parts"]["breadboard"]["layout"]
    return Geometry(int(spec["columns"]), str(spec["rows"]), int(spec["strip_holes"]),
                    float(spec["pitch_mm"]), int(spec["power_rails"]))


@dataclass(frozen=True)
class Strip:
    column: int
    half: int  # index into Geometry.halves: 0 is rows a-e
    net: str  # "5V", "3V3", "GND", or the role of a divider's middle ("batt_adc")
    label: str  # printed above the column

    def holes(self, board: Geometry) -> list[str]:
        return [f"{row}{self.column}" for row in board.halves[self.half]]


@dataclass(frozen=True)
class Plug:
    """One thing in one hole."""

    hole: str
    net: str
    part: str  # the part id; "bridge" for the jumper that joins two halves, BOARD for the ESP32's
    to: str  # the part's pin label, as in the pin map
    source: str  # the wire's source in the pin map (a rail or a role): its colour
    kind: str  # "jumper" (a Dupont wire), "leg" (a resistor leg) or "bridge"


@dataclass(frozen=True)
class Resistor:
    value: str  # "220k"
    holes: tuple[str, str]
    part: str


@dataclass(frozen=True)
class Layout:
    board: Geometry
    strips: tuple[Strip, ...]
    plugs: tuple[Plug, ...]
    resistors: tuple[Resistor, ...]

    def hole(self, part: str, to: str) -> str:
        for p in self.plugs:
            if p.part == part and p.to == to:
                return p.hole
        raise KeyError((part, to))

    @property
    def shared(self) -> set[str]:
        """GPIO roles that reach their parts through a strip (used by more than one part)."""
        return {p.source for p in self.plugs if p.part == BOARD}

    def strip_of(self, hole: str) -> Strip:
        row, column = hole[0], int(hole[1:])
        half = next(i for i, rows in enumerate(self.board.halves) if row in rows)
        return next(s for s in self.strips if s.column == column and s.half == half)


def _ohms(value: int) -> str:
    return f"{value // 1000}k" if value % 1000 == 0 else f"{value}R"


def _needs(pinmap: PinMap, parts: list[Part]) -> dict[str, list[tuple[str, str, str]]]:
    """Net -> what must plug into it, in order: (part id, pin label, source).

    The rails; the divider's middle; and any GPIO that more than one part is
    wired to (the I2C lines with an SCD40 fitted), because a header pin takes
    one Dupont connector: the ESP32's wire goes to a strip and the parts'
    wires come from it.
    """
    nets: dict[str, list[tuple[str, str, str]]] = {"5V": []}
    for part in parts:
        if part.id in ON_BREADBOARD:
            for w in part.wires:
                if w.source not in RAILS:
                    nets.setdefault(w.source, [])
    nets.setdefault("GND", [])
    nets.setdefault("3V3", [])
    uses: dict[str, int] = {}
    for part in parts:
        for w in part.wires:
            if w.source not in RAILS and part.id not in ON_BREADBOARD:
                uses[w.source] = uses.get(w.source, 0) + 1
    for role, n in uses.items():
        if n > 1:
            nets[role] = [(BOARD, f"GPIO{pinmap.pins[role]}", role)]
    for part in parts:
        for w in part.wires:
            if w.source in nets and (w.source in RAILS or part.id in ON_BREADBOARD or uses.get(w.source, 0) > 1):
                nets[w.source].append((part.id, w.to, w.source))
    return {net: users for net, users in nets.items() if users}


def layout(pinmap: PinMap, parts: list[Part], board: Geometry | None = None) -> Layout:
    """Assign every wire that goes to the breadboard, and the divider's legs, a hole of their own."""
    board = board or geometry()
    needs = _needs(pinmap, parts)
    divider = [p for p in parts if p.id in ON_BREADBOARD]
    # the divider's middle strip also takes one leg of each resistor
    legs = {w.source: 2 for p in divider for w in p.wires if w.source not in RAILS}
    spanned = {frozenset((a.source, b.source)) for p in divider for a, b in zip(p.wires, p.wires[1:])}
    columns: dict[str, int] = {}
    for net in needs:
        if not columns:
            columns[net] = FIRST_COLUMN
            continue
        last = list(columns)[-1]
        gap = RESISTOR_SPACING if frozenset((last, net)) in spanned else NET_SPACING
        columns[net] = columns[last] + gap
    if max(columns.values()) > board.columns:
        raise ConfigError(f"{pinmap.variant} kit: {len(needs)} strips need {max(columns.values())} "
                              f"columns; the breadboard in bom.toml has {board.columns}")
    strips: list[Strip] = []
    free: dict[str, list[str]] = {}
    plugs: list[Plug] = []
    one, two = board.strip_holes, 2 * board.strip_holes - 2  # a bridge takes a hole on each side
    for net, users in needs.items():
        wanted = len(users) + legs.get(net, 0)
        if wanted > two or (wanted > one and len(board.halves) < 2):
            raise ConfigError(f"{pinmap.variant} kit: the {net} net needs {wanted} holes; a column of the "
                                  f"breadboard in bom.toml has {two if len(board.halves) > 1 else one}")
        label = "divider middle" if net in legs else net
        halves = [0] if wanted <= one else [0, 1]
        strips += [Strip(columns[net], h, net, label) for h in halves]
        holes = [h for s in strips if s.net == net for h in s.holes(board)]
        if len(halves) == 2:
            top, bottom = holes[one - 1], holes[one]  # e and f: each side of the gap
            plugs += [Plug(top, net, "bridge", f"to {bottom}", net, "bridge"),
                      Plug(bottom, net, "bridge", f"to {top}", net, "bridge")]
            holes = [h for h in holes if h not in (top, bottom)]
        free[net] = holes

    def take(net: str, row: str | None = None) -> str:
        hole = next(h for h in free[net] if row is None or h[0] == row)
        free[net].remove(hole)
        return hole

    resistors: list[Resistor] = []
    for part in divider:
        # the resistors lie along rows a, b, ...: between wire i's node and wire i + 1's
        values = [_ohms(v) for v in pinmap.divider or ()]
        wires = part.wires
        for i, (w1, w2) in enumerate(zip(wires, wires[1:])):
            row = board.rows[i]
            ends = []
            for w in (w1, w2):
                hole = take(w.source, row)
                ends.append(hole)
                if w.source in RAILS:
                    plugs.append(Plug(hole, w.source, part.id, w.to, w.source, "leg"))
            resistors.append(Resistor(values[i] if i < len(values) else "R", (ends[0], ends[1]), part.id))
    for net, users in needs.items():
        for part_id, to, source in users:
            if part_id in ON_BREADBOARD and source in RAILS:
                continue  # a resistor leg, placed above
            plugs.append(Plug(take(net), net, part_id, to, source, "jumper"))
    return Layout(board, tuple(strips), tuple(plugs), tuple(resistors))

