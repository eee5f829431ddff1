"""faceprint — offline, fast, complete face recognition.

The function API (lazy: importing faceprint loads no model and does no I/O)::

    import faceprint
    image = faceprint.load_image("photo.jpg")
    faceprint.detect(image)            # boxes, scores, landmarks
    faceprint.embed(image)             # one Embedding per face
    faceprint.verify("a.jpg", "b.jpg") # score, decision, calibrated threshold
"""

from __future__ import annotations

from faceprint._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "load_image": "faceprint.api",
    "detect": "faceprint.api",
    "faces": "faceprint.api",
    "embed": "faceprint.api",
    "embed_face": "faceprint.api",
    "verify": "faceprint.api",
    "enroll": "faceprint.api",
    "identify": "faceprint.api",
    "gallery": "faceprint.api",
    "analyze": "faceprint.api",
    "Gallery": "faceprint.matching.gallery",
    "default_pipeline": "faceprint.api",
    "set_default_pipeline": "faceprint.api",
    "Pipeline": "faceprint.pipeline",
    "PipelineConfig": "faceprint.pipeline",
    "Box": "faceprint.types",
    "Landmarks": "faceprint.types",
    "Detection": "faceprint.types",
    "AlignedFace": "faceprint.types",
    "Embedding": "faceprint.types",
    "Face": "faceprint.types",
    "Verification": "faceprint.types",
    "ThresholdCalibrator": "faceprint.matching.calibration",
    "FaceprintError": "faceprint.errors",
    "InvalidImage": "faceprint.errors",
    "InvalidInput": "faceprint.errors",
    "NoFaceFound": "faceprint.errors",
    "ModelUnavailable": "faceprint.errors",
    "GalleryError": "faceprint.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
