"""Pin maps: load them, check them against ESP32 pitfalls, generate the firmware's pins.py.

The data lives next to this module in ``hardware/pins/<variant>.toml`` (a
folder of data, not a package: this module is what ``import hardware.pins``
finds). Those files are the one source of truth for which GPIO does what;
``firmware/airkit/pins.py`` is rendered from them by
:func:`render_firmware_module`, never edited by hand.

    maps = load_all()                    # {"fixed": PinMap, "walk": PinMap}
    problems = check(maps["walk"])       # [] when the map is safe
    text = render_firmware_module(maps)  # the contents of firmware/airkit/pins.py
"""

from __future__ import annotations

from airkit.errors import ConfigError

import importlib.util
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import esp32

PINS_DIR = Path(__file__).with_name("pins")
# The firmware's generated pin module, found through the airkit package so it
# resolves in a checkout (firmware/airkit/) and in an installed wheel alike.
FIRMWARE_PINS = Path(importlib.util.find_spec("airkit").origin).with_name("pins.py")  # type: ignore[union-attr,arg-type]

# What each role does electrically. The checker needs the direction (an output
# on an input-only pin is a fault) and whether it is analog. Roles name the
# ESP32 side: "pm_tx" is the ESP32's TX, wired to the sensor's RX.
#   out: the ESP32 drives it     in: the ESP32 only reads it
#   io:  both (I2C lines are open-drain and driven by the ESP32 too)
#   adc: analog input
ROLES = {
    "i2c_sda": ("io", "I2C data"),
    "i2c_scl": ("io", "I2C clock"),
    "pm_tx": ("out", "UART TX to the PM sensor's RX"),
    "pm_rx": ("in", "UART RX from the PM sensor's TX"),
    "pm_set": ("out", "PMS5003 SET: high runs, low sleeps"),
    "pm_reset": ("out", "PMS5003 RESET, active low"),
    "gps_tx": ("out", "UART TX to the GPS's RX"),
    "gps_rx": ("in", "UART RX from the GPS's TX"),
    "gps_pps": ("in", "GPS one-pulse-per-second output"),
    "batt_adc": ("adc", "supply voltage through a resistor divider"),
    "led": ("out", "status LED"),
}

# Board rails a wire may start from instead of a GPIO role.
RAILS = ("5V", "3V3", "GND")
# The part that takes the board's rails to the parts; everyone else's rail
# wires plug into it.
BUS_PART = "bus"


class PinMapError(ConfigError):
    """A pin-map file that cannot be read at all (syntax, missing keys, wrong types)."""


@dataclass(frozen=True)
class Wire:
    source: str  # a role name or a rail ("5V", "3V3", "GND")
    to: str  # the part's pin label
    note: str = ""


@dataclass(frozen=True)
class Part:
    id: str
    label: str
    short: str = ""  # a word for tight spaces ("PMS5003", "GPS")
    note: str = ""
    wires: tuple[Wire, ...] = ()
    alternate_for: str = ""  # fitted instead of that part
    optional: bool = False


@dataclass(frozen=True)
class PinMap:
    variant: str
    title: str
    summary: str
    board: str
    wifi: bool
    pins: dict[str, int]
    uart: dict[str, int] = field(default_factory=dict)
    i2c: dict[str, int] = field(default_factory=dict)
    i2c_addresses: dict[str, int] = field(default_factory=dict)
    divider: tuple[int, int] | None = None  # (r_top, r_bottom) ohms for batt_adc
    parts: tuple[Part, ...] = ()
    source: str = "<memory>"

    def part(self, part_id: str) -> Part:
        for p in self.parts:
            if p.id == part_id:
                return p
        raise KeyError(part_id)


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" (the map is refused) or "warning"
    role: str
    gpio: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.role} on GPIO {self.gpio}" if self.gpio is not None else self.role
        return f"{self.severity}: {where}: {self.message}"


# ---------------------------------------------------------------- loading


def variants() -> list[str]:
    return sorted(p.stem for p in PINS_DIR.glob("*.toml"))


