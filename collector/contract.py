"""Validation of the wire contract, built from the tables in ``airkit.contract``.

The kit and the collector share one definition: the field table lives in the
firmware package (it must run on the kit) and the pydantic models here are
generated from it, so a field added there is validated, documented in the JSON
Schema and stored without further edits.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, create_model
from typing_extensions import Required, TypedDict

from airkit import contract as wire

DeviceId = Annotated[str, StringConstraints(pattern=wire.DEVICE_ID_PATTERN)]
DEVICE_ID = re.compile(wire.DEVICE_ID_PATTERN)
Flag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,24}$")]
# Experimental field names are identifier-like so they never need escaping in
# line protocol and cannot smuggle in a tag or a second field.
EXPERIMENTAL_FIELD = re.compile(r"^" + wire.EXPERIMENTAL_PREFIX + r"[a-z0-9_]{1,30}$")

class ContractViolation(ValueError):
    """A message that does not meet the contract; ``code`` is a short, stable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


_STRICT = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")

MEASUREMENT_NAMES: tuple[str, ...] = tuple(wire.FIELDS) + tuple(wire.POSITION)
_RESERVED = frozenset(("ts", "clk", "seq", "flags"))
_KNOWN = frozenset(MEASUREMENT_NAMES) | _RESERVED


def _reading_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": Required[Annotated[int, Field(ge=wire.EARLIEST_TS, description="Kit clock time of the reading, whole seconds since the Unix epoch (UTC).")]],
        "clk": Required[Annotated[Literal[wire.CLOCKS], Field(description="How the kit's clock was set: ntp, gps, or rtc (free-running, never synchronised this boot).")]],
        "seq": Required[Annotated[int, Field(ge=0, le=2**53, description="Per-device sequence number, increasing across reboots.")]],
        "flags": Annotated[list[Flag], Field(max_length=wire.MAX_FLAGS, description="Sensor status flags: " + ", ".join(wire.FLAGS))],
    }
    for table in (wire.FIELDS, wire.POSITION):
        for name, (unit, lo, hi, description) in table.items():
            label = f"{description} ({unit})" if unit else description
            fields[name] = Annotated[float, Field(ge=lo, le=hi, description=label, json_schema_extra={"unit": unit})]
    return fields


# Readings are validated as TypedDicts, not models: pydantic-core checks them
# without building an object per reading, which is most of the collector's CPU.
Reading = TypedDict("Reading", _reading_fields(), total=False)  # type: ignore[misc]
Reading.__doc__ = "One aggregated sample from a kit. Fields named " + wire.EXPERIMENTAL_PREFIX + "* carry experimental numbers."
Reading.__pydantic_config__ = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")  # type: ignore[attr-defined]


