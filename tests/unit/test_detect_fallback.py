"""The tight-crop fallback (faceprint.detect_fallback): pad geometry in closed form, mapping back, pipeline wiring."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.detect_fallback import (
    DEFAULT_PAD_STEPS,
    PAD_GREY,
    PadStep,
    detect_padded,
    pad_geometry,
    pad_image,
    spans_frame,
    unpad_detection,
)
from faceprint.errors import InvalidInput
from faceprint.models.card import ModelCard
from faceprint.types import Box, Detection, Landmarks

FACE = 200  # the synthetic "face" colour: a crop that is all face


def _points(b: Box) -> np.ndarray:
    """Five points at fixed fractions of a box (the last two, mouth corners, below its bottom edge)."""
    fr = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 1.1], [0.65, 1.1]])
    return np.array([b.x1, b.y1]) + fr * np.array([b.width, b.height])


class BorderedFaceDetector:
    """Finds the face-coloured region only when it has at least ``margin`` px of other pixels on every side."""

    card = ModelCard(name="bordered_fake", version="1", task="detector", source="test", license="test")

    def __init__(self, margin: int = 4) -> None:
        self.margin, self.shapes = margin, []

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.shapes.append(image.shape)
        ys, xs = np.nonzero(image[:, :, 0] == FACE)
        if not len(xs):
            return []
        b = Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        h, w = image.shape[:2]
        if min(b.x1, b.y1, w - b.x2, h - b.y2) < self.margin:
            return []  # the face touches the frame: nothing found, like MTCNN on a tight crop
        return [Detection(b, 0.95, Landmarks(_points(b), "eyes_nose_mouth5"), "bordered_fake")]

    def detect_batch(self, images):  # type: ignore[no-untyped-def]
        return [self.detect(i) for i in images]


def _crop(h: int, w: int) -> np.ndarray:
    return np.full((h, w, 3), FACE, np.uint8)


def test_geometry_in_closed_form() -> None:
    g = pad_geometry(200, 300, 0.25)  # no bound: no shrink, pad = 0.25 × 300
    assert (g.inner_w, g.inner_h, g.pad, g.sx, g.sy) == (300, 200, 75, 1.0, 1.0)
    g = pad_geometry(200, 300, 0.25, max_side=200)  # s = 200 / (1.5 × 300) = 4/9
    assert (g.inner_w, g.inner_h) == (round(300 * 4 / 9), round(200 * 4 / 9)) == (133, 89)
    assert g.pad == round(0.25 * 133) == 33
    assert g.inner_w + 2 * g.pad <= 200
    np.testing.assert_allclose(g.to_image(np.array([[33, 33], [33 + 133, 33 + 89]])), [[0, 0], [300, 200]])
    assert pad_geometry(100, 100, 0.25, max_side=150).inner_w == 100  # padded 150 ≤ 150: no shrink


def test_pad_image_fills_the_border_as_asked() -> None:
    img = _crop(20, 30)
    img[:, 0] = 10  # a distinct left column
    grey, g = pad_image(img, PadStep(0.5, "constant"))
    assert grey.shape == (20 + 30, 30 + 30, 3) and g.pad == 15
    assert (grey[:15] == PAD_GREY).all() and (grey[15:35, 15:45] == img).all()
    rep, _ = pad_image(img, PadStep(0.5, "replicate"))
    assert (rep[15:35, :15] == 10).all() and (rep[:15, 16:45] == FACE).all()


def test_face_filling_the_crop_is_found_with_a_grey_border_and_mapped_back() -> None:
    det = BorderedFaceDetector()
    img = _crop(150, 120)
    assert det.detect(img) == []
    # a replicated border repeats the face: still no margin, so the next (grey) step is the one that finds it
    found = detect_padded(det, img, [PadStep(0.25, "replicate"), PadStep(0.25, "constant")])
    assert len(det.shapes) == 3 and det.shapes[-1] == (150 + 76, 120 + 76, 3)  # pad = round(0.25 × 150) = 38
    (d,) = found
    assert d.box.as_tuple() == (0, 0, 120, 150) and d.score == 0.95 and d.detector == "bordered_fake"
    assert d.landmarks is not None
    # points mapped back, not clipped: the mouth corners lie 10 % of the height below the crop
    np.testing.assert_allclose(d.landmarks.points, _points(Box(0, 0, 120, 150)), atol=1e-4)
    assert d.landmarks.points[3, 1] > 150


def test_shrunk_padding_maps_back_to_full_resolution() -> None:
    det = BorderedFaceDetector()
    img = _crop(200, 300)
    (d,) = detect_padded(det, img, [PadStep(0.25, "constant")], max_side=200)
    assert max(det.shapes[-1][:2]) <= 200
    np.testing.assert_allclose(d.box.as_tuple(), (0, 0, 300, 200), atol=1e-6)


def test_pipeline_bounds_the_padded_image() -> None:
    from faceprint.detect_fallback import PAD_MAX_SIDE
    from faceprint.pipeline import Pipeline

    det = BorderedFaceDetector()
    p = Pipeline(det, _Emb(), pad_steps=DEFAULT_PAD_STEPS, detect_max_side=1600)
    (face,) = p.process(_crop(1000, 800))  # a large tight crop: found at ≤ PAD_MAX_SIDE, mapped back
    assert det.shapes[0] == (1000, 800, 3) and max(det.shapes[-1][:2]) <= PAD_MAX_SIDE
    np.testing.assert_allclose(face.box.as_tuple(), (0, 0, 800, 1000), atol=1e-6)
    det.shapes.clear()
    Pipeline(det, _Emb(), pad_steps=DEFAULT_PAD_STEPS, detect_max_side=256).detect(_crop(300, 300))
    assert max(det.shapes[-1][:2]) <= 256  # a smaller working resolution bounds it too


def test_a_face_partly_in_the_image_keeps_its_clipped_box() -> None:
    g = pad_geometry(100, 100, 0.5)  # pad 50
    d = Detection(Box(30, 40, 110, 130), 0.9, Landmarks(_points(Box(30, 40, 110, 130)), "eyes_nose_mouth5"), "x")
    u = unpad_detection(d, g)
    assert u is not None and u.box.as_tuple() == (0, 0, 60, 80)  # (−20, −10, 60, 80) clipped
    assert u.landmarks is not None
    np.testing.assert_allclose(u.landmarks.points, _points(Box(30, 40, 110, 130)) - 50, atol=1e-4)


def test_detections_in_the_border_are_dropped() -> None:
    g = pad_geometry(100, 100, 0.5)  # image spans 50..150 of the 200 px padded image
    in_border = Detection(Box(0, 0, 40, 40), 0.99, None, "x")  # centre (20, 20) → (−30, −30): outside
    assert unpad_detection(in_border, g) is None
    straddling = Detection(Box(20, 60, 90, 120), 0.99, None, "x")  # centre (55, 90) → (5, 40): inside
    assert unpad_detection(straddling, g) is not None

    class BorderOnly(BorderedFaceDetector):
        def detect(self, image: np.ndarray) -> list[Detection]:
            return [Detection(Box(0, 0, 10, 10), 0.99, None, "x")]

    assert detect_padded(BorderOnly(), _crop(50, 50)) == []


def test_spans_frame_needs_two_opposite_sides() -> None:
    w, h = 150, 100  # tolerance: 2 % of the side, at least 1 px → 3 px across, 2 px down
    assert spans_frame(Box(0, 20, 150, 90), w, h) and spans_frame(Box(3, 20, 147, 90), w, h)
    assert spans_frame(Box(40, 0, 90, 98), w, h)  # top to bottom
    assert not spans_frame(Box(4, 20, 150, 90), w, h)  # one side only
    assert not spans_frame(Box(0, 0, 60, 60), w, h)  # a corner: two adjacent sides
    assert not spans_frame(Box(30, 20, 120, 80), w, h)


def test_pad_step_is_validated() -> None:
    for bad in (0, -0.1, 3.0, True, "0.25"):
        with pytest.raises(InvalidInput):
            PadStep(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="mode"):
        PadStep(0.25, "reflect")  # type: ignore[arg-type]
    assert PadStep(1).ratio == 1.0 and isinstance(PadStep(1).ratio, float)


class _Emb:
    card = ModelCard(name="e_fake", version="1", task="embedder", source="test", license="test", template="arcface_112")

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        return np.tile(chips.reshape(len(chips), -1).mean(axis=1, keepdims=True) + 1.0, (1, 4))


def test_pipeline_runs_the_fallback_only_when_nothing_is_found() -> None:
    from faceprint.pipeline import Pipeline

    det = BorderedFaceDetector()
    off = Pipeline(det, _Emb())
    assert off.pad_steps == () and off.process(_crop(120, 100)) == []
    on = Pipeline(det, _Emb(), pad_steps=DEFAULT_PAD_STEPS)
    (face,) = on.process(_crop(120, 100))
    assert face.box.as_tuple() == (0, 0, 100, 120) and face.embedding is not None
    # a face found directly: one detector call, nothing padded
    framed = np.full((120, 100, 3), 30, np.uint8)
    framed[20:100, 20:80] = FACE
    det.shapes.clear()
    (face,) = on.process(framed)
    assert det.shapes == [(120, 100, 3)] and face.box.as_tuple() == (20, 20, 80, 100)
    # a face found spanning the frame is detected again padded, and the padded detection replaces it
    class Spanning(BorderedFaceDetector):
        def detect(self, image: np.ndarray) -> list[Detection]:
            found = super().detect(image)
            return found or [Detection(Box(0, 10, image.shape[1], 50), 0.91, None, "spanning")]

    (face,) = Pipeline(Spanning(), _Emb(), pad_steps=DEFAULT_PAD_STEPS).process(_crop(120, 100))
    assert face.box.as_tuple() == (0, 0, 100, 120) and face.detection.detector == "bordered_fake"
    # ... unless the padding finds nothing: then the plain detection stays
    class SpanningOnly(BorderedFaceDetector):
        def detect(self, image: np.ndarray) -> list[Detection]:
            if image.shape[:2] != (120, 100):
                return []
            return [Detection(Box(0, 10, 100, 50), 0.91, Landmarks(_points(Box(0, 10, 100, 50)), "eyes_nose_mouth5"), "x")]

    (face,) = Pipeline(SpanningOnly(), _Emb(), pad_steps=DEFAULT_PAD_STEPS).process(_crop(120, 100))
    assert face.box.as_tuple() == (0, 10, 100, 50)
    with pytest.raises(InvalidInput, match="PadStep"):
        Pipeline(det, _Emb(), pad_steps=[0.25])  # type: ignore[list-item]


def test_config_turns_it_on_by_default_and_keeps_the_signature() -> None:
    from faceprint.pipeline import PipelineConfig

    assert PipelineConfig().tight_crop_fallback is True
    assert PipelineConfig(tight_crop_fallback=False).signature() == PipelineConfig().signature()


def test_without_tight_crop_fallback_shares_the_models_and_skips_the_pad_steps() -> None:
    from faceprint.pipeline import Pipeline

    det = BorderedFaceDetector()
    p = Pipeline(det, _Emb(), pad_steps=DEFAULT_PAD_STEPS)
    scene = p.without_tight_crop_fallback()
    assert scene.pad_steps == () and scene.detector is p.detector and scene.embedder is p.embedder
    assert p.pad_steps == DEFAULT_PAD_STEPS  # the original keeps its fallback
    assert scene.process(_crop(120, 100)) == [] and det.shapes == [(120, 100, 3)]  # one detection, no pad step
    assert scene.without_tight_crop_fallback() is scene
