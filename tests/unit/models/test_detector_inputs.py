"""Detectors and landmarkers: argument and input checks (no weights are loaded), registry cards."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.models import registry
from faceprint.models.detectors._common import box_to_dlib_rect, dlib_rect_to_box, sort_by_prominence
from faceprint.types import LANDMARK_SCHEMES, Box, Detection

DETECTORS = ["dlib_hog", "dlib_mmod", "mtcnn"]

BAD_IMAGES = [
    np.zeros((10, 10), np.uint8),  # greyscale: the decoder expands it, detectors do not
    np.zeros((10, 10, 4), np.uint8),  # RGBA
    np.zeros((10, 10, 1), np.uint8),
    np.zeros((10, 10, 3), np.float32),
    np.zeros((10, 10, 3), np.int64),
    np.zeros((0, 10, 3), np.uint8),
    [[[0, 0, 0]]],  # not an array
]


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("bad", BAD_IMAGES, ids=["grey", "rgba", "1ch", "float32", "int64", "empty", "list"])
def test_detectors_reject_bad_images_before_loading(name, bad):
    det = registry.create(name)
    with pytest.raises(InvalidInput):
        det.detect(bad)
    with pytest.raises(InvalidInput):
        det.detect_batch([np.zeros((8, 8, 3), np.uint8), bad])
    # validation happens before (lazy) model loading
    assert getattr(det, "_detector", None) is None and getattr(det, "_nets", None) is None


@pytest.mark.parametrize("name", DETECTORS)
def test_detect_batch_rejects_non_sequences(name):
    det = registry.create(name)
    with pytest.raises(InvalidInput):
        det.detect_batch("not images")
    with pytest.raises(InvalidInput):
        det.detect_batch(np.zeros((4, 4, 3), np.uint8))
    assert det.detect_batch([]) == []


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("dlib_hog", {"upsample": -1}),
        ("dlib_hog", {"upsample": 1.5}),
        ("dlib_hog", {"upsample": 9}),
        ("dlib_hog", {"min_size": -3}),
        ("dlib_hog", {"score_threshold": float("nan")}),
        ("dlib_mmod", {"upsample": True}),
        ("mtcnn", {"min_face_size": 0}),
        ("mtcnn", {"thresholds": (0.6, 0.7)}),
        ("mtcnn", {"thresholds": (0.6, 0.7, 1.5)}),
        ("mtcnn", {"factor": 1.0}),
        ("mtcnn", {"factor": "0.7"}),
        ("mtcnn", {"box_style": "hog"}),
        ("mtcnn", {"box_style": None}),
    ],
)
def test_bad_parameters(name, kwargs):
    with pytest.raises(InvalidInput):
        registry.create(name, **kwargs)


def test_cards():
    cards = {c.name: c for c in registry.list_models()}
    for name in DETECTORS:
        assert cards[name].task == "detector"
    assert cards["mtcnn"].landmark_scheme == "eyes_nose_mouth5"
    assert cards["dlib_hog"].landmark_scheme is None and cards["dlib_mmod"].landmark_scheme is None
    assert cards["dlib_shape5"].task == cards["dlib_shape68"].task == "landmarker"
    assert cards["dlib_shape5"].landmark_scheme == "dlib5"
    assert cards["dlib_shape68"].landmark_scheme == "ibug68"
    assert "commercial" in cards["dlib_shape68"].license.lower()
    for name in ("dlib_mmod", "dlib_shape5", "dlib_shape68", "mtcnn"):
        sha = cards[name].source.sha256
        assert sha and len(sha) == 64 and int(sha, 16) >= 0
    assert set(cards["mtcnn"].extra["weights"]) == {"pnet", "rnet", "onet"}


def test_dlib5_scheme_names():
    # parts 0,1: outer/inner corner of the subject's left eye; 2,3: of the right eye; 4: nose base
    assert LANDMARK_SCHEMES["dlib5"] == ("left_eye_outer", "left_eye_inner", "right_eye_outer", "right_eye_inner", "nose_base")


def test_landmarker_rejects_bad_input():
    lm = registry.create("dlib_shape5")
    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(InvalidInput):
        lm.landmarks(np.zeros((20, 20), np.uint8), [Box(0, 0, 10, 10)])
    with pytest.raises(InvalidInput):
        lm.landmarks(img, [(0, 0, 10, 10)])
    assert lm.landmarks(img, []) == []
    assert lm._predictor is None


def test_dlib_rect_conversion_round_trip():
    dlib = pytest.importorskip("dlib")
    # dlib rectangle (10, 20)-(59, 69) covers 50x50 pixels
    box = dlib_rect_to_box(10, 20, 59, 69, 640, 480)
    assert box == Box(10, 20, 60, 70) and box.width == 50 == dlib.rectangle(10, 20, 59, 69).width()
    r = box_to_dlib_rect(box)
    assert (r.left(), r.top(), r.right(), r.bottom()) == (10, 20, 59, 69)
    # clipped to the image; empty after clipping -> None
    assert dlib_rect_to_box(-5, -5, 9, 9, 100, 100) == Box(0, 0, 10, 10)
    assert dlib_rect_to_box(95, 0, 120, 10, 100, 100) == Box(95, 0, 100, 11)
    assert dlib_rect_to_box(150, 0, 160, 10, 100, 100) is None
    assert dlib_rect_to_box(10, 10, 8, 20, 100, 100) is None


def test_sort_by_prominence():
    small_sure = Detection(Box(0, 0, 10, 10), 0.99)
    big_unsure = Detection(Box(0, 0, 50, 50), 0.5)
    big_sure = Detection(Box(10, 10, 60, 60), 0.9)
    assert sort_by_prominence([small_sure, big_unsure, big_sure]) == [big_sure, big_unsure, small_sure]
