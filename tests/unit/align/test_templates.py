"""faceprint.align templates and align_face: template lookup, scheme handling, transforms, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from faceprint.align import (
    TEMPLATES,
    AlignTemplate,
    align_face,
    align_faces,
    apply_affine,
    chip_transform,
    get_template,
    register_template,
)
from faceprint.align import templates as templates_mod
from faceprint.align.dlib_chip import chip_details_from_points, mapping_to_chip
from faceprint.errors import InvalidInput
from faceprint.types import AlignedFace, Landmarks

ARCFACE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def _image(h: int = 400, w: int = 500) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _place(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ (scale * np.array([[c, s], [-s, c]])) + shift


def _ibug68_from_enm5(enm5: np.ndarray) -> np.ndarray:
    """68 points whose eye-ring means, nose tip and mouth corners are the given five points."""
    p = np.zeros((68, 2))
    ring = np.array([[-3, 0], [-1, -1], [1, -1], [3, 0], [1, 1], [-1, 1]], dtype=float)
    p[36:42] = enm5[0] + ring
    p[42:48] = enm5[1] + ring
    p[30] = enm5[2]
    p[48] = enm5[3]
    p[54] = enm5[4]
    return p


def test_builtin_templates() -> None:
    assert {"dlib_150_pad025", "arcface_112"} <= set(TEMPLATES)
    d = get_template("dlib_150_pad025")
    assert d.size == (150, 150) and d.geometry == "dlib" and d.resample == "dlib"
    assert set(d.schemes) == {"dlib5", "ibug68", "eyes_nose_mouth5"}
    assert d.points["ibug68"].shape == (33, 2) and len(d.point_indices["ibug68"]) == 33
    a = get_template("arcface_112")
    assert a.size == (112, 112) and a.schemes == ("eyes_nose_mouth5",)
    np.testing.assert_allclose(a.points["eyes_nose_mouth5"], ARCFACE)
    assert get_template(a) is a
    with pytest.raises(ValueError):
        a.points["eyes_nose_mouth5"][0, 0] = 1.0  # read-only
    with pytest.raises(TypeError):
        a.points["new"] = np.zeros((5, 2))  # type: ignore[index]


def test_dlib_template_points_are_dlibs_padded_mean_face() -> None:
    d = get_template("dlib_150_pad025")
    # dlib: size * (padding + p) / (1 + 2 padding), first dlib5 point (0.8595674595992, 0.2134981538014)
    np.testing.assert_allclose(
        d.points["dlib5"][0], 150 * (0.25 + np.array([0.8595674595992, 0.2134981538014])) / 1.5, atol=1e-12
    )


def test_derived_eyes_nose_mouth5_targets_are_plausible() -> None:
    p = get_template("dlib_150_pad025").points["eyes_nose_mouth5"]
    eye_l, eye_r, nose, mouth_l, mouth_r = p
    assert eye_l[0] < nose[0] < eye_r[0] and mouth_l[0] < nose[0] < mouth_r[0]
    assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    assert abs((eye_l[0] + eye_r[0]) / 2 - 74.5) < 2  # roughly centred
    assert abs(eye_l[1] - eye_r[1]) < 1  # level eyes
    # eye centres lie between dlib's eye corner points (same chip)
    d5 = get_template("dlib_150_pad025").points["dlib5"]
    assert d5[2, 0] < eye_l[0] < d5[3, 0] and d5[1, 0] < eye_r[0] < d5[0, 0]


def test_unknown_template() -> None:
    with pytest.raises(InvalidInput, match="unknown alignment template"):
        get_template("nope")
    with pytest.raises(InvalidInput):
        get_template(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- similarity geometry


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.2])
def test_arcface_chip_puts_landmarks_on_template(angle: float) -> None:
    img = _image()
    lm = Landmarks(_place(ARCFACE, angle, 1.8, (150.0, 120.0)), "eyes_nose_mouth5")
    face = align_face(img, lm, "arcface_112")
    assert isinstance(face, AlignedFace)
    assert face.chip.shape == (112, 112, 3) and face.template == "arcface_112"
    np.testing.assert_allclose(apply_affine(face.transform, lm.points), ARCFACE, atol=1e-3)
    np.testing.assert_allclose(chip_transform(lm, "arcface_112"), face.transform)


def test_arcface_accepts_ibug68_by_conversion() -> None:
    enm5 = _place(ARCFACE, 0.2, 2.0, (100.0, 90.0))
    lm68 = Landmarks(_ibug68_from_enm5(enm5), "ibug68")
    m = chip_transform(lm68, "arcface_112")
    np.testing.assert_allclose(m, chip_transform(Landmarks(enm5, "eyes_nose_mouth5"), "arcface_112"), atol=1e-9)
    assert align_face(_image(), lm68, "arcface_112").chip.shape == (112, 112, 3)


def test_arcface_refuses_dlib5() -> None:
    lm = Landmarks(np.random.default_rng(1).uniform(100, 200, (5, 2)), "dlib5")
    with pytest.raises(InvalidInput, match="no target points for 'dlib5'.*eyes_nose_mouth5"):
        align_face(_image(), lm, "arcface_112")


def test_arcface_chip_pixels_come_from_warp() -> None:
    img = _image()
    lm = Landmarks(_place(ARCFACE, 0.0, 1.0, (200.0, 100.0)), "eyes_nose_mouth5")  # pure translation
    chip = align_face(img, lm, "arcface_112").chip
    np.testing.assert_array_equal(chip, img[100:212, 200:312])


# --------------------------------------------------------------------------- dlib geometry


def test_dlib_template_transform_is_dlibs_mapping() -> None:
    t = get_template("dlib_150_pad025")
    pts = _place(t.points["dlib5"], 0.3, 1.4, (120.0, 60.0))
    lm = Landmarks(pts, "dlib5")
    face = align_face(_image(), lm, t)
    expected = mapping_to_chip(chip_details_from_points(t.points["dlib5"], lm.points.astype(float), (150, 150)))
    np.testing.assert_allclose(face.transform, expected)
    # Where noiseless landmarks land: dlib's chip spans its template space [0, 150] edge to edge, so in
    # faceprint's pixel-centre convention a template point u lands at 74.5 + (s / k)(u - 75), with s the
    # template -> image scale and k = (150 s - 1) / 149 dlib's pixel pitch: about u - 0.5.
    s = 1.4
    k = (150 * s - 1) / 149
    expected_chip = 74.5 + (s / k) * (t.points["dlib5"] - 75)
    np.testing.assert_allclose(apply_affine(face.transform, lm.points), expected_chip, atol=1e-4)
    assert np.abs(apply_affine(face.transform, lm.points) - (t.points["dlib5"] - 0.5)).max() < 0.1
    assert face.chip.shape == (150, 150, 3) and face.template == "dlib_150_pad025"


def test_dlib_template_ibug68_uses_the_33_point_fit() -> None:
    t = get_template("dlib_150_pad025")
    idx = list(t.point_indices["ibug68"])
    pts = np.zeros((68, 2))
    pts[idx] = _place(t.points["ibug68"], -0.2, 0.9, (100.0, 100.0))
    pts[:17] = 1e4  # jaw and eyebrows are ignored by dlib's fit: far-away values must not matter
    face = align_face(_image(), Landmarks(pts, "ibug68"), t)
    s, k = 0.9, (150 * 0.9 - 1) / 149
    expected_chip = 74.5 + (s / k) * (t.points["ibug68"] - 75)
    np.testing.assert_allclose(apply_affine(face.transform, pts[idx]), expected_chip, atol=1e-4)


def test_dlib_template_accepts_eyes_nose_mouth5() -> None:
    t = get_template("dlib_150_pad025")
    pts = _place(t.points["eyes_nose_mouth5"], 0.1, 1.2, (150.0, 100.0))
    a = align_face(_image(), Landmarks(pts, "eyes_nose_mouth5"), t)
    b = align_face(_image(), Landmarks(pts, "eyes_nose_mouth5"), t, resample="cv2")
    np.testing.assert_allclose(a.transform, b.transform)
    # dlib resampler truncates, cv2 rounds: chips agree to about half a grey level
    assert np.abs(a.chip.astype(int) - b.chip.astype(int)).mean() < 1.0


def test_resample_errors() -> None:
    lm = Landmarks(_place(ARCFACE, 0.0, 1.0, (50.0, 50.0)), "eyes_nose_mouth5")
    with pytest.raises(InvalidInput, match="dlib resampler"):
        align_face(_image(), lm, "arcface_112", resample="dlib")
    with pytest.raises(InvalidInput, match="resample"):
        align_face(_image(), lm, "arcface_112", resample="lanczos")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors and batches


def test_bad_image_and_landmarks() -> None:
    lm = Landmarks(_place(ARCFACE, 0.0, 1.0, (50.0, 50.0)), "eyes_nose_mouth5")
    for bad in (np.zeros((50, 50), np.uint8), np.zeros((50, 50, 3), np.float32), np.zeros((0, 5, 3), np.uint8), None):
        with pytest.raises(InvalidInput):
            align_face(bad, lm, "arcface_112")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        align_face(_image(), np.zeros((5, 2)), "arcface_112")  # type: ignore[arg-type]
    nan = Landmarks(np.full((5, 2), np.nan), "eyes_nose_mouth5")
    with pytest.raises(InvalidInput, match="NaN"):
        align_face(_image(), nan, "arcface_112")
    same = Landmarks(np.full((5, 2), 7.0), "dlib5")
    with pytest.raises(InvalidInput, match="distinct"):
        align_face(_image(), same, "dlib_150_pad025")


def test_align_faces_batch() -> None:
    img = _image()
    lms = [Landmarks(_place(ARCFACE, a, 1.5, (100.0 + 50 * a, 80.0)), "eyes_nose_mouth5") for a in (0.0, 0.5, 1.0)]
    faces = align_faces(img, lms, "arcface_112")
    assert len(faces) == 3
    for f, lm in zip(faces, lms, strict=True):
        assert f == align_face(img, lm, "arcface_112")
    assert align_faces(img, [], "arcface_112") == []


def test_custom_template_validation_and_registration() -> None:
    with pytest.raises(InvalidInput, match="unknown landmark scheme"):
        AlignTemplate("x", (64, 64), {"foo5": np.zeros((5, 2))})
    with pytest.raises(InvalidInput, match="needs 5 points"):
        AlignTemplate("x", (64, 64), {"eyes_nose_mouth5": np.ones((4, 2))})
    with pytest.raises(InvalidInput, match="point_indices"):
        AlignTemplate("x", (64, 64), {"ibug68": np.ones((2, 2))}, point_indices={"ibug68": (0, 99)})
    with pytest.raises(InvalidInput, match="dlib geometry"):
        AlignTemplate("x", (64, 64), {"eyes_nose_mouth5": ARCFACE}, resample="dlib")
    with pytest.raises(InvalidInput, match="no target points"):
        AlignTemplate("x", (64, 64), {})
    with pytest.raises(InvalidInput):
        AlignTemplate("x", (1, 64), {"eyes_nose_mouth5": ARCFACE})

    t = AlignTemplate("test_arcface_64", (64, 64), {"eyes_nose_mouth5": ARCFACE * 64 / 112})
    try:
        register_template(t)
        assert get_template("test_arcface_64") is t
        with pytest.raises(InvalidInput, match="already exists"):
            register_template(t)
        lm = Landmarks(_place(ARCFACE, 0.0, 1.0, (50.0, 50.0)), "eyes_nose_mouth5")
        assert align_face(_image(), lm, "test_arcface_64").chip.shape == (64, 64, 3)
    finally:
        templates_mod._TEMPLATES.pop("test_arcface_64", None)


def test_imports_are_lazy() -> None:
    code = (
        "import sys, faceprint.align, faceprint.io; "
        "assert 'cv2' not in sys.modules and 'PIL' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
