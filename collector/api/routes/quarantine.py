"""The quarantine (admin): what was refused and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ..deps import Admin, CollectorDep
from ..errors import ERROR_RESPONSES

router = APIRouter(tags=["admin"], dependencies=[Admin], responses=ERROR_RESPONSES)


@router.get("/quarantine", summary="Refused messages and points, newest first")
def quarantine(
    collector: CollectorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    reason: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    q = collector.quarantine
    return {"total": q.count(), "by_reason": q.counts_by_reason(), "items": q.list(limit=limit, offset=offset, reason=reason)}
