"""Every error the service returns is JSON ``{"error": {"code": ..., "message": ...}}`` with the
status below; never a traceback. Unexpected exceptions are logged (type and stack, no request
data) and answered with ``500 internal_error``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from faceprint.errors import (
    FaceprintError,
    GalleryError,
    ImageTooLarge,
    InvalidImage,
    InvalidInput,
    ModelUnavailable,
    MultipleFaces,
    NoFaceFound,
    StorageError,
    UnknownIdentity,
)

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error raised by the service layer itself (auth, limits, overload)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class PayloadTooLarge(ServiceError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "payload_too_large", f"request body exceeds the {limit // (1024 * 1024)} MiB upload limit")


#: package exception -> HTTP status (first match wins: subclasses before their bases)
STATUS: tuple[tuple[type[FaceprintError], int], ...] = (
    (ImageTooLarge, 413),
    (InvalidImage, 400),
    (InvalidInput, 400),
    (NoFaceFound, 422),
    (MultipleFaces, 422),
    (UnknownIdentity, 404),
    (StorageError, 503),
    (GalleryError, 409),
    (ModelUnavailable, 503),
)


def status_of(e: FaceprintError) -> int:
    for cls, status in STATUS:
        if isinstance(e, cls):
            return status
    return 500


def body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def scrub(message: str, ctx: Any) -> str:
    """Remove the server's file locations and database URLs from a message sent to a client."""
    secrets_ = []
    store = getattr(getattr(ctx, "gallery", None), "store", None)
    if store is not None:
        secrets_.append((str(getattr(store, "location", "")), "<gallery>"))
    secrets_ += [(str(ctx.settings.store or ""), "<gallery>"), (str(ctx.home), "<home>")]
    for attr, label in (("library", "<library>"), ("library_root", "<library root>")):
        value = getattr(ctx.settings, attr, None)
        if value is not None:
            secrets_ += [(str(value), label), (str(Path(value).resolve()), label)]
    for value, label in sorted(secrets_, key=lambda x: -len(x[0])):
        if len(value) > 1:
            message = message.replace(value, label)
    return message


def install(app: Any) -> None:
    """Register the JSON error handlers on a FastAPI app."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    async def faceprint_error(request: Any, e: FaceprintError) -> JSONResponse:
        status = status_of(e)
        if status >= 500:
            logger.warning("%s %s -> %d %s", request.method, request.url.path, status, e.code)
        return JSONResponse(body(e.code, scrub(str(e), request.app.state.ctx)), status_code=status)

    async def service_error(request: Any, e: ServiceError) -> JSONResponse:
        return JSONResponse(body(e.code, e.message), status_code=e.status, headers=e.headers)

    async def http_error(request: Any, e: HTTPException) -> JSONResponse:
        codes = {
            400: "invalid_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }
        code = codes.get(e.status_code, "http_error")
        msg = e.detail if isinstance(e.detail, str) else code.replace("_", " ")
        return JSONResponse(body(code, msg), status_code=e.status_code, headers=getattr(e, "headers", None))

    async def validation_error(request: Any, e: RequestValidationError) -> JSONResponse:
        parts = []
        for err in e.errors()[:5]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
        return JSONResponse(body("invalid_request", "; ".join(parts) or "invalid request"), status_code=422)

    async def disconnected(request: Any, e: ClientDisconnect) -> JSONResponse:
        logger.info("%s %s: client disconnected before the request body was complete", request.method, request.url.path)
        return JSONResponse(body("client_disconnected", "client disconnected"), status_code=400)

    async def unexpected(request: Any, e: Exception) -> JSONResponse:
        logger.error("%s %s: unexpected %s", request.method, request.url.path, type(e).__name__, exc_info=e)
        return JSONResponse(body("internal_error", "internal error (logged on the server)"), status_code=500)

    app.add_exception_handler(FaceprintError, faceprint_error)
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(Exception, unexpected)
