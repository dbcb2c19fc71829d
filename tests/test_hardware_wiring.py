"""Wiring diagrams: generated from the pin maps, readable without colour, never stale."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airkit.errors import ConfigError
from airtrail.cli import app
from hardware import bom, breadboard, generate, pins, sheets, wiring

SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.split("?>", 1)[1])
    return ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]


def contrast(hex_colour: str, background: str = "#FFFFFF") -> float:
    """WCAG 2.1 contrast ratio between two sRGB colours."""

    def luminance(h: str) -> float:
        channels = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((luminance(hex_colour), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.fixture(scope="module")
def maps():
    return pins.load_all()


def test_committed_svgs_are_exactly_what_the_pin_maps_produce():
    assert generate.stale(generate.wiring_svgs()) == [], "run `airtrail kit wiring`"
    assert generate.orphans() == []


def test_there_is_a_drawing_per_kit_and_per_alternate_part(maps):
    assert sorted(wiring.render_all(maps)) == ["fixed-sds011.svg", "fixed.svg", "walk-sds011.svg", "walk.svg"]


@pytest.mark.parametrize("variant", ["walk", "fixed"])
def test_every_wire_is_labelled_with_its_pin_colour_name_and_part_pin(maps, variant):
    pinmap = maps[variant]
    labels = texts(wiring.render_svg(pinmap))
    for part in wiring.fitted_parts(pinmap):
        for w in part.wires:
            _, colour_name = wiring.COLOURS[w.source]
            assert w.to in labels, (part.id, w.to)
            assert colour_name in labels, (part.id, w.source)
            if w.source not in pins.RAILS:
                assert f"GPIO{pinmap.pins[w.source]} {w.source}" in labels


def test_a_moved_pin_moves_in_the_drawing(maps):
    data = dict(maps["walk"].pins, led=26)
    moved = pins.PinMap(**{**maps["walk"].__dict__, "pins": data})
    svg = wiring.render_svg(moved)
    assert "GPIO26 led" in texts(svg) and "GPIO25 led" not in texts(svg)
    assert svg != wiring.render_svg(maps["walk"])


def test_the_alternate_drawing_swaps_the_part(maps):
    labels = texts(wiring.render_svg(maps["walk"], alternate="sds011"))
    assert "SDS011 particle sensor" in labels and "PMS5003 particle sensor" not in labels
    assert "7 TXD" in labels and "3 SET" not in labels


def test_optional_parts_are_drawn_dashed_and_said_to_be_optional(maps):
    svg = wiring.render_svg(maps["fixed"])
    assert "SCD40 CO2 sensor (optional)" in texts(svg)
    assert "stroke-dasharray" in svg


@pytest.mark.parametrize("name", ["walk.svg", "fixed.svg", "walk-sds011.svg"])
def test_text_is_large_and_dark_enough_for_a_phone_and_print(maps, name):
    svg = wiring.render_all(maps)[name]
    sizes = [int(s) for s in re.findall(r'font-size="(\d+)"', svg)]
    assert min(sizes) >= 14
    for fill in set(re.findall(r'<text[^>]*fill="(#[0-9A-Fa-f]{6})"', svg)):
        assert contrast(fill) >= 4.5, fill  # WCAG AA for body text


def test_every_wire_colour_is_visible_on_white_thanks_to_its_dark_casing(maps):
    root = ET.fromstring(wiring.render_svg(maps["walk"]).split("?>", 1)[1])
    lines = list(root.iter(SVG_NS + "line"))
    coloured = [(i, ln) for i, ln in enumerate(lines) if ln.get("stroke") != wiring.INK]
    assert coloured
    for i, ln in coloured:
        casing = lines[i - 1]  # drawn just before, underneath
        assert casing.get("stroke") == wiring.INK
        assert [casing.get(k) for k in ("x1", "y1", "x2", "y2")] == [ln.get(k) for k in ("x1", "y1", "x2", "y2")]
        assert int(casing.get("stroke-width")) == int(ln.get("stroke-width")) + 4


def test_the_drawing_has_a_title_and_a_text_description_for_screen_readers(maps):
    svg = wiring.render_svg(maps["walk"])
    root = ET.fromstring(svg.split("?>", 1)[1])
    assert root.find(SVG_NS + "title").text.startswith("airtrail walk kit")
    assert "GPIO18 pm_tx to 4 RXD" in root.find(SVG_NS + "desc").text


def test_wiring_check_fails_when_a_drawing_is_stale_and_the_command_fixes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "WIRING_DIR", tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["kit", "wiring"]).exit_code == 0
    (tmp_path / "walk.svg").write_text((tmp_path / "walk.svg").read_text().replace("GPIO18", "GPIO17"))
    (tmp_path / "old-part.svg").write_text("<svg/>")

    result = runner.invoke(app, ["kit", "wiring", "--check"])
    assert result.exit_code == 1
    assert "walk.svg" in str(result.exception) and "old-part.svg" in str(result.exception)

    assert runner.invoke(app, ["kit", "wiring"]).exit_code == 0
    assert runner.invoke(app, ["kit", "wiring", "--check"]).exit_code == 0
    assert not (tmp_path / "old-part.svg").exists()


# ---------------------------------------------------------------- the A4 wiring sheets

A4 = (210.0, 297.0)
PRINTABLE_MARGIN = 5.0  # most printers cannot print closer than this to the edge
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core


class TrueTypeFont:
    """Advance widths and line extents read straight from a TTF file (head, hhea, hmtx, cmap format 4)."""

    def __init__(self, path: Path):
        data = path.read_bytes()
        tables = {}
        for i in range(struct.unpack_from(">H", data, 4)[0]):
            tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            tables[tag.decode()] = offset
        self.units_per_em = struct.unpack_from(">H", data, tables["head"] + 18)[0]
        ascender, descender = struct.unpack_from(">hh", data, tables["hhea"] + 4)
        self.ascent, self.descent = ascender / self.units_per_em, -descender / self.units_per_em
        n_metrics = struct.unpack_from(">H", data, tables["hhea"] + 34)[0]
        self.advances = [struct.unpack_from(">H", data, tables["hmtx"] + 4 * i)[0] for i in range(n_metrics)]
        cmap = tables["cmap"]
        for i in range(struct.unpack_from(">H", data, cmap + 2)[0]):
            platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
            if (platform, encoding) == (3, 1):  # Windows Unicode BMP, format 4
                sub = cmap + offset
        segs = struct.unpack_from(">H", data, sub + 6)[0] // 2
        self.ends = struct.unpack_from(f">{segs}H", data, sub + 14)
        self.starts = struct.unpack_from(f">{segs}H", data, sub + 16 + 2 * segs)
        self.deltas = struct.unpack_from(f">{segs}h", data, sub + 16 + 4 * segs)
        self.range_at = sub + 16 + 6 * segs
        self.ranges = struct.unpack_from(f">{segs}H", data, self.range_at)
        self.data = data

    def glyph(self, ch: str) -> int:
        code = ord(ch)
        for k, (start, end) in enumerate(zip(self.starts, self.ends)):
            if start <= code <= end:
                if self.ranges[k] == 0:
                    return (code + self.deltas[k]) & 0xFFFF
                at = self.range_at + 2 * k + self.ranges[k] + 2 * (code - start)
                g = struct.unpack_from(">H", self.data, at)[0]
                return (g + self.deltas[k]) & 0xFFFF if g else 0
        return 0

    def advance(self, ch: str) -> int:
        g = self.glyph(ch)
        assert g, f"{ch!r} is not in the font: it would print as a box"
        return self.advances[min(g, len(self.advances) - 1)]

    def width(self, s: str, size: float) -> float:
        return sum(self.advance(ch) for ch in s) * size / self.units_per_em


def _fonts() -> dict[str, TrueTypeFont] | None:
    files = {"normal": DEJAVU / "DejaVuSans.ttf", "bold": DEJAVU / "DejaVuSans-Bold.ttf"}
    return {w: TrueTypeFont(p) for w, p in files.items()} if all(p.exists() for p in files.values()) else None


FONTS = _fonts()


def text_box(el: ET.Element) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a <text>, measured with the real DejaVu font when installed."""
    size, weight = float(el.get("font-size")), el.get("font-weight", "normal")
    s = "".join(el.itertext())
    if FONTS:
        font = FONTS[weight]
        width, ascent, descent = font.width(s, size), font.ascent, font.descent
    else:  # the table the generator uses, itself checked against the TTF where the font is installed
        width, ascent, descent = sheets.text_width(s, size, weight), sheets.ASCENT, sheets.DESCENT
    x, y = float(el.get("x")), float(el.get("y"))
    x0 = x - width * {"start": 0, "middle": 0.5, "end": 1}[el.get("text-anchor", "start")]
    return x0, y - ascent * size, x0 + width, y + descent * size


