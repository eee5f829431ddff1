"""The process-wide default pipeline, in one place below both the function API (:mod:`faceprint.api`)
and the gallery (:mod:`faceprint.matching.gallery`), so neither reaches up to the other.

Built lazily on first use (thread-safe); :func:`set_default_pipeline` replaces it for every later
call, including galleries opened without a pipeline of their own (they look it up on each use).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faceprint.pipeline import Pipeline

_lock = threading.Lock()
_default: Pipeline | None = None

__all__ = ["default_pipeline", "set_default_pipeline"]


def default_pipeline() -> Pipeline:
    """The process-wide default pipeline, built lazily on first call (thread-safe)."""
    global _default
    p = _default
    if p is None:
        with _lock:
            if _default is None:
                from faceprint.pipeline import Pipeline, PipelineConfig

                _default = Pipeline.from_config(PipelineConfig())
            p = _default
    return p


def set_default_pipeline(pipeline: Pipeline | None) -> None:
    """Replace the default pipeline (None resets it to be rebuilt from defaults on next use)."""
    global _default
    with _lock:
        _default = pipeline
