"""What the collector knows about each kit: last seen, last status."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DeviceState:
    device_id: str
    last_seen: float | None = None  # when the collector last heard from it
    last_reading_ts: int | None = None  # kit time of its newest reading
    readings: int = 0  # readings received since the collector started
    firmware: str | None = None
    status: dict[str, Any] = field(default_factory=dict)


class DeviceStates:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, DeviceState] = {}

    def _get(self, device_id: str) -> DeviceState:
        state = self._states.get(device_id)
        if state is None:
            state = self._states[device_id] = DeviceState(device_id)
        return state

    def saw_readings(self, device_id: str, received_at: float, firmware: str, newest_ts: int, count: int) -> None:
        with self._lock:
            s = self._get(device_id)
            s.last_seen = max(s.last_seen or 0, received_at)
            s.firmware = firmware
            s.readings += count
            if s.last_reading_ts is None or newest_ts >= s.last_reading_ts:
                s.last_reading_ts = newest_ts

    def saw_status(self, device_id: str, received_at: float, status: dict[str, Any]) -> None:
        with self._lock:
            s = self._get(device_id)
            s.last_seen = max(s.last_seen or 0, received_at)
            # A kit's own status is a whole snapshot: what it leaves out (no
            # battery reading any more) is gone. An offline message (the last
            # will) says only that the kit went away; what it last reported stays.
            s.status = {**s.status, **status} if status.get("online") is False else status
            if status.get("fw"):
                s.firmware = status["fw"]

    def seed(self, device_id: str, last_reading_ts: int) -> None:
        """Fill in what InfluxDB remembers, for kits not heard since start."""
        with self._lock:
            s = self._get(device_id)
            if s.last_reading_ts is None:
                s.last_reading_ts = last_reading_ts

    def all(self) -> list[DeviceState]:
        with self._lock:
            return [DeviceState(**vars(s)) for s in sorted(self._states.values(), key=lambda s: s.device_id)]

    def get(self, device_id: str) -> DeviceState | None:
        with self._lock:
            s = self._states.get(device_id)
            return DeviceState(**vars(s)) if s else None
