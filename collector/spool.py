"""The on-disk spool: batches InfluxDB could not take, kept until it can.

SQLite in WAL mode with ``synchronous=FULL``: a batch is fsync'd to disk when
``append`` returns, so the collector may acknowledge its MQTT messages to the
broker from here. Batches come back out in the order they went in.

The spool is bounded by ``max_bytes``. It never drops anything: when full,
``append`` reports it and the collector stops acknowledging, so the broker
keeps the messages (back-pressure instead of loss).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .durable import open_durable


@dataclass(frozen=True)
class SpooledBatch:
    id: int
    body: bytes
    lines: int


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = open_durable(
            path,
            "CREATE TABLE IF NOT EXISTS batches ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL,"
            " lines INTEGER NOT NULL, body BLOB NOT NULL)",
        )
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(lines),0), COALESCE(SUM(LENGTH(body)),0) FROM batches").fetchone()
        self.depth_batches, self.depth_lines, self.bytes = row

    def has_room(self, size: int) -> bool:
        return self.bytes + size <= self.max_bytes

    def append(self, body: bytes, lines: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO batches (created, lines, body) VALUES (?, ?, ?)", (time.time(), lines, body))
            self.depth_batches += 1
            self.depth_lines += lines
            self.bytes += len(body)

    def oldest(self, max_lines: int) -> list[SpooledBatch]:
        """The oldest batches, together at most ``max_lines`` lines (at least one batch)."""
        with self._lock:
            rows = self._db.execute("SELECT id, body, lines FROM batches ORDER BY id LIMIT 200").fetchall()
        picked: list[SpooledBatch] = []
        total = 0
        for row_id, body, lines in rows:
            if picked and total + lines > max_lines:
                break
            picked.append(SpooledBatch(row_id, body, lines))
            total += lines
        return picked

    def remove(self, batches: list[SpooledBatch]) -> None:
        if not batches:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM batches WHERE id = ?", [(b.id,) for b in batches])
            self._db.execute("COMMIT")
            self.depth_batches -= len(batches)
            self.depth_lines -= sum(b.lines for b in batches)
            self.bytes -= sum(len(b.body) for b in batches)

    def __len__(self) -> int:
        return self.depth_batches

    def close(self) -> None:
        with self._lock:
            self._db.close()
