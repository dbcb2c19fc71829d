"""One error root: every error airtrail shows a person derives from AirtrailError,
and the tree drawn in airkit.errors is the tree the code has."""

from __future__ import annotations

import importlib
import pkgutil
import re

import airkit.errors
from airkit.errors import AirtrailError

# Every package a person meets through the front door.
PACKAGES = ("airtrail", "collector", "airkit_host", "hardware", "walks", "viz")
NEVER_IMPORTED = {"airtrail.__main__"}  # runs the CLI when imported


def _import_everything() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            if info.name not in NEVER_IMPORTED:
                importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def _drawn() -> dict[str, str]:
    """{class name: parent name} from the box drawing in airkit.errors' docstring."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in airkit.errors.__doc__.splitlines():
        match = re.match(r"^  ((?:[│ ] {3}|[├└]── )*)([A-Z]\w+)\s", line)  # the drawing is indented two spaces
        if not match or not (match.group(1) or match.group(2) == "AirtrailError"):
            continue
        depth = len(match.group(1)) // 4
        name = match.group(2)
        del stack[depth:]
        if stack:
            parents[name] = stack[-1]
        stack.append(name)
    return parents


def test_every_airtrail_error_is_drawn_in_the_tree_under_its_real_parent():
    _import_everything()
    drawn = _drawn()
    actual = {cls.__name__: cls.__mro__[1].__name__ for cls in _subclasses(AirtrailError)}
    assert actual == drawn


def test_the_tree_is_not_empty_so_the_comparison_means_something():
    assert {"ConfigError", "KitError", "InfluxUnavailable", "MissingExtra"} <= set(_drawn())


def test_errors_people_can_fix_are_airtrail_errors():
    from airkit_host.errors import KitError, RouteError
    from collector.errors import DeviceError, InfluxRejected
    from collector.readings import UnknownFields
    from hardware.calibration import CalibrationError
    from hardware.pins import PinMapError

    for cls in (KitError, RouteError, DeviceError, InfluxRejected, UnknownFields, CalibrationError, PinMapError):
        assert issubclass(cls, AirtrailError), cls
