"""Draw detections on an image and save images (used by ``faceprint detect --draw out.jpg``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.types import Box, Detection, Face, Landmarks

logger = logging.getLogger(__name__)

__all__ = ["draw_faces", "save_image", "SAVE_FORMATS"]

#: File extension → Pillow format used by :func:`save_image`.
SAVE_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}

Color = tuple[int, int, int]


def _check_image(image: Any, what: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InvalidInput(f"{what} must be an (H, W, 3) uint8 RGB array, got {shape} {dtype}")
    return image


def _parts(item: Any) -> tuple[Box, Landmarks | None, float | None]:
    if isinstance(item, Face):
        return item.box, item.landmarks or item.detection.landmarks, item.detection.score
    if isinstance(item, Detection):
        return item.box, item.landmarks, item.score
    if isinstance(item, Box):
        return item, None, None
    raise InvalidInput(f"draw_faces takes Face, Detection or Box items, got {type(item).__name__}")


def _ascii(text: str) -> str:
    # OpenCV's Hershey fonts only have ASCII glyphs.
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def draw_faces(
    image: np.ndarray,
    faces: Sequence[Face | Detection | Box],
    labels: Sequence[str | None] | None = None,
    *,
    color: Color = (0, 255, 0),
    landmark_color: Color = (255, 0, 0),
    thickness: int | None = None,
) -> np.ndarray:
    """A copy of ``image`` with each face's box, landmark dots and optional label drawn on it.

    Args:
        image: (H, W, 3) uint8 RGB; not modified.
        faces: :class:`~faceprint.types.Face`, :class:`~faceprint.types.Detection` or
            :class:`~faceprint.types.Box` items (landmarks are drawn when the item has them).
        labels: one text per face (``None`` or ``""`` for no label), drawn above the box. Non-ASCII
            characters are drawn as ``?`` (OpenCV's fonts are ASCII-only).
        color, landmark_color: RGB colours of boxes/labels and of landmark dots.
        thickness: line thickness in pixels (default: scales with the image, at least 1).

    Returns:
        A new (H, W, 3) uint8 RGB array.
    """
    import cv2

    image = _check_image(image)
    items = list(faces)
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(items):
            raise InvalidInput(f"got {len(labels)} labels for {len(items)} faces")
    out = np.ascontiguousarray(image).copy()
    h, w = out.shape[:2]
    t = int(thickness) if thickness is not None else max(1, round(min(h, w) / 300))
    if t < 1:
        raise InvalidInput(f"thickness must be >= 1, got {thickness}")
    radius = max(1, t + 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    font_scale = max(0.4, t * 0.5)
    col = tuple(int(c) for c in color)
    lcol = tuple(int(c) for c in landmark_color)

    for i, item in enumerate(items):
        box, landmarks, _score = _parts(item)
        p1 = (int(round(box.x1)), int(round(box.y1)))
        p2 = (int(round(box.x2)), int(round(box.y2)))
        cv2.rectangle(out, p1, p2, col, t, lineType=cv2.LINE_AA)
        if landmarks is not None:
            for x, y in landmarks.points:
                if np.isfinite(x) and np.isfinite(y):
                    cv2.circle(out, (int(round(float(x))), int(round(float(y)))), radius, lcol, -1, cv2.LINE_AA)
        label = labels[i] if labels is not None else None
        if label:
            text = _ascii(str(label))
            (tw, th), base = cv2.getTextSize(text, font, font_scale, max(1, t // 2))
            # Above the box when there is room, else just inside its top edge.
            top = p1[1] - th - base - 2 * t
            if top < 0:
                top = p1[1] + t
            x0 = min(max(p1[0], 0), max(0, w - tw - 2))
            cv2.rectangle(out, (x0, top), (x0 + tw + 2, top + th + base + t), col, -1)
            cv2.putText(out, text, (x0 + 1, top + th + 1), font, font_scale, (0, 0, 0), max(1, t // 2), cv2.LINE_AA)
    return out


def save_image(image: np.ndarray, path: str | os.PathLike[str], *, quality: int = 95) -> Path:
    """Write an (H, W, 3) uint8 RGB ``image`` to ``path``; the format follows the extension
    (:data:`SAVE_FORMATS`: .jpg/.jpeg, .png, .bmp, .tif/.tiff, .webp). ``quality`` applies to JPEG and WebP.

    Returns the path written. Raises :class:`InvalidInput` for a bad image or an unknown extension;
    I/O errors (missing directory, permissions) propagate as :class:`OSError`.
    """
    from PIL import Image

    image = _check_image(image)
    p = Path(path)
    fmt = SAVE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"cannot tell the image format from extension {p.suffix!r} of {str(p)!r}; "
            f"use one of {', '.join(sorted(SAVE_FORMATS))}"
        )
    if not 1 <= int(quality) <= 100:
        raise InvalidInput(f"quality must be in 1..100, got {quality}")
    kwargs: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = int(quality)
    Image.fromarray(np.ascontiguousarray(image)).save(p, format=fmt, **kwargs)
    logger.debug("wrote %s (%s, %dx%d)", p, fmt, image.shape[1], image.shape[0])
    return p
