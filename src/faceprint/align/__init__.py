"""Face alignment: similarity transforms, templates and chip extraction (pure functions, no models).

Re-exports are lazy (``import faceprint.align`` imports neither OpenCV nor the template tables).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "estimate_similarity": "faceprint.align.similarity",
    "warp_chip": "faceprint.align.similarity",
    "invert_affine": "faceprint.align.similarity",
    "apply_affine": "faceprint.align.similarity",
    "AlignTemplate": "faceprint.align.templates",
    "TEMPLATES": "faceprint.align.templates",
    "get_template": "faceprint.align.templates",
    "register_template": "faceprint.align.templates",
    "align_face": "faceprint.align.aligner",
    "align_faces": "faceprint.align.aligner",
    "chip_transform": "faceprint.align.aligner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
