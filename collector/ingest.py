"""From one MQTT message to line protocol or a quarantine record (pure).

No I/O here: the store worker calls ``ingest`` for each message and decides
what to do with the result, so every rule about what is valid and how it is
stored can be tested without a broker or a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airkit import contract as wire

from .contract import DEVICE_ID, ContractViolation, StatusMessage, measurements, parse_message
from .influx.lineproto import reading_line, status_line
from .quarantine import QuarantineRecord


@dataclass(slots=True)
class Inbound:
    """One message as the MQTT source received it."""

    topic: str
    payload: bytes
    received_at: float
    mid: int = 0
    qos: int = 1
    generation: int = 0  # connection it arrived on; acks go only to that one
    # The broker's retained copy, handed over at subscribe: what the kit last said, some time ago
    # (messages published while the collector is subscribed arrive with the flag clear).
    retained: bool = False


@dataclass(slots=True)
class Outcome:
    # (device, seq, ts) of each reading, parallel to the reading lines, so the
    # worker can skip readings it has already stored.
    keys: list[tuple[str, int, int]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    status_lines: list[str] = field(default_factory=list)
    quarantine: QuarantineRecord | None = None
    device: str | None = None
    readings: dict[str, Any] | None = None  # a validated ReadingsMessage
    status: StatusMessage | None = None


def ingest(message: Inbound, max_payload_bytes: int = wire.MAX_PAYLOAD_BYTES) -> Outcome:
    parsed = wire.parse_topic(message.topic)
    if parsed is None or parsed[1] not in (wire.READINGS, wire.STATUS):
        return _refuse(message, ContractViolation(wire.REASON_BAD_TOPIC, f"topic {message.topic!r} is not {wire.TOPIC_ROOT}/<device>/readings|status"))
    device, kind = parsed
    if not DEVICE_ID.match(device):
        return _refuse(message, ContractViolation(wire.REASON_BAD_TOPIC, f"topic {message.topic!r}: {device!r} is not a device id (a-z, 0-9, - and _, up to 32)"))
    try:
        doc = parse_message(kind, device, message.payload, now=message.received_at, max_bytes=max_payload_bytes)
    except ContractViolation as violation:
        return _refuse(message, violation)
    outcome = Outcome(device=device)
    if isinstance(doc, dict):
        outcome.readings = doc
        for r in doc["r"]:
            outcome.keys.append((device, r["seq"], r["ts"]))
            outcome.lines.append(reading_line(device, r["ts"], r["seq"], r["clk"], measurements(r), r.get("flags", ())))
    else:
        outcome.status = doc
        time_us = (doc.ts if doc.ts is not None else int(message.received_at)) * 1_000_000
        numbers = {name: getattr(doc, name) for name in _STATUS_NUMBERS}
        outcome.status_lines.append(status_line(device, time_us, doc.online, numbers, doc.fw))
    return outcome


# The status message's measured numbers, from the contract's table (v is the
# schema and ts the point's time, so neither is a field).
_STATUS_NUMBERS = tuple(name for name, spec in wire.STATUS_FIELDS.items() if spec[0] in ("int", "float") and name not in ("v", "ts"))


def _refuse(message: Inbound, violation: ContractViolation) -> Outcome:
    return Outcome(
        quarantine=QuarantineRecord(
            topic=message.topic,
            received_at=message.received_at,
            reason=violation.code,
            detail=violation.detail,
            payload=message.payload,
        )
    )
