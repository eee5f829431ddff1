"""Image input/output: decoding (:mod:`faceprint.io.decode`) and drawing/saving (:mod:`faceprint.io.draw`).

Re-exports are lazy, so ``import faceprint.io`` imports neither Pillow nor OpenCV until a name is used.
"""

from __future__ import annotations

from faceprint._lazy import lazy_exports

_EXPORTS = {
    "load_image": "faceprint.io.decode",
    "content_hash": "faceprint.io.decode",
    "image_size": "faceprint.io.decode",
    "load_image_scaled": "faceprint.io.decode",
    "read_image_bytes": "faceprint.io.decode",
    "decode_cost": "faceprint.io.decode",
    "SUPPORTED_FORMATS": "faceprint.io.decode",
    "draw_faces": "faceprint.io.draw",
    "save_image": "faceprint.io.draw",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
