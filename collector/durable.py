"""SQLite opened for durability: what the spool and the quarantine stand on."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_durable(path: Path, schema: str) -> sqlite3.Connection:
    """A connection whose commits are on disk when they return.

    WAL mode with ``synchronous=FULL`` fsyncs the log at every commit (WAL with
    NORMAL may lose the last commits on power loss), so the collector may
    acknowledge a message to the broker as soon as its commit returns.
    Autocommit mode; callers share it across threads behind their own lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(schema)
    return db
