"""Where indexing work runs: threads sharing one pipeline, or worker processes with one each.

* ``threads``: ``jobs`` threads call the shared pipeline (onnxruntime releases the GIL while a
  network runs, but the Python parts of detection — MTCNN's pyramid and box merging, decoding
  glue — hold it, so threads scale less than cores).
* ``auto`` (:func:`choose_pool`; the default): processes when ``jobs > 1``, the run has at least
  :data:`AUTO_MIN_PHOTOS` photos to process and memory allows, else threads.
* ``processes``: ``jobs`` worker processes (``spawn``: no model state is forked), each building
  its own pipeline from the parent's :class:`~faceprint.pipeline.PipelineConfig` (or a pickled
  copy of a pipeline without one) with one onnxruntime thread, and opening the library read-only
  to skip known content. Photos travel :data:`CHUNK` to a task, two tasks per worker in flight;
  results come back in order. Each worker holds its own models (~650 MB RSS each).

Measured on the full LFW library (9,056 photos, 2 cores, ``benchmarks/index_library.py``): processes
0.951 × the single-image rate × cores, threads 0.887 (``benchmarks/results/index_library_full.json``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.library.records import PhotoResult
from faceprint.library.walk import FoundFile

logger = logging.getLogger(__name__)

POOLS = ("threads", "processes")
#: Photos in flight per thread (submitted, result not yet committed). Results come back in input
#: order, so one slow photo holds back the ones after it; a deep window keeps the threads busy
#: meanwhile (a result is small: embeddings and thumbnails). Chosen by measurement: benchmarks/index_library.py.
WINDOW_PER_JOB = 8
#: Photos per task sent to a worker process: each task costs the committing process a round trip
#: through the executor's queues and threads (about 2 ms of its CPU per photo with one photo a task,
#: measured on LFW), so photos travel a few at a time; each worker has one task running and one queued.
CHUNK = 8
#: ``pool`` may also be ``"auto"`` (:func:`choose_pool`).
#: Memory one worker process needs (its own models and buffers; 643-722 MB peak RSS measured indexing the
#: full LFW library with the default pipeline, benchmarks/results/index_library_full.json), with a margin.
WORKER_MB = 800
#: ``auto`` uses threads below this many photos to process: two workers take 1-2 s to start and
#: load their models, about what two threads need for this many LFW-sized photos.
AUTO_MIN_PHOTOS = 64


def available_mb() -> float | None:
    """MemAvailable of /proc/meminfo in MB (None where there is no /proc)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def choose_pool(pool: str, jobs: int, photos: int | None = None) -> str:
    """``"auto"``: worker processes when ``jobs > 1``, ``photos`` (the number to process, when
    known) is at least :data:`AUTO_MIN_PHOTOS` and the memory available holds ``jobs`` workers
    (:data:`WORKER_MB` each), else threads; any other value is returned as it is."""
    if pool != "auto":
        return pool
    if jobs <= 1:
        return "threads"
    if photos is not None and photos < AUTO_MIN_PHOTOS:
        logger.debug("indexing %d photos on %d threads: too few to start worker processes for", photos, jobs)
        return "threads"
    free = available_mb()
    if free is not None and free < jobs * WORKER_MB:
        logger.info("indexing on %d threads: %.0f MB available is too little for %d worker processes", jobs, free, jobs)
        return "threads"
    return "processes"

_worker: dict[str, Any] = {}


#: How often a worker checks that the process that started it is still alive (seconds).
PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """Exit this worker as soon as ``parent`` is gone (killed with ``kill -9``: it never tells its
    workers), so no orphan keeps its models in memory or goes on with queued photos."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="faceprint-parent-watch", daemon=True).start()


def _init(recipe: tuple[str, Any], library: tuple[str, str | None], parent: int | None = None) -> None:
    if parent is not None:
        _exit_with_parent(parent)
    os.environ["FACEPRINT_THREADS"] = "1"
    _worker["pipeline"] = build_pipeline(recipe)
    from faceprint.library.backends import reopen

    _worker["store"] = reopen(library)  # the store's spec(): an SQLite file or a PostgreSQL URL and schema


def _one(found: FoundFile) -> PhotoResult:
    from faceprint.library.indexer import process_file

    return process_file(found, _worker["store"], _worker["pipeline"])


def _chunk(files: list[FoundFile]) -> list[PhotoResult]:
    return [_one(f) for f in files]


def _chunks(files: Iterable[FoundFile], size: int) -> Iterator[list[FoundFile]]:
    chunk: list[FoundFile] = []
    for f in files:
        chunk.append(f)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _recipe(pipeline: Any) -> tuple[str, Any]:
    cfg = getattr(pipeline, "config", None)
    if cfg is not None:
        return ("config", cfg)
    import pickle

    try:
        pickle.dumps(pipeline)
    except Exception as e:  # noqa: BLE001 - any pickling failure means: not for processes
        raise InvalidInput(f"this pipeline cannot be sent to worker processes ({e}); index with pool='threads'") from e
    return ("pipeline", pipeline)


def run_pool(
    pool: str, jobs: int, files: Iterable[FoundFile], pipeline: Any, store: Any,
) -> Iterator[PhotoResult]:
    """``process_file`` over ``files`` on ``jobs`` threads or processes; results in input order."""
    from faceprint.library.indexer import process_file

    auto = pool == "auto"
    pool = choose_pool(pool, jobs, len(files) if isinstance(files, Sized) else None)
    if pool not in POOLS:
        raise InvalidInput(f"pool must be one of auto, {', '.join(POOLS)}, got {pool!r}")
    recipe = None
    if pool == "processes" and jobs > 1:
        try:
            recipe = _recipe(pipeline)
        except InvalidInput:
            if not auto:
                raise
            logger.info("indexing on %d threads: this pipeline cannot be sent to worker processes", jobs)
    from faceprint.parallel import map_ordered, map_ordered_on

    if recipe is None:
        fn: Callable[[FoundFile], PhotoResult] = lambda f: process_file(f, store, pipeline)  # noqa: E731
        yield from map_ordered(fn, files, jobs, WINDOW_PER_JOB * jobs)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(recipe, store.spec(), os.getpid())) as ex:
        for results in map_ordered_on(ex, _chunk, _chunks(files, CHUNK), 2 * jobs):
            yield from results


#: What another engine's worker needs to build a pipeline again (:func:`build_pipeline`).
pipeline_recipe = _recipe


def build_pipeline(recipe: tuple[str, Any]) -> Any:
    """The pipeline a :func:`pipeline_recipe` describes (built in the worker process)."""
    kind, what = recipe
    if kind == "config":
        from faceprint.pipeline import Pipeline

        return Pipeline.from_config(what)
    return what
