"""faceprint.io.draw: drawing detections and saving images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint.errors import InvalidInput
from faceprint.io import draw_faces, load_image, save_image
from faceprint.types import Box, Detection, Face, Landmarks


def _canvas(h: int = 120, w: int = 160) -> np.ndarray:
    return np.full((h, w, 3), 50, np.uint8)


def _det(with_landmarks: bool = True) -> Detection:
    lm = Landmarks(np.array([[50, 50], [90, 50], [70, 70], [55, 90], [85, 90]]), "eyes_nose_mouth5")
    return Detection(Box(30, 30, 110, 100), 0.99, lm if with_landmarks else None, "test")


def test_draws_box_and_landmarks_without_touching_input() -> None:
    img = _canvas()
    before = img.copy()
    out = draw_faces(img, [_det()], color=(0, 255, 0), landmark_color=(255, 0, 0), thickness=1)
    np.testing.assert_array_equal(img, before)  # input untouched
    assert out.shape == img.shape and out.dtype == np.uint8 and out is not img
    # box edges are green, the inside away from landmarks unchanged
    assert out[30, 70, 1] > 150 and out[30, 70, 0] < 100  # top edge
    assert out[65, 30, 1] > 150  # left edge
    assert out[100, 70, 1] > 150  # bottom edge
    np.testing.assert_array_equal(out[40, 40], before[40, 40])
    # a landmark dot is red
    assert out[70, 70, 0] > 150 and out[70, 70, 1] < 120
    # far outside the box nothing changed
    np.testing.assert_array_equal(out[5:20, 120:], before[5:20, 120:])


def test_accepts_faces_boxes_and_detections() -> None:
    d = _det()
    img = _canvas()
    a = draw_faces(img, [Face(detection=d)], thickness=1)
    b = draw_faces(img, [d], thickness=1)
    np.testing.assert_array_equal(a, b)
    c = draw_faces(img, [d.box], thickness=1)
    assert not np.array_equal(b, c)  # no landmark dots for a bare box
    assert (c != img).any()


def test_labels_drawn_above_box() -> None:
    img = _canvas()
    d = _det(with_landmarks=False)
    plain = draw_faces(img, [d], thickness=1)
    labelled = draw_faces(img, [d], labels=["Ada"], thickness=1)
    diff = np.any(labelled != plain, axis=2)
    ys, _ = np.nonzero(diff)
    assert ys.size > 0 and ys.max() < 31  # label pixels sit above the box's top edge (y=30)


def test_label_for_box_at_top_goes_inside_and_non_ascii_ok() -> None:
    img = _canvas()
    d = Detection(Box(10, 0, 100, 80), 0.9)
    out = draw_faces(img, [d], labels=["Zoë"], thickness=1)
    assert (out[2:20, 12:60] != img[2:20, 12:60]).any()


def test_none_labels_and_empty_list() -> None:
    img = _canvas()
    np.testing.assert_array_equal(draw_faces(img, []), img)
    a = draw_faces(img, [_det()], labels=[None], thickness=1)
    b = draw_faces(img, [_det()], thickness=1)
    np.testing.assert_array_equal(a, b)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInput, match="labels"):
        draw_faces(_canvas(), [_det()], labels=["a", "b"])
    with pytest.raises(InvalidInput):
        draw_faces(np.zeros((10, 10), np.uint8), [_det()])
    with pytest.raises(InvalidInput):
        draw_faces(_canvas(), ["not a face"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        draw_faces(_canvas(), [_det()], thickness=0)


@pytest.mark.parametrize("ext,fmt", [(".jpg", "JPEG"), (".JPEG", "JPEG"), (".png", "PNG"), (".bmp", "BMP"),
                                     (".tif", "TIFF"), (".webp", "WEBP")])
def test_save_image_format_from_extension(tmp_path: Path, ext: str, fmt: str) -> None:
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    p = save_image(img, tmp_path / f"out{ext}")
    with Image.open(p) as im:
        assert im.format == fmt
        assert im.size == (30, 20)
    back = load_image(p)
    if fmt in ("PNG", "BMP", "TIFF"):
        np.testing.assert_array_equal(back, img)


def test_save_drawn_jpeg_roundtrip(tmp_path: Path) -> None:
    out = draw_faces(_canvas(), [_det()])
    p = save_image(out, tmp_path / "drawn.jpg")
    assert np.abs(load_image(p).astype(int) - out).mean() < 3


def test_save_image_errors(tmp_path: Path) -> None:
    img = _canvas()
    with pytest.raises(InvalidInput, match="extension"):
        save_image(img, tmp_path / "out.xyz")
    with pytest.raises(InvalidInput, match="extension"):
        save_image(img, tmp_path / "noext")
    with pytest.raises(InvalidInput):
        save_image(img.astype(np.float32), tmp_path / "a.png")
    with pytest.raises(InvalidInput):
        save_image(img, tmp_path / "a.jpg", quality=0)
    with pytest.raises(OSError):
        save_image(img, tmp_path / "missing_dir" / "a.png")
