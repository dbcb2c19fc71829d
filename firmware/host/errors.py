"""The one exception the host kit tooling raises for problems a person can fix.

    KitToolError            the message says what to do; `airtrail kit ...`
    ├── BuildError          turns it into collector.errors.KitError
    ├── FlashError          ("Problem: ...", exit 1)
    ├── LinkError
    ├── RouteError          a --route file that is missing or unreadable
    └── VirtualBoardError

airkit_host sits below the collector (the CLI imports it, not the other way
round), so it has its own base class instead of importing AirtrailError.
"""

from __future__ import annotations


class KitToolError(RuntimeError):
    """A problem with the kit, its port or the firmware, worded for the person at the table."""


class RouteError(KitToolError):
    """A virtual kit's route (airkit_host.route) that cannot be used: a missing
    or unreadable file, too few points, zero length."""
