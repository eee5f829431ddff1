"""Helpers shared by the detectors and landmarkers: input checks, ordering, dlib rectangles.

**Box convention for dlib rectangles.** dlib's ``rectangle(left, top, right, bottom)`` has
*inclusive* integer corners: it covers pixel columns ``left … right`` and rows ``top … bottom``, so
``right = left + width − 1``. faceprint's :class:`~faceprint.types.Box` is an ``x1, y1, x2, y2``
extent, so a dlib rectangle becomes ``Box(left, top, right + 1, bottom + 1)`` (width and height
preserved), and :func:`box_to_dlib_rect` maps a Box back with ``round(x1), round(y1),
round(x2) − 1, round(y2) − 1`` — the exact inverse on integer boxes. The imglab XML ground truth
(``top/left/width/height``) converts the same way (``Box.from_xywh(left, top, width, height)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.types import Box, Detection


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """Return ``image`` as a C-contiguous ``(H, W, 3)`` uint8 array, or raise :class:`InvalidInput`.

    Greyscale and RGBA inputs are rejected: the decoder (:mod:`faceprint.io`) expands them to RGB.
    """
    if not isinstance(image, np.ndarray):
        raise InvalidInput(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidInput(f"{name} must have dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInput(f"{name} must have shape (H, W, 3) (RGB), got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidInput(f"{name} is empty: shape {image.shape}")
    return np.ascontiguousarray(image)


def check_images(images: Any) -> list[np.ndarray]:
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return [check_image(im, f"images[{i}]") for i, im in enumerate(images)]
        raise InvalidInput(f"images must be a sequence of (H, W, 3) arrays or an (N, H, W, 3) array, got {images.shape}")
    if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
        raise InvalidInput(f"images must be a sequence of arrays, got {type(images).__name__}")
    return [check_image(im, f"images[{i}]") for i, im in enumerate(images)]


def sort_by_prominence(dets: Iterable[Detection]) -> list[Detection]:
    """Largest box first; equal areas by descending score."""
    return sorted(dets, key=lambda d: (-d.box.area, -d.score))


def dlib_rect_to_box(left: int, top: int, right: int, bottom: int, width: int, height: int) -> Box | None:
    """A dlib rectangle (inclusive corners) as a :class:`Box` clipped to the image; None if empty."""
    if right < left or bottom < top:
        return None
    box = Box(float(left), float(top), float(right) + 1.0, float(bottom) + 1.0).clip(width, height)
    if box.width <= 0 or box.height <= 0:
        return None
    return box


def box_to_dlib_rect(box: Box) -> Any:
    """The dlib ``rectangle`` for a :class:`Box` (inverse of :func:`dlib_rect_to_box`)."""
    import dlib

    left, top = int(round(box.x1)), int(round(box.y1))
    right = max(left, int(round(box.x2)) - 1)
    bottom = max(top, int(round(box.y2)) - 1)
    return dlib.rectangle(left, top, right, bottom)


def check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise InvalidInput(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}")
    return float(value)
