"""Bills of materials: what to buy for each kit, and what it costs in total.

    for line in items("walk"): ...            # quantity, part, unit price ranges
    totals("walk")                            # {"GBP": (lo, hi), "EUR": ..., "USD": ...}
    totals("fixed", include_optional=True)

The data is hardware/bom.toml; totals are always computed here, never typed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOM_FILE = Path(__file__).with_name("bom.toml")


@dataclass(frozen=True)
class Line:
    part: str
    name: str
    qty: int
    price: dict[str, tuple[float, float]]  # currency -> (low, high) per unit
    alternates: tuple[str, ...] = ()
    note: str = ""
    optional: bool = False

    def cost(self, currency: str) -> tuple[float, float]:
        lo, hi = self.price[currency]
        return lo * self.qty, hi * self.qty


def load_data(path: Path = BOM_FILE) -> dict[str, Any]:
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def checked(data: dict[str, Any] | None = None) -> str:
    """When the prices were last compiled, e.g. '2026-11'."""
    return (data if data is not None else load_data())["checked"]


def currencies(data: dict[str, Any] | None = None) -> list[str]:
    return list((data if data is not None else load_data())["currencies"])


def items(variant: str, data: dict[str, Any] | None = None) -> list[Line]:
    data = data if data is not None else load_data()
    if variant not in data["variants"]:
        raise ValueError(f"no bill of materials for '{variant}'; kits: {', '.join(sorted(data['variants']))}")
    lines = []
    for entry in data["variants"][variant]:
        part = data["parts"][entry["part"]]
        lines.append(Line(
            part=entry["part"],
            name=part["name"],
            qty=int(entry["qty"]),
            price={cur: (float(lo), float(hi)) for cur, (lo, hi) in part["price"].items()},
            alternates=tuple(part.get("alternates", ())),
            note=part.get("note", ""),
            optional=bool(entry.get("optional", False)),
        ))
    return lines


def totals(variant: str, include_optional: bool = False,
           data: dict[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """Total cost of one kit per currency, as (low, high)."""
    data = data if data is not None else load_data()
    out = {}
    for cur in currencies(data):
        lo = hi = 0.0
        for line in items(variant, data):
            if line.optional and not include_optional:
                continue
            a, b = line.cost(cur)
            lo, hi = lo + a, hi + b
        out[cur] = (round(lo, 2), round(hi, 2))
    return out
