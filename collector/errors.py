"""airtrail's own exceptions.

    AirtrailError                 anything a user can act on; the CLI prints
    │                             "Problem: <message>" and exits 1, no traceback
    ├── ConfigError               bad or missing configuration
    ├── StackError                a local service cannot start, stop or be found
    ├── DeviceError               device registry problems (unknown id, duplicate)
    ├── KitError                  talking to a kit over USB failed
    └── InfluxError               InfluxDB answered in a way we cannot use
        ├── InfluxUnavailable     connection refused, timeout, 5xx, or a 4xx
        │                         that is a setup problem (401/403/404):
        │                         retry later (the collector spools the batch)
        └── InfluxRejected        4xx: the data itself is refused; retrying the
                                  same points will fail again
"""

from __future__ import annotations


class AirtrailError(Exception):
    """An error with a message written for the person running airtrail."""


class ConfigError(AirtrailError):
    pass


class StackError(AirtrailError):
    pass


class DeviceError(AirtrailError):
    pass


class KitError(AirtrailError):
    pass


class InfluxError(AirtrailError):
    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class InfluxUnavailable(InfluxError):
    pass


class InfluxRejected(InfluxError):
    pass
