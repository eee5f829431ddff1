"""The Ray engine: the same indexing as :class:`~faceprint.library.local.LocalEngine`, with the
photos run through Ray.

    faceprint index /shared/photos --engine ray --address ray://head:10001 --workers 8 \\
        --store postgresql://user:pw@db/photos

* The driver (this process) walks the folders and skips unchanged files as the local engine does;
  the files left become a **Ray Data** dataset (``from_items``: path, size, mtime), mapped by a
  pool of ``workers`` **actors** (:class:`IndexActor`, one CPU each), each holding one pipeline
  (built once from the driver's :class:`~faceprint.pipeline.PipelineConfig`; one onnxruntime
  thread). An actor reads, hashes, decodes, detects and embeds a file
  (:func:`~faceprint.library.indexer.process_file`) and returns the pickled
  :class:`~faceprint.library.records.PhotoResult`.
* The driver commits each result as it streams in (one transaction per photo) and clusters
  incrementally, into the store: PostgreSQL + pgvector for a cluster (every node reaches it), or
  the SQLite file for a local Ray (the driver is the only writer).
* **Failures**: a killed actor is restarted and its batch retried by Ray (Ray Data's defaults
  for actor pools: restarts and retries without limit); a result that arrives twice is dropped here and could not duplicate in
  the store anyway (unique constraints; :meth:`commit_photo` on a known photo adds no face). If the
  dataset still fails, the files without a result are resubmitted (``max_attempts`` in all), so a
  finished job has neither a duplicate nor a gap; past that an :class:`~faceprint.errors.EngineError`
  says so, and running again resumes.
* Files must be at the same path on every node (a shared or replicated folder).
* **Ray is imported only here, and only when a job runs.** A local Ray (no ``address``) is started
  with ``num_cpus`` = ``workers``, no dashboard, usage stats off, an object store of
  :data:`OBJECT_STORE_MB`, and stopped after the job; an existing connection (``ray.init`` made by
  the caller) is reused and left running. Nothing is installed into workers (no ``runtime_env``):
  every node needs faceprint and its models installed (``pip install "faceprint[ray]"``).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.errors import EngineError, FaceprintError, InvalidInput
from faceprint.library.records import IndexReport, PhotoResult
from faceprint.library.walk import FoundFile

logger = logging.getLogger(__name__)

OBJECT_STORE_MB = 256
#: Environment for a Ray started here (set unless already set): no usage stats, and no memory
#: monitor — a local Ray's monitor watches the whole machine's memory and kills Ray workers when
#: *other* programs fill it (measured: a 23 GB process elsewhere had both actors killed and the run
#: stalled for minutes); an actor holds one pipeline (~400-500 MB), bounded.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_IMPORT_WARNING": "1", "RAY_memory_monitor_refresh_ms": "0"}


@dataclass(frozen=True)
class RayOptions:
    """``address``: a running cluster (``"auto"``, ``host:6379`` or ``ray://host:10001``), None for a
    local Ray; ``workers``: actors (default: the cluster's CPUs, at most the files);
    ``files_per_block``: files per Ray Data block (default: about 4 blocks per worker, at most 16
    files; a block is what a killed actor's retry redoes); ``max_attempts``: dataset runs before
    giving up."""

    address: str | None = None
    workers: int | None = None
    files_per_block: int | None = None
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise InvalidInput(f"workers must be >= 1, got {self.workers}")
        if self.max_attempts < 1:
            raise InvalidInput(f"max_attempts must be >= 1, got {self.max_attempts}")


def import_ray() -> Any:
    """The ``ray`` module, with usage stats off; a clear error when the extra is not installed."""
    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise EngineError('the Ray engine needs Ray: pip install "faceprint[ray]" (ray[data])') from e
    return ray


def start_local_ray(num_cpus: int) -> Any:
    """Start a local Ray for this process (:data:`RAY_ENV`, no dashboard, an object store of
    :data:`OBJECT_STORE_MB`, Ray Data progress bars off); returns the ``ray`` module."""
    ray = import_ray()
    ray.init(num_cpus=num_cpus, include_dashboard=False, object_store_memory=OBJECT_STORE_MB << 20,
             log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


class RaySession:
    """A connection to Ray for one job: reuses one the caller made, else connects to ``address``
    or starts a local Ray; :meth:`close` disconnects only what it started."""

    def __init__(self, address: str | None, num_cpus: int) -> None:
        self.ray = import_ray()
        self.started = False
        if self.ray.is_initialized():
            return
        try:
            if address is None:
                start_local_ray(num_cpus)
            else:
                self.ray.init(address=address, log_to_driver=False, configure_logging=False)
                self.ray.data.DataContext.get_current().enable_progress_bars = False
        except Exception as e:  # noqa: BLE001 - whatever Ray raises, say where it failed
            raise EngineError(f"cannot {'start a local Ray' if address is None else f'connect to Ray at {address}'}: {e}") from e
        self.started = True

    def cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False


class IndexActor:
    """One Ray actor: a pipeline, and the library opened read-only to skip known content (when
    this node can open it; otherwise every file is processed and the driver sorts it out)."""

    def __init__(self, recipe: tuple[str, Any], spec: tuple[str, str | None]) -> None:
        os.environ["FACEPRINT_THREADS"] = "1"
        from faceprint.library.backends import reopen
        from faceprint.library.workers import build_pipeline

        self.pipeline = build_pipeline(recipe)
        self.store: Any = _NoStore()
        try:
            self.store = reopen(spec)
        except FaceprintError as e:
            logger.info("worker cannot open the library (%s): known content is sorted out by the driver", e)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from faceprint.library.indexer import process_file

        out = []
        for path, size, mtime in zip(batch["path"].tolist(), batch["size"].tolist(), batch["mtime_ns"].tolist(),
                                     strict=True):
            r = process_file(FoundFile(str(path), int(size), int(mtime)), self.store, self.pipeline)
            out.append(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))
        return {"path": batch["path"], "result": np.array(out, dtype=object)}


class _NoStore:
    @staticmethod
    def photo_of_sha(sha256: str) -> None:
        return None


class RayRunner:
    """Runs files through a pool of :class:`IndexActor` (see the module docstring); yields one
    result per file, in completion order."""

    def __init__(self, session: RaySession, options: RayOptions, pipeline: Any, spec: tuple[str, str | None]) -> None:
        from faceprint.library.workers import pipeline_recipe

        self.session = session
        self.options = options
        self.recipe = pipeline_recipe(pipeline)
        self.spec = spec
        self.attempts = 0
        self.last_error: str | None = None

    def _dataset(self, files: Sequence[FoundFile], workers: int) -> Any:
        ray = self.session.ray
        per_block = self.options.files_per_block or max(1, min(16, len(files) // (4 * workers)))
        items = [{"path": f.path, "size": f.size, "mtime_ns": f.mtime_ns} for f in files]
        ds = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // per_block)))
        return ds.map_batches(
            IndexActor, fn_constructor_args=(self.recipe, self.spec), batch_size=per_block, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
        )

    def run(self, files: list[FoundFile]) -> Iterator[PhotoResult]:
        left = {f.path: f for f in files}
        while left:
            if self.attempts >= self.options.max_attempts:
                raise EngineError(f"{len(left)} file(s) still without a result after {self.attempts} Ray run(s) "
                                  f"(last failure: {self.last_error}); what was indexed is stored: run again to resume")
            self.attempts += 1
            todo = list(left.values())
            workers = max(1, min(self.options.workers or self.session.cpus(), len(todo)))
            logger.info("Ray run %d: %d file(s) on %d worker(s)", self.attempts, len(todo), workers)
            try:
                for row in self._dataset(todo, workers).iter_rows():
                    if left.pop(str(row["path"]), None) is None:
                        continue  # a retried batch's result arriving twice
                    yield pickle.loads(row["result"])  # noqa: S301 - our own actors' output
            except FaceprintError:
                raise
            except Exception as e:  # noqa: BLE001 - Ray's failures: resubmit what has no result
                cause = getattr(e, "cause", None)
                if isinstance(cause, FaceprintError):  # a model that cannot load fails every attempt
                    raise cause from e
                self.last_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                logger.warning("Ray run %d failed (%s); %d file(s) left", self.attempts, self.last_error, len(left))


class RayEngine:
    """The Engine (:class:`~faceprint.library.engine.Engine`) on Ray. Args as
    :class:`~faceprint.library.local.LocalEngine`'s, plus ``address`` and ``workers``
    (:class:`RayOptions`; ``options`` overrides both)."""

    def __init__(
        self,
        store: Any,
        pipeline: Any = None,
        *,
        address: str | None = None,
        workers: int | None = None,
        threshold: float | None = None,
        home: Any = None,
        cluster: bool = True,
        options: RayOptions | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.options = options or RayOptions(address=address, workers=workers)
        self.threshold = threshold
        self.home = home
        self.cluster = cluster
        self.last_attempts = 0

    def index(
        self,
        roots: Sequence[str],
        *,
        on_progress: Callable[[str, PhotoResult | None], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> IndexReport:
        from faceprint.library.engine import pipeline_or_default
        from faceprint.library.indexer import index

        pipe = pipeline_or_default(self.pipeline)
        session: list[RaySession] = []

        def runner(files: list[FoundFile]) -> Iterable[PhotoResult]:
            if not files:
                return
            s = RaySession(self.options.address, self.options.workers or os.cpu_count() or 1)
            session.append(s)
            r = RayRunner(s, self.options, pipe, self.store.spec())
            try:
                yield from r.run(files)
            finally:
                self.last_attempts = r.attempts

        try:
            return index(roots, self.store, pipe, on_progress=on_progress, on_total=on_total, cluster=self.cluster,
                         threshold=self.threshold, home=self.home, runner=runner)
        finally:
            for s in session:
                s.close()
