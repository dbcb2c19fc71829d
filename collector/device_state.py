"""What the collector knows about each kit: last seen, last status.

Kept in a small JSON file in the collector's data folder, saved every few
seconds when it changed and at a clean stop, so that a restart does not make
every kit look freshly seen (last_seen = the restart time) or forget what
offline kits last said about themselves (firmware, mode, battery, sensors).
A SIGKILL loses at most the last few seconds of this state, never a reading:
the readings themselves are in InfluxDB.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("airtrail.collector")


@dataclass
class DeviceState:
    device_id: str
    last_seen: float | None = None  # when the collector last heard from it
    last_reading_ts: int | None = None  # kit time of its newest reading
    readings: int = 0  # readings received since the collector started
    firmware: str | None = None
    status: dict[str, Any] = field(default_factory=dict)


class DeviceStates:
    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, DeviceState] = {}
        self._path = path
        self._dirty = False
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            for doc in json.loads(path.read_text()):
                doc["readings"] = 0  # "since the collector started"
                state = DeviceState(**doc)
                self._states[state.device_id] = state
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # A cache, not data: start afresh, keep the damaged file for a look.
            damaged = path.with_suffix(".damaged")
            os.replace(path, damaged)
            self._states.clear()
            log.warning("the kits' last-known state in %s was unreadable (%s); starting without it (kept as %s)", path, exc, damaged)

    def save(self) -> None:
        """Write the states if they changed since the last save (atomically)."""
        if self._path is None:
            return
        with self._lock:
            if not self._dirty:
                return
            docs = [asdict(s) for s in sorted(self._states.values(), key=lambda s: s.device_id)]
            self._dirty = False
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(docs, indent=1))
        os.replace(tmp, self._path)

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
            self._dirty = True

    def saw_status(self, device_id: str, received_at: float, status: dict[str, Any], retained: bool = False) -> None:
        """A status message from the kit; ``retained``: the broker's retained copy, handed over when
        the collector (re)subscribes, which is what the kit last said, not a sign of life now."""
        with self._lock:
            s = self._get(device_id)
            # A kit's own status is a whole snapshot: what it leaves out (no
            # battery reading any more) is gone. An offline message (the last
            # will) says only that the kit went away; what it last reported stays.
            new = {**s.status, **status} if status.get("online") is False else status
            if not retained:
                s.last_seen = max(s.last_seen or 0, received_at)
            elif new == s.status:
                return  # the retained copy of what this collector already knows
            s.status = new
            if status.get("fw"):
                s.firmware = status["fw"]
            self._dirty = True

    def seed(self, device_id: str, last_reading_ts: int) -> None:
        """Fill in what InfluxDB remembers, for kits not heard since start."""
        with self._lock:
            s = self._get(device_id)
            if s.last_reading_ts is None:
                s.last_reading_ts = last_reading_ts
                self._dirty = True

    def all(self) -> list[DeviceState]:
        with self._lock:
            return [DeviceState(**vars(s)) for s in sorted(self._states.values(), key=lambda s: s.device_id)]

    def get(self, device_id: str) -> DeviceState | None:
        with self._lock:
            s = self._states.get(device_id)
            return DeviceState(**vars(s)) if s else None
