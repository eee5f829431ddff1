"""faceprint's dlib_150_pad025 alignment against dlib.get_face_chip on real photos.

Faces: face_recognition's obama.jpg, biden.jpg, two_people.jpg and 20 LFW images spread over the sorted
list (every 450th); dlib's HOG detector and its 5-point / 68-point shape predictors give the landmarks.
For each face:

* the image → chip transform must equal dlib's ``get_face_chip_details`` (compared through the image's
  four corners: within 0.05 px);
* the chip must equal ``dlib.get_face_chip(img, shape, size=150, padding=0.25)`` (mean absolute
  difference < 0.01 grey levels, no pixel off by more than 1);
* the MTCNN-style targets derived for this template must reproduce the dlib 5-point chip geometry
  roughly as well as dlib's own 68-point chip does.

Run with ``-s`` to see the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from faceprint.align import align_face, apply_affine
from faceprint.io import load_image
from faceprint.types import Landmarks

pytestmark = pytest.mark.integration

dlib = pytest.importorskip("dlib")


@dataclass
class FaceCase:
    name: str
    image: np.ndarray
    shape5: object  # dlib.full_object_detection
    shape68: object


def _pts(shape: object) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def _dlib_mapping_to_chip(details: object) -> np.ndarray:
    """dlib's get_mapping_to_chip, written out independently of faceprint: the rectangle's corners,
    rotated by ``angle`` about its centre, go to the chip's corners (tl, tr, br)."""
    r = details.rect
    left, top, right, bottom = r.left(), r.top(), r.right(), r.bottom()
    cx, cy = (left + right) / 2, (top + bottom) / 2
    ca, sa = np.cos(details.angle), np.sin(details.angle)

    def rot(x: float, y: float) -> tuple[float, float]:
        return (ca * (x - cx) - sa * (y - cy) + cx, sa * (x - cx) + ca * (y - cy) + cy)

    src = np.array([rot(left, top), rot(right, top), rot(right, bottom)])
    dst = np.array([[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], dtype=float)
    a = np.column_stack([src, np.ones(3)])
    return np.linalg.solve(a, dst).T  # (2, 3)


@pytest.fixture(scope="module")
def faces(fr_examples: Path, lfw_root: Path) -> list[FaceCase]:
    from faceprint.models.sources import package_file

    detector = dlib.get_frontal_face_detector()
    sp5 = dlib.shape_predictor(
        str(package_file("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat"))
    )
    sp68 = dlib.shape_predictor(
        str(package_file("face_recognition_models", "models/shape_predictor_68_face_landmarks.dat"))
    )
    paths = [fr_examples / "examples" / n for n in ("obama.jpg", "biden.jpg", "two_people.jpg")]
    paths += sorted((lfw_root / "images").glob("*/*.jpg"))[::450][:20]
    out: list[FaceCase] = []
    for p in paths:
        img = load_image(p)
        for i, rect in enumerate(detector(img, 1)):
            out.append(FaceCase(f"{p.name}#{i}", img, sp5(img, rect), sp68(img, rect)))
    assert len(out) >= 20, f"only {len(out)} faces found"
    return out


@pytest.mark.parametrize("scheme", ["dlib5", "ibug68"])
def test_transform_and_chip_match_dlib(faces: list[FaceCase], scheme: str) -> None:
    corner_errs, mean_diffs, max_diffs, cv2_diffs = [], [], [], []
    for f in faces:
        shape = f.shape5 if scheme == "dlib5" else f.shape68
        h, w = f.image.shape[:2]
        ours = align_face(f.image, Landmarks(_pts(shape), scheme), "dlib_150_pad025")

        ref_m = _dlib_mapping_to_chip(dlib.get_face_chip_details(shape, 150, 0.25))
        corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], dtype=float)
        corner_errs.append(np.abs(apply_affine(ours.transform, corners) - apply_affine(ref_m, corners)).max())

        ref_chip = dlib.get_face_chip(f.image, shape, size=150, padding=0.25)
        d = np.abs(ours.chip.astype(int) - ref_chip.astype(int))
        mean_diffs.append(d.mean())
        max_diffs.append(d.max())
        cv2_chip = align_face(f.image, Landmarks(_pts(shape), scheme), "dlib_150_pad025", resample="cv2").chip
        cv2_diffs.append(np.abs(cv2_chip.astype(int) - ref_chip.astype(int)).mean())

    print(
        f"\n[{scheme}] {len(faces)} faces: corner mapping max err {max(corner_errs):.2e} px; "
        f"chip |diff| mean {np.mean(mean_diffs):.4f} (worst face {max(mean_diffs):.4f}), max {max(max_diffs)}; "
        f"cv2 resampler |diff| mean {np.mean(cv2_diffs):.3f} (worst face {max(cv2_diffs):.3f})"
    )
    assert max(corner_errs) < 0.05
    assert max(mean_diffs) < 0.01
    assert max(max_diffs) <= 1
    assert np.mean(cv2_diffs) < 2.0  # the plain cv2 path is close but not identical (rounding, no pyramid)


def test_derived_eyes_nose_mouth5_targets_reproduce_dlib5_geometry(faces: list[FaceCase]) -> None:
    size = 150
    chip_corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], dtype=float)

    def geometry_vs_dlib5(m_other: np.ndarray, m5: np.ndarray) -> tuple[float, float, float]:
        to_img = np.linalg.inv(np.vstack([m5, [0, 0, 1]]))[:2]
        moved = apply_affine(m_other, apply_affine(to_img, chip_corners))
        rel = m_other[:, :2] @ to_img[:, :2]
        centre = float(np.linalg.norm(moved.mean(0) - chip_corners.mean(0)))
        angle = float(abs(np.degrees(np.arctan2(rel[1, 0], rel[0, 0]))))
        scale = float(abs(np.hypot(*rel[:, 0]) - 1))
        return centre, angle, scale

    derived, own68 = [], []
    for f in faces:
        p68 = _pts(f.shape68)
        m5 = align_face(f.image, Landmarks(_pts(f.shape5), "dlib5"), "dlib_150_pad025").transform
        enm5 = Landmarks(p68, "ibug68").to_eyes_nose_mouth5()
        m_enm = align_face(f.image, enm5, "dlib_150_pad025").transform
        m_68 = align_face(f.image, Landmarks(p68, "ibug68"), "dlib_150_pad025").transform
        derived.append(geometry_vs_dlib5(m_enm, m5))
        own68.append(geometry_vs_dlib5(m_68, m5))
    d = np.median(np.array(derived), axis=0)
    o = np.median(np.array(own68), axis=0)
    print(
        f"\nvs dlib5 chip, median centre shift / |rotation| / |scale-1|: derived eyes_nose_mouth5 "
        f"{d[0]:.2f} px / {d[1]:.2f} deg / {d[2] * 100:.2f} %; dlib's 68-point chip "
        f"{o[0]:.2f} px / {o[1]:.2f} deg / {o[2] * 100:.2f} %"
    )
    assert d[0] < 4.0 and d[1] < 4.0 and d[2] < 0.08
    assert d[0] < 2.5 * max(o[0], 0.5)
