"""The web page at ``/`` (plain HTML, CSS and JS shipped in ``faceprint/service/static``; no
external assets, so it works offline)."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from faceprint.service.errors import ServiceError

router = APIRouter(include_in_schema=False)
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _static(name: str) -> bytes:
    return (resources.files("faceprint.service") / "static" / name).read_bytes()


@router.get("/")
async def index() -> Any:
    return HTMLResponse(_static("index.html"))


_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@router.get("/static/{name}")
async def static(name: str) -> Any:
    suffix = name[name.rfind(".") :] if "." in name else ""
    # shipped files have plain names: NUL, control characters, separators and dot-files are never served
    if not _SAFE_NAME.fullmatch(name) or name.startswith(".") or suffix not in _TYPES:
        raise ServiceError(404, "not_found", "no such file")
    try:
        data = _static(name)
    except (OSError, ValueError):
        raise ServiceError(404, "not_found", "no such file") from None
    return Response(data, media_type=_TYPES[suffix])
