"""Image input/output: decoding (:mod:`faceprint.io.decode`) and drawing/saving (:mod:`faceprint.io.draw`).

Re-exports are lazy, so ``import faceprint.io`` imports neither Pillow nor OpenCV until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_image": "faceprint.io.decode",
    "content_hash": "faceprint.io.decode",
    "SUPPORTED_FORMATS": "faceprint.io.decode",
    "draw_faces": "faceprint.io.draw",
    "save_image": "faceprint.io.draw",
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
