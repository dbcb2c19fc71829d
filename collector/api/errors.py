"""One JSON error shape for every API error: {"error": {"code", "message", "detail", "request_id"}}.

Every answer carries an ``X-Request-ID`` header. A 5xx tells a caller without
a token only what failed and that id: InfluxDB's URL and its answer go to the
log (``airtrail.api``) under the same id, since the reading endpoints are
public by default.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.errors import InfluxRejected, InfluxUnavailable

log = logging.getLogger("airtrail.api")

REQUEST_ID_HEADER = "X-Request-ID"


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An error answer; its code follows from the status (see _CODES)."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        self.status, self.code, self.message, self.detail = status, _CODES.get(status, "error"), message, detail


def _body(request: Request, code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail, "request_id": request_id(request)}}


_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 422: "invalid_request", 500: "internal_error", 502: "upstream_error", 503: "unavailable",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code.replace("_", " ")} for status, code in _CODES.items() if status != 500
}


def request_id(request: Request) -> str:
    """The id RequestIds gave this request (kept in the ASGI scope's state, which every layer shares)."""
    state = request.scope.setdefault("state", {})
    return state.setdefault("request_id", secrets.token_hex(8))


class RequestIds:
    """ASGI middleware: an id for each request, sent back in the X-Request-ID header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header = (REQUEST_ID_HEADER.lower().encode(), request_id(Request(scope)).encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


# A "+01:00" offset sent unencoded arrives as " 01:00": the query string
# decodes "+" as a space (WHATWG URL, application/x-www-form-urlencoded).
_PLUS_AS_SPACE = re.compile(r"\d \d{2}:?\d{2}$")
_PLUS_HINT = "a '+' in a URL must be encoded as %2B (…T10:00:00%2B01:00), or give the time in UTC with Z"


def _problem(error: dict[str, Any]) -> dict[str, str]:
    problem = {"where": ".".join(str(p) for p in error["loc"]), "problem": error["msg"]}
    value = error.get("input")
    if error["loc"][:1] == ("query",) and isinstance(value, str) and _PLUS_AS_SPACE.search(value):
        problem["problem"] += f" ({value!r} looks like a time whose '+' offset arrived as a space: {_PLUS_HINT})"
    return problem


def install(app: FastAPI, trusted: Callable[[Request], bool]) -> None:
    """The error handlers and request ids; ``trusted(request)`` says whether the
    caller gave a token (and so may read a server error's details)."""
    app.add_middleware(RequestIds)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(_body(request, exc.code, exc.message, exc.detail), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_body(request, _CODES.get(exc.status_code, "error"), str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(e) for e in exc.errors()]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:3])
        return JSONResponse(_body(request, "invalid_request", message, problems), status_code=422)

    def _upstream(request: Request, status: int, what: str, details: str) -> JSONResponse:
        rid = request_id(request)
        log.warning("request %s (%s %s): %s: %s", rid, request.method, request.url.path, what, details)
        message = f"{what}: {details}" if trusted(request) else f"{what}; the collector log has the details under request id {rid}"
        return JSONResponse(_body(request, _CODES[status], message), status_code=status)

    @app.exception_handler(InfluxUnavailable)
    async def _influx_down(request: Request, exc: InfluxUnavailable) -> JSONResponse:
        return _upstream(request, 503, "InfluxDB is unavailable", str(exc))

    @app.exception_handler(InfluxRejected)
    async def _influx_refused(request: Request, exc: InfluxRejected) -> JSONResponse:
        # The request was valid and the query is ours: a refusal is InfluxDB's
        # or our fault, not the caller's, so it is not a 400.
        return _upstream(request, 502, "InfluxDB refused the query", str(exc))

    # Anything else, our own AirtrailErrors included (a damaged device
    # registry), is the server's problem, never the caller's: a 500 whose
    # details go to the log (Starlette re-raises it to the server after this
    # response), not to a possibly public caller. This answer leaves through
    # Starlette's outermost layer, around RequestIds, so it sets its header itself.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.error("request %s (%s %s): unexpected %s: %s", rid, request.method, request.url.path, type(exc).__name__, exc)
        body = _body(request, "internal_error", f"unexpected server error; the collector log has it under request id {rid}")
        return JSONResponse(body, status_code=500, headers={REQUEST_ID_HEADER: rid})
