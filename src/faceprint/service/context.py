"""What the service shares between requests, built once per app: the pipeline (models loaded
and warmed at start-up), the gallery, the expression analyzer, the key store, the work pool and
the metrics. It lives on ``app.state.ctx``; there is no module-level state."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.service.keys import ApiKeyStore, operator_key
from faceprint.service.metrics import Metrics
from faceprint.service.settings import ServiceSettings, is_loopback
from faceprint.service.work import WorkPool

logger = logging.getLogger(__name__)
#: the analysis tasks (faceprint.analysis.TASKS, repeated so importing this module loads no model code)
TASK_ORDER = ("expression", "age", "gender", "liveness", "quality")
T = TypeVar("T")


class ServiceContext:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        pipeline: Any = None,
        gallery: Any = None,
        analyzer: Any = None,
    ) -> None:
        from faceprint.config import home_dir

        if settings.auth == "off" and not is_loopback(settings.host):
            raise InvalidInput(f"authentication cannot be turned off when binding to {settings.host} (beyond loopback)")
        self.settings = settings
        if settings.analyzer and analyzer is None:
            from faceprint.models import registry

            try:
                card = registry.get_card(settings.analyzer)
            except ModelUnavailable as e:
                raise InvalidInput(f"analyzer: {e}") from None
            if card.task != "analyzer" or card.extra.get("analysis_task", "expression") != "expression":
                raise InvalidInput(f"analyzer: {settings.analyzer!r} is a {card.task}, not an expression model")
        self.home = home_dir(settings.home)
        self.operator = operator_key(settings.admin_key)
        self.keys = ApiKeyStore(self.home)
        if settings.auth_required and self.operator is None and self.keys.count_active() == 0:
            raise InvalidInput(
                f"binding to {settings.host} requires API keys, and none exists: create one with "
                "`faceprint keys create --scope admin` (same --home) or set FACEPRINT_ADMIN_KEY"
            )
        self.metrics = Metrics()
        self.pool = WorkPool(settings.workers, settings.max_queue, settings.request_timeout_s)
        self._pipeline = pipeline
        self._gallery = gallery
        self._analyzer = analyzer
        self._analyzer_error: str | None = None
        self._analyzer_sets: dict[Any, Any] = {}
        self._analyzers_lock = threading.Lock()
        self.ready = False
        self.started_at: float | None = None
        self.library: Any = None  # a ServiceLibrary once started, when settings.library is given
        self.metrics.gauge("faceprint_work_pending", lambda: self.pool.pending)
        self.metrics.gauge("faceprint_work_rejected_total", lambda: self.pool.rejected)
        self.metrics.gauge("faceprint_work_timeouts_total", lambda: self.pool.timeouts)
        self.metrics.gauge(
            "faceprint_gallery_identities", lambda: self._gallery.count()[0] if self._gallery is not None and self.ready else None
        )
        self.metrics.gauge(
            "faceprint_gallery_faces", lambda: self._gallery.count()[1] if self._gallery is not None and self.ready else None
        )

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Load every model once (and run one image through them), open the gallery."""
        from faceprint.matching.gallery import Gallery
        from faceprint.pipeline import Pipeline, preset_config

        t0 = time.perf_counter()
        if self.pool.closed:  # the same app started again (e.g. a second TestClient)
            self.pool = WorkPool(self.settings.workers, self.settings.max_queue, self.settings.request_timeout_s)
        if self._pipeline is None:
            self._pipeline = Pipeline.from_config(preset_config(self.settings.preset))
        if self._gallery is None:
            self._gallery = Gallery(
                home=self.home, pipeline=self._pipeline, store=self.settings.store, min_quality=self.settings.min_quality
            )
        self._gallery.count()  # opens the store (and migrates it) now, not on the first request
        if self._analyzer is None and self.settings.analyzer:
            from faceprint.models import registry

            try:
                self._analyzer = registry.create(self.settings.analyzer)
            except ModelUnavailable as e:
                self._analyzer_error = str(e)
                logger.warning("expression analysis is off: %s", e)
        if self.settings.library is not None and self.library is None:
            from faceprint.service.library import ServiceLibrary

            self.library = ServiceLibrary(self.settings.library, self.settings.library_root, self._pipeline,
                                          max_pixels=self.settings.max_pixels)
        if self.settings.warmup:
            self._warmup()
        self.ready = True
        self.started_at = time.time()
        logger.info("faceprint service ready in %.1f s (model %s)", time.perf_counter() - t0, self._pipeline.model_tag)

    def _warmup(self) -> None:
        """Force every lazy model to load now: a synthetic image through detect+embed and the
        analyzer (no face is expected; the point is loading)."""
        from faceprint.types import Box

        rng = np.random.default_rng(0)
        img = rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)
        self._pipeline.process(img)
        self._pipeline.process(img, boxes=[Box(40, 40, 120, 120)])
        if self._analyzer is not None:
            self._analyzer.analyze(img, [Box(40, 40, 120, 120)])

    def stop(self) -> None:
        self.ready = False
        self.pool.shutdown()
        if self.library is not None:
            lib, self.library = self.library, None
            try:
                lib.close()  # stops an indexing job after its current photo
            except Exception as e:  # closing must not hide the shutdown
                logger.warning("closing the library failed: %s", e)
        if self._gallery is not None:
            try:
                self._gallery.close()
            except Exception as e:  # closing must not hide the shutdown
                logger.warning("closing the gallery failed: %s", e)
        self.keys.close()

    # ------------------------------------------------------------ access

    @property
    def pipeline(self) -> Any:
        return self._pipeline

    @property
    def gallery(self) -> Any:
        return self._gallery

    @property
    def analyzer_tag(self) -> str | None:
        """The loaded expression model's tag, or None when expressions are off."""
        return None if self._analyzer is None else str(self._analyzer.card.tag)

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            raise ModelUnavailable(self._analyzer_error or "expression analysis is not enabled on this server")
        return self._analyzer

    def analyzers(self, tasks: str | None, include_race: bool = False) -> Any:
        """The :class:`~faceprint.analysis.Analyzers` for ``tasks`` (None: every installed one),
        built on first use and kept; the expression task uses the server's expression model and is
        unavailable (503 when asked for) when expressions are off."""
        from faceprint.analysis import load_analyzers, parse_tasks

        wanted = parse_tasks(tasks)
        key = (wanted, include_race)
        with self._analyzers_lock:
            cached = self._analyzer_sets.get(key)
            if cached is not None:
                return cached
            if wanted is not None and "expression" in wanted:
                _ = self.analyzer  # ModelUnavailable when expressions are off
            todo = wanted if wanted is not None else tuple(t for t in TASK_ORDER if t != "expression" or self._analyzer)
            made = load_analyzers(todo, include_race=include_race, given={"expression": self._analyzer}, optional=wanted is None)
            self._analyzer_sets[key] = made
            return made

    def decode(self, data: bytes, name: str = "image") -> np.ndarray:
        """Decode the upload of field ``name`` under the server's pixel limit (InvalidImage /
        ImageTooLarge naming the field)."""
        from faceprint.io import load_image

        return load_image(data, max_pixels=self.settings.max_pixels, name=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU work on the bounded pool (503 when full, 504 past the time limit)."""
        return await self.pool.run(fn, *args)

    async def run_io(self, fn: Callable[..., T], *args: Any) -> T:
        """Short blocking I/O (key checks) off the event loop."""
        return await asyncio.to_thread(fn, *args)
