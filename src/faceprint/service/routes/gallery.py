"""Gallery routes: identify (``read``), enroll and delete (``write``), list and show (``read``)."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from faceprint.service.auth import Principal, require
from faceprint.service.inputs import Body, Param, Payload
from faceprint.service.routes._common import AUTH_ERRORS, IMAGE_ERRORS, handle, size_of
from faceprint.service.routes.faces import THRESHOLD, K
from faceprint.service.schemas import (
    DeleteResponse,
    EnrollResponse,
    ErrorResponse,
    IdentifyResponse,
    IdentityDetail,
    IdentityList,
)

router = APIRouter(prefix="/v1", tags=["gallery"])

IDENTIFY = Body(params=(K, THRESHOLD))
ENROLL = Body(
    images=("images",),
    many=("images",),
    params=(
        Param("name", "str", "the person's name", required=True, max_length=200),
        Param(
            "select",
            "str",
            "which face to take from photos with several (default: refuse them)",
            enum=("largest", "center", "score"),
        ),
        Param("metadata", "json", "free-form metadata stored with the identity (JSON object)"),
    ),
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "no such identity"}}
NAME = Path(..., min_length=1, max_length=200, description="the person's name")


def _identify(ctx: Any, payload: Payload) -> dict[str, Any]:
    img = ctx.decode(payload.image())
    found = ctx.gallery.identify(img, payload.params["k"], threshold=payload.params["threshold"])
    return {"image": size_of(img), "faces": [f.to_dict() for f in found]}


def _enroll(ctx: Any, payload: Payload) -> dict[str, Any]:
    from faceprint.errors import InvalidInput
    from faceprint.io import image_size
    from faceprint.matching.names import validate_name

    p = payload.params
    try:
        name = validate_name(p["name"])  # before any image is decoded
    except InvalidInput as e:
        raise InvalidInput(f"field 'name': {e}") from None
    for i, data in enumerate(payload.images["images"]):  # the server's pixel limit, from headers
        image_size(data, max_pixels=ctx.settings.max_pixels, name=f"images[{i}]")
    # the gallery gets the uploaded bytes: it hashes them to refuse duplicates, decodes every
    # image before storing any, and stores all in one transaction (all or nothing)
    uploads = [_named(data, f"images[{i}]") for i, data in enumerate(payload.images["images"])]
    res = ctx.gallery.enroll(name, uploads, select=p["select"], metadata=p["metadata"])
    return res.to_dict()


def _named(data: bytes, name: str) -> io.BytesIO:
    """An upload as a named file object, so outcomes and errors say which field it was."""
    f = io.BytesIO(data)
    f.name = name
    return f


@router.post(
    "/identify",
    response_model=IdentifyResponse,
    responses=IMAGE_ERRORS,
    openapi_extra=IDENTIFY.openapi(),
    summary="Who is in this photo?",
)
async def identify(request: Request, _: Principal = Depends(require("read"))) -> Any:
    return await handle(request, IDENTIFY, _identify)


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    status_code=201,
    responses=IMAGE_ERRORS | {409: {"model": ErrorResponse, "description": "the gallery refuses (e.g. another model)"}},
    openapi_extra=ENROLL.openapi(),
    summary="Enroll a person from photos (all or nothing)",
)
async def enroll(request: Request, _: Principal = Depends(require("write"))) -> Any:
    return await handle(request, ENROLL, _enroll, max_images=request.app.state.ctx.settings.max_images)


@router.get("/identities", response_model=IdentityList, responses=AUTH_ERRORS, summary="Every enrolled person")
async def list_identities(request: Request, _: Principal = Depends(require("read"))) -> Any:
    ctx = request.app.state.ctx

    def work() -> dict[str, Any]:
        recs = ctx.gallery.list()
        return {"identities": [r.to_dict() for r in recs], "model": ctx.gallery.model, "n_faces": sum(r.n_faces for r in recs)}

    return await ctx.run(work)


@router.get(
    "/identities/{name}",
    response_model=IdentityDetail,
    responses=AUTH_ERRORS | NOT_FOUND,
    summary="One person and their enrolled faces",
)
async def show_identity(request: Request, name: str = NAME, _: Principal = Depends(require("read"))) -> Any:
    ctx = request.app.state.ctx

    def work() -> dict[str, Any]:
        rec, faces = ctx.gallery.show(name)
        return {"identity": rec.to_dict(), "faces": [f.to_dict() for f in faces]}

    return await ctx.run(work)


@router.delete(
    "/identities/{name}",
    response_model=DeleteResponse,
    responses=AUTH_ERRORS | NOT_FOUND,
    summary="Delete a person and all their faces",
)
async def delete_identity(request: Request, name: str = NAME, _: Principal = Depends(require("write"))) -> Any:
    ctx = request.app.state.ctx

    def work() -> dict[str, Any]:
        n = ctx.gallery.delete(name)
        return {"deleted": name, "faces_removed": n}

    return await ctx.run(work)
