"""Typed, frozen value objects passed between pipeline stages.

Conventions used everywhere in faceprint:

* **Images** are ``numpy.ndarray`` of shape ``(H, W, 3)``, dtype ``uint8``, colour order **RGB**,
  row-major, origin at the top-left corner.
* **Coordinates** are ``(x, y)`` in pixels of that image, ``x`` to the right, ``y`` down, as float.
  A pixel's centre is at integer coordinates (pixel ``(0, 0)`` covers ``[-0.5, 0.5)``).
* **Boxes** are ``x1, y1, x2, y2`` (top-left, bottom-right), ``x2 > x1``, ``y2 > y1``.
* **Embeddings** are float32 vectors of unit L2 norm; the norm the model produced is kept in
  ``Embedding.norm``.

Arrays stored in these objects are made read-only, so a value object really is a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput


def _frozen_array(value: Any, dtype: Any, shape_check: tuple[int | None, ...], name: str) -> np.ndarray:
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.ndim != len(shape_check) or any(s is not None and s != d for s, d in zip(shape_check, arr.shape, strict=True)):
        raise InvalidInput(f"{name} must have shape {shape_check}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box ``x1, y1, x2, y2`` in image pixels (float)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        for name in ("x1", "y1", "x2", "y2"):
            v = float(getattr(self, name))
            if not np.isfinite(v):
                raise InvalidInput(f"Box.{name} must be finite, got {v}")
            object.__setattr__(self, name, v)
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise InvalidInput(f"Box must have x2 >= x1 and y2 >= y1, got {self.as_tuple()}")

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        return cls(x, y, x + w, y + h)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when disjoint)."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clip(self, width: int, height: int) -> Box:
        """This box clipped to an image of ``width`` × ``height`` pixels."""
        return Box(
            min(max(self.x1, 0.0), width),
            min(max(self.y1, 0.0), height),
            min(max(self.x2, 0.0), width),
            min(max(self.y2, 0.0), height),
        )


#: Landmark schemes, i.e. what each point means. Code that consumes landmarks checks the scheme
#: instead of guessing from the number of points.
LANDMARK_SCHEMES: dict[str, tuple[str, ...]] = {
    # dlib's 5-point shape predictor: outer/inner corner of the subject's left eye (image right),
    # outer/inner corner of the right eye (image left), bottom of the nose.
    "dlib5": ("left_eye_outer", "left_eye_inner", "right_eye_outer", "right_eye_inner", "nose_base"),
    # MTCNN / ArcFace convention, in image order: eye centre on the image left, eye centre on the
    # image right, nose tip, mouth corner on the image left, mouth corner on the image right.
    "eyes_nose_mouth5": ("eye_left", "eye_right", "nose_tip", "mouth_left", "mouth_right"),
    # iBUG 300-W 68-point markup (dlib's 68-point predictor).
    "ibug68": tuple(f"p{i}" for i in range(68)),
}


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Facial landmark points ``(N, 2)`` float32 ``(x, y)`` in image pixels, with their scheme."""

    points: np.ndarray
    scheme: str

    def __post_init__(self) -> None:
        if self.scheme not in LANDMARK_SCHEMES:
            raise InvalidInput(f"unknown landmark scheme {self.scheme!r}; known: {sorted(LANDMARK_SCHEMES)}")
        n = len(LANDMARK_SCHEMES[self.scheme])
        object.__setattr__(self, "points", _frozen_array(self.points, np.float32, (n, 2), "Landmarks.points"))

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_eyes_nose_mouth5(self) -> Landmarks:
        """Convert to the 5-point eye-centre/nose/mouth scheme when the points allow it."""
        p = self.points.astype(np.float64)
        if self.scheme == "eyes_nose_mouth5":
            return self
        if self.scheme == "ibug68":
            eye_l = p[36:42].mean(axis=0)  # image-left eye
            eye_r = p[42:48].mean(axis=0)
            pts = np.stack([eye_l, eye_r, p[30], p[48], p[54]])
            return Landmarks(pts, "eyes_nose_mouth5")
        raise InvalidInput(f"cannot convert {self.scheme} landmarks to eyes_nose_mouth5 (no mouth points)")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Landmarks)
            and self.scheme == other.scheme
            and np.array_equal(self.points, other.points)
        )

    def __hash__(self) -> int:
        return hash((self.scheme, self.points.tobytes()))


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected face: box, confidence score (detector-specific scale) and optional landmarks."""

    box: Box
    score: float
    landmarks: Landmarks | None = None
    detector: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "score", float(self.score))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "box": [round(v, 2) for v in self.box.as_tuple()],
            "score": round(self.score, 4),
            "detector": self.detector,
        }
        if self.landmarks is not None:
            d["landmarks"] = {
                "scheme": self.landmarks.scheme,
                "points": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks.points],
            }
        return d


@dataclass(frozen=True, slots=True)
class AlignedFace:
    """A face chip warped to an embedder's canonical template.

    ``chip`` is ``(S, S, 3)`` uint8 RGB; ``transform`` is the 2×3 float64 similarity matrix that maps
    image coordinates to chip coordinates (``chip_xy = transform @ [x, y, 1]``).
    """

    chip: np.ndarray
    transform: np.ndarray
    template: str

    def __post_init__(self) -> None:
        chip = np.asarray(self.chip)
        if chip.ndim != 3 or chip.shape[2] != 3 or chip.dtype != np.uint8:
            raise InvalidInput(f"AlignedFace.chip must be (H, W, 3) uint8, got {chip.shape} {chip.dtype}")
        chip = chip.copy()
        chip.setflags(write=False)
        object.__setattr__(self, "chip", chip)
        object.__setattr__(self, "transform", _frozen_array(self.transform, np.float64, (2, 3), "transform"))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AlignedFace)
            and self.template == other.template
            and np.array_equal(self.chip, other.chip)
            and np.array_equal(self.transform, other.transform)
        )

    def __hash__(self) -> int:
        return hash((self.template, self.chip.tobytes()))


@dataclass(frozen=True, slots=True)
class Embedding:
    """A unit-length float32 face descriptor, tagged with the model that made it.

    Embeddings of different models are not comparable; :func:`faceprint.verify` refuses to compare
    them. ``norm`` is the L2 norm of the raw model output (before normalisation).
    """

    vector: np.ndarray
    model: str
    norm: float = 1.0

    def __post_init__(self) -> None:
        v = np.array(self.vector, dtype=np.float32, copy=True).reshape(-1)
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise InvalidInput("Embedding.vector must be a non-empty finite vector")
        n = float(np.linalg.norm(v))
        if n == 0.0:
            raise InvalidInput("Embedding.vector must not be all zeros")
        if abs(n - 1.0) > 1e-4:
            v /= n
        v.setflags(write=False)
        object.__setattr__(self, "vector", v)
        object.__setattr__(self, "norm", float(self.norm))

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Embedding) and self.model == other.model and np.array_equal(self.vector, other.vector)

    def __hash__(self) -> int:
        return hash((self.model, self.vector.tobytes()))


@dataclass(frozen=True, slots=True)
class Face:
    """Everything the pipeline learned about one face in one image."""

    detection: Detection
    landmarks: Landmarks | None = None
    aligned: AlignedFace | None = None
    embedding: Embedding | None = None

    @property
    def box(self) -> Box:
        return self.detection.box

    def to_dict(self, include_embedding: bool = False) -> dict[str, Any]:
        d = self.detection.to_dict()
        if self.landmarks is not None and self.landmarks is not self.detection.landmarks:
            d["landmarks"] = {
                "scheme": self.landmarks.scheme,
                "points": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks.points],
            }
        if include_embedding and self.embedding is not None:
            d["embedding"] = {"model": self.embedding.model, "vector": [float(x) for x in self.embedding.vector]}
        return d


@dataclass(frozen=True, slots=True)
class Verification:
    """Result of comparing two faces.

    ``score`` is a cosine similarity in ``[-1, 1]`` (higher = more alike). ``threshold_source`` says
    where the threshold came from (a model card's calibration, a user calibration file, an argument).
    ``far_estimate`` is the false-match rate the calibration data shows at this score, when known.
    """

    score: float
    is_match: bool
    threshold: float
    threshold_source: str
    model: str
    far_estimate: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 6),
            "is_match": self.is_match,
            "threshold": round(self.threshold, 6),
            "threshold_source": self.threshold_source,
            "model": self.model,
            "far_estimate": self.far_estimate,
            **self.details,
        }
