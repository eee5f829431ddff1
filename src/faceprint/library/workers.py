"""Where indexing work runs: threads sharing one pipeline, or worker processes with one each.

* ``threads``: ``jobs`` threads call the shared pipeline (onnxruntime releases the GIL while a
  network runs, but the Python parts of detection — MTCNN's pyramid and box merging, decoding
  glue — hold it, so threads scale less than cores).
* ``processes``: ``jobs`` worker processes (``spawn``: no model state is forked), each building
  its own pipeline from the parent's :class:`~faceprint.pipeline.PipelineConfig` (or a pickled
  copy of a pipeline without one) with one onnxruntime thread, and opening the library read-only
  to skip known content. Results come back in order, at most ``2 × jobs`` in flight. Each worker
  holds its own models (a few hundred MB each).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from faceprint.errors import InvalidInput
from faceprint.library.records import PhotoResult
from faceprint.library.walk import FoundFile

POOLS = ("threads", "processes")

_worker: dict[str, Any] = {}


def _init(recipe: tuple[str, Any], library: str) -> None:
    os.environ["FACEPRINT_THREADS"] = "1"
    kind, what = recipe
    if kind == "config":
        from faceprint.pipeline import Pipeline

        _worker["pipeline"] = Pipeline.from_config(what)
    else:
        _worker["pipeline"] = what
    from faceprint.library.store import LibraryStore

    _worker["store"] = LibraryStore(library, create=False)


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

    if pool not in POOLS:
        raise InvalidInput(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    if pool == "threads" or jobs <= 1:
        from faceprint.parallel import map_ordered

        fn: Callable[[FoundFile], PhotoResult] = lambda f: process_file(f, store, pipeline)  # noqa: E731
        yield from map_ordered(fn, files, jobs)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(_recipe(pipeline), str(store.path))) as ex:
        pending: deque[Future[PhotoResult]] = deque()
        for f in files:
            pending.append(ex.submit(_one, f))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
