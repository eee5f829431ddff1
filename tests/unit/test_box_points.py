"""Points for boxes given without landmarks (faceprint.box_points): closed-form placement, detector first."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.align.templates import ARCFACE_112
from faceprint.box_points import CONTEXT, detected_points, points_for_box, template_points
from faceprint.errors import InvalidInput
from faceprint.models.card import ModelCard
from faceprint.types import Box, Detection, Landmarks


class CropDetector:
    """Finds one face at a fixed place of the *original* image, whatever crop it is shown (offset known)."""

    card = ModelCard(name="crop_fake", version="1", task="detector", source="test", license="test")

    def __init__(self, face: Box | None, offset: tuple[int, int]) -> None:
        self.face, self.offset, self.shapes = face, offset, []

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.shapes.append(image.shape)
        if self.face is None:
            return []
        ox, oy = self.offset
        b = Box(self.face.x1 - ox, self.face.y1 - oy, self.face.x2 - ox, self.face.y2 - oy)
        pts = np.array([[b.x1 + 10, b.y1 + 10], [b.x2 - 10, b.y1 + 10], [b.center[0], b.center[1]],
                        [b.x1 + 12, b.y2 - 8], [b.x2 - 12, b.y2 - 8]])
        return [Detection(b, 0.99, Landmarks(pts, "eyes_nose_mouth5"), "crop_fake")]

    def detect_batch(self, images):  # type: ignore[no-untyped-def]
        return [self.detect(i) for i in images]


def test_template_points_map_the_chip_onto_the_box() -> None:
    box = Box(100, 50, 212, 162)  # 112 px: the ArcFace chip itself, moved
    lm = template_points("arcface_112", box)
    np.testing.assert_allclose(lm.points, np.array(ARCFACE_112) + (100, 50), atol=1e-4)
    lm2 = template_points("arcface_112", Box(0, 0, 224, 224))  # twice the size: twice the coordinates
    np.testing.assert_allclose(lm2.points, 2 * np.array(ARCFACE_112), atol=1e-4)
    with pytest.raises(InvalidInput, match="landmarker"):
        template_points(None, box)


def test_detector_points_come_back_in_image_coordinates() -> None:
    img = np.zeros((400, 500, 3), np.uint8)
    given = Box(200, 150, 300, 250)
    x0, y0 = int(200 - CONTEXT * 100), int(150 - CONTEXT * 100)  # the crop's corner: 50 px of context each side
    det = CropDetector(Box(205, 155, 305, 255), (x0, y0))
    lm, source = points_for_box(det, img, given, "arcface_112")
    assert source == "detector" and det.shapes == [(200, 200, 3)]
    np.testing.assert_allclose(lm.points[0], (215, 165))  # the fake's first point, x1 + 10, y1 + 10, in the image
    np.testing.assert_allclose(lm.points[2], (255, 205))


def test_a_detection_elsewhere_or_none_falls_back_to_the_template() -> None:
    img = np.zeros((400, 500, 3), np.uint8)
    given = Box(200, 150, 300, 250)
    far = CropDetector(Box(0, 0, 40, 40), (0, 0))  # no overlap with the given box
    assert detected_points(far, img, given) is None
    lm, source = points_for_box(CropDetector(None, (0, 0)), img, given, "arcface_112")
    assert source == "template"
    np.testing.assert_allclose(lm.points, np.array(ARCFACE_112) * (100 / 112) + (200, 150), atol=1e-4)


def test_pipeline_without_landmarker_embeds_given_boxes() -> None:
    from faceprint.pipeline import Pipeline

    class Emb:
        card = ModelCard(name="e_fake", version="1", task="embedder", source="test", license="test", template="arcface_112")

        def embed_chips(self, chips: np.ndarray) -> np.ndarray:
            return np.tile(chips.reshape(len(chips), -1).mean(axis=1, keepdims=True) + 1.0, (1, 4))

    img = np.full((300, 300, 3), 90, np.uint8)
    p = Pipeline(CropDetector(None, (0, 0)), Emb())  # finds nothing: template points
    faces = p.process(img, boxes=[Box(100, 100, 200, 200)])
    assert len(faces) == 1 and faces[0].embedding is not None and faces[0].landmarks is not None
    assert faces[0].aligned is not None and faces[0].aligned.chip.shape[:2] == (112, 112)
