import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.types import AlignedFace, Box, Detection, Embedding, Landmarks


def test_box_geometry():
    b = Box(10, 20, 30, 60)
    assert (b.width, b.height, b.area, b.center) == (20, 40, 800, (20, 40))
    assert Box.from_xywh(10, 20, 20, 40) == b
    assert b.iou(b) == 1.0
    assert b.iou(Box(30, 60, 40, 70)) == 0.0
    # half overlap: intersection 10x40=400, union 800+800-400
    assert b.iou(Box(20, 20, 40, 60)) == pytest.approx(400 / 1200)
    assert Box(-5, -5, 50, 50).clip(40, 30) == Box(0, 0, 40, 30)


def test_box_rejects_bad_values():
    with pytest.raises(InvalidInput):
        Box(10, 10, 5, 20)
    with pytest.raises(InvalidInput):
        Box(0, 0, float("nan"), 1)


def test_value_objects_are_frozen_and_read_only():
    b = Box(0, 0, 1, 1)
    with pytest.raises(AttributeError):
        b.x1 = 3
    lm = Landmarks(np.zeros((5, 2)), "dlib5")
    assert lm.points.dtype == np.float32
    with pytest.raises(ValueError):
        lm.points[0, 0] = 1
    with pytest.raises(InvalidInput):
        Landmarks(np.zeros((4, 2)), "dlib5")
    with pytest.raises(InvalidInput):
        Landmarks(np.zeros((5, 2)), "unknown")


def test_landmarks_68_to_5():
    pts = np.zeros((68, 2))
    pts[36:42] = [10, 10]
    pts[42:48] = [30, 10]
    pts[30] = [20, 20]
    pts[48] = [12, 30]
    pts[54] = [28, 30]
    five = Landmarks(pts, "ibug68").to_eyes_nose_mouth5()
    np.testing.assert_allclose(five.points, [[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]])
    with pytest.raises(InvalidInput):
        Landmarks(np.zeros((5, 2)), "dlib5").to_eyes_nose_mouth5()


def test_embedding_normalises_and_keeps_norm():
    e = Embedding(np.array([3.0, 4.0]), model="m@1", norm=5.0)
    np.testing.assert_allclose(e.vector, [0.6, 0.8], rtol=1e-6)
    assert e.vector.dtype == np.float32 and e.dim == 2 and e.norm == 5.0
    with pytest.raises(InvalidInput):
        Embedding(np.zeros(3), model="m")
    with pytest.raises(InvalidInput):
        Embedding(np.array([np.inf, 1]), model="m")


def test_aligned_face_validation():
    with pytest.raises(InvalidInput):
        AlignedFace(np.zeros((4, 4), np.uint8), np.eye(2, 3), "t")
    a = AlignedFace(np.zeros((4, 4, 3), np.uint8), np.eye(2, 3), "t")
    assert a == AlignedFace(np.zeros((4, 4, 3), np.uint8), np.eye(2, 3), "t")


def test_detection_to_dict():
    d = Detection(Box(1, 2, 3, 4), 0.5, Landmarks(np.ones((5, 2)), "eyes_nose_mouth5"), "x")
    out = d.to_dict()
    assert out["box"] == [1, 2, 3, 4] and out["landmarks"]["scheme"] == "eyes_nose_mouth5"
