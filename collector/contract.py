"""Validation of the wire contract, built from the tables in ``airkit.contract``.

The kit and the collector share one definition: the field table lives in the
firmware package (it must run on the kit) and the pydantic models here are
generated from it, so a field added there is validated, documented in the JSON
Schema and stored without further edits.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from pydantic.json_schema import models_json_schema

from airkit import contract as wire

DeviceId = Annotated[str, StringConstraints(pattern=wire.DEVICE_ID_PATTERN)]
Flag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,24}$")]

_STRICT = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")


def _measurement_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for table in (wire.FIELDS, wire.POSITION):
        for name, (unit, lo, hi, description) in table.items():
            label = f"{description} ({unit})" if unit else description
            fields[name] = (
                float | None,
                Field(default=None, ge=lo, le=hi, description=label, json_schema_extra={"unit": unit}),
            )
    return fields


class _ReadingBase(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")

    ts: int = Field(
        ge=wire.EARLIEST_TS,
        description="Kit clock time of the reading, whole seconds since the Unix epoch (UTC).",
    )
    clk: Literal["ntp", "gps", "rtc"] = Field(
        description="How the kit's clock was set: ntp, gps, or rtc (free-running, never synchronised this boot)."
    )
    seq: int = Field(ge=0, le=2**53, description="Per-device sequence number, increasing across reboots.")
    flags: list[Flag] = Field(default_factory=list, max_length=wire.MAX_FLAGS, description="Sensor status flags.")

    @model_validator(mode="after")
    def _experimental_fields(self) -> "_ReadingBase":
        # extra="allow" lets x_* experimental fields through; anything else is
        # a typo or a field from a schema we do not speak, and is refused.
        for key, value in (self.model_extra or {}).items():
            if not key.startswith(wire.EXPERIMENTAL_PREFIX) or len(key) > 32:
                raise ValueError(f"unknown field {key!r} (experimental fields must start with {wire.EXPERIMENTAL_PREFIX!r})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"experimental field {key!r} must be a finite number")
        return self

    @field_validator("ts")
    @classmethod
    def _not_in_future(cls, ts: int, info: ValidationInfo) -> int:
        now = (info.context or {}).get("now")
        if now is not None and ts > now + wire.MAX_FUTURE_S:
            raise ValueError(f"timestamp {ts} is more than {wire.MAX_FUTURE_S} s ahead of the collector's clock")
        return ts

    def measurements(self) -> dict[str, float]:
        """Measured values present in this reading, known and experimental."""
        values = {name: getattr(self, name) for name in MEASUREMENT_NAMES if getattr(self, name) is not None}
        values.update(self.model_extra or {})
        return values


MEASUREMENT_NAMES: tuple[str, ...] = tuple(wire.FIELDS) + tuple(wire.POSITION)

Reading = create_model(  # type: ignore[call-overload]
    "Reading",
    __base__=_ReadingBase,
    __doc__="One aggregated sample from a kit.",
    **_measurement_fields(),
)


class ReadingsMessage(BaseModel):
    """Payload of ``airtrail/v1/<device>/readings``: one reading or a batch."""

    model_config = _STRICT

    v: Literal[1] = Field(description="Schema version.")
    dev: DeviceId = Field(description="Device id; must equal the <device> level of the topic.")
    fw: str = Field(max_length=32, description="Firmware version of the kit.")
    r: list[Reading] = Field(min_length=1, max_length=wire.MAX_BATCH)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _device_matches_topic(self, info: ValidationInfo) -> "ReadingsMessage":
        topic_device = (info.context or {}).get("device")
        if topic_device is not None and topic_device != self.dev:
            raise ValueError(f"device id {self.dev!r} in the payload differs from {topic_device!r} in the topic")
        return self


class StatusMessage(BaseModel):
    """Payload of ``airtrail/v1/<device>/status`` (retained; the last will says offline)."""

    model_config = _STRICT

    v: Literal[1]
    dev: DeviceId
    online: bool
    ts: int | None = Field(default=None, ge=wire.EARLIEST_TS)
    clk: Literal["ntp", "gps", "rtc"] | None = None
    fw: str | None = Field(default=None, max_length=32)
    mode: Literal["online", "walk"] | None = None
    batt_v: float | None = Field(default=None, ge=0, le=6)
    queue: int | None = Field(default=None, ge=0, description="Readings waiting in the kit's flash queue.")
    dropped: int | None = Field(default=None, ge=0, description="Readings the kit dropped because its flash was full.")
    rssi: int | None = Field(default=None, ge=-130, le=0)
    uptime: int | None = Field(default=None, ge=0)
    sensors: dict[Annotated[str, StringConstraints(max_length=24)], Literal["ok", "missing", "error", "warmup", "nofix", "off"]] = Field(
        default_factory=dict, max_length=16
    )

    @model_validator(mode="after")
    def _device_matches_topic(self, info: ValidationInfo) -> "StatusMessage":
        topic_device = (info.context or {}).get("device")
        if topic_device is not None and topic_device != self.dev:
            raise ValueError(f"device id {self.dev!r} in the payload differs from {topic_device!r} in the topic")
        return self


class ContractViolation(ValueError):
    """A message that does not meet the contract; ``code`` is a short, stable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_message(kind: str, device: str, payload: bytes, now: float, max_bytes: int = wire.MAX_PAYLOAD_BYTES):
    """Validate one MQTT payload. Returns a ReadingsMessage or StatusMessage.

    Raises ContractViolation with a short code and a human-readable detail.
    """
    if len(payload) > max_bytes:
        raise ContractViolation("too_large", f"payload is {len(payload)} bytes; the limit is {max_bytes}")
    model: type[BaseModel] = ReadingsMessage if kind == wire.READINGS else StatusMessage
    context = {"device": device, "now": now}
    try:
        return model.model_validate_json(payload, context=context)
    except ValidationError as exc:
        raise _classify(exc, payload) from None


def _classify(exc: ValidationError, payload: bytes) -> ContractViolation:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return ContractViolation("invalid_json", first["msg"])
    if first["loc"] == ("v",):
        seen = _peek_version(payload)
        return ContractViolation(
            "schema_version", f"schema version {seen!r} is not understood; this collector speaks v{wire.SCHEMA_VERSION}"
        )
    if any("differs from" in str(e.get("msg")) for e in exc.errors()):
        return ContractViolation("device_mismatch", _describe(exc))
    if any(e["loc"][-1:] == ("ts",) for e in exc.errors()):
        return ContractViolation("timestamp_range", _describe(exc))
    return ContractViolation("invalid", _describe(exc))


def _peek_version(payload: bytes) -> Any:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    return doc.get("v") if isinstance(doc, dict) else None


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of both message kinds."""
    _, defs = models_json_schema(
        [(ReadingsMessage, "validation"), (StatusMessage, "validation")], ref_template="#/$defs/{model}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://airtrail.invalid/schema/v1.json",
        "title": f"airtrail wire contract v{wire.SCHEMA_VERSION}",
        "description": (
            f"MQTT topics: {wire.TOPIC_ROOT}/<device_id>/{wire.READINGS} (ReadingsMessage, QoS 1) and "
            f"{wire.TOPIC_ROOT}/<device_id>/{wire.STATUS} (StatusMessage, retained; the last will sets online=false)."
        ),
        "oneOf": [{"$ref": "#/$defs/ReadingsMessage"}, {"$ref": "#/$defs/StatusMessage"}],
        "$defs": defs["$defs"],
    }
