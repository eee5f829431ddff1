"""faceprint.align.dlib_chip against dlib itself on synthetic shapes (no model files or photos needed):
chip geometry and pixels must be identical to dlib.get_face_chip_details / dlib.get_face_chip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceprint.align.dlib_chip import (
    DLIB5_MEAN_FACE,
    DLIB68_MEAN_FACE,
    ChipDetails,
    chip_details_from_points,
    extract_chip,
    mapping_to_chip,
    padded_template_points,
    pyramid_down2,
)
from faceprint.align.similarity import apply_affine

dlib = pytest.importorskip("dlib")


def _smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    """Random but spatially smooth RGB image (realistic interpolation, no saturation everywhere)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.add(img, rng.integers(0, 20, (h, w, 3), dtype=np.uint8))  # plus fine texture
    return np.ascontiguousarray(img)


def _random_shape(rng: np.random.Generator, unit: np.ndarray, img_w: int, img_h: int) -> np.ndarray:
    """A face-like integer shape: the unit template under a random similarity, plus jitter."""
    scale = math.exp(rng.uniform(math.log(40), math.log(900)))  # face width in pixels
    angle = rng.uniform(-0.6, 0.6)
    c, s = math.cos(angle), math.sin(angle)
    centre = rng.uniform([0.1 * img_w, 0.1 * img_h], [0.9 * img_w, 0.9 * img_h])
    p = (unit - 0.5) * scale
    p = p @ np.array([[c, s], [-s, c]]) + centre
    p += rng.normal(0, 0.02 * scale, p.shape)
    return np.round(p)


def _dlib_det(points: np.ndarray) -> object:
    pts = [dlib.point(int(x), int(y)) for x, y in points]
    return dlib.full_object_detection(dlib.rectangle(0, 0, 10, 10), pts)


def _dlib_details(d: object) -> ChipDetails:
    r = d.rect
    return ChipDetails(r.left(), r.top(), r.right(), r.bottom(), d.angle, d.rows, d.cols)


def _unit68_full() -> tuple[np.ndarray, np.ndarray]:
    idx = np.array([i for i, _, _ in DLIB68_MEAN_FACE])
    full = np.full((68, 2), 0.5)
    full[idx] = [(x, y) for _, x, y in DLIB68_MEAN_FACE]
    return full, idx


CASES = [(150, 0.25), (150, 0.25), (150, 0.25), (80, 0.1), (151, 0.4), (200, 0.0)]


@pytest.mark.parametrize("case", range(24))
def test_five_point_chips_identical_to_dlib(case: int) -> None:
    rng = np.random.default_rng(case)
    size, padding = CASES[case % len(CASES)]
    h, w = int(rng.integers(200, 700)), int(rng.integers(200, 700))
    img = _smooth_image(h, w, case)
    shape = _random_shape(rng, DLIB5_MEAN_FACE, w, h)
    det = _dlib_det(shape)

    ref_details = _dlib_details(dlib.get_face_chip_details(det, size, padding))
    ours = chip_details_from_points(padded_template_points(DLIB5_MEAN_FACE, size, padding), shape, (size, size))
    for a, b in zip(
        (ours.left, ours.top, ours.right, ours.bottom, ours.angle),
        (ref_details.left, ref_details.top, ref_details.right, ref_details.bottom, ref_details.angle),
        strict=True,
    ):
        assert a == pytest.approx(b, abs=1e-7)
    assert (ours.rows, ours.cols) == (size, size)

    ref_chip = dlib.get_face_chip(img, det, size, padding)
    chip = extract_chip(img, ours)
    assert chip.shape == ref_chip.shape == (size, size, 3)
    diff = np.abs(chip.astype(int) - ref_chip.astype(int))
    assert diff.mean() < 1e-3 and diff.max() <= 1, (case, diff.mean(), diff.max())


@pytest.mark.parametrize("case", range(8))
def test_68_point_chips_identical_to_dlib(case: int) -> None:
    rng = np.random.default_rng(100 + case)
    img = _smooth_image(480, 640, case)
    full, idx = _unit68_full()
    shape = _random_shape(rng, full, 640, 480)
    det = _dlib_det(shape)
    tmpl = padded_template_points(full[idx], 150, 0.25)
    ours = chip_details_from_points(tmpl, shape[idx], (150, 150))
    ref = _dlib_details(dlib.get_face_chip_details(det, 150, 0.25))
    assert ours.left == pytest.approx(ref.left, abs=1e-7) and ours.angle == pytest.approx(ref.angle, abs=1e-9)
    diff = np.abs(extract_chip(img, ours).astype(int) - dlib.get_face_chip(img, det, 150, 0.25).astype(int))
    assert diff.mean() < 1e-3 and diff.max() <= 1


