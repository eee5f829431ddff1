"""Library routes (``/v1/library``): the people a photo library found, their faces and photos,
naming, merging and splitting, face thumbnails and photo previews, and indexing the server's
configured library root. Listing needs the ``read`` scope; naming, merging, splitting and
indexing need ``write``. Without ``faceprint serve --library FILE`` every route but
``GET /v1/library`` answers 409 ``library_off``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from faceprint.service.auth import Principal, require
from faceprint.service.errors import ServiceError
from faceprint.service.library import MAX_PAGE, PREVIEW_MAX, PREVIEW_MIN
from faceprint.service.library_schemas import (
    MAX_ID,
    ClusterOut,
    ClusterPage,
    FacePage,
    IndexJob,
    IndexRequest,
    LibrarySummary,
    MergeRequest,
    NameRequest,
    PhotoPage,
    SplitRequest,
)
from faceprint.service.routes._common import AUTH_ERRORS
from faceprint.service.schemas import ErrorResponse

router = APIRouter(prefix="/v1/library", tags=["library"])

_E = {"model": ErrorResponse}
OFF: dict[int | str, dict[str, Any]] = {409: {**_E, "description": "no library on this server (library_off)"}}
READ_ERRORS = AUTH_ERRORS | OFF
ID_ERRORS = READ_ERRORS | {404: {**_E, "description": "no such cluster, face or photo"}}
WRITE_ERRORS = ID_ERRORS | {400: {**_E, "description": "refused: an invalid name, faces of several clusters, ..."}}
INDEX_ERRORS = READ_ERRORS | {
    400: {**_E, "description": "not a folder under the library root"},
    409: {**_E, "description": "no library or no library root on this server, or a job is running"},
}
JPEG = {"content": {"image/jpeg": {}}, "description": "a JPEG image"}

CLUSTER_ID = PathParam(..., ge=1, le=MAX_ID, description="a cluster's id (GET /v1/library/people)")
FACE_ID = PathParam(..., ge=1, le=MAX_ID, description="a face's id")
PHOTO_ID = PathParam(..., ge=1, le=MAX_ID, description="a photo's id")
OFFSET = Query(0, ge=0, description="items to skip")
LIMIT = Query(100, ge=1, description=f"items per page (at most {MAX_PAGE}; larger values are clamped)")


def _library(request: Request) -> Any:
    lib = request.app.state.ctx.library
    if lib is None:
        raise ServiceError(409, "library_off", "this server serves no photo library: start it with "
                           "`faceprint serve --library FILE` (the file `faceprint index` writes)")
    return lib


async def _run(request: Request, fn: Any, *args: Any) -> Any:
    lib = _library(request)
    return await request.app.state.ctx.run(getattr(lib, fn), *args)


@router.get("", response_model=LibrarySummary, responses=AUTH_ERRORS, summary="The library: counts, indexing state")
async def summary(request: Request, _: Principal = Depends(require("read"))) -> Any:
    if request.app.state.ctx.library is None:
        return {"enabled": False}
    return await _run(request, "summary")


@router.get("/people", response_model=ClusterPage, responses=READ_ERRORS,
            summary="Named people and proposed clusters, with counts and a thumbnail URL")
async def people(
    request: Request,
    kind: Literal["all", "people", "clusters"] = Query("all", description="people: named only; clusters: unnamed only"),
    min_faces: int = Query(1, ge=0, le=MAX_ID, description="leave out clusters with fewer faces"),
    offset: int = OFFSET,
    limit: int = LIMIT,
    _: Principal = Depends(require("read")),
) -> Any:
    return await _run(request, "people", kind, min_faces, offset, limit)


@router.get("/clusters/{cluster_id}", response_model=ClusterOut, responses=ID_ERRORS, summary="One person or cluster")
async def cluster(request: Request, cluster_id: int = CLUSTER_ID, _: Principal = Depends(require("read"))) -> Any:
    from faceprint.service.library import cluster_out

    return cluster_out(await _run(request, "cluster", cluster_id))


@router.get("/clusters/{cluster_id}/faces", response_model=FacePage, responses=ID_ERRORS,
            summary="A person's or cluster's faces (paged; their ids are what split takes)")
async def faces(request: Request, cluster_id: int = CLUSTER_ID, offset: int = OFFSET, limit: int = LIMIT,
                _: Principal = Depends(require("read"))) -> Any:
    return await _run(request, "faces", cluster_id, offset, limit)


@router.get("/clusters/{cluster_id}/photos", response_model=PhotoPage, responses=ID_ERRORS,
            summary="Every photo of a person or cluster (paged)")
async def photos(request: Request, cluster_id: int = CLUSTER_ID, offset: int = OFFSET, limit: int = LIMIT,
                 _: Principal = Depends(require("read"))) -> Any:
    return await _run(request, "photos", cluster_id, offset, limit)


@router.get("/faces/{face_id}/thumbnail", response_class=Response, responses=ID_ERRORS | {200: JPEG},
            summary="A face's thumbnail (JPEG, at most 96 px)")
async def thumbnail(request: Request, face_id: int = FACE_ID, _: Principal = Depends(require("read"))) -> Any:
    return Response(await _run(request, "thumbnail", face_id), media_type="image/jpeg")


@router.get("/photos/{photo_id}/image", response_class=Response,
            responses=ID_ERRORS | {200: JPEG, 400: {**_E, "description": "the file cannot be decoded any more"},
                                   413: {**_E, "description": "the photo exceeds the server's pixel limit"}},
            summary="A JPEG preview of a photo, from its file")
async def photo_image(
    request: Request,
    photo_id: int = PHOTO_ID,
    size: int = Query(320, ge=1, description=f"longer side in px (clamped to {PREVIEW_MIN}-{PREVIEW_MAX})"),
    _: Principal = Depends(require("read")),
) -> Any:
    return Response(await _run(request, "preview", photo_id, size), media_type="image/jpeg")


@router.post("/clusters/{cluster_id}/name", response_model=ClusterOut, responses=WRITE_ERRORS,
             summary="Name a cluster (a name already taken merges it into that person)")
async def name(request: Request, body: NameRequest, cluster_id: int = CLUSTER_ID,
               _: Principal = Depends(require("write"))) -> Any:
    from faceprint.service.library import cluster_out

    return cluster_out(await _run(request, "name", cluster_id, body.name))


@router.post("/merge", response_model=ClusterOut, responses=WRITE_ERRORS, summary="Merge clusters into one")
async def merge(request: Request, body: MergeRequest, _: Principal = Depends(require("write"))) -> Any:
    from faceprint.service.library import cluster_out

    return cluster_out(await _run(request, "merge", body.target, list(body.others)))


@router.post("/split", response_model=ClusterOut, status_code=201, responses=WRITE_ERRORS,
             summary="Move faces out of their cluster into a new one")
async def split(request: Request, body: SplitRequest, _: Principal = Depends(require("write"))) -> Any:
    from faceprint.service.library import cluster_out

    return cluster_out(await _run(request, "split", sorted(set(body.faces)), body.name))


@router.post("/index", response_model=IndexJob, status_code=202, responses=INDEX_ERRORS,
             summary="Index the library root, or a folder under it (a job: poll GET /v1/library/index)")
async def start_index(request: Request, body: IndexRequest, _: Principal = Depends(require("write"))) -> Any:
    state = await _run(request, "start_index", body.folder)
    return JSONResponse(state, status_code=202)


@router.get("/index", response_model=IndexJob, responses=READ_ERRORS, summary="The indexing job's state and progress")
async def index_state(request: Request, _: Principal = Depends(require("read"))) -> Any:
    return _library(request).job()
