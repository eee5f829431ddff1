"""Probes and metrics. ``/healthz`` is always open (a liveness probe must not need a secret);
``/readyz`` and ``/metrics`` describe the deployment (models, gallery size, traffic), so they need a
key with the ``read`` scope whenever the service requires authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from faceprint.service.auth import require
from faceprint.service.routes._common import AUTH_ERRORS
from faceprint.service.schemas import Health, Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz() -> Any:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    responses={**AUTH_ERRORS, 503: {"model": Ready}},
    summary="Readiness: models loaded, gallery open",
)
async def readyz(request: Request, _: Any = Depends(require("read"))) -> Any:
    ctx = request.app.state.ctx
    if not ctx.ready:
        return JSONResponse({"status": "starting", "models": {}, "gallery": {}}, status_code=503)
    models = {"embedder": ctx.pipeline.model_tag}
    if ctx.pipeline.config is not None:
        models["detector"] = ctx.pipeline.config.detector
    if ctx.analyzer_tag is not None:
        models["expression"] = ctx.analyzer_tag
    try:
        n_ids, n_faces = await ctx.run_io(ctx.gallery.count)
    except Exception as e:  # the store is down: not ready, and say why
        return JSONResponse(
            {"status": "gallery unavailable", "models": models, "gallery": {"error": type(e).__name__}}, status_code=503
        )
    return {"status": "ready", "models": models, "gallery": {"identities": n_ids, "faces": n_faces, "model": ctx.gallery.model}}


@router.get(
    "/metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}, **AUTH_ERRORS},
    summary="Prometheus metrics (text format 0.0.4)",
)
async def metrics(request: Request, _: Any = Depends(require("read"))) -> Any:
    return PlainTextResponse(request.app.state.ctx.metrics.render(), media_type="text/plain; version=0.0.4")
