"""MTCNN's working-resolution path (``detect_large``): P- and R-nets on a shrunk copy, the O-net on
full-resolution crops (faceprint.working_resolution.LargeImageDetector)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceprint.io import load_image
from faceprint.models import registry
from faceprint.types import Box
from faceprint.working_resolution import LargeImageDetector, detect_at_working_resolution


@pytest.fixture(scope="module")
def mtcnn():
    return registry.create("mtcnn", thresholds=(0.6, 0.7, 0.9))


@pytest.fixture(scope="module")
def photo(fr_examples):
    return load_image(fr_examples / "examples" / "obama.jpg")


def test_mtcnn_is_a_large_image_detector(mtcnn) -> None:
    assert isinstance(mtcnn, LargeImageDetector)


def test_detect_large_on_an_unshrunk_copy_equals_detect(mtcnn, photo) -> None:
    # the O-net sees the same pixels through per-box crops: same faces, boxes and points
    a, b = mtcnn.detect(photo), mtcnn.detect_large(photo, photo.copy())
    assert len(a) == len(b) >= 1
    for x, y in zip(a, b, strict=True):
        assert x.box.as_tuple() == pytest.approx(y.box.as_tuple(), abs=1e-2)
        assert x.score == pytest.approx(y.score, abs=1e-5)
        np.testing.assert_allclose(x.landmarks.points, y.landmarks.points, atol=1e-2)


def test_working_resolution_points_come_from_full_resolution_pixels(mtcnn, photo) -> None:
    big = cv2.resize(photo, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    side = max(photo.shape[:2])
    ref = mtcnn.detect(photo)[0]
    d = detect_at_working_resolution(mtcnn, big, side)[0]
    # the face found in the shrunk copy, its box and points at 3x scale, near 3x the original's
    assert d.box.iou(Box(*(3 * v for v in ref.box.as_tuple()))) > 0.8
    err = np.abs(d.landmarks.points - 3 * ref.landmarks.points).max()
    assert err < 0.05 * d.box.width
