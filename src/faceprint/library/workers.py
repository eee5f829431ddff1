"""Where indexing work runs: threads sharing one pipeline, or worker processes with one each.

* ``threads``: ``jobs`` threads call the shared pipeline (onnxruntime releases the GIL while a
  network runs, but the Python parts of detection — MTCNN's pyramid and box merging, decoding
  glue — hold it, so threads scale less than cores).
* ``auto`` (:func:`choose_pool`): processes when ``jobs > 1`` and memory allows, else threads.
* ``processes``: ``jobs`` worker processes (``spawn``: no model state is forked), each building
  its own pipeline from the parent's :class:`~faceprint.pipeline.PipelineConfig` (or a pickled
  copy of a pipeline without one) with one onnxruntime thread, and opening the library read-only
  to skip known content. Results come back in order, at most ``2 × jobs`` in flight. Each worker
  holds its own models (a few hundred MB each).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.library.records import PhotoResult
from faceprint.library.walk import FoundFile

logger = logging.getLogger(__name__)

POOLS = ("threads", "processes")
#: ``pool`` may also be ``"auto"`` (:func:`choose_pool`).
#: Memory one worker process needs (its own models and buffers; ~440 MB peak RSS measured on LFW with
#: the default pipeline, benchmarks/results/index_library_pools*.json), with a margin.
WORKER_MB = 600


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


def choose_pool(pool: str, jobs: int) -> str:
    """``"auto"``: worker processes when ``jobs > 1`` and the memory available holds ``jobs``
    workers (:data:`WORKER_MB` each), else threads; any other value is returned as it is."""
    if pool != "auto":
        return pool
    if jobs <= 1:
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
    pool = choose_pool(pool, jobs)
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
        yield from map_ordered(fn, files, jobs)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(recipe, store.spec(), os.getpid())) as ex:
        yield from map_ordered_on(ex, _one, files, 2 * jobs)


#: What another engine's worker needs to build a pipeline again (:func:`build_pipeline`).
pipeline_recipe = _recipe


def build_pipeline(recipe: tuple[str, Any]) -> Any:
    """The pipeline a :func:`pipeline_recipe` describes (built in the worker process)."""
    kind, what = recipe
    if kind == "config":
        from faceprint.pipeline import Pipeline

        return Pipeline.from_config(what)
    return what
