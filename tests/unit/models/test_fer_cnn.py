"""faceprint_fer_cnn: the FER2013-framed crop (closed form), the card, the shipped weights
(sha256 verified, 7 probabilities summing to 1), and analyzers registered from exported cards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models import registry
from faceprint.models.analyzers.expression import LABELS
from faceprint.models.analyzers.fer_cnn import (
    CARD,
    CROP_BY_DETECTOR,
    CropGeometry,
    OnnxExpressionAnalyzer,
    fer2013_crops,
)
from faceprint.types import Box

UNIT = CropGeometry(side=1.0, offset=(0.0, 0.0))


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def test_geometry_region_closed_form():
    g = CropGeometry(side=1.2, offset=(0.1, -0.25))
    cx, cy, side = g.region(Box(10, 20, 50, 80))  # size (40 + 60)/2 = 50, centre (30, 50)
    assert (cx, cy, side) == pytest.approx((35.0, 37.5, 60.0))
    mt = CROP_BY_DETECTOR["mtcnn"]
    assert 1.0 < mt.side < 1.3 and mt.offset[1] < 0  # FER frames reach higher than the box (forehead)


def test_crop_at_scale_one_is_the_pixels():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (100, 120), dtype=np.uint8)
    (crop,) = fer2013_crops(_rgb(gray), [Box(30, 20, 78, 68)], geometry=UNIT)
    np.testing.assert_array_equal(crop, gray[20:68, 30:78])


def test_downscaling_averages_pixel_blocks():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (200, 200), dtype=np.uint8)
    (crop,) = fer2013_crops(_rgb(gray), [Box(40, 50, 136, 146)], geometry=UNIT)  # 96 px -> 48: 2x2 means
    want = gray[50:146, 40:136].astype(np.float64).reshape(48, 2, 48, 2).mean(axis=(1, 3))
    assert np.abs(crop.astype(np.float64) - want).max() <= 0.5 + 1e-9


def test_regions_past_the_border_replicate_the_edge():
    gray = np.tile(np.arange(60, dtype=np.uint8) * 4, (60, 1))  # value = 4 * column
    (crop,) = fer2013_crops(_rgb(gray), [Box(-10, 5, 38, 53)], geometry=UNIT)  # 10 px left of the image
    assert np.all(crop[:, :11] == 0) and np.array_equal(crop[:, 10:], gray[5:53, 0:38])


def test_bad_boxes_and_images():
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(InvalidInput):
        fer2013_crops(img, [Box(100, 100, 150, 150)])
    with pytest.raises(InvalidInput):
        fer2013_crops(img, [(1, 2, 3, 4)])  # type: ignore[list-item]
    assert fer2013_crops(img, []).shape == (0, 48, 48)
    with pytest.raises(InvalidInput):
        OnnxExpressionAnalyzer(geometry="no_such_detector")


def test_card():
    card = registry.get_card("faceprint_fer_cnn")
    assert card is CARD and card.task == "analyzer" and card.labels == LABELS
    assert card.input_size == (48, 48) and card.color_order == "GRAY" and card.mean == (127.5,) and card.std == (127.5,)
    assert "research" in card.license and len(card.source.sha256 or "") == 64
    assert card.extra["validation"]["accuracy"] > 0.5837  # above the shipped mini-Xception


@pytest.fixture(scope="module")
def shipped():
    from faceprint.models.sources import package_file

    try:
        path = package_file(CARD.source.package, CARD.source.path)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"shipped weights absent: {e}")
    return path


def test_shipped_weights_match_the_card_and_give_probabilities(shipped):
    from faceprint.models.sources import sha256_file

    assert sha256_file(shipped) == CARD.source.sha256
    assert shipped.stat().st_size < 5_000_000  # the project keeps tracked files under 5 MB
    analyzer = registry.create("faceprint_fer_cnn", threads=1)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    probs = analyzer.predict_crops(faces)
    assert probs.shape == (5, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(probs >= 0)
    # batch independence
    np.testing.assert_allclose(analyzer.predict_crops(faces[2:3]), probs[2:3], atol=1e-6)
    with pytest.raises(InvalidInput):
        analyzer.predict_crops(faces[:, :40, :40])
    with pytest.raises(InvalidInput):
        analyzer.predict_crops(faces.astype(np.float32))
    assert analyzer.predict_crops(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)


def test_a_tampered_file_is_refused(shipped, tmp_path):
    from dataclasses import replace

    from faceprint.models.card import WeightSource

    bad = tmp_path / "w.onnx"
    bad.write_bytes(shipped.read_bytes()[:-1] + b"\0")
    card = replace(CARD, source=WeightSource(package=None, path=str(bad), sha256=CARD.source.sha256))
    with pytest.raises(ModelIntegrityError):
        OnnxExpressionAnalyzer(card).predict_crops(np.zeros((1, 48, 48), np.uint8))


def test_analyzer_cards_from_the_environment_are_registered(shipped, tmp_path, monkeypatch):
    from faceprint.models.sources import sha256_file

    (tmp_path / "m.onnx").write_bytes(shipped.read_bytes())
    card = {
        "name": "unit_env_fer",
        "task": "analyzer",
        "path": "m.onnx",
        "version": "7",
        "input_size": [48, 48],
        "mean": [127.5],
        "std": [127.5],
        "color_order": "GRAY",
        "labels": list(LABELS),
        "sha256": sha256_file(tmp_path / "m.onnx"),
        "license": "test",
        "extra": {"tta": "flip", "selected_epoch": 3},
    }
    (tmp_path / "m.card.json").write_text(json.dumps(card))
    monkeypatch.setenv("FACEPRINT_MODEL_CARDS", str(tmp_path / "m.card.json"))
    monkeypatch.setattr(registry, "_builtins_loaded", False)
    got = registry.get_card("unit_env_fer")
    assert got.task == "analyzer" and got.version == "7" and got.labels == LABELS
    assert got.extra == {"tta": "flip", "selected_epoch": 3}  # the card's extra travels, TTA default included
    assert registry.create("unit_env_fer", threads=1).tta == "flip"
    probs = registry.create("unit_env_fer", threads=1).predict_crops(np.full((2, 48, 48), 90, np.uint8))
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)


def test_flip_tta_averages_each_face_with_its_mirror(shipped):
    from dataclasses import replace

    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    plain = OnnxExpressionAnalyzer(threads=1, tta="none")
    want = 0.5 * (plain.predict_crops(faces) + plain.predict_crops(np.ascontiguousarray(faces[:, :, ::-1])))
    flip = OnnxExpressionAnalyzer(threads=1, tta="flip", batch_size=4)  # the 6 crops span two model calls
    np.testing.assert_allclose(flip.predict_crops(faces), want, atol=1e-6)
    assert flip.predict_crops(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    # the card's extra["tta"] is the default; an explicit argument wins
    card = replace(CARD, extra={**CARD.extra, "tta": "flip"})
    assert OnnxExpressionAnalyzer(card).tta == "flip" and OnnxExpressionAnalyzer(card, tta="none").tta == "none"
    assert OnnxExpressionAnalyzer(replace(CARD, extra={})).tta == "none"
    with pytest.raises(InvalidInput, match="tta"):
        OnnxExpressionAnalyzer(tta="fivecrop")


def test_tencrop_views_closed_form():
    from faceprint.models.analyzers.base import tta_views

    x = np.arange(2 * 24 * 24, dtype=np.int64).reshape(2, 24, 24).astype(np.uint8)  # d = 24 / 12 = 2
    v = tta_views(x, "tencrop")
    assert v.shape == (20, 24, 24) and v.flags.c_contiguous
    np.testing.assert_array_equal(v[:2], x)
    # view 1: shifted towards the top-left corner: out[r, c] = x[r - 2, c - 2], edges replicated
    np.testing.assert_array_equal(v[2][2:, 2:], x[0][:-2, :-2])
    np.testing.assert_array_equal(v[2][0, 5], x[0][0, 3])
    # view 4: towards the bottom-right: out[r, c] = x[r + 2, c + 2]
    np.testing.assert_array_equal(v[8][:-2, :-2], x[0][2:, 2:])
    # views 5..9 mirror views 0..4
    for k in range(5):
        np.testing.assert_array_equal(v[10 + 2 * k : 12 + 2 * k], v[2 * k : 2 * k + 2][:, :, ::-1])
    assert tta_views(x, "none") is x and tta_views(x, "flip").shape == (4, 24, 24)


def test_tencrop_averages_the_ten_views(shipped):
    from faceprint.models.analyzers.base import tta_views

    faces = np.random.default_rng(4).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    plain = OnnxExpressionAnalyzer(threads=1, tta="none")
    want = plain.predict_crops(tta_views(faces, "tencrop")).reshape(10, 3, 7).mean(0)
    np.testing.assert_allclose(OnnxExpressionAnalyzer(threads=1, tta="tencrop").predict_crops(faces), want, atol=1e-6)
