"""Face alignment: similarity transforms, templates and chip extraction (pure functions, no models).

Re-exports are lazy (``import faceprint.align`` imports neither OpenCV nor the template tables).
"""

from __future__ import annotations

from faceprint._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
