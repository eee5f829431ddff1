"""fer's face-crop semantics, closed-form (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.models.analyzers.expression import (
    ExpressionPrediction,
    crop_faces,
    fer_crop_region,
    fer_padded_gray,
    fer_square_box,
    to_gray,
)
from faceprint.types import Box


def test_square_box() -> None:
    assert fer_square_box(10, 20, 30, 50) == (0, 20, 50, 50)  # taller: widen, shift left by 20//2
    assert fer_square_box(10, 20, 31, 50) == (1, 20, 50, 50)  # odd difference: floor(19/2) = 9
    assert fer_square_box(10, 20, 50, 30) == (10, 10, 50, 50)  # wider: heighten, shift up
    assert fer_square_box(5, 5, 7, 7) == (5, 5, 7, 7)


def test_crop_region_offsets_and_border() -> None:
    # x, y, w, h = 10, 20, 30, 50 -> square (0, 20, 50, 50) -> ±10 px margin -> +40 px border shift
    assert fer_crop_region(Box(10, 20, 40, 70)) == (30, 50, 100, 120)
    # corners are truncated with int() like fer does with detector boxes
    assert fer_crop_region(Box(10.9, 20.2, 40.99, 70.5)) == (30, 50, 100, 120)
    # near the top-left corner the start is clamped at 0 of the padded image
    assert fer_crop_region(Box(-60, -70, 0, -10)) == (0, 0, 50, 40)


def test_padded_gray_uses_bottom_rows_mean() -> None:
    g = np.zeros((6, 5), np.uint8)
    g[-2] = 100
    g[-1] = 51  # mean 75.5 -> rounded by OpenCV to 76
    p = fer_padded_gray(g, border=3)
    assert p.shape == (12, 11)
    assert np.all(p[:3] == 76) and np.all(p[:, :3] == 76) and np.all(p[-3:] == 76)
    np.testing.assert_array_equal(p[3:-3, 3:-3], g)


def test_to_gray_bt601() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    ref = img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(to_gray(img).astype(np.float64) - ref).max() <= 1.0


def test_crop_faces_exact_64_region_is_not_resampled() -> None:
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    # a 44x44 box at (20, 30) grows by 10 px each side to exactly 64x64: no interpolation
    crops = crop_faces(img, [Box(20, 30, 64, 74)])
    assert crops.shape == (1, 64, 64) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops[0], to_gray(img)[20:84, 10:74])


def test_crop_faces_outside_border_uses_fill() -> None:
    img = np.full((50, 50, 3), 200, np.uint8)
    img[-2:] = 10  # bottom rows define the fill value
    crops = crop_faces(img, [Box(-40, -40, -10, -10)])  # region lies entirely in the padding
    assert np.all(crops == 10)


def test_crop_faces_bad_boxes() -> None:
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(InvalidInput):
        crop_faces(img, [Box(200, 200, 260, 260)])
    with pytest.raises(InvalidInput):
        crop_faces(img, [[0, 0, 10, 10]])
    assert crop_faces(img, []).shape == (0, 64, 64)


def test_prediction_to_dict() -> None:
    p = ExpressionPrediction("happy", {"happy": 0.912345, "sad": 0.087655}, Box(1, 2, 3, 4))
    assert p.score == pytest.approx(0.912345)
    assert p.to_dict() == {"label": "happy", "probabilities": {"happy": 0.9123, "sad": 0.0877}, "box": [1.0, 2.0, 3.0, 4.0]}
