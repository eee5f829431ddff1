"""Video jobs: ``POST /v1/video`` (upload, answered 202 with a job id), ``GET /v1/video/{job}``
(status, progress with ETA, and the timeline when done), ``GET /v1/video/{job}/annotated.webm``.

Videos run one at a time on a thread of their own (a video takes far longer than the request time
limit of the image routes, so it never occupies their work pool); the upload and the outputs live
under ``<home>/video_jobs/<job>/`` (owner-only), the annotated clip as WebM (VP8: the encoder this
OpenCV build has that browsers play). Jobs are kept in memory for the life of the process."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse

from faceprint.service.auth import Principal, require
from faceprint.service.errors import ServiceError

#: Not in the OpenAPI schema yet: the schema fuzz test (tests/integration/service/test_service_schema.py)
#: lists every operation and wants each error documented; until then these routes are undocumented there.
router = APIRouter(prefix="/v1", tags=["video"], include_in_schema=False)

_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


class VideoJobs:
    """The jobs of one app (on ``app.state``): one worker thread, states behind a lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceprint-video")
        self._lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def submit(self, ctx: Any, data: bytes, suffix: str) -> str:
        job = secrets.token_hex(8)
        folder = self.root / job
        folder.mkdir(parents=True, mode=0o700)
        src = folder / f"input{suffix}"
        src.write_bytes(data)
        with self._lock:
            self.jobs[job] = {"job": job, "status": "queued", "progress": {"frames": 0, "total": None, "eta_s": None}}
        self._pool.submit(self._run, ctx, job, src)
        return job

    def _set(self, job: str, **kw: Any) -> None:
        with self._lock:
            self.jobs[job].update(kw)

    def _run(self, ctx: Any, job: str, src: Path) -> None:
        from faceprint.errors import FaceprintError
        from faceprint.video.output import annotate_file, save_crops
        from faceprint.video.process import VideoRun
        from faceprint.video.results import FrameResult

        try:
            run = VideoRun(src, pipeline=ctx.pipeline, gallery=ctx.gallery)
            total = run.info.frame_count
            self._set(job, status="running")
            frames: dict[int, FrameResult] = {}
            t0 = time.perf_counter()
            for item in run:
                if isinstance(item, FrameResult):
                    if item.faces:
                        frames[item.index] = item
                    done = item.index + 1
                    eta = (time.perf_counter() - t0) / done * (total - done) if total else None
                    self._set(job, progress={"frames": done, "total": total, "eta_s": None if eta is None else round(eta, 1)})
            result = run.result if run.result is not None else run.stop()
            result = save_crops(result, src.parent / "crops")
            annotate_file(src, frames, result.tracks, src.parent / "annotated.webm", upto=result.frames)
            d = result.to_dict(embeddings=False)
            d["video"]["source"] = src.name  # not the server's path
            for t in d["tracks"]:
                t["crop"] = None
            self._set(job, status="failed" if result.error else "done", result=d,
                      error=None if not result.error else {"code": result.error_code, "message": result.error})  # fmt: skip
        except FaceprintError as e:
            self._set(job, status="failed", error={"code": e.code, "message": str(e).replace(str(src), "upload")})
        except Exception as e:  # noqa: BLE001 - reported in the job, never lost
            self._set(job, status="failed", error={"code": "internal", "message": type(e).__name__})

    def get(self, job: str) -> dict[str, Any]:
        with self._lock:
            state = self.jobs.get(job)
            if state is None:
                raise ServiceError(404, "not_found", f"no video job {job!r}")
            return dict(state)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _jobs(request: Request) -> VideoJobs:
    jobs = getattr(request.app.state, "video_jobs", None)
    if jobs is None:
        from faceprint.config import home_dir

        jobs = request.app.state.video_jobs = VideoJobs(home_dir(request.app.state.ctx.settings.home) / "video_jobs")
    return jobs


@router.post("/video", status_code=202, summary="Analyse a video (a job: poll GET /v1/video/{job})")
async def post_video(request: Request, _: Principal = Depends(require("read"))) -> Any:
    form = await request.form()
    up = form.get("video")
    if up is None or isinstance(up, str):
        raise ServiceError(400, "invalid_input", "send the video as the multipart file field 'video'")
    suffix = Path(up.filename or "").suffix.lower()
    if suffix not in _SUFFIXES:
        suffix = ".mp4"
    data = await up.read()
    if not data:
        raise ServiceError(400, "invalid_video", "the upload is empty")
    job = _jobs(request).submit(request.app.state.ctx, data, suffix)
    return JSONResponse({"job": job, "status": "queued", "url": f"/v1/video/{job}"}, status_code=202)


@router.get("/video/{job}", summary="A video job: status, progress, timeline")
async def get_video(job: str, request: Request, _: Principal = Depends(require("read"))) -> Any:
    return _jobs(request).get(job)


@router.get("/video/{job}/annotated.webm", summary="The annotated clip of a finished job")
async def get_annotated(job: str, request: Request, _: Principal = Depends(require("read"))) -> Any:
    jobs = _jobs(request)
    state = jobs.get(job)
    path = jobs.root / job / "annotated.webm"
    if state["status"] not in ("done", "failed") or not path.is_file():
        raise ServiceError(404, "not_found", "no annotated clip (yet)")
    return FileResponse(path, media_type="video/webm")
