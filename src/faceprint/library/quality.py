"""Simple, documented face quality figures, and the face thumbnail.

* ``score`` — the detector's confidence (its own scale; MTCNN's O-net probability by default).
* ``face_px`` — the shorter side of the face box in pixels of the full-resolution photo: below
  ~40 px embeddings get noticeably less reliable.
* ``blur`` — the variance of the Laplacian (4-neighbour kernel) of the aligned chip in grey
  levels²: a sharp face scores in the hundreds, a blurred or upscaled one below ~50. It is measured on
  the chip the embedder sees, so it does not depend on the photo's resolution.
"""

from __future__ import annotations

import io

import numpy as np

from faceprint.types import Box

THUMB_SIDE = 96
THUMB_QUALITY = 85


def blur_score(chip: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of ``chip`` (RGB uint8) in grey (mean of channels)."""
    g = np.asarray(chip, np.float32).mean(axis=2)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def face_size(box: Box) -> float:
    return float(min(box.width, box.height))


def thumbnail(image: np.ndarray, box: Box, side: int = THUMB_SIDE) -> bytes:
    """A square-ish JPEG of the face with a margin (1.3 × the box), at most ``side`` pixels."""
    from PIL import Image

    h, w = image.shape[:2]
    cx, cy = box.center
    half = max(box.width, box.height) * 0.65
    x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
    x2, y2 = int(min(w, cx + half)), int(min(h, cy + half))
    crop = image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
    im = Image.fromarray(np.ascontiguousarray(crop))
    im.thumbnail((side, side))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=THUMB_QUALITY)
    return buf.getvalue()
