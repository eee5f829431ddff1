"""Package exceptions.

Every error faceprint raises on user input derives from :class:`FaceprintError`, so a caller can
catch one type. Each carries a short machine-readable ``code`` (used by the CLI's JSON output and by
the service) and a human message.
"""

from __future__ import annotations


class FaceprintError(Exception):
    """Base class of every error faceprint raises deliberately."""

    code = "faceprint_error"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class InvalidInput(FaceprintError, ValueError):
    """An argument of the wrong type, shape or value (not an image problem)."""

    code = "invalid_input"


class InvalidImage(FaceprintError, ValueError):
    """The input could not be decoded as an image (corrupt, truncated, empty, too large...)."""

    code = "invalid_image"


class ImageTooLarge(InvalidImage):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""

    code = "image_too_large"


class NoFaceFound(FaceprintError):
    """No face was detected where at least one was required."""

    code = "no_face"


class MultipleFaces(FaceprintError):
    """More than one face was found where exactly one was required."""

    code = "multiple_faces"


class LowQualityFace(NoFaceFound):
    """The face found is below the enrolment quality floor (blurred, tiny, turned away, badly
    exposed): ``quality`` is its score, ``floor`` the floor it missed."""

    code = "low_quality"

    def __init__(self, message: str, *, quality: float, floor: float, source: str | None = None) -> None:
        self.quality = float(quality)
        self.floor = float(floor)
        super().__init__(message, source=source)


class ModelUnavailable(FaceprintError):
    """A model's weights are not installed, or the model name is unknown."""

    code = "model_unavailable"


class ModelIntegrityError(ModelUnavailable):
    """A model file failed its checksum or its converted form failed the canary check."""

    code = "model_integrity"


class GalleryError(FaceprintError):
    """The gallery store could not be read or written."""

    code = "gallery_error"


class StorageError(GalleryError):
    """The gallery's storage refused a read or write: read-only file or role, full disk, lock
    timeout, unreachable server, corrupted file. Nothing partial was kept; retrying may succeed
    once the cause is fixed."""

    code = "storage_unavailable"


class ModelRefused(GalleryError):
    """A model change the gallery refuses: a model it does not hold, or dropping the only model of
    a gallery that holds faces (the user's request, not a storage fault)."""

    code = "model_refused"


class UnknownIdentity(GalleryError):
    """The gallery has no identity of that name."""

    code = "unknown_identity"


class NotFitted(FaceprintError):
    """An estimator was used before ``fit``."""

    code = "not_fitted"


class EngineError(FaceprintError):
    """The engine running a job could not (a Ray cluster unreachable or not installed, workers
    lost more often than retries allow). What was committed stays; running again resumes."""

    code = "engine_error"
