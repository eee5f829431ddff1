"""Authentication and scopes.

A request carries its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. When the
service requires authentication (always when bound beyond loopback), a missing or unknown key is
``401 unauthorized`` and a key without the route's scope ``403 forbidden``. When it does not (loopback
with ``auth=auto``/``off``), every request may do everything except key management, which always
needs an admin key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from faceprint.service.errors import ServiceError
from faceprint.service.keys import matches_operator, scope_allows

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (fpk_...)")
_bearer = HTTPBearer(auto_error=False, description="an API key (fpk_...) as a bearer token")


@dataclass(frozen=True)
class Principal:
    key_id: str | None  # None: anonymous on an unauthenticated (loopback) service
    scope: str


def require(scope: str) -> Callable[..., Any]:
    """A FastAPI dependency that admits requests whose key has ``scope`` (or a higher one)."""

    async def dependency(
        request: Request,
        header_key: str | None = Depends(_header),
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        ctx = request.app.state.ctx
        key = header_key or (bearer.credentials if bearer else None)
        if not key:
            if not ctx.settings.auth_required and scope != "admin":
                return Principal(None, "write")
            raise ServiceError(
                401,
                "unauthorized",
                "an API key is required (Authorization: Bearer <key> or X-API-Key)",
                {"WWW-Authenticate": "Bearer"},
            )
        found = matches_operator(key, ctx.operator) or await ctx.run_io(ctx.keys.check, key)
        if found is None:
            raise ServiceError(401, "unauthorized", "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
        if not scope_allows(found.scope, scope):
            raise ServiceError(403, "forbidden", f"this key has the {found.scope!r} scope; this route needs {scope!r}")
        return Principal(found.id, found.scope)

    return dependency
