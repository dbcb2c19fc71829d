"""Service health and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from collector.contract import json_schema

from ..deps import CollectorDep

router = APIRouter(tags=["service"])


@router.get("/health", summary="Broker, InfluxDB and spool state")
def health(collector: CollectorDep, response: Response) -> dict[str, Any]:
    body = collector.health()
    # 200 while readings are safe (even when spooling); 503 once the spool is
    # full and the collector has stopped accepting messages.
    if body["status"] == "failing":
        response.status_code = 503
    return body


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(collector: CollectorDep) -> Response:
    return Response(collector.telemetry.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/schema/v1.json", summary="JSON Schema of the MQTT message contract")
def schema() -> dict[str, Any]:
    return json_schema()
