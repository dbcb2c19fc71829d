"""The quarantine: every message or point the collector refused, with why.

Nothing refused is thrown away: each record keeps the topic, the time it was
received, a short stable reason code (one of ``airkit.contract.REASONS``), a
readable detail and the raw bytes, so an operator can see what a kit sent and
replay it after a fix.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airkit import contract as wire

from .durable import open_durable


@dataclass(frozen=True)
class QuarantineRecord:
    topic: str
    received_at: float
    reason: str
    detail: str
    payload: bytes

    def __post_init__(self) -> None:
        # Operators filter and alert on the codes: a new one goes into the
        # contract's table (and the README) first.
        if self.reason not in wire.REASONS:
            raise ValueError(f"{self.reason!r} is not a quarantine reason code; known: {', '.join(wire.REASONS)}")


class Quarantine:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(
            path,
            "CREATE TABLE IF NOT EXISTS quarantine ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, received_at REAL NOT NULL,"
            " reason TEXT NOT NULL, detail TEXT NOT NULL, payload BLOB NOT NULL)",
        )

    def add_many(self, records: list[QuarantineRecord]) -> None:
        if not records:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO quarantine (topic, received_at, reason, detail, payload) VALUES (?, ?, ?, ?, ?)",
                [(r.topic, r.received_at, r.reason, r.detail, r.payload) for r in records],
            )
            self._db.execute("COMMIT")

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]

    def counts_by_reason(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT reason, COUNT(*) FROM quarantine GROUP BY reason").fetchall()
        return dict(rows)

    def list(self, limit: int = 100, offset: int = 0, reason: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, topic, received_at, reason, detail, payload FROM quarantine"
        args: list[Any] = []
        if reason:
            sql += " WHERE reason = ?"
            args.append(reason)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            {
                "id": row_id,
                "topic": topic,
                "received_at": received_at,
                "reason": reason_,
                "detail": detail,
                "payload_base64": base64.b64encode(payload).decode(),
                "payload_text": payload.decode("utf-8", "replace")[:2000],
            }
            for row_id, topic, received_at, reason_, detail, payload in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()
