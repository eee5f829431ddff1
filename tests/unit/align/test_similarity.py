"""faceprint.align.similarity: closed-form checks of the similarity estimate and of chip warping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceprint.align import apply_affine, estimate_similarity, invert_affine, warp_chip
from faceprint.errors import InvalidInput


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


def _linear_lstsq_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Reference solution: a proper similarity is x' = a x − b y + tx, y' = b x + a y + ty, linear in
    (a, b, tx, ty), so ordinary least squares solves the same problem as Umeyama's closed form."""
    n = len(src)
    a = np.zeros((2 * n, 4))
    a[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    a[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    (p, q, tx, ty), *_ = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)
    return np.array([[p, -q, tx], [q, p, ty]])


@pytest.mark.parametrize(
    "angle,scale,tx,ty",
    [(0, 1, 0, 0), (30, 2.5, -10, 4), (-179.5, 0.01, 1000, -2000), (90, 150, 0.25, 0.75), (180, 1, 3, 3),
     (-45, 0.37, 12.5, 99.0)],
)
def test_recovers_known_transform_exactly(angle: float, scale: float, tx: float, ty: float) -> None:
    rng = np.random.default_rng(int(abs(angle) * 10 + scale * 100))
    src = rng.uniform(-50, 200, (7, 2))
    m = _similarity(angle, scale, tx, ty)
    dst = apply_affine(m, src)
    est = estimate_similarity(src, dst)
    assert est.shape == (2, 3) and est.dtype == np.float64
    np.testing.assert_allclose(est, m, rtol=1e-10, atol=1e-9 * max(1.0, abs(tx), abs(ty)))
    np.testing.assert_allclose(apply_affine(est, src), dst, atol=1e-8 * max(1.0, scale * 250))


def test_two_points_determine_the_transform() -> None:
    src = np.array([[0.0, 0.0], [1.0, 0.0]])
    dst = np.array([[5.0, 5.0], [5.0, 7.0]])  # rotate +90°, scale 2, translate (5, 5)
    np.testing.assert_allclose(estimate_similarity(src, dst), [[0, -2, 5], [2, 0, 5]], atol=1e-12)


def test_noisy_points_match_linear_least_squares() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        src = rng.uniform(0, 100, (rng.integers(2, 40), 2))
        dst = apply_affine(_similarity(rng.uniform(-180, 180), rng.uniform(0.1, 5), *rng.uniform(-50, 50, 2)), src)
        dst += rng.normal(0, 3, dst.shape)
        np.testing.assert_allclose(estimate_similarity(src, dst), _linear_lstsq_similarity(src, dst), atol=1e-9)


def test_never_returns_a_reflection() -> None:
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 100, (6, 2))
    mirrored = src * [-1, 1] + [300, 0]  # a pure reflection would fit exactly
    m = estimate_similarity(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0
    np.testing.assert_allclose(m, _linear_lstsq_similarity(src, mirrored), atol=1e-9)
    # it is a proper similarity: m[:, :2] = s·R with R orthonormal
    s = math.sqrt(np.linalg.det(m[:, :2]))
    np.testing.assert_allclose(m[:, :2] @ m[:, :2].T / s**2, np.eye(2), atol=1e-12)


@pytest.mark.parametrize(
    "src,dst,match",
    [
        ([[1.0, 2.0]], [[3.0, 4.0]], "at least 2"),
        ([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]], [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "src.*distinct"),
        ([[0.0, 0.0], [1.0, 0.0]], [[3.0, 3.0], [3.0, 3.0]], "dst.*distinct"),
        ([[0.0, np.nan], [1.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]], "NaN"),
        ([[0.0, 0.0], [1.0, 0.0]], [[0.0, np.inf], [1.0, 0.0]], "NaN or infinite"),
        ([[0.0, 0.0], [1.0, 0.0], [2.0, 2.0]], [[0.0, 0.0], [1.0, 0.0]], "same shape"),
        ([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], r"\(N, 2\)"),
        (np.zeros((0, 2)), np.zeros((0, 2)), "at least 2"),
        ("ab", "cd", "src"),
    ],
)
def test_degenerate_inputs_raise(src, dst, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        estimate_similarity(src, dst)


def test_invert_and_apply_roundtrip() -> None:
    m = _similarity(23, 1.7, -4, 9)
    pts = np.random.default_rng(1).uniform(-100, 100, (10, 2))
    np.testing.assert_allclose(apply_affine(invert_affine(m), apply_affine(m, pts)), pts, atol=1e-10)
    with pytest.raises(InvalidInput, match="singular"):
        invert_affine(np.zeros((2, 3)))
    with pytest.raises(InvalidInput):
        invert_affine(np.eye(3))


# --------------------------------------------------------------------------- warp_chip


def _dot_image(h: int, w: int, x: int, y: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[y, x] = (200, 100, 50)
    return img


def test_warp_translation_moves_pixel_exactly() -> None:
    img = _dot_image(40, 50, x=30, y=12)
    m = np.array([[1.0, 0.0, -20.0], [0.0, 1.0, -5.0]])  # image (30, 12) -> chip (10, 7)
    chip = warp_chip(img, m, (16, 12))
    assert chip.shape == (12, 16, 3) and chip.dtype == np.uint8 and chip.flags.c_contiguous
    np.testing.assert_array_equal(chip[7, 10], (200, 100, 50))
    assert chip.sum() == 350  # nothing else lit


def test_warp_rotation_and_scale_moves_pixel_where_expected() -> None:
    img = _dot_image(64, 64, x=40, y=20)
    m = estimate_similarity([[0, 0], [10, 0]], [[70, -50], [70, -30]])  # rotate +90°, scale 2
    np.testing.assert_allclose(m, [[0, -2, 70], [2, 0, -50]], atol=1e-12)
    np.testing.assert_allclose(apply_affine(m, [[40, 20]]), [[30, 30]], atol=1e-12)
    chip = warp_chip(img, m, (64, 64))
    np.testing.assert_array_equal(chip[30, 30], (200, 100, 50))  # the dot lands exactly here
    # chip (31, 30) comes from image (40, 19.5): half-way between the dot and black
    np.testing.assert_array_equal(chip[30, 31], (100, 50, 25))
    np.testing.assert_array_equal(chip[31, 30], (100, 50, 25))  # from image (40.5, 20)
    assert chip[30, 33].max() == 0 and chip[33, 30].max() == 0


def test_warp_uses_pixel_centre_convention_and_bilinear_weights() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    img[4, 4] = 200
    # shift right by half a pixel: chip pixels 4 and 5 both sample half-way to the dot
    m = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    chip = warp_chip(img, m, (10, 10))
    assert chip[4, 4, 0] == 100 and chip[4, 5, 0] == 100
    assert chip[4, 3, 0] == 0 and chip[4, 6, 0] == 0
    # integer shift: exact copy, no blur (pixel centres at integers on both sides)
    chip = warp_chip(img, np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]), (10, 10))
    assert chip[5, 6, 0] == 200 and np.count_nonzero(chip[..., 0]) == 1


def test_warp_outside_is_black() -> None:
    img = np.full((10, 10, 3), 255, np.uint8)
    chip = warp_chip(img, np.array([[1.0, 0, 20], [0, 1.0, 0]]), (40, 10))  # image lands at x 20..29
    assert chip[:, :19].max() == 0 and chip[:, 31:].max() == 0
    assert chip[:, 21:29].min() == 255


def test_warp_bad_inputs() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    m = np.eye(2, 3)
    with pytest.raises(InvalidInput):
        warp_chip(img.astype(np.float32), m, (5, 5))
    with pytest.raises(InvalidInput):
        warp_chip(img, np.eye(3), (5, 5))
    with pytest.raises(InvalidInput):
        warp_chip(img, m, (0, 5))
    with pytest.raises(InvalidInput):
        warp_chip(img, m, "big")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        warp_chip(img, [[np.nan, 0, 0], [0, 1, 0]], (5, 5))
