"""Kits: what the collector knows of them, and their stored readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from airkit import contract as wire
from collector.contract import MEASUREMENT_NAMES
from collector.device_state import DeviceState
from collector.devices import DeviceRegistry
from collector.readings import UnknownFields, fetch_readings, rows_csv

from ..deps import CollectorDep, Reader
from ..errors import ERROR_RESPONSES, ApiError

router = APIRouter(tags=["devices"], dependencies=[Reader], responses=ERROR_RESPONSES)

class DevicePublic(BaseModel):
    device_id: str
    registered: bool
    last_seen: datetime | None
    last_reading_at: datetime | None
    online: bool | None
    firmware: str | None
    mode: str | None
    battery_v: float | None
    queue_depth: int | None
    dropped: int | None
    rssi: int | None
    sensors: dict[str, str]
    readings_since_start: int


def _dt(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


@router.get("/devices", summary="Every kit: last seen, status, firmware, battery, queue depth")
def devices(collector: CollectorDep) -> list[DevicePublic]:
    registry_path = collector.settings.registry_path
    registered = {d.device_id for d in DeviceRegistry(registry_path)} if registry_path.exists() else set()
    states = {s.device_id: s for s in collector.states.all()}
    out = []
    for device_id in sorted(registered | set(states)):
        s = states.get(device_id) or DeviceState(device_id)  # registered, never heard from
        status = s.status
        out.append(
            DevicePublic(
                device_id=device_id,
                registered=device_id in registered,
                last_seen=_dt(s.last_seen),
                last_reading_at=_dt(s.last_reading_ts),
                online=status.get("online"),
                firmware=s.firmware,
                mode=status.get("mode"),
                battery_v=status.get("batt_v"),
                queue_depth=status.get("queue"),
                dropped=status.get("dropped"),
                rssi=status.get("rssi"),
                sensors=status.get("sensors", {}),
                readings_since_start=s.readings,
            )
        )
    return out


# Readings exist from 2020 on (the contract refuses older ones); the bounds
# keep datetime arithmetic and InfluxDB's int64 nanoseconds far from overflow.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and not (_EARLIEST <= _utc(moment) <= _LATEST):
            raise ApiError(400, f"{name} must be between {_EARLIEST.date()} and {_LATEST.date()}")
    end = _utc(end) if end else datetime.now(UTC)
    start = _utc(start) if start else end - timedelta(hours=24)
    if start >= end:
        raise ApiError(400, f"start ({start.isoformat()}) must be before end ({end.isoformat()})")
    return start, end


def _fields(requested: str | None) -> list[str]:
    if not requested:
        return list(MEASUREMENT_NAMES)
    return [f.strip() for f in requested.split(",") if f.strip()]


@router.get(
    "/devices/{device_id}/readings",
    summary="Stored readings of one kit, as JSON or CSV",
    responses={200: {"content": {"text/csv": {}}}},
)
def readings(
    collector: CollectorDep,
    request: Request,
    device_id: Annotated[str, Path(pattern=wire.DEVICE_ID_PATTERN)],
    start: Annotated[datetime | None, Query(description="ISO 8601; default: 24 h before end")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601; default: now")] = None,
    fields: Annotated[str | None, Query(description="comma-separated field names; default: all")] = None,
    format: Annotated[Literal["json", "csv"] | None, Query(description="default: from the Accept header, else json")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Any:
    start, end = _time_range(start, end)
    names = _fields(fields)
    try:
        rows = fetch_readings(collector.influxql, device_id, start, end, names, limit)
    except UnknownFields as exc:
        raise ApiError(400, str(exc)) from None
    wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        return Response(rows_csv(rows, names), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{device_id}.csv"'})
    return {"device_id": device_id, "start": start, "end": end, "count": len(rows), "readings": rows}