class ReadingsMessage(TypedDict):
    """Payload of airtrail/v1/<device>/readings: one reading or a batch."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]

    v: Annotated[Literal[wire.SCHEMA_VERSION], Field(description="Schema version.")]
    dev: Annotated[DeviceId, Field(description="Device id; must equal the <device> level of the topic.")]
    fw: Annotated[str, Field(max_length=wire.MAX_FW_LENGTH, description="Firmware version of the kit.")]
    r: Annotated[list[Reading], Field(min_length=1, max_length=wire.MAX_BATCH)]  # type: ignore[valid-type]


_READINGS = TypeAdapter(ReadingsMessage)


def measurements(reading: dict[str, Any]) -> dict[str, float]:
    """Measured values present in a validated reading, known and experimental."""
    return {k: v for k, v in reading.items() if k not in _RESERVED}


def _check_reading_extras(readings: list[dict[str, Any]]) -> None:
    for i, reading in enumerate(readings):
        if _KNOWN.issuperset(reading):
            continue
        for key in reading.keys() - _KNOWN:
            value = reading[key]
            if not EXPERIMENTAL_FIELD.match(key):
                raise ContractViolation(wire.REASON_INVALID, f"r.{i}: unknown field {key!r} (experimental fields look like {wire.EXPERIMENTAL_PREFIX}name)")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ContractViolation(wire.REASON_INVALID, f"r.{i}.{key}: experimental fields must be finite numbers")


def _status_field(kind: str, required: bool, lo: Any, hi: Any, allowed: Any, description: str) -> tuple[Any, Any]:
    """One StatusMessage field from its row in ``wire.STATUS_FIELDS``: (annotation, FieldInfo)."""
    if kind == "sensors":
        health = Literal[tuple(allowed)]  # type: ignore[valid-type]
        name = Annotated[str, StringConstraints(max_length=wire.MAX_SENSOR_NAME_LENGTH)]
        return dict[name, health], Field(default_factory=dict, max_length=hi, description=description)  # type: ignore[valid-type]
    base: Any = Literal[tuple(allowed)] if allowed is not None else _STATUS_TYPES[kind]
    bounds = {"min_length": lo, "max_length": hi} if kind == "str" else {"ge": lo, "le": hi}
    constraints = {k: v for k, v in bounds.items() if v is not None}
    if required:
        return base, Field(description=description, **constraints)
    return base | None, Field(default=None, description=description, **constraints)


_STATUS_TYPES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "device_id": DeviceId}

StatusMessage = create_model(  # type: ignore[call-overload]
    "StatusMessage",
    __config__=_STRICT,
    __doc__="Payload of ``airtrail/v1/<device>/status`` (retained; the last will says offline).",
    **{name: _status_field(*row) for name, row in wire.STATUS_FIELDS.items()},
)


def _describe(errors: list[Any], total: int) -> str:
    parts = []
    for err in errors[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    more = total - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_message(kind: str, device: str, payload: bytes, now: float, max_bytes: int = wire.MAX_PAYLOAD_BYTES) -> dict[str, Any] | StatusMessage:
    """Validate one MQTT payload: a readings dict (ReadingsMessage) or a StatusMessage.

    Raises ContractViolation with a short code and a human-readable detail.
    """
    if len(payload) > max_bytes:
        raise ContractViolation(wire.REASON_TOO_LARGE, f"payload is {len(payload)} bytes; the limit is {max_bytes}")
    try:
        doc: Any = _READINGS.validate_json(payload) if kind == wire.READINGS else StatusMessage.model_validate_json(payload)
    except ValidationError as exc:
        raise _classify(exc, payload) from None
    dev = doc["dev"] if isinstance(doc, dict) else doc.dev
    if dev != device:
        raise ContractViolation(wire.REASON_DEVICE_MISMATCH, f"device id {dev!r} in the payload differs from {device!r} in the topic")
    if isinstance(doc, dict):
        latest = now + wire.MAX_FUTURE_S
        for i, reading in enumerate(doc["r"]):
            if reading["ts"] > latest:
                raise ContractViolation(
                    wire.REASON_TIMESTAMP_RANGE, f"r.{i}.ts: {reading['ts']} is more than {wire.MAX_FUTURE_S} s ahead of the collector's clock"
                )
        _check_reading_extras(doc["r"])
    return doc


def _classify(exc: ValidationError, payload: bytes) -> ContractViolation:
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return ContractViolation(wire.REASON_INVALID_JSON, first["msg"])
    if first["loc"] == ("v",):
        return ContractViolation(wire.REASON_SCHEMA_VERSION, _version_problem(_peek_version(payload)))
    # timestamp_range is for a time that is a time but out of range; a ts that
    # is no time at all (a string, a float, missing) is invalid like any other
    # wrong type, and the detail says so first.
    at_ts = [e for e in errors if _is_ts(e["loc"])]
    if any(e["type"] == "greater_than_equal" for e in at_ts):
        return ContractViolation(wire.REASON_TIMESTAMP_RANGE, _describe(errors, len(errors)))
    if at_ts:
        others = [e for e in errors if not _is_ts(e["loc"])]
        detail = "; ".join(_ts_problem(e) for e in at_ts[:3])
        return ContractViolation(wire.REASON_INVALID, detail + ("; " + _describe(others, len(others)) if others else ""))
    return ContractViolation(wire.REASON_INVALID, _describe(errors, len(errors)))


def _is_ts(loc: tuple[Any, ...]) -> bool:
    """The ts of a status message, or of reading i of a readings message (not a sensor called "ts")."""
    return loc == ("ts",) or (len(loc) == 3 and loc[0] == "r" and loc[2] == "ts")


def _ts_problem(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"{where} is missing: every reading needs its time, whole seconds since the Unix epoch (UTC)"
    return f"{where} must be an integer, whole seconds since the Unix epoch (UTC); got {_json_value(err['input'])}"


_ABSENT = object()


def _version_problem(seen: Any) -> str:
    if seen is _ABSENT:
        return f"v is missing; this collector speaks v{wire.SCHEMA_VERSION} (\"v\": {wire.SCHEMA_VERSION})"
    if type(seen) is int:
        return f"schema version {seen} is not understood; this collector speaks v{wire.SCHEMA_VERSION}"
    return f"v must be the integer {wire.SCHEMA_VERSION}, got {_json_value(seen)}"


def _json_value(value: Any) -> str:
    """A JSON value named with its type, for messages: the string '1', the number 1.5, null."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return "an array" if isinstance(value, list) else "an object"


def _peek_version(payload: bytes) -> Any:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    return doc.get("v", _ABSENT) if isinstance(doc, dict) else None


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of both message kinds."""
    readings = _READINGS.json_schema(ref_template="#/$defs/{model}")
    status = StatusMessage.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**readings.pop("$defs"), "ReadingsMessage": readings, "StatusMessage": status}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://airtrail.invalid/schema/v1.json",
        "title": f"airtrail wire contract v{wire.SCHEMA_VERSION}",
        "description": (
            f"MQTT topics: {wire.TOPIC_ROOT}/<device_id>/{wire.READINGS} (ReadingsMessage, QoS 1) and "
            f"{wire.TOPIC_ROOT}/<device_id>/{wire.STATUS} (StatusMessage, retained; the last will sets online=false)."
        ),
        "oneOf": [{"$ref": "#/$defs/ReadingsMessage"}, {"$ref": "#/$defs/StatusMessage"}],
        "$defs": defs,
    }
