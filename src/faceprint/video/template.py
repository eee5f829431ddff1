"""A track's face template: the quality-weighted mean of its embeddings, plus the few best
embeddings and the best crop (what enrolling the track later needs).

Quality of one observation (in [0, 1], model-agnostic): the detector's score (clipped to [0, 1])
× a size factor (face height / :data:`GOOD_FACE_PX`, at most 1: small faces carry less identity)
× a sharpness factor (variance of the Laplacian of the aligned chip's grey levels /
:data:`GOOD_SHARPNESS`, at most 1: motion blur is common in video). The template is the L2-normalised
sum of the unit embeddings weighted by quality (a face seen sharp and large counts more than a
blurred glimpse), so it stays a unit vector of the same model that the gallery compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceprint.types import Box, Embedding, Face

__all__ = ["GOOD_FACE_PX", "GOOD_SHARPNESS", "Observation", "TemplateBuilder", "face_quality"]

#: A face this tall (pixels) or taller gets the full size factor.
GOOD_FACE_PX = 80.0
#: Laplacian variance of a chip at which the sharpness factor saturates (grey levels squared).
GOOD_SHARPNESS = 150.0
#: Embeddings kept per track for enrolment (the highest-quality ones).
KEEP_BEST = 5


def _sharpness(chip: np.ndarray) -> float:
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def face_quality(face: Face) -> float:
    """Quality in [0, 1] of one detected face (see the module docstring)."""
    score = min(max(face.detection.score, 0.0), 1.0)
    size = min(1.0, face.box.height / GOOD_FACE_PX)
    sharp = 1.0 if face.aligned is None else min(1.0, _sharpness(face.aligned.chip) / GOOD_SHARPNESS)
    return max(score * size * sharp, 1e-6)


@dataclass(frozen=True, slots=True)
class Observation:
    """One embedded sighting of a track: when, where, how good."""

    frame: int
    time: float
    box: Box
    quality: float
    embedding: Embedding


@dataclass
class TemplateBuilder:
    """Accumulates a track's embeddings (mutable; owned by one track)."""

    model: str | None = None
    _sum: np.ndarray | None = None
    _weight: float = 0.0
    n: int = 0
    best: list[Observation] = field(default_factory=list)

    def add(self, obs: Observation) -> None:
        e = obs.embedding
        if self.model is None:
            self.model = e.model
        v = e.vector.astype(np.float64) * obs.quality
        self._sum = v if self._sum is None else self._sum + v
        self._weight += obs.quality
        self.n += 1
        self.best.append(obs)
        self.best.sort(key=lambda o: -o.quality)
        del self.best[KEEP_BEST:]

    @property
    def best_observation(self) -> Observation | None:
        return self.best[0] if self.best else None

    def template(self) -> Embedding | None:
        """The quality-weighted mean embedding (unit norm), or None before any observation."""
        if self._sum is None or self.model is None:
            return None
        return Embedding(self._sum, model=self.model, norm=float(np.linalg.norm(self._sum)))
