"""The collector's errors; the whole tree is drawn in ``airkit.errors``.

    AirtrailError, ConfigError    (airkit.errors, re-exported here)
    ├── StackError                a local service cannot start, stop or be found
    ├── DeviceError               device registry problems (unknown id, duplicate)
    └── InfluxError               InfluxDB answered in a way we cannot use
        ├── InfluxUnavailable     connection refused, timeout, 5xx, or a 4xx
        │                         that is a setup problem (401/403/404):
        │                         retry later (the collector spools the batch)
        └── InfluxRejected        4xx: the data itself is refused; retrying the
                                  same points will fail again
"""

from __future__ import annotations

from airkit.errors import AirtrailError, ConfigError

__all__ = ["AirtrailError", "ConfigError", "StackError", "DeviceError", "InfluxError", "InfluxUnavailable", "InfluxRejected"]


class StackError(AirtrailError):
    pass


class DeviceError(AirtrailError):
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
