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
from collector.devices import Device, DeviceRegistry
from collector.readings import BadCursor, UnknownFields, fetch_readings, page, rows_csv
from collector.service import Collector

from ..deps import CollectorDep, Reader, Trusted
from ..errors import ERROR_RESPONSES, ApiError
from ..privacy import positions

router = APIRouter(tags=["devices"], dependencies=[Reader], responses=ERROR_RESPONSES)


class Location(BaseModel):
    lat: float
    lon: float
    precision: Literal["exact", "coarse"]


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
    # Registered by the owner of a fixed kit; without a token only for a kit
    # in online mode, as the owner lets it be published (see api/privacy.py).
    location: Location | None = None


def _dt(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _registered(collector: Collector) -> dict[str, Device]:
    path = collector.settings.registry_path
    return {d.device_id: d for d in DeviceRegistry(path)} if path.exists() else {}


def _location(trusted: bool, mode: str | None, device: Device | None) -> Location | None:
    if trusted and device is not None and device.lat is not None and device.lon is not None:
        return Location(lat=device.lat, lon=device.lon, precision="exact")
    shown = positions(trusted, mode, device).location
    return Location(lat=shown[0], lon=shown[1], precision=device.location_privacy) if shown and device else None


@router.get("/devices", summary="Every kit: last seen, status, firmware, battery, queue depth, registered location")
def devices(collector: CollectorDep, trusted: Trusted) -> list[DevicePublic]:
    registered = _registered(collector)
    states = {s.device_id: s for s in collector.states.all()}
    out = []
    for device_id in sorted(registered.keys() | states.keys()):
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
                location=_location(trusted, status.get("mode"), registered.get(device_id)),
            )
        )
    return out


# Readings exist from 2020 on (the contract refuses older ones); the bounds
# keep datetime arithmetic and InfluxDB's int64 nanoseconds far from overflow.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


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


def _next_link(public_url: str | None, request: Request, start: datetime, end: datetime, cursor: str) -> str:
    """The next page's address: the configured public address (or none: a path resolved against the
    request), then this request's path and query with the window pinned and the cursor moved. Never
    the Host header's: a caller (or a proxy's cache) could make the link point anywhere, and a client
    that follows it would send its token there."""
    query = request.url.include_query_params(start=_iso(start), end=_iso(end), cursor=cursor).query
    return f"{(public_url or '').rstrip('/')}{request.url.path}?{query}"


@router.get(
    "/devices/{device_id}/readings",
    summary="Stored readings of one kit, as JSON or CSV, in pages",
    description=(
        "Oldest first. When more rows remain than `limit`, the answer links the next page: the JSON `next` field, "
        "or the CSV `Link: <…>; rel=\"next\"` header. Without the read or admin token, a walk kit's (or a kit of "
        "unknown mode's) position columns are empty and a fixed kit's show its registered location."
    ),
    responses={200: {"content": {"text/csv": {}}}},
)
def readings(
    collector: CollectorDep,
    request: Request,
    trusted: Trusted,
    device_id: Annotated[str, Path(pattern=wire.DEVICE_ID_PATTERN)],
    start: Annotated[datetime | None, Query(description="ISO 8601; default: 24 h before end")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601; default: now")] = None,
    fields: Annotated[str | None, Query(description="comma-separated field names; default: all")] = None,
    format: Annotated[Literal["json", "csv"] | None, Query(description="default: from the Accept header, else json")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="rows per page")] = 10_000,
    cursor: Annotated[str | None, Query(max_length=19, description="where the previous page ended; follow its next link")] = None,
) -> Any:
    start, end = _time_range(start, end)
    names = _fields(fields)
    try:
        found = page(fetch_readings(collector.influxql, device_id, start, end, names, limit + 1, cursor), limit)
    except (UnknownFields, BadCursor) as exc:
        raise ApiError(400, str(exc)) from None
    registered = _registered(collector)
    state = collector.states.get(device_id)
    if not found.rows and state is None and device_id not in registered:
        raise ApiError(404, f"no kit {device_id!r} is registered or has been heard from; GET /devices lists the known ones")
    shown = positions(trusted, state.status.get("mode") if state else None, registered.get(device_id))
    rows = shown.apply(found.rows)
    # The next page keeps this page's window, also when end defaulted to now.
    next_url = _next_link(collector.settings.api.public_url, request, start, end, found.next_cursor) if found.next_cursor else None
    wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        headers = {"Content-Disposition": f'attachment; filename="{device_id}.csv"', "Airtrail-Positions": shown.source}
        if next_url:
            headers["Link"] = f'<{next_url}>; rel="next"'
        return Response(rows_csv(rows, names), media_type="text/csv; charset=utf-8", headers=headers)
    return {"device_id": device_id, "start": start, "end": end, "count": len(rows), "positions": shown.source, "next": next_url, "readings": rows}