def load(path: Path) -> PinMap:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PinMapError(f"pin map {path} does not exist; the variants are {', '.join(variants())}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PinMapError(f"{path} is not valid TOML ({exc}); fix the syntax and run `airtrail kit pins --check`") from exc
    return from_dict(data, source=str(path))


def load_variant(variant: str) -> PinMap:
    return load(PINS_DIR / f"{variant}.toml")


def load_all() -> dict[str, PinMap]:
    return {v: load_variant(v) for v in variants()}


def from_dict(data: dict[str, Any], source: str = "<memory>") -> PinMap:
    """Build a PinMap from parsed TOML; raises PinMapError on a malformed file."""

    def need(key: str, kind: type) -> Any:
        if key not in data:
            raise PinMapError(f"{source}: missing key '{key}'")
        if not isinstance(data[key], kind):
            raise PinMapError(f"{source}: '{key}' must be a {kind.__name__}")
        return data[key]

    pins = need("pins", dict)
    for role, gpio in pins.items():
        # bool is an int subclass; `true` is never a pin number
        if not isinstance(gpio, int) or isinstance(gpio, bool):
            raise PinMapError(f"{source}: pins.{role} must be a GPIO number, not {gpio!r}")
    i2c = dict(data.get("i2c", {}))
    addresses = i2c.pop("addresses", {})
    divider = None
    if "batt_adc" in data:
        d = data["batt_adc"]
        divider = (int(d["r_top"]), int(d["r_bottom"]))
    parts = []
    for raw in data.get("parts", []):
        wires = tuple(Wire(w["from"], w["to"], w.get("note", "")) for w in raw.get("wires", []))
        parts.append(
            Part(
                id=raw["id"],
                label=raw.get("label", raw["id"]),
                short=raw.get("short", ""),
                note=raw.get("note", ""),
                wires=wires,
                alternate_for=raw.get("alternate_for", ""),
                optional=bool(raw.get("optional", False)),
            )
        )
    return PinMap(
        variant=need("variant", str),
        title=data.get("title", data["variant"]),
        summary=data.get("summary", ""),
        board=data.get("board", ""),
        wifi=bool(data.get("wifi", True)),
        pins=dict(pins),
        uart=dict(data.get("uart", {})),
        i2c=i2c,
        i2c_addresses=dict(addresses),
        divider=divider,
        parts=tuple(parts),
        source=source,
    )


# ---------------------------------------------------------------- checking


def _safe_free_pins(pinmap: PinMap) -> list[int]:
    """GPIOs with no pitfall at all that this map leaves unused, for suggestions."""
    avoid = (
        esp32.FLASH_PINS
        | esp32.INPUT_ONLY
        | esp32.CONSOLE_PINS
        | esp32.PSRAM_PINS
        | set(esp32.STRAPPING)
        | set(pinmap.pins.values())
    )
    return sorted(g for g in esp32.GPIOS if g not in avoid)


def check(pinmap: PinMap) -> list[Problem]:
    """Every reason this pin map would damage, brick or silently break a kit.

    Errors mean the map must not be used; warnings are pitfalls a builder should
    know about. Messages name the role, the pin and the reason, and suggest pins
    that are free.
    """
    problems: list[Problem] = []
    free = _safe_free_pins(pinmap)
    hint = f"; free pins without pitfalls: {', '.join(map(str, free))}" if free else ""

    def add(severity: str, role: str, gpio: int | None, message: str) -> None:
        problems.append(Problem(severity, role, gpio, message))

    by_gpio: dict[int, list[str]] = {}
    for role, gpio in pinmap.pins.items():
        by_gpio.setdefault(gpio, []).append(role)
        if role not in ROLES:
            add("error", role, gpio, f"unknown role; known roles are {', '.join(sorted(ROLES))} "
                "(add a new one to ROLES in hardware/pins.py with its direction)")
            continue
        kind, _ = ROLES[role]
        if gpio not in esp32.GPIOS:
            add("error", role, gpio, "no such GPIO on an ESP32 module (there is no GPIO 20, 24, 28-31, "
                f"and 37/38 are not brought out){hint}")
            continue
        if gpio in esp32.FLASH_PINS:
            add("error", role, gpio, "GPIO 6-11 are wired to the module's SPI flash; using them "
                f"crashes the chip (ESP32 Series Datasheet, Section 2.6){hint}")
            continue
        if gpio in esp32.CONSOLE_PINS:
            add("error", role, gpio, "GPIO 1 and 3 are UART0, the USB console used by the REPL, "
                f"`airtrail kit provision` and esptool{hint}")
        if gpio in esp32.INPUT_ONLY and kind in ("out", "io"):
            add("error", role, gpio, f"GPIO 34-39 are input-only (no output driver, no pull-ups; "
                f"ESP32 Series Datasheet, Section 2.3.1) and {role} must drive the line{hint}")
        if gpio in esp32.STRAPPING:
            severity = "error" if gpio in esp32.STRAPPING_FATAL else "warning"
            add(severity, role, gpio, esp32.STRAPPING[gpio] + hint)
        if gpio in esp32.PSRAM_PINS:
            add("warning", role, gpio, "GPIO 16 and 17 drive the PSRAM on WROVER modules; this map "
                "only works on boards with a WROOM module")
        if kind == "adc":
            unit = esp32.adc_unit(gpio)
            if unit is None:
                add("error", role, gpio, "not an analog-capable pin; use an ADC1 pin (32-39)")
            elif unit == 2 and pinmap.wifi:
                add("error", role, gpio, "ADC2 pins (0, 2, 4, 12-15, 25-27) cannot be read while "
                    "Wi-Fi is on (the Wi-Fi driver owns ADC2); use an ADC1 pin (32-39)")

    for gpio, roles in sorted(by_gpio.items()):
        if len(roles) > 1:
            add("error", " and ".join(roles), gpio, "the same GPIO is used for more than one role; "
                f"give each role its own pin{hint}")

    problems.extend(_check_wiring(pinmap))
    return problems


def _check_wiring(pinmap: PinMap) -> list[Problem]:
    """The parts' wires must match the pin table: no wire to a role without a
    pin, and no pin that no fitted part uses."""
    problems = []
    wired: set[str] = set()
    ids = {p.id for p in pinmap.parts}
    for part in pinmap.parts:
        if part.alternate_for and part.alternate_for not in ids:
            problems.append(Problem("error", part.id, None,
                                    f"alternate_for names '{part.alternate_for}', which is not a part in this map"))
        for w in part.wires:
            if w.source in RAILS:
                continue
            if w.source not in pinmap.pins:
                problems.append(Problem("error", w.source, None,
                                        f"part '{part.id}' wires '{w.to}' to role {w.source}, which has no "
                                        f"pin in [pins]; add it there or use a rail ({', '.join(RAILS)})"))
            elif not part.alternate_for:
                wired.add(w.source)
    for role, gpio in pinmap.pins.items():
        if role not in wired:
            problems.append(Problem("warning", role, gpio, "has a pin but no part is wired to it"))
    return problems


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


# ---------------------------------------------------------------- firmware module


def _dict_literal(d: dict[str, Any], indent: str, hex_values: bool = False) -> str:
    """A stable, diff-friendly dict literal (sorted keys, one entry per line)."""
    lines = ["{"]
    for key in sorted(d):
        value = d[key]
        if isinstance(value, dict):
            lines.append(f'{indent}    "{key}": {_dict_literal(value, indent + "    ", hex_values)},')
        elif hex_values and isinstance(value, int):
            lines.append(f'{indent}    "{key}": 0x{value:02X},')
        else:
            lines.append(f'{indent}    "{key}": {value!r},')
    lines.append(indent + "}")
    return "\n".join(lines)


def render_firmware_module(maps: dict[str, PinMap]) -> str:
    """The text of firmware/airkit/pins.py for these pin maps.

    Plain dicts of ints and one float: importable under MicroPython (no typing,
    no dataclasses) and cheap in RAM.
    """
    pins = {v: m.pins for v, m in maps.items()}
    uart = {v: m.uart for v, m in maps.items()}
    i2c = {v: m.i2c for v, m in maps.items()}
    addresses = {v: m.i2c_addresses for v, m in maps.items()}
    dividers = {v: round((m.divider[0] + m.divider[1]) / m.divider[1], 6) for v, m in maps.items() if m.divider}
    sources = ", ".join(f"hardware/pins/{v}.toml" for v in sorted(maps))
    return f'''# GENERATED from {sources} by `airtrail kit pins --write`.
# Do not edit: change the TOML and regenerate. tests/test_hardware_pins.py
# fails when this file and the pin maps disagree.
#
# Roles name the ESP32 side of a wire: "pm_tx" is the ESP32's TX pin, wired to
# the sensor's RX pin; "pm_rx" is the ESP32's RX pin, fed by the sensor's TX.
# The firmware's config reads PINS[variant] for its default pins.

# GPIO number per role, per kit variant.
PINS = {_dict_literal(pins, "")}

# MicroPython UART id per serial sensor (UART0 is the USB console).
UART = {_dict_literal(uart, "")}

# I2C bus id and clock in Hz.
I2C = {_dict_literal(i2c, "")}

# 7-bit I2C addresses of the sensors on that bus.
I2C_ADDR = {_dict_literal(addresses, "", hex_values=True)}

# Supply voltage = ADC pin voltage * BATT_DIVIDER[variant] ((r_top + r_bottom) / r_bottom).
BATT_DIVIDER = {_dict_literal(dividers, "")}
'''