def element_box(el: ET.Element) -> tuple[float, float, float, float] | None:
    tag = el.tag.removeprefix(SVG_NS)
    half = float(el.get("stroke-width", 0)) / 2
    if tag == "rect":
        x, y, w, h = (float(el.get(k)) for k in ("x", "y", "width", "height"))
        return x - half, y - half, x + w + half, y + h + half
    if tag == "line":
        x1, y1, x2, y2 = (float(el.get(k)) for k in ("x1", "y1", "x2", "y2"))
        return min(x1, x2) - half, min(y1, y2) - half, max(x1, x2) + half, max(y1, y2) + half
    if tag == "circle":
        cx, cy, r = (float(el.get(k)) for k in ("cx", "cy", "r"))
        return cx - r - half, cy - r - half, cx + r + half, cy + r + half
    if tag == "text":
        return text_box(el)
    assert tag in ("svg", "g", "title", "desc"), f"unexpected element <{tag}>: teach element_box its extent"
    return None


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.split("?>", 1)[1])


def mm(value: str) -> float:
    assert value.endswith("mm"), value
    return float(value[:-2])


SHEETS = sheets.sheets_all(pins.load_all())
KITS = ["walk", "walk-sds011", "fixed", "fixed-sds011"]


def pages_of(kit: str) -> list[ET.Element]:
    names = sorted((n for n in SHEETS if n.rsplit("-sheet-", 1)[0] == kit), key=lambda n: int(n[:-4].rsplit("-", 1)[1]))
    return [parse(SHEETS[n]) for n in names]


