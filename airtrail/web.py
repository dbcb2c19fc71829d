"""The web app of `airtrail serve`, assembled from the packages' routers.

The collector's API (health, metrics, kits, readings, quarantine, schema) is
the base; packages above the collector (the council view of viz, next) add
their routers here, so the collector never imports them.
"""

from __future__ import annotations

from fastapi import FastAPI

from collector.api.app import create_app
from collector.service import Collector

__all__ = ["build_app"]


def build_app(collector: Collector) -> FastAPI:
    return create_app(collector)
