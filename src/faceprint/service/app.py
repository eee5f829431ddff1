"""``create_app(settings)``: the FastAPI application.

    >>> from faceprint.service import create_app, ServiceSettings
    >>> app = create_app(ServiceSettings(home="/tmp/fp"))   # doctest: +SKIP

Models load once, in the lifespan start-up (``/readyz`` answers 503 until then); every request
shares them through ``app.state.ctx`` (see :mod:`faceprint.service.context`). Stages can be
injected (``pipeline=``, ``gallery=``, ``analyzer=``) for tests and custom deployments.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faceprint.service.settings import ServiceSettings


def create_app(
    settings: ServiceSettings | None = None, *, pipeline: Any = None, gallery: Any = None, analyzer: Any = None
) -> Any:
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware

    import faceprint
    from faceprint.service import errors
    from faceprint.service.context import ServiceContext
    from faceprint.service.middleware import ServiceMiddleware
    from faceprint.service.origin import OriginPolicy
    from faceprint.service.routes import faces, health, keys, page
    from faceprint.service.routes import gallery as gallery_routes
    from faceprint.service.routes import library as library_routes
    from faceprint.service.routes import video as video_routes

    settings = settings or ServiceSettings()
    ctx = ServiceContext(settings, pipeline=pipeline, gallery=gallery, analyzer=analyzer)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await asyncio.to_thread(ctx.start)
        try:
            yield
        finally:
            jobs = getattr(app.state, "video_jobs", None)
            if jobs is not None:
                jobs.close()  # video uploads and outputs are removed with the process
            await asyncio.to_thread(ctx.stop)

    app = FastAPI(
        title="faceprint",
        version=faceprint.__version__,
        description="Offline face recognition: detect, embed, verify, identify, enroll, analyze. "
        "Images go in as multipart files or base64 JSON; errors are JSON {error: {code, message}}.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI would load its assets from a CDN: the schema is at /openapi.json
        redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    for r in (health.router, faces.router, gallery_routes.router, keys.router, video_routes.router, library_routes.router,
              page.router):
        app.include_router(r)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    policy = OriginPolicy.build(settings.host, settings.allowed_hosts, settings.cors_origins)
    app.add_middleware(
        ServiceMiddleware,
        max_body=settings.max_upload_bytes,
        metrics=ctx.metrics,
        policy=policy,
        body_timeout_s=settings.body_timeout_s,
        large_bodies={"/v1/video": (settings.max_video_bytes, settings.video_body_timeout_s)},
    )
    return app