def test_every_kit_and_alternate_part_has_numbered_a4_sheets():
    for kit in KITS:
        numbers = sorted(int(n[:-4].rsplit("-", 1)[1]) for n in SHEETS if n.rsplit("-sheet-", 1)[0] == kit)
        assert numbers == list(range(1, len(numbers) + 1)) and numbers, kit
    assert {n.rsplit("-sheet-", 1)[0] for n in SHEETS} == set(KITS)
    assert set(SHEETS) <= {p.name for p in generate.wiring_svgs()}, "the sheets are checked for staleness"


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_each_page_is_a4_in_millimetres_with_one_user_unit_per_mm(name):
    root = parse(SHEETS[name])
    w, h = mm(root.get("width")), mm(root.get("height"))
    assert (w, h) in (A4, A4[::-1]), (w, h)
    assert [float(v) for v in root.get("viewBox").split()] == [0, 0, w, h], "1 user unit = 1 mm: prints at scale"


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_every_element_lies_inside_the_printable_part_of_the_page(name):
    root = parse(SHEETS[name])
    _, _, w, h = (float(v) for v in root.get("viewBox").split())
    for el in root.iter():
        box = element_box(el)
        if box is None or (el.tag == SVG_NS + "rect" and float(el.get("width")) == w):
            continue  # the white page background
        x0, y0, x1, y1 = box
        assert PRINTABLE_MARGIN <= x0 and x1 <= w - PRINTABLE_MARGIN, (el.attrib, "".join(el.itertext()))
        assert PRINTABLE_MARGIN <= y0 and y1 <= h - PRINTABLE_MARGIN, (el.attrib, "".join(el.itertext()))


def _rects(root: ET.Element) -> list[tuple[float, float, float, float]]:
    out = []
    for r in root.iter(SVG_NS + "rect"):
        x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
        out.append((x, y, x + w, y + h))
    return out


