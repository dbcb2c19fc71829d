"""`airtrail kit pull`: a kit's stored readings onto the computer, for walks with no network.

The kit's flash queue (/queue, airkit.queue) is copied file by file, each
copy checked against the SHA-256 the kit computes, then decoded on the
computer by the same airkit.queue code the kit runs. Written to ``out``:

    <dev>-<UTC stamp>.jsonl     one reading per line, a row of the contract's one
                                row shape (airkit.contract.reading_columns)
    <dev>-<UTC stamp>.csv       the same rows, one column per contract field
    <dev>-<UTC stamp>.raw/      the verified copy of the queue folder itself

The format is documented in firmware/PULL_FORMAT.md; the API's readings and
the walk tooling use the same row shape. Nothing is deleted on the kit unless asked, and then only after the
copy is verified and written, and only the readings that were pulled: the
kit's own FlashQueue.pop() does it, so the head pointer and segment files stay
consistent.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airkit import contract
from airkit.queue import DEFAULT_DIR, read_queue

from .errors import KitError
from .link import KitLink, for_file
from .provision import read_kit_config

class PullError(KitError):
    pass


@dataclass
class PullResult:
    device_id: str
    readings: int = 0
    dropped: int = 0  # readings the kit had dropped (flash full) before this pull
    undecodable: int = 0
    jsonl: Path | None = None
    csv: Path | None = None
    raw: Path | None = None
    deleted: int = 0
    left_on_kit: int | None = None
    files: dict[str, str] = field(default_factory=dict)  # queue file -> sha256


def readings_from_queue(queue_dir: Path) -> tuple[list[dict[str, Any]], int, int]:
    """Decode a copied queue folder: (readings as the kit would publish them, dropped count, undecodable records)."""
    payloads, dropped = read_queue(str(queue_dir))
    readings: list[dict[str, Any]] = []
    bad = 0
    for payload in payloads:
        try:
            doc = json.loads(payload)
        except ValueError:
            bad += 1
            continue
        if not isinstance(doc, dict) or "ts" not in doc:
            bad += 1
            continue
        readings.append(doc)
    return readings, dropped, bad


def pulled_columns(readings: list[dict[str, Any]]) -> list[str]:
    """Every contract field, whether measured or not, and the x_* fields these readings have."""
    experimental = {k for r in readings for k in r if k.startswith(contract.EXPERIMENTAL_PREFIX)}
    return contract.reading_columns([*contract.READING_COLUMNS[len(contract.READING_HEAD):], *experimental])


def write_jsonl(device_id: str, readings: list[dict[str, Any]], path: Path) -> None:
    """One row per line, its keys in column order; a field the kit did not measure is left out."""
    columns = pulled_columns(readings)
    with path.open("w", encoding="utf-8") as f:
        for r in readings:
            row = {c: v for c, v in zip(columns, contract.reading_row(device_id, r, columns)) if v is not None}
            f.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")


def write_csv(device_id: str, readings: list[dict[str, Any]], path: Path) -> None:
    columns = pulled_columns(readings)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(contract.reading_row(device_id, r, columns) for r in readings)


def pull(
    link: KitLink,
    out: Path,
    device_id: str | None = None,
    delete: bool = False,
    queue_dir: str = DEFAULT_DIR,
    progress: Callable[[str, int, int], None] | None = None,
    now: float | None = None,
) -> PullResult:
    """Copy, verify and decode the kit's queue into ``out``; optionally pop what was pulled."""
    if device_id is None:
        conf = read_kit_config(link) or {}
        device_id = conf.get("device_id") or None
    if not device_id:
        raise PullError("the kit has no device id in /config.json: say whose readings these are with --device <id>")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    base = f"{device_id}-{stamp}"
    result = PullResult(device_id)

    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"{base}.raw" / queue_dir.strip("/")
    names = link.listdir(queue_dir) if link.is_dir(queue_dir) else []
    for name in names:
        path = f"{queue_dir.rstrip('/')}/{name}"
        if link.is_dir(path):
            continue
        data = link.fetch(path, raw / name, for_file(progress, path))
        result.files[name] = hashlib.sha256(data).hexdigest()
    result.raw = raw.parent

    readings, result.dropped, result.undecodable = readings_from_queue(raw) if names else ([], 0, 0)
    result.readings = len(readings)
    result.jsonl = out / f"{base}.jsonl"
    result.csv = out / f"{base}.csv"
    write_jsonl(device_id, readings, result.jsonl)
    write_csv(device_id, readings, result.csv)

    if delete and readings:
        # The copy is on disk and decoded; make sure the kit's queue is still
        # the one we copied before removing anything from it.
        for name, digest in result.files.items():
            if link.sha256(f"{queue_dir.rstrip('/')}/{name}").hex() != digest:
                raise PullError(f"the kit's queue changed during the pull ({name}); nothing was deleted, pull again")
        count = result.readings + result.undecodable
        link.exec(f"from airkit.queue import FlashQueue\nq = FlashQueue({queue_dir!r})\nq.pop({count})")
        left = link.eval("q.depth")
        result.deleted = count
        result.left_on_kit = int(left)
    return result
