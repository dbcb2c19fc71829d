"""The collector's health: one owner for each state it reports.

    MqttSource ───────────────────────────▶ Health.broker    connected?
    StoreWorker, Replayer, the idle ping ─▶ Health.influxdb  writable?
    StoreWorker ──────────────────────────▶ Health.spool     has room?
                                                │
                      /health, /metrics ◀───────┘  (they only read)

A ``State`` is the only place its state is written. Reporters say what they
saw (``up()``, ``down(cause)``); the state decides whether that is a
transition and logs each transition once: WARNING when it goes down, with the
cause (ERROR when the reporter says a person must act, such as a refused
login), INFO when it comes back, with how long it was down. While down it keeps
the latest cause and the time it went down; recovery clears both.

A report is an observation that started at some moment (a write sent, a ping
sent): one that started before the state last changed is older news than that
change and is ignored, so a slow ping that succeeded just before InfluxDB
stopped cannot undo the store path's report that it is down.

A report that changes nothing costs one lock, so the store path may report
once per batch (never per reading).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    up: bool
    error: str | None  # the latest cause while down, else None
    since: float | None  # when it went down (Unix time) while down, else None


class State:
    def __init__(
        self,
        name: str,
        *,
        went_down: str,
        came_back: str,
        logger: logging.Logger,
        up: bool = False,
        meanwhile: tuple[str, Callable[[], float]] | None = None,
    ) -> None:
        """``went_down``/``came_back`` finish the log lines ("InfluxDB" +
        "unavailable, spooling batches to disk"); ``up`` is the state assumed
        before any report; ``meanwhile`` (label, counter) adds to the recovery
        line how far the counter moved during the outage."""
        self.name = name
        self._went_down = went_down
        self._came_back = came_back
        self._log = logger
        self._meanwhile = meanwhile
        self._lock = threading.Lock()
        self._up = up
        self._reported = up  # an assumed-up state starts known; otherwise the first report is news
        self._error: str | None = None
        self._since: float | None = None
        self._changed_at = float("-inf")  # time.monotonic() of the last transition
        self._count_at_down = 0.0

    @property
    def is_up(self) -> bool:
        return self._up

    @property
    def error(self) -> str | None:
        return self._error

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._up, self._error, self._since)

    def up(self, detail: str = "", observed_at: float | None = None) -> None:
        """Report it working; ``observed_at`` is when the observation started (time.monotonic())."""
        with self._lock:
            if self._up or self._stale(observed_at):
                return
            first = not self._reported
            now = time.monotonic()
            down_for = now - self._changed_at
            self._up = self._reported = True
            self._error = self._since = None
            self._changed_at = now
            if first:
                self._log.info("%s %s%s", self.name, self._came_back, detail)
                return
            extra = ""
            if self._meanwhile is not None:
                label, count = self._meanwhile
                extra = f"; {count() - self._count_at_down:,.0f} {label} meanwhile"
            self._log.info("%s %s again after %.1f s down%s%s", self.name, self._came_back, down_for, extra, detail)

    def down(self, cause: str, level: int = logging.WARNING, observed_at: float | None = None) -> None:
        """Report it failing with ``cause``; ``level`` for the log line if this is a transition."""
        with self._lock:
            if self._stale(observed_at):
                return
            self._error = cause
            if not self._up and self._reported:
                return  # still down: only the cause may have changed
            self._up, self._reported = False, True
            self._since = time.time()
            self._changed_at = time.monotonic()
            if self._meanwhile is not None:
                self._count_at_down = self._meanwhile[1]()
            self._log.log(level, "%s %s: %s", self.name, self._went_down, cause)

    def _stale(self, observed_at: float | None) -> bool:
        return observed_at is not None and observed_at < self._changed_at


def broker_state(address: str) -> State:
    return State(f"MQTT broker {address}", went_down="not connected, reconnecting", came_back="connected",
                 logger=logging.getLogger("airtrail.mqtt"))


def influxdb_state(spooled: Callable[[], float] | None = None) -> State:
    return State("InfluxDB", went_down="unavailable, spooling batches to disk", came_back="writable",
                 logger=logging.getLogger("airtrail.collector"), up=True,
                 meanwhile=("readings spooled", spooled) if spooled else None)


def spool_state() -> State:
    return State("spool", went_down="full, holding acknowledgements (the broker keeps the backlog)", came_back="has room",
                 logger=logging.getLogger("airtrail.collector"), up=True)


@dataclass(frozen=True)
class Health:
    broker: State
    influxdb: State
    spool: State

    @classmethod
    def new(cls, broker_address: str = "", spooled: Callable[[], float] | None = None) -> "Health":
        return cls(broker_state(broker_address), influxdb_state(spooled), spool_state())
