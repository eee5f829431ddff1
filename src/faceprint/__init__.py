"""faceprint — offline, fast, complete face recognition.

The function API (lazy: importing faceprint loads no model and does no I/O)::

    import faceprint
    image = faceprint.load_image("photo.jpg")
    faceprint.detect(image)            # boxes, scores, landmarks
    faceprint.embed(image)             # one Embedding per face
    faceprint.verify("a.jpg", "b.jpg") # score, decision, calibrated threshold

Every public name is declared statically below (type checkers see the real signatures through the
``TYPE_CHECKING`` imports) and imported at run time on first use (PEP 562), so ``import faceprint``
costs nothing (``python -X importtime -c "import faceprint"``: only this module and ``_lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faceprint._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from faceprint.api import (
        analyze,
        default_pipeline,
        detect,
        embed,
        embed_face,
        enroll,
        faces,
        gallery,
        identify,
        load_image,
        set_default_pipeline,
        verify,
        video,
    )
    from faceprint.errors import (
        FaceprintError,
        GalleryError,
        ImageTooLarge,
        InvalidImage,
        InvalidInput,
        ModelIntegrityError,
        ModelUnavailable,
        MultipleFaces,
        NoFaceFound,
        NotFitted,
        StorageError,
        UnknownIdentity,
    )
    from faceprint.matching.calibration import ThresholdCalibrator
    from faceprint.matching.gallery import Gallery
    from faceprint.matching.results import Candidate, EnrollOutcome, EnrollResult, IdentifiedFace, ReembedReport
    from faceprint.pipeline import Pipeline, PipelineConfig
    from faceprint.types import AlignedFace, Box, Detection, Embedding, Face, Landmarks, Verification

_API = "faceprint.api"
_ERRORS = "faceprint.errors"
_RESULTS = "faceprint.matching.results"
_TYPES = "faceprint.types"

_EXPORTS = {
    # the function API
    "load_image": _API,
    "detect": _API,
    "faces": _API,
    "embed": _API,
    "embed_face": _API,
    "verify": _API,
    "enroll": _API,
    "identify": _API,
    "gallery": _API,
    "analyze": _API,
    "default_pipeline": _API,
    "set_default_pipeline": _API,
    "video": _API,
    # composition
    "Gallery": "faceprint.matching.gallery",
    "Pipeline": "faceprint.pipeline",
    "PipelineConfig": "faceprint.pipeline",
    "ThresholdCalibrator": "faceprint.matching.calibration",
    # value types and results
    "Box": _TYPES,
    "Landmarks": _TYPES,
    "Detection": _TYPES,
    "AlignedFace": _TYPES,
    "Embedding": _TYPES,
    "Face": _TYPES,
    "Verification": _TYPES,
    "Candidate": _RESULTS,
    "IdentifiedFace": _RESULTS,
    "EnrollOutcome": _RESULTS,
    "EnrollResult": _RESULTS,
    "ReembedReport": _RESULTS,
    # exceptions users catch
    "FaceprintError": _ERRORS,
    "InvalidImage": _ERRORS,
    "ImageTooLarge": _ERRORS,
    "InvalidInput": _ERRORS,
    "NoFaceFound": _ERRORS,
    "MultipleFaces": _ERRORS,
    "ModelUnavailable": _ERRORS,
    "ModelIntegrityError": _ERRORS,
    "GalleryError": _ERRORS,
    "StorageError": _ERRORS,
    "UnknownIdentity": _ERRORS,
    "NotFitted": _ERRORS,
}

__all__ = [
    "AlignedFace",
    "Box",
    "Candidate",
    "Detection",
    "Embedding",
    "EnrollOutcome",
    "EnrollResult",
    "Face",
    "FaceprintError",
    "Gallery",
    "GalleryError",
    "IdentifiedFace",
    "ImageTooLarge",
    "InvalidImage",
    "InvalidInput",
    "Landmarks",
    "ModelIntegrityError",
    "ModelUnavailable",
    "MultipleFaces",
    "NoFaceFound",
    "NotFitted",
    "Pipeline",
    "PipelineConfig",
    "ReembedReport",
    "StorageError",
    "ThresholdCalibrator",
    "UnknownIdentity",
    "Verification",
    "__version__",
    "analyze",
    "default_pipeline",
    "detect",
    "embed",
    "embed_face",
    "enroll",
    "faces",
    "gallery",
    "identify",
    "load_image",
    "set_default_pipeline",
    "verify",
    "video",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
