"""What dlib's two face detectors (HOG and MMOD) share: options, locking, box conversion,
filtering and sorting. Each subclass only loads its dlib object and runs it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.models.card import ModelCard
from faceprint.models.detectors._common import (
    check_float,
    check_image,
    check_images,
    check_int,
    dlib_rect_to_box,
    sort_by_prominence,
)
from faceprint.types import Detection


class DlibDetectorBase:
    """Base of the dlib detectors. Subclasses implement ``_load()`` (return the dlib object) and
    ``_run(detector, image) -> [(dlib rectangle, score), ...]``; both are called with the lock held
    (dlib objects are not thread-safe)."""

    def __init__(self, *, card: ModelCard, upsample: int, min_size: int | None, score_threshold: float) -> None:
        self.card = card
        self.upsample = check_int(upsample, "upsample", 0)
        if self.upsample > 4:
            raise InvalidInput(f"upsample must be <= 4 (each step quadruples the work), got {upsample}")
        self.min_size = None if min_size is None else check_int(min_size, "min_size", 0)
        self.score_threshold = check_float(score_threshold, "score_threshold")
        self._detector: Any = None
        self._lock = threading.Lock()  # guards loading and every call into the dlib object

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(upsample={self.upsample}, min_size={self.min_size}, "
            f"score_threshold={self.score_threshold:g})"
        )

    def _load(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _run(self, detector: Any, image: np.ndarray) -> list[tuple[Any, float]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _get(self) -> Any:
        # Called with self._lock held.
        if self._detector is None:
            self._detector = self._load()
        return self._detector

    def load(self) -> Self:
        with self._lock:
            self._get()
        return self

    def _detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        with self._lock:
            found = self._run(self._get(), image)
        dets = []
        for r, score in found:
            if score < self.score_threshold:
                continue
            box = dlib_rect_to_box(r.left(), r.top(), r.right(), r.bottom(), w, h)
            if box is None:
                continue
            if self.min_size is not None and min(box.width, box.height) < self.min_size:
                continue
            dets.append(Detection(box, float(score), None, self.card.name))
        return sort_by_prominence(dets)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in one (H, W, 3) uint8 RGB image, largest first."""
        return self._detect(check_image(image))

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Faces in each image (one dlib call per image: batching does not help on CPU)."""
        return [self._detect(im) for im in check_images(images)]
