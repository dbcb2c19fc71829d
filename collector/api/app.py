"""The FastAPI application around a running collector."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from collector.service import Collector

from . import errors
from .deps import caller_has_token, reject_unknown_query
from .routes import devices, health, quarantine


def create_app(collector: Collector) -> FastAPI:
    # FastAPIOffline serves Swagger UI (/docs) and ReDoc (/redoc) from the
    # assets in its package, not from a CDN: the docs work at a workshop with
    # no internet. No validator badge: it would load from swagger.io.
    app = FastAPIOffline(
        title="airtrail collector",
        version="0.1.0",
        description="Health, metrics, kits and their stored readings. Errors share one shape: {\"error\": {\"code\", \"message\", \"detail\", \"request_id\"}}.",
        dependencies=[Depends(reject_unknown_query)],
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.collector = collector
    errors.install(app, trusted=caller_has_token)
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(quarantine.router)
    return app
