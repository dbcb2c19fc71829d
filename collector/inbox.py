"""Messages on their way from the MQTT thread to the store worker, bounded in bytes.

The broker's Receive Maximum bounds how many messages are outstanding, not how
big they are: 4,000 backlog batches of up to 256 KiB each would hold about
1 GiB, which is what a city's kits flushing at once after a network outage
look like. Past ``max_bytes`` the MQTT source stops reading its socket; TCP
flow control then leaves the rest on the broker, in the collector's session,
until the worker has caught up. Nothing is refused, so nothing is lost.
"""

from __future__ import annotations

import queue
from collections.abc import Sequence

from .ingest import Inbound


class Inbox:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        # Each counter has one writer (the MQTT thread, the store worker), so
        # neither needs a lock; the difference is what the inbox holds.
        self._put_bytes = 0
        self._done_bytes = 0
        self.peak_bytes = 0

    def put(self, message: Inbound) -> None:
        self._put_bytes += len(message.payload)
        held = self.held_bytes
        if held > self.peak_bytes:
            self.peak_bytes = held
        self._queue.put(message)

    def get(self, timeout: float | None = None) -> Inbound:
        return self._queue.get(timeout=timeout)

    def get_nowait(self) -> Inbound:
        return self._queue.get_nowait()

    def done(self, messages: Sequence[Inbound]) -> None:
        """``messages`` are handled: their bytes no longer count."""
        self._done_bytes += sum(len(m.payload) for m in messages)

    @property
    def held_bytes(self) -> int:
        return self._put_bytes - self._done_bytes

    def full(self) -> bool:
        return self.held_bytes >= self.max_bytes

    def empty(self) -> bool:
        return self._queue.empty()

    def qsize(self) -> int:
        return self._queue.qsize()
