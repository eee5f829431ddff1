"""One pure-ASGI middleware for every HTTP request: the Host and origin checks
(:mod:`faceprint.service.origin`), the upload limit (checked on Content-Length before reading, and
on the bytes actually received), the body-read time limit (a client that declares a body and then
sends it slowly or not at all is answered 408 and disconnected), security headers, a request id,
and the metrics. Pure ASGI (not BaseHTTPMiddleware) so streaming bodies and client disconnects behave."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

from faceprint.service.errors import PayloadTooLarge, ServiceError, body
from faceprint.service.metrics import Metrics
from faceprint.service.origin import UNSAFE_METHODS, OriginPolicy

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
#: the web page loads only its own script, style and blob:/data: images it makes from uploads
PAGE_CSP = (
    b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; "
    b"connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: API responses are data, never documents
API_CSP = b"default-src 'none'; frame-ancestors 'none'"


class BodyTimeout(ServiceError):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, "request_timeout", f"the request body was not received within {seconds:g} s")


SHUTTING_DOWN = "the server is shutting down; this request may or may not have been applied: check before retrying"


class ServiceMiddleware:
    def __init__(
        self,
        app: Any,
        *,
        max_body: int,
        metrics: Metrics,
        policy: OriginPolicy | None = None,
        body_timeout_s: float | None = None,
        large_bodies: dict[str, tuple[int, float | None]] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        #: paths (POST) whose bodies get their own size and time limits: path -> (max bytes, timeout s)
        self.large_bodies = dict(large_bodies or {})
        self.metrics = metrics
        self.policy = policy
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = secrets.token_hex(8)
        status_box = [500]
        started = [False]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                status_box[0] = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"content-security-policy"] + list(
                    SECURITY_HEADERS
                )
                path = scope.get("path", "")
                is_page = path == "/" or path.startswith("/static/")
                headers.append((b"content-security-policy", PAGE_CSP if is_page else API_CSP))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        declared = None
        headers: dict[bytes, str] = {}
        for k, v in scope.get("headers", []):
            if k in (b"host", b"origin", b"sec-fetch-site"):
                headers[k] = v.decode("latin-1")
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None
        self.metrics.begin()
        try:
            if self.policy is not None:
                if not self.policy.host_allowed(headers.get(b"host")):
                    msg = "this Host is not served here (set FACEPRINT_ALLOWED_HOSTS to serve a host name)"
                    await self._reject(send_wrapper, 421, "misdirected_request", msg)
                    return
                method = scope.get("method", "")
                origin_ok = self.policy.origin_allowed(
                    headers.get(b"origin"), headers.get(b"host"), headers.get(b"sec-fetch-site"), scope.get("scheme", "http")
                )
                if method in UNSAFE_METHODS and not origin_ok:
                    msg = "cross-origin requests that change data are refused (set FACEPRINT_CORS_ORIGINS to allow an origin)"
                    await self._reject(send_wrapper, 403, "cross_origin", msg)
                    return
            max_body, body_timeout_s = self.large_bodies.get(scope.get("path", ""), (self.max_body, self.body_timeout_s))
            if declared is not None and declared > max_body:
                await self._reject(send_wrapper, 413, "payload_too_large", str(PayloadTooLarge(max_body)))
                return
            received = [0]
            body_done = [False]
            deadline = None if body_timeout_s is None else time.monotonic() + body_timeout_s

            async def receive_wrapper() -> dict[str, Any]:
                if deadline is None or body_done[0]:
                    message = await receive()
                else:
                    try:
                        message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                    except TimeoutError:
                        raise BodyTimeout(body_timeout_s or 0.0) from None
                if message["type"] == "http.request":
                    received[0] += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        body_done[0] = True
                    if received[0] > max_body:
                        raise PayloadTooLarge(max_body)
                return message

            try:
                await self.app(scope, receive_wrapper, send_wrapper)
            except BodyTimeout as e:
                if started[0]:
                    raise
                await self._reject(send_wrapper, e.status, e.code, e.message)
            except asyncio.CancelledError:
                # uvicorn cancels requests still running when the shutdown grace ends: answer JSON
                # (not its bare 500 and a logged traceback). The job may still finish and commit.
                if started[0]:
                    raise
                await self._reject(send_wrapper, 503, "shutting_down", SHUTTING_DOWN)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if scope.get("path", "").startswith("/static/") else "unmatched"
            )
            self.metrics.end(scope.get("method", "?"), template, status_box[0], time.perf_counter() - start)

    @staticmethod
    async def _reject(send: Any, status: int, code: str, message: str) -> None:
        payload = json.dumps(body(code, message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
