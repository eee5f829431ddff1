"""The local engine: ``jobs`` threads on this machine, the library's SQLite file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from faceprint.library.records import IndexReport, PhotoResult
from faceprint.library.store import LibraryStore


class LocalEngine:
    """Args:
        store: the library (:class:`~faceprint.library.store.LibraryStore`).
        pipeline: detect → embed pipeline (default: the process-wide default pipeline).
        jobs: worker threads (default: every core).
        threshold: clustering threshold (default: the model's calibrated one for the library's size).
        home: data directory for calibration files.
        cluster: cluster faces as they arrive (default True).
        pool: ``"auto"`` (default: processes for 64 photos or more when memory allows), ``"threads"`` or
            ``"processes"`` (:mod:`faceprint.library.workers`).
    """

    def __init__(
        self,
        store: LibraryStore,
        pipeline: Any = None,
        *,
        jobs: int | None = None,
        threshold: float | None = None,
        home: Any = None,
        cluster: bool = True,
        pool: str = "auto",
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.jobs = jobs or os.cpu_count() or 1
        self.threshold = threshold
        self.home = home
        self.cluster = cluster
        self.pool = pool

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
        return index(roots, self.store, pipe, jobs=self.jobs, on_progress=on_progress, on_total=on_total,
                     cluster=self.cluster, threshold=self.threshold, home=self.home, pool=self.pool)