def overruns(root: ET.Element) -> list[str]:
    """Texts not wholly inside the smallest box their anchor point is in (at worst the page)."""
    rects = _rects(root)
    out = []
    for t in root.iter(SVG_NS + "text"):
        x, y = float(t.get("x")), float(t.get("y"))
        holding = [r for r in rects if r[0] <= x <= r[2] and r[1] <= y <= r[3]]
        x0, y0, x1, y1 = min(holding, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
        tx0, ty0, tx1, ty1 = text_box(t)
        if not (x0 <= tx0 and tx1 <= x1 and y0 <= ty0 and ty1 <= y1):
            out.append("".join(t.itertext()))
    return out


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_no_label_overruns_its_box(name):
    root = parse(SHEETS[name])
    assert list(root.iter(SVG_NS + "text"))
    assert overruns(root) == []


def test_the_overrun_check_catches_a_label_longer_than_its_box():
    page = next(svg for svg in SHEETS.values() if ">1 VCC<" in svg)
    assert overruns(parse(page.replace(">1 VCC<", ">1 VCC, the supply pin of the particle sensor<"))) == [
        "1 VCC, the supply pin of the particle sensor"]


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_no_two_labels_overlap(name):
    boxes = [(text_box(t), "".join(t.itertext())) for t in parse(SHEETS[name]).iter(SVG_NS + "text")]
    for i, ((a0, b0, a1, b1), s) in enumerate(boxes):
        for (c0, d0, c1, d1), u in boxes[i + 1:]:
            assert a1 <= c0 or c1 <= a0 or b1 <= d0 or d1 <= b0, (s, u)


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_sheet_text_is_at_least_nine_points_and_dark(name):
    svg = SHEETS[name]
    sizes = [float(s) for s in re.findall(r'<text[^>]*font-size="([\d.]+)"', svg)]
    assert min(sizes) >= 3.1  # mm: 8.8 pt, the column numbers; labels are 3.4 mm and up
    for fill in set(re.findall(r'<text[^>]*fill="(#[0-9A-Fa-f]{6})"', svg)):
        assert contrast(fill) >= 4.5, fill


def _breadboard(kit: str) -> ET.Element:
    [group] = [g for page in pages_of(kit) for g in page.iter(SVG_NS + "g") if g.get("data-breadboard")]
    return group


@pytest.mark.parametrize("kit", KITS)
def test_the_breadboard_drawn_is_the_one_in_the_bom_at_its_stated_scale(kit):
    board = breadboard.geometry(bom.load_data())
    group = _breadboard(kit)
    scale = float(group.get("data-scale"))
    assert group.get("data-breadboard") == f"{board.columns}x{len(board.rows)}"
    assert board.columns * len(board.rows) == 170  # the BOM's "170 tie points"
    holes = {r.get("data-hole"): r for r in group.iter(SVG_NS + "rect") if r.get("data-hole")}
    assert set(holes) == {f"{row}{c}" for row in board.rows for c in range(1, board.columns + 1)}

    def centre(hole: str) -> tuple[float, float]:
        r = holes[hole]
        return float(r.get("x")) + float(r.get("width")) / 2, float(r.get("y")) + float(r.get("height")) / 2

    assert centre("a2")[0] - centre("a1")[0] == pytest.approx(board.pitch_mm * scale)
    assert centre("b1")[1] - centre("a1")[1] == pytest.approx(board.pitch_mm * scale)
    assert centre("f1")[1] - centre("e1")[1] == pytest.approx(3 * board.pitch_mm * scale)  # the 0.3 inch gap
    stated = [t for page in pages_of(kit) for t in texts_of(page) if "real size" in t]
    assert any(f"drawn {scale:g}× real size" in t for t in stated), stated


def texts_of(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]


@pytest.mark.parametrize("kit", KITS)
def test_every_power_connection_in_the_pin_map_has_its_own_hole_on_a_strip_of_its_net(kit):
    variant, _, alternate = kit.partition("-")
    pinmap = pins.load_all()[variant]
    board = breadboard.geometry(bom.load_data())
    group = _breadboard(kit)
    strips = {}  # (column, half) -> net, as drawn
    for r in group.iter(SVG_NS + "rect"):
        if r.get("data-strip"):
            column, rows = re.fullmatch(r"(\d+)([a-z]-[a-z])", r.get("data-strip")).groups()
            half = next(i for i, h in enumerate(board.halves) if rows == f"{h[0]}-{h[-1]}")
            strips[(int(column), half)] = r.get("data-net")
    bridges = [ln.get("data-bridge").split() for ln in group.iter(SVG_NS + "line") if ln.get("data-bridge")]

    def strip_of(hole: str) -> tuple[int, int]:
        return int(hole[1:]), next(i for i, h in enumerate(board.halves) if hole[0] in h)

    ends = {}
    for r in group.iter(SVG_NS + "rect"):
        if r.get("data-wire"):
            assert r.get("data-wire") not in ends, r.get("data-wire")
            ends[r.get("data-wire")] = r.get("data-hole")
    checked = 0
    for part in wiring.fitted_parts(pinmap, alternate):
        for w in part.wires:
            if w.source in pins.RAILS:
                hole = ends.pop(f"{part.id}/{w.to}")  # KeyError: a power wire with no hole
                checked += 1
            elif f"{part.id}/{w.to}" in ends:  # a signal on the breadboard: the divider's middle
                hole = ends.pop(f"{part.id}/{w.to}")
            else:
                continue
            assert strips.get(strip_of(hole)) == w.source, (part.id, w.to, hole)
    assert checked >= 10 and not ends, ends  # no hole claims a wire the pin map does not have
    used = [h for pair in bridges for h in pair]
    assert len(used) == len(set(used))
    for net in set(strips.values()):
        mine = {s for s, n in strips.items() if n == net}
        joined = {frozenset((strip_of(a), strip_of(b))) for a, b in bridges}
        assert len(mine) == 1 or all(frozenset(pair) in joined for pair in zip(sorted(mine), sorted(mine)[1:])), net
    for a, b in bridges:
        assert strips[strip_of(a)] == strips[strip_of(b)], (a, b)


def test_the_walk_kits_six_ground_wires_take_both_halves_of_a_column_joined_by_a_jumper():
    plan = breadboard.layout(pins.load_variant("walk"), wiring.fitted_parts(pins.load_variant("walk")))
    ground = [p for p in plan.plugs if p.net == "GND" and p.kind != "bridge"]
    assert len(ground) == 6
    assert [(s.column, s.half) for s in plan.strips if s.net == "GND"] == [(10, 0), (10, 1)]
    assert sorted(p.hole for p in plan.plugs if p.kind == "bridge") == ["e10", "f10"]


def test_no_two_things_share_a_hole_and_5v_is_never_next_to_3v3():
    for variant, pinmap in pins.load_all().items():
        plan = breadboard.layout(pinmap, wiring.fitted_parts(pinmap))
        holes = [p.hole for p in plan.plugs] + [h for r in plan.resistors for h in r.holes
                                                 if h not in {p.hole for p in plan.plugs}]
        assert len(holes) == len(set(holes)), variant
        [five], [three] = ([s.column for s in plan.strips if s.net == n and s.half == 0] for n in ("5V", "3V3"))
        assert abs(five - three) > 2, variant


def test_a_pin_map_that_needs_more_holes_than_the_breadboard_has_is_refused():
    pinmap = pins.load_variant("walk")
    extra = pins.Part("fan", "Extra fans", wires=tuple(pins.Wire("GND", f"GND {i}") for i in range(4)))
    with pytest.raises(ConfigError, match="GND net needs 10 holes"):
        breadboard.layout(pinmap, [*wiring.fitted_parts(pinmap), extra])


def test_a_label_too_long_for_its_box_is_refused_rather_than_drawn_over_the_edge():
    walk = pins.load_variant("walk")
    long_pin = pins.Part("gps", "GPS", wires=(pins.Wire("gps_rx", "TX " * 40),))
    moved = pins.PinMap(**{**walk.__dict__, "parts": (*walk.parts[:4], long_pin, *walk.parts[5:])})
    with pytest.raises(sheets.SheetError, match="does not fit"):
        sheets.render_sheets(moved)


@pytest.mark.skipif(FONTS is None, reason="DejaVu fonts not installed (Debian: fonts-dejavu-core)")
def test_the_width_table_is_dejavu_sans_as_installed():
    for weight, font in FONTS.items():
        for i, units in enumerate(sheets.FONT_ADVANCES[weight]):
            assert font.advance(chr(32 + i)) == units, (weight, chr(32 + i))
        for ch, units in sheets.FONT_EXTRA_ADVANCES[weight].items():
            assert font.advance(ch) == units, (weight, ch)
        assert (font.units_per_em, font.ascent, font.descent) == (sheets.UNITS_PER_EM, sheets.ASCENT, sheets.DESCENT)


def test_the_sheets_name_the_font_they_were_measured_with_first():
    root = parse(SHEETS["walk-sheet-1.svg"])
    assert root.get("font-family").split(",")[0] == "DejaVu Sans"


def test_a_gpio_wired_to_two_parts_reaches_them_through_a_strip_because_a_header_pin_takes_one_wire():
    fixed = pins.load_variant("fixed")
    plan = breadboard.layout(fixed, wiring.fitted_parts(fixed))
    assert plan.shared == {"i2c_sda", "i2c_scl"}  # the BME280 and the SCD40 share the bus
    for role in plan.shared:
        on_strip = [p for p in plan.plugs if p.net == role]
        assert {p.part for p in on_strip} == {breadboard.BOARD, "bme280", "scd40"}
        assert len({plan.strip_of(p.hole) for p in on_strip}) == 1
    walk = pins.load_variant("walk")
    assert breadboard.layout(walk, wiring.fitted_parts(walk)).shared == set()


@pytest.mark.parametrize("kit", KITS)
def test_every_esp32_pin_has_at_most_one_wire_on_the_sheets(kit):
    """A header pin takes one Dupont connector: count the wires that start at each ESP32 pin on the cards."""
    starts = [t for page in pages_of(kit) for t in texts_of(page) if re.fullmatch(r"ESP32 (GPIO\d+ \w+|\w+ pin)", t)]
    assert starts and len(starts) == len(set(starts)), sorted(starts)
