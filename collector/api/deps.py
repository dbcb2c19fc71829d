"""Dependencies: the running collector and the bearer-token checks."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.service import Collector

from .errors import ApiError

_bearer = HTTPBearer(auto_error=False)


def get_collector(request: Request) -> Collector:
    return request.app.state.collector


CollectorDep = Annotated[Collector, Depends(get_collector)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _matches(credentials: HTTPAuthorizationCredentials | None, *tokens) -> bool:
    if credentials is None:
        return False
    given = credentials.credentials.encode()
    return any(t is not None and secrets.compare_digest(given, t.get_secret_value().encode()) for t in tokens)


def require_admin(collector: CollectorDep, credentials: Credentials) -> None:
    token = collector.settings.api.admin_token
    if token is None:
        raise ApiError(403, "admin endpoints are disabled: set api.admin_token (AIRTRAIL_API__ADMIN_TOKEN) to enable them")
    if not _matches(credentials, token):
        raise ApiError(401, "this endpoint needs the admin bearer token (Authorization: Bearer <token>)")


def require_reader(collector: CollectorDep, credentials: Credentials) -> None:
    api = collector.settings.api
    if api.public_read:
        return
    if not _matches(credentials, api.read_token, api.admin_token):
        raise ApiError(401, "reading endpoints need a bearer token (api.read_token or api.admin_token)")


Admin = Depends(require_admin)
Reader = Depends(require_reader)
