"""The FastAPI application around a running collector."""

from __future__ import annotations

from fastapi import FastAPI

from collector.service import Collector

from . import errors
from .routes import devices, health, quarantine


def create_app(collector: Collector) -> FastAPI:
    app = FastAPI(
        title="airtrail collector",
        version="0.1.0",
        description="Health, metrics, kits and their stored readings. Errors share one shape: {\"error\": {\"code\", \"message\", \"detail\"}}.",
    )
    app.state.collector = collector
    errors.install(app)
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(quarantine.router)
    return app