def test_mapping_to_chip_sends_rect_corners_to_chip_corners() -> None:
    d = ChipDetails(10.0, 20.0, 160.0, 170.0, 0.3, 150, 150)
    m = mapping_to_chip(d)
    c = d.rotated_corners()
    np.testing.assert_allclose(
        apply_affine(m, c), [[0, 0], [149, 0], [0, 149], [149, 149]], atol=1e-9
    )


def test_unrotated_unscaled_chip_is_a_plain_crop_like_dlib() -> None:
    # angle 0 and rows/cols equal to the rectangle's size: dlib copies an integer crop (lround'ed rect)
    img = _smooth_image(300, 300, 5)
    for rect in ((40.4, 30.6, 189.4, 179.6), (-20.0, 250.0, 129.0, 399.0)):
        details = ChipDetails(*rect, angle=0.0, rows=150, cols=150)
        ref = dlib.extract_image_chip(img, dlib.chip_details(dlib.drectangle(*rect), dlib.chip_dims(150, 150)))
        np.testing.assert_array_equal(extract_chip(img, details), ref)


@pytest.mark.parametrize("case", range(6))
def test_float_points_and_non_square_chips_match_dlib(case: int) -> None:
    # MTCNN landmarks are floats: dlib.chip_details(dpoints, dpoints, dims) is the float-point reference.
    rng = np.random.default_rng(200 + case)
    img = _smooth_image(400, 500, case)
    rows, cols = [(150, 150), (112, 96), (60, 200)][case % 3]
    chip_pts = rng.uniform([0, 0], [cols, rows], (5, 2))
    img_pts = apply_affine(
        [[math.cos(0.3) * 1.7, -math.sin(0.3) * 1.7, 120], [math.sin(0.3) * 1.7, math.cos(0.3) * 1.7, 80]], chip_pts
    ) + rng.normal(0, 2, (5, 2))
    ref = dlib.chip_details(
        dlib.dpoints([dlib.dpoint(*p) for p in chip_pts]),
        dlib.dpoints([dlib.dpoint(*p) for p in img_pts]),
        dlib.chip_dims(rows, cols),
    )
    ours = chip_details_from_points(chip_pts, img_pts, (cols, rows))
    assert ours.left == pytest.approx(ref.rect.left(), abs=1e-7)
    assert ours.bottom == pytest.approx(ref.rect.bottom(), abs=1e-7)
    assert ours.angle == pytest.approx(ref.angle, abs=1e-9)
    chip = extract_chip(img, ours)
    assert chip.shape == (rows, cols, 3)
    diff = np.abs(chip.astype(int) - dlib.extract_image_chip(img, ref).astype(int))
    assert diff.mean() < 1e-3 and diff.max() <= 1


def test_chip_entirely_outside_image_is_black() -> None:
    img = _smooth_image(100, 100, 1)
    tmpl = padded_template_points(DLIB5_MEAN_FACE, 150, 0.25)
    details = chip_details_from_points(tmpl, tmpl * 0.5 + [1000.0, 1000.0], (150, 150))
    chip = extract_chip(img, details)
    assert chip.shape == (150, 150, 3) and chip.max() == 0


def _pyramid_reference(img: np.ndarray) -> np.ndarray:
    """dlib's pyramid_down<2> written out literally (loops over output pixels)."""
    nr, nc = img.shape[:2]
    if nr <= 8 or nc <= 8:
        return img[:0, :0]
    k = np.array([1, 4, 6, 4, 1])
    tw = (nc - 3) // 2
    tmp = np.zeros((nr, tw, 3), np.int64)
    for c in range(tw):
        tmp[:, c] = (img[:, 2 * c : 2 * c + 5].astype(np.int64) * k[None, :, None]).sum(axis=1)
    out = np.zeros(((nr - 3) // 2, tw, 3), np.uint8)
    dr = 0
    r = 2
    while r < nr - 2:
        out[dr] = (tmp[r - 2 : r + 3] * k[:, None, None]).sum(axis=0) // 256
        dr += 1
        r += 2
    return out


@pytest.mark.parametrize("shape", [(9, 9), (10, 11), (37, 52), (64, 64), (101, 77), (8, 50), (50, 8)])
def test_pyramid_down2_matches_literal_definition(shape: tuple[int, int]) -> None:
    img = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    img[0, 0] = 255  # include saturated values
    ref = _pyramid_reference(img)
    out = pyramid_down2(img)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)
    white = np.full((*shape, 3), 255, np.uint8)
    assert pyramid_down2(white).size == 0 or pyramid_down2(white).min() == 255
