"""What an answer may show of where a kit is.

A kit's own GPS fields (``airkit.contract.POSITION``: lat, lon, alt, hdop,
sats) are where its carrier lives and walks, so they reach only callers with
the read or the admin token, even when the reading endpoints are public
(``api.public_read``, the default). To a caller without a token:

- a kit in walk mode shows no position: its GPS columns are empty;
- so does a kit whose mode is not known: no status message heard since the
  collector started (kits publish theirs retained, so the broker hands it
  over again at subscribe), or one without a ``mode``. Unknown is treated as
  walk, since being wrong in the other direction publishes a trace;
- a kit in online mode (a fixed kit) shows, in lat and lon, the location its
  owner registered (``airtrail device add|locate --location``), snapped to a
  grid unless the owner chose exact (``Device.published_location``); alt,
  hdop and sats are empty. Without a registered location it shows none.

A kit's experimental fields (``x_*``) mean what its builder says they mean,
and may say where it is (a Wi-Fi network, a cell tower, a second GPS): to a
caller without a token they are empty like the GPS columns, except a fixed
kit's (online mode), which says nothing of where anyone walks.

Published walk data comes from the walk tooling's privacy-filtered outputs,
never from raw traces through this API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airkit import contract as wire
from collector.devices import Device

POSITION_FIELDS = tuple(wire.POSITION)


@dataclass(frozen=True)
class Positions:
    """Where an answer's position columns come from: the kit's own GPS, its
    registered (published) location, or nowhere."""

    source: Literal["gps", "registered", "withheld"]
    location: tuple[float, float] | None = None
    experimental: bool = True  # whether x_* fields are shown

    def apply(self, rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
        """``rows`` with their position (and x_*) columns as this source allows (in place)."""
        if self.source == "gps":
            return rows
        lat, lon = self.location or (None, None)
        shown = {name: None for name in POSITION_FIELDS} | {"lat": lat, "lon": lon}
        for row in rows:
            for name, value in shown.items():
                if name in row:
                    row[name] = value
            if not self.experimental:
                for name in [k for k in row if k.startswith(wire.EXPERIMENTAL_PREFIX)]:
                    row[name] = None
        return rows


def positions(trusted: bool, mode: str | None, device: Device | None) -> Positions:
    """The position source for a caller (``trusted``: it gave a token) asking
    about a kit in ``mode`` (None: unknown), registered as ``device`` (None: not)."""
    if trusted:
        return Positions("gps")
    fixed = mode == "online"
    location = device.published_location() if device is not None and fixed else None
    return Positions("registered", location, experimental=fixed) if location else Positions("withheld", experimental=fixed)
