"""Indexing a photo collection into the library: walk → hash → detect/embed → store → cluster.

* **Unchanged files are skipped** without being read: same path, byte size and ``mtime_ns`` as
  recorded. A changed or new file is read and hashed (SHA-256 of its bytes); content already in
  the library (a moved, renamed or copied photo) only gets a path row — it is not decoded again
  and its faces, names and clusters stay as they are.
* **Crash safety**: each photo (path row, photo row, every face) is one transaction, committed as
  soon as its result arrives; clustering steps (on a thread of their own:
  :mod:`faceprint.library.cluster_thread`) are transactions of their own, and faces not yet
  clustered are picked up by the next step. A run killed at any point (``kill -9``) resumes on the
  next run where it stopped, with no duplicate and no gap.
* **Bad files** (corrupt, truncated, not an image, too large, unreadable) are logged, recorded
  with their error (not retried until they change) and counted; unreadable folders are logged and
  counted. Neither stops the run. A model that cannot be loaded does stop it.
* **Parallel**: ``jobs`` threads (one shared pipeline) or worker processes (one pipeline each;
  :mod:`faceprint.library.workers`) read, hash, decode and run the pipeline; the calling thread
  commits and clusters.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from faceprint.errors import FaceprintError, InvalidInput, ModelUnavailable
from faceprint.library.cluster_thread import ClusterThread
from faceprint.library.clustering import IncrementalClusterer
from faceprint.library.quality import blur_score, face_size, thumbnail
from faceprint.library.records import FaceData, FileError, IndexReport, PhotoResult
from faceprint.library.store import LibraryStore
from faceprint.library.walk import FoundFile, walk

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, PhotoResult | None], None]


def pipeline_signature(pipeline: Any) -> str:
    cfg = getattr(pipeline, "config", None)
    if cfg is not None:
        try:
            return str(cfg.signature())
        except FaceprintError:
            pass
    return f"emb={pipeline.model_tag}"


def process_file(found: FoundFile, store: LibraryStore, pipeline: Any) -> PhotoResult:
    """Read, hash and (when its content is new) detect and embed one file. Never raises for a
    bad file: the error is in the result."""
    from faceprint.io.decode import content_hash, load_image, read_image_bytes

    def result(status: str, **kw: Any) -> PhotoResult:
        return PhotoResult(found.path, found.size, found.mtime_ns, status, **kw)

    try:
        data = read_image_bytes(found.path)
        sha = content_hash(data)
        if store.photo_of_sha(sha) is not None:
            return result("known", sha256=sha)
        image = load_image(data, name=found.path)
        faces = pipeline.process(image)
    except ModelUnavailable:
        raise
    except FaceprintError as e:
        return result("error", error_code=e.code, error=str(e))
    except (OSError, ValueError, MemoryError, RuntimeError) as e:  # anything else one odd file can raise
        return result("error", error_code="unreadable", error=f"{found.path}: {e}")
    out = []
    for f in faces:
        if f.embedding is None:
            continue
        out.append(FaceData(
            box=f.box,
            score=float(f.detection.score),
            landmarks=f.landmarks,
            vector=np.asarray(f.embedding.vector, np.float32),
            model=f.embedding.model,
            norm=float(f.embedding.norm),
            face_px=face_size(f.box),
            blur=blur_score(f.aligned.chip) if f.aligned is not None else 0.0,
            thumb=thumbnail(image, f.box),
        ))
    h, w = image.shape[:2]
    return result("indexed", sha256=sha, width=int(w), height=int(h), faces=tuple(out))


def check_pipeline(store: LibraryStore, pipeline: Any) -> str:
    """The library's embedding model; the first run records the pipeline, later runs must match it."""
    sig = pipeline_signature(pipeline)
    model = str(pipeline.model_tag)
    known = store.meta("pipeline")
    if known is None:
        store.set_meta("pipeline", sig)
        store.set_meta("model", model)
    elif known != sig:
        raise InvalidInput(
            f"the library {store.location} was indexed with pipeline {known}; this run uses {sig}. "
            "Index with the same pipeline (--preset / --detector / --embedder), or use another --library"
        )
    return model


def index(
    roots: Sequence[str],
    store: LibraryStore,
    pipeline: Any,
    *,
    jobs: int = 1,
    on_progress: ProgressFn | None = None,
    on_total: Callable[[int], None] | None = None,
    cluster: bool = True,
    threshold: float | None = None,
    home: Any = None,
    pool: str = "auto",
    runner: Callable[[list[FoundFile]], Iterable[PhotoResult]] | None = None,
) -> IndexReport:
    """Index every photo under ``roots`` into ``store`` (see the module docstring).

    ``on_total(n)`` is called once the walk has found ``n`` files; ``on_progress(path, result)``
    after each file (``result`` None when skipped unchanged). ``threshold`` overrides the
    calibrated clustering threshold. ``pool``: ``"auto"`` (default), ``"threads"`` or ``"processes"``
    (:mod:`faceprint.library.workers`).
    ``runner(files)``, when given, processes the files instead (another engine: results in any
    order, one per file; :mod:`faceprint.library.ray_engine`).
    """
    from faceprint.library.workers import run_pool

    if not roots:
        raise InvalidInput("nothing to index: give at least one folder or photo")
    t0 = time.perf_counter()
    started = time.time()
    model = check_pipeline(store, pipeline)
    errors: list[FileError] = []
    unreadable: list[FileError] = []
    files = list(walk(roots, on_error=unreadable.append))
    if on_total is not None:
        on_total(len(files))
    todo: list[FoundFile] = []
    same: list[str] = []
    for f in files:
        st = store.path_state(f.path)
        if st is not None and st[0] == f.size and st[1] == f.mtime_ns and (st[2] is not None or st[3] is not None):
            same.append(f.path)
            if on_progress is not None:
                on_progress(f.path, None)
        else:
            todo.append(f)
    _touch(store, same, started)
    counts = {"indexed": 0, "known": 0, "error": 0}
    n_faces = 0
    clusterer = IncrementalClusterer(store, model, home=home, threshold=threshold) if cluster else None
    results = runner(todo) if runner is not None else run_pool(pool, jobs, todo, pipeline, store)
    with ClusterThread(clusterer) if clusterer is not None else contextlib.nullcontext() as steps:
        for r in results:
            n_faces += len(store.commit_photo(r))
            counts[r.status] += 1
            if r.status == "error":
                logger.warning("skipped %s: %s", r.path, r.error)
                errors.append(FileError(r.path, r.error_code or "error", r.error or ""))
            if on_progress is not None:
                on_progress(r.path, r)
            if steps is not None:
                steps.committed()
    removed = store.prune([str(p) for p in _abs(roots)], started) if not unreadable else 0
    if clusterer is not None:
        clusterer.step(full=True)
    return IndexReport(
        files=len(files),
        indexed=counts["indexed"],
        unchanged=len(same),
        known=counts["known"],
        errors=counts["error"],
        unreadable_dirs=len(unreadable),
        removed=removed,
        faces=n_faces,
        clusters=store.count("clusters"),
        elapsed_s=time.perf_counter() - t0,
        error_list=tuple(unreadable + errors),
    )


def _abs(roots: Sequence[str]) -> list[str]:
    import os

    return [os.path.abspath(os.fspath(r)) for r in roots]


def _touch(store: LibraryStore, paths: list[str], when: float) -> None:
    for s in range(0, len(paths), 500):
        with store.write() as w:
            w.executemany("UPDATE paths SET seen = ? WHERE path = ?", [(when, p) for p in paths[s:s + 500]])
