"""Issue 12, "Tight crops must not come back 'no face found'": the default pipeline on real LFW tight crops.

Each of the first 20 LFW images (sorted) is cropped to the default's own face box shrunk by 10 % on
every side and resized to 150 px (benchmarks/tight_crops.py); the default pipeline (fallback on)
must find the face at the crop's centre in every one, where the plain detection misses several, and
the crop's embedding must match the full image's at the shipped 1:1 threshold (without the
padded re-detection, faces found spanning the frame mostly do not: faceprint.detect_fallback)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceprint.io import load_image
from faceprint.pipeline import Pipeline, PipelineConfig, select_face
from faceprint.types import Box


def _tight(image: np.ndarray, box: Box, frac: float = -0.10, size: int = 150) -> np.ndarray:
    h, w = image.shape[:2]
    dx, dy = frac * box.width, frac * box.height
    x1, y1 = max(0, round(box.x1 - dx)), max(0, round(box.y1 - dy))
    x2, y2 = min(w, round(box.x2 + dx)), min(h, round(box.y2 + dy))
    crop = image[y1:y2, x1:x2]
    s = size / max(crop.shape[:2])
    out = cv2.resize(crop, (round(crop.shape[1] * s), round(crop.shape[0] * s)), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out)


@pytest.fixture(scope="module")
def pipes():
    on = Pipeline.from_config(PipelineConfig())
    off = Pipeline(on.detector, on.embedder, detect_max_side=on.detect_max_side)  # same models, no fallback
    return on, off


def test_every_tight_crop_gets_its_face(lfw_root, pipes) -> None:
    from faceprint.matching.thresholds import shipped_calibration

    on, off = pipes
    cal = shipped_calibration(on.embedder.card.name)
    assert cal is not None
    paths = sorted((lfw_root / "images").glob("*/*.jpg"))[:20]
    plain_missed = 0
    for p in paths:
        img = load_image(p)
        full = select_face(on.process(img), "center", img.shape)
        crop = _tight(img, full.box)
        plain_missed += not off.detect(crop)
        faces = on.process(crop)
        assert faces, f"no face in the tight crop of {p.name}"
        face = faces[0]
        h, w = crop.shape[:2]
        cx, cy = face.box.center
        assert w / 4 <= cx <= 3 * w / 4 and h / 4 <= cy <= 3 * h / 4, p.name
        assert face.box.x1 >= 0 and face.box.x2 <= w and face.box.y1 >= 0 and face.box.y2 <= h  # clipped
        assert full.embedding is not None and face.embedding is not None
        sim = float(np.dot(full.embedding.vector, face.embedding.vector))
        assert sim > cal.threshold_, f"{p.name}: crop vs full image cosine {sim:.3f} ≤ threshold {cal.threshold_:.3f}"
    # the fallback is what finds them: measured, 10 of these 20 crops give no face without it (and the
    # other 10 a face spanning the frame, whose points the padded detection replaces)
    assert plain_missed >= 5
