"""One JSON error shape for every API error: {"error": {"code", "message"}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.errors import InfluxRejected, InfluxUnavailable


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An error answer; its code follows from the status (see _CODES)."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        self.status, self.code, self.message, self.detail = status, _CODES.get(status, "error"), message, detail


def _body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail}}


_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 422: "invalid_request", 500: "internal_error", 502: "upstream_error", 503: "unavailable",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code.replace("_", " ")} for status, code in _CODES.items() if status != 500
}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(_body(exc.code, exc.message, exc.detail), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(_body(_CODES.get(exc.status_code, "error"), str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:3])
        return JSONResponse(_body("invalid_request", message, problems), status_code=422)

    @app.exception_handler(InfluxUnavailable)
    async def _influx_down(request: Request, exc: InfluxUnavailable) -> JSONResponse:
        return JSONResponse(_body("unavailable", f"InfluxDB is unavailable: {exc}"), status_code=503)

    @app.exception_handler(InfluxRejected)
    async def _influx_refused(request: Request, exc: InfluxRejected) -> JSONResponse:
        # The request was valid and the query is ours: a refusal is InfluxDB's
        # or our fault, not the caller's, so it is not a 400.
        return JSONResponse(_body("upstream_error", f"InfluxDB refused the query: {exc}"), status_code=502)

    # Anything else, our own AirtrailErrors included (a damaged device
    # registry), is the server's problem, never the caller's: a 500 whose
    # details go to the log (Starlette re-raises it to the server after this
    # response), not to a possibly public caller.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(_body("internal_error", "unexpected server error; see the collector log"), status_code=500)
