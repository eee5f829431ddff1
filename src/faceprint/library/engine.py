"""The seam between *what* indexing does and *where* it runs.

An :class:`Engine` indexes a list of folders into a library and reports what it did:
:class:`~faceprint.library.local.LocalEngine` (threads or processes on this machine) and
:class:`~faceprint.library.ray_engine.RayEngine` (Ray Data over the file list, actors holding the
models; a local Ray or a cluster). Both write into any library store (the SQLite file, or
PostgreSQL + pgvector: :mod:`faceprint.library.backends`); ``faceprint index --engine`` chooses one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from faceprint.errors import InvalidInput
from faceprint.library.records import IndexReport, PhotoResult

ENGINES = ("local", "ray")


@runtime_checkable
class Engine(Protocol):
    """Indexes photos into a library."""

    def index(
        self,
        roots: Sequence[str],
        *,
        on_progress: Callable[[str, PhotoResult | None], None] | None = None,
        on_total: Callable[[int], None] | None = None,
    ) -> IndexReport: ...


def pipeline_or_default(pipeline: Any) -> Any:
    """``pipeline``, else the process-wide default pipeline (looked up when an engine indexes)."""
    if pipeline is not None:
        return pipeline
    from faceprint.defaults import default_pipeline

    return default_pipeline()


def make_engine(name: str, **options: Any) -> Engine:
    """The engine called ``name`` (:data:`ENGINES`), built with ``options``. ``address`` and
    ``workers`` are the Ray engine's (``workers`` defaults to ``jobs``); ``pool`` the local one's."""
    opts = dict(options)
    address, workers = opts.pop("address", None), opts.pop("workers", None)
    if name == "local":
        from faceprint.library.local import LocalEngine

        if address is not None:
            raise InvalidInput("--address is for --engine ray")
        if workers is not None and opts.get("jobs") is None:
            opts["jobs"] = workers
        return LocalEngine(**opts)
    if name == "ray":
        from faceprint.library.ray_engine import RayEngine

        jobs = opts.pop("jobs", None)
        opts.pop("pool", None)
        return RayEngine(**opts, address=address, workers=workers if workers is not None else jobs)
    raise InvalidInput(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
