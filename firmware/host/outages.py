"""Wi-Fi outages for virtual kits: `airtrail kit simulate --outage [KIT@]START:DURATION`."""

from __future__ import annotations

import re

from airkit.errors import ConfigError

__all__ = ["parse_duration", "parse_outages"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str, what: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise ConfigError(f"{what} {text!r} is not a duration: use seconds (600) or a unit (10m, 1.5h)")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_outages(specs: list[str], count: int) -> dict[int, list[tuple[float, float]]]:
    """'[KIT@]START:DURATION' -> {kit number (0 = every kit): [(start_s, duration_s)]}."""
    out: dict[int, list[tuple[float, float]]] = {}
    for spec in specs:
        kit = 0
        body = spec
        if "@" in spec:
            head, body = spec.split("@", 1)
            if not head.isdigit() or not 1 <= int(head) <= count:
                raise ConfigError(f"--outage {spec!r}: the kit number before @ must be 1 to {count}")
            kit = int(head)
        if body.count(":") != 1:
            raise ConfigError(f"--outage {spec!r}: write START:DURATION, e.g. 600:300 or 2@10m:5m")
        start, duration = body.split(":")
        out.setdefault(kit, []).append((parse_duration(start, "outage start"), parse_duration(duration, "outage duration")))
    return out
