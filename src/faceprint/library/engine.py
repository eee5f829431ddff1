"""The seam between *what* indexing does and *where* it runs.

An :class:`Engine` indexes a list of folders into a library and reports what it did. The only
implementation today is :class:`~faceprint.library.local.LocalEngine` (threads on this machine,
the SQLite library file). A Ray engine (Ray Data over the file list, actors holding the models,
PostgreSQL + pgvector store) is to implement the same Protocol; ``faceprint index --engine``
chooses one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from faceprint.errors import InvalidInput
from faceprint.library.records import IndexReport, PhotoResult

ENGINES = ("local",)


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


def make_engine(name: str, **options: Any) -> Engine:
    """The engine called ``name`` (:data:`ENGINES`), built with ``options``."""
    if name == "local":
        from faceprint.library.local import LocalEngine

        return LocalEngine(**options)
    if name == "ray":
        raise InvalidInput("the Ray engine is not part of this build yet; use --engine local (the default)")
    raise InvalidInput(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
