"""Dependencies: the running collector, the bearer-token checks, and the query-string check."""

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


def _matches(given: str | None, *tokens) -> bool:
    if not given:
        return False
    return any(t is not None and secrets.compare_digest(given.encode(), t.get_secret_value().encode()) for t in tokens)


def require_admin(collector: CollectorDep, credentials: Credentials) -> None:
    token = collector.settings.api.admin_token
    if token is None:
        raise ApiError(403, "admin endpoints are disabled: set api.admin_token (AIRTRAIL_API__ADMIN_TOKEN) to enable them")
    if not _matches(credentials and credentials.credentials, token):
        raise ApiError(401, "this endpoint needs the admin bearer token (Authorization: Bearer <token>)")


def _reads(api, given: str | None) -> bool:
    return _matches(given, api.read_token, api.admin_token)


def caller_has_token(request: Request) -> bool:
    """Whether the caller sent the read or the admin token: only then may an
    answer hold kits' GPS positions or a server error's details."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and _reads(get_collector(request).settings.api, given.strip())


def require_reader(collector: CollectorDep, credentials: Credentials) -> None:
    api = collector.settings.api
    if not api.public_read and not _reads(api, credentials and credentials.credentials):
        raise ApiError(401, "reading endpoints need a bearer token (api.read_token or api.admin_token)")


def reject_unknown_query(request: Request) -> None:
    """A misspelt parameter (?formt=csv) is a 400 naming it, not silently ignored.

    The parameters an operation takes are read from the app's own OpenAPI
    document, so the check and the docs cannot disagree. Pages left out of the
    document (/docs, /redoc) are not checked.
    """
    route = request.scope.get("route")
    method = "get" if request.method == "HEAD" else request.method.lower()
    operation = request.app.openapi()["paths"].get(getattr(route, "path_format", None), {}).get(method)
    if operation is None:
        return
    known = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        takes = f"this endpoint takes {', '.join(known)}" if known else "this endpoint takes none"
        raise ApiError(400, f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; {takes}")


Admin = Depends(require_admin)
Reader = Depends(require_reader)
Trusted = Annotated[bool, Depends(caller_has_token)]
