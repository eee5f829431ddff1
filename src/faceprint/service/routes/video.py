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
from typing import Any, BinaryIO

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse

from faceprint.service.auth import Principal, require
from faceprint.service.errors import ServiceError
from faceprint.service.routes._common import AUTH_ERRORS, IMAGE_ERRORS
from faceprint.service.schemas import ErrorResponse, VideoJob, VideoJobAccepted

router = APIRouter(prefix="/v1", tags=["video"])

_E = {"model": ErrorResponse}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {k: v for k, v in IMAGE_ERRORS.items() if k in (401, 403, 413, 503)}
UPLOAD_ERRORS[400] = {**_E, "description": "no video in the upload, or an empty one"}
JOB_ERRORS: dict[int | str, dict[str, Any]] = {k: v for k, v in AUTH_ERRORS.items() if k in (401, 403, 503)}
JOB_ERRORS[404] = {**_E, "description": "no such job (jobs live as long as the service process)"}
JOB_ERRORS[422] = {**_E, "description": "invalid job id"}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"video": {"type": "string", "format": "binary", "description": "the video file"}},
                    "required": ["video"],
                }
            }
        },
    }
}
JOB_ID = PathParam(..., min_length=1, max_length=64, pattern="^[0-9a-f]+$", description="the job id")

_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


class VideoJobs:
    """The jobs of one app (on ``app.state``): one worker thread, states behind a lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faceprint-video")
        self._lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def submit(self, ctx: Any, upload: BinaryIO, suffix: str) -> str:
        """Copy ``upload`` (a spooled file: never the whole video in memory) into the job's folder and queue it."""
        job = secrets.token_hex(8)
        folder = self.root / job
        folder.mkdir(parents=True, mode=0o700)
        src = folder / f"input{suffix}"
        with open(src, "xb") as f:
            shutil.copyfileobj(upload, f, 1 << 20)
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


@router.post(
    "/video",
    status_code=202,
    response_model=VideoJobAccepted,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD_BODY,
    summary="Analyse a video (a job: poll GET /v1/video/{job})",
)
async def post_video(request: Request, _: Principal = Depends(require("read"))) -> Any:
    form = await request.form()
    up = form.get("video")
    if up is None or isinstance(up, str):
        raise ServiceError(400, "invalid_input", "send the video as the multipart file field 'video'")
    suffix = Path(up.filename or "").suffix.lower()
    if suffix not in _SUFFIXES:
        suffix = ".mp4"
    if up.size == 0 or not await up.read(1):
        raise ServiceError(400, "invalid_video", "the upload is empty")
    await up.seek(0)
    job = _jobs(request).submit(request.app.state.ctx, up.file, suffix)
    return JSONResponse({"job": job, "status": "queued", "url": f"/v1/video/{job}"}, status_code=202)


@router.get("/video/{job}", response_model=VideoJob, responses=JOB_ERRORS, summary="A video job: status, progress, timeline")
async def get_video(request: Request, job: str = JOB_ID, _: Principal = Depends(require("read"))) -> Any:
    return _jobs(request).get(job)


@router.get(
    "/video/{job}/annotated.webm",
    responses=JOB_ERRORS | {200: {"content": {"video/webm": {}}, "description": "the clip with boxes and names (VP8)"}},
    response_class=FileResponse,
    summary="The annotated clip of a finished job",
)
async def get_annotated(request: Request, job: str = JOB_ID, _: Principal = Depends(require("read"))) -> Any:
    jobs = _jobs(request)
    state = jobs.get(job)
    path = jobs.root / job / "annotated.webm"
    if state["status"] not in ("done", "failed") or not path.is_file():
        raise ServiceError(404, "not_found", "no annotated clip (yet)")
    return FileResponse(path, media_type="video/webm")
