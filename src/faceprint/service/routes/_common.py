"""Shared by the route modules: error responses for OpenAPI, and image-size helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from faceprint.service.inputs import Body, Payload, read_payload
from faceprint.service.schemas import ErrorResponse

_E = {"model": ErrorResponse}
#: documented error responses of a route that reads images and needs a key
IMAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "bad input: invalid image or field"},
    401: {**_E, "description": "missing or unknown API key"},
    403: {**_E, "description": "the key lacks the scope"},
    413: {**_E, "description": "upload or image too large"},
    422: {**_E, "description": "no face / several faces where one is needed / invalid request"},
    503: {**_E, "description": "busy, shutting down, or a model or the storage is unavailable"},
    504: {**_E, "description": "time limit exceeded"},
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {k: IMAGE_ERRORS[k] for k in (401, 403, 422, 503)}


def size_of(img: np.ndarray) -> dict[str, int]:
    return {"width": int(img.shape[1]), "height": int(img.shape[0])}


def box_list(box: Any) -> list[float]:
    return [round(float(v), 2) for v in box.as_tuple()]


async def handle(request: Any, spec: Body, work: Callable[[Any, Payload], Any], *, max_images: int = 1) -> Any:
    """Read the body by ``spec`` on the event loop, then run ``work(ctx, payload)`` (decoding and
    the models) on the bounded work pool."""
    ctx = request.app.state.ctx
    payload = await read_payload(request, spec, max_images=max_images)
    return await ctx.run(work, ctx, payload)
