"""Errors as JSON, mapped in one place.

Every error body has the same shape::

    {"error": {"code": "...", "message": "...", "retryable": false,
               "fields": [{"field": ..., "reason": ...}]}}

``ApiError`` is raised by routes for HTTP-level problems; the project's error family
(``NotFound``, ``Conflict``, ``Permanent``, ``Retryable``, ...) raised below the routes is
mapped here, so no route translates errors itself.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from avs_shared.errors import AvsError, ConfigurationError, Conflict, NotFound, Permanent, Retryable

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An HTTP error with a machine-readable ``code`` and a message that says what to do."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.fields = fields or []
        self.headers = headers or {}
        self.extra = extra or {}


def error_body(
    code: str,
    message: str,
    *,
    retryable: bool = False,
    fields: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "retryable": retryable}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


def _response(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, retryable=exc.retryable, fields=exc.fields, **exc.extra),
        status_code=exc.status,
        headers=exc.headers,
    )


def _from_domain(exc: AvsError) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc))
    if isinstance(exc, Retryable):
        seconds = max(1, round(exc.retry_after_s))
        return ApiError(503, "unavailable", str(exc), retryable=True, headers={"Retry-After": str(seconds)})
    if isinstance(exc, Permanent):
        return ApiError(400, "bad_request", str(exc))
    if isinstance(exc, ConfigurationError):
        return ApiError(500, "misconfigured", "the service is misconfigured; the operators were told")
    return ApiError(500, "internal", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _response(exc)

    @app.exception_handler(AvsError)
    async def domain_error(request: Request, exc: AvsError) -> JSONResponse:
        mapped = _from_domain(exc)
        if mapped.status >= 500:
            log.warning("request failed", path=request.url.path, error=repr(exc), status=mapped.status)
        return _response(mapped)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")),
                "reason": str(err.get("msg", "invalid")),
            }
            for err in exc.errors()
        ]
        message = "the request is invalid; see fields"
        return _response(ApiError(422, "invalid_request", message, fields=fields))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return _response(ApiError(500, "internal", "internal error; it was logged"))
