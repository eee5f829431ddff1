"""One small Protocol per pipeline stage. Implementations live one per file under ``models/``.

All images are ``(H, W, 3)`` uint8 RGB arrays (see :mod:`faceprint.types`). Every stage takes
batches; the single-item methods are conveniences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from faceprint.models.card import ModelCard
from faceprint.types import Box, Detection, Landmarks


@runtime_checkable
class Detector(Protocol):
    """Finds faces. Returns detections sorted by descending prominence (box area × score order)."""

    card: ModelCard

    def detect(self, image: np.ndarray) -> list[Detection]: ...

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


@runtime_checkable
class Landmarker(Protocol):
    """Places landmarks inside given face boxes."""

    card: ModelCard

    def landmarks(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Landmarks]: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps aligned chips (N, S, S, 3) uint8 RGB, aligned to ``card.template``, to raw descriptors
    (N, D) float32 (not normalised: the pipeline normalises and keeps the norm)."""

    card: ModelCard

    def embed_chips(self, chips: np.ndarray) -> np.ndarray: ...
