"""Stateless face routes: detect, embed, verify, analyze (scope ``read``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from faceprint.service.auth import Principal, require
from faceprint.service.inputs import Body, Param, Payload
from faceprint.service.routes._common import IMAGE_ERRORS, box_list, handle, size_of
from faceprint.service.schemas import AnalyzeResponse, DetectResponse, EmbedResponse, VerifyResponse

router = APIRouter(prefix="/v1", tags=["faces"])

SELECT = Param(
    "select", "str", "which face when there are several: largest, center or score", "largest", enum=("largest", "center", "score")
)
THRESHOLD = Param("threshold", "float", "decision threshold (cosine); default: the calibrated one", minimum=-1.0, maximum=1.0)
K = Param("k", "int", "candidates per face", 5, minimum=1, maximum=100)

DETECT = Body()
EMBED = Body()
VERIFY = Body(images=("image_a", "image_b"), params=(THRESHOLD, SELECT))
TASKS = Param(
    "tasks",
    "str",
    "comma-separated analysis tasks among expression, age, gender, liveness, quality (default: every installed task)",
    max_length=200,
)
INCLUDE_RACE = Param("include_race", "bool", "add GEAR's race probabilities: for bias audits only", False)
IDENTIFY = Param("identify", "bool", "also identify each face against the gallery (one pass)", False)
ANALYZE = Body(params=(IDENTIFY, K, THRESHOLD, TASKS, INCLUDE_RACE))


def _points(lm: Any) -> Any:
    return (
        None if lm is None else {"scheme": lm.scheme, "points": [[round(float(x), 2), round(float(y), 2)] for x, y in lm.points]}
    )


def _detect(ctx: Any, payload: Payload) -> dict[str, Any]:
    img = ctx.decode(payload.image())
    faces = ctx.pipeline.process(img, embed=False)
    return {
        "image": size_of(img),
        "faces": [{**f.detection.to_dict(), "landmarks": _points(f.landmarks or f.detection.landmarks)} for f in faces],
    }


def _embed(ctx: Any, payload: Payload) -> dict[str, Any]:
    img = ctx.decode(payload.image())
    faces = [f for f in ctx.pipeline.process(img) if f.embedding is not None]
    return {
        "image": size_of(img),
        "faces": [
            {
                "box": box_list(f.box),
                "score": round(f.detection.score, 4),
                "model": f.embedding.model,
                "embedding": [float(x) for x in f.embedding.vector],
            }
            for f in faces
        ],
    }


def _verify(ctx: Any, payload: Payload) -> dict[str, Any]:
    from faceprint.api import verify as verify_fn
    from faceprint.errors import NoFaceFound
    from faceprint.pipeline import select_face

    chosen = []
    for field in ("image_a", "image_b"):
        img = ctx.decode(payload.image(field), field)
        faces = [f for f in ctx.pipeline.process(img) if f.embedding is not None]
        if not faces:
            raise NoFaceFound("no face found", source=field)
        chosen.append(select_face(faces, payload.params["select"], img.shape))
    v = verify_fn(chosen[0].embedding, chosen[1].embedding, threshold=payload.params["threshold"])
    return {**v.to_dict(), "box_a": box_list(chosen[0].box), "box_b": box_list(chosen[1].box)}


def _analyze(ctx: Any, payload: Payload) -> dict[str, Any]:
    from faceprint.analysis import analyze_faces

    p = payload.params
    analyzers = ctx.analyzers(p["tasks"], bool(p["include_race"]))  # 400 / 503 before decoding
    img = ctx.decode(payload.image())
    found = analyze_faces(
        img,
        pipeline=ctx.pipeline,
        analyzers=analyzers,
        gallery=ctx.gallery if p["identify"] else None,
        k=p["k"],
        threshold=p["threshold"],
    )
    return {"image": size_of(img), "faces": [a.to_dict() for a in found], "models": analyzers.models()}


@router.post(
    "/detect", response_model=DetectResponse, responses=IMAGE_ERRORS, openapi_extra=DETECT.openapi(), summary="Find every face"
)
async def detect(request: Request, _: Principal = Depends(require("read"))) -> Any:
    return await handle(request, DETECT, _detect)


@router.post(
    "/embed",
    response_model=EmbedResponse,
    responses=IMAGE_ERRORS,
    openapi_extra=EMBED.openapi(),
    summary="Embedding of every face",
)
async def embed(request: Request, _: Principal = Depends(require("read"))) -> Any:
    return await handle(request, EMBED, _embed)


@router.post(
    "/verify",
    response_model=VerifyResponse,
    responses=IMAGE_ERRORS,
    openapi_extra=VERIFY.openapi(),
    summary="Are two faces the same person?",
)
async def verify(request: Request, _: Principal = Depends(require("read"))) -> Any:
    return await handle(request, VERIFY, _verify, max_images=2)


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    responses=IMAGE_ERRORS,
    openapi_extra=ANALYZE.openapi(),
    summary="Expression, age, gender, liveness and quality of every face (and who it is)",
)
async def analyze(request: Request, _: Principal = Depends(require("read"))) -> Any:
    return await handle(request, ANALYZE, _analyze)
