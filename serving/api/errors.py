"""The one place where errors become HTTP answers: `{"error": {"code", "message"}}` with the status of
the typed error (`xscreen.errors`). Anything untyped is logged and answered 500 in the same shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from xscreen.errors import AuthError, MetricsUnauthorized, QueueFull, ScanTooLarge, ServiceUnavailable, XscreenError, validation_summary

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 415: "unsupported_media"}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: XscreenError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, QueueFull):
        headers["Retry-After"] = str(RETRY_AFTER_S)
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = "Bearer" if isinstance(exc, MetricsUnauthorized) else 'ApiKey header="X-API-Key"'
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.http_status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    return validation_summary(exc.errors(), skip_loc=("body", "query", "path"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(XscreenError)
    async def _typed(request: Request, exc: XscreenError) -> JSONResponse:
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.errors.labels(code=exc.code).inc()
        if exc.http_status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, exc.message)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", _validation_message(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        # The database or the image store is unreachable or full: nothing was answered as stored, and the
        # station may resend the same scan_id once it is back (idempotent).
        logger.error("storage failure on %s %s: %s", request.method, request.url.path, exc)
        error = ServiceUnavailable(f"storage unavailable ({type(exc).__name__}); retry later with the same scan_id")
        return await _typed(request, error)

    @app.exception_handler(Exception)
    async def _untyped(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", "internal error; the request was logged"), status_code=500)


class BodySizeLimit:
    """Pure ASGI: refuse a body over `max_bytes` (413) from its Content-Length, or while it streams in."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    response = JSONResponse(error_body(ScanTooLarge.code, self._message()), status_code=413, headers={"Connection": "close"})
                    await response(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ScanTooLarge(self._message())
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"
