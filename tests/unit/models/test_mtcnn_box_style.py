"""MTCNN's ``box_style`` option: the box adapter that lets a dlib shape predictor start from the
box dlib's detector would draw (closed-form, no weights loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.models import registry
from faceprint.models.detectors.mtcnn import DLIB_BOX_IN_MTCNN_UNITS, dlib_style_box

# Two detections as the cascade returns them: facenet-pytorch's 1-based inclusive boxes + O-net
# probability, and five (x, y) points each. The second box runs past the image's right edge.
RAW = np.array([[11.0, 21.0, 110.0, 140.0, 0.99], [151.0, 31.0, 230.0, 130.0, 0.95]], np.float32)
POINTS = np.arange(20, dtype=np.float32).reshape(2, 5, 2) + 40.0
W, H = 200, 180


def _dets(**kw):
    det = registry.create("mtcnn", **kw)
    out = det._to_detections(RAW, POINTS, W, H)
    assert det._nets is None  # nothing was loaded
    return out


def test_default_box_style_is_the_networks_own_box():
    assert registry.create("mtcnn").box_style == "mtcnn"
    dets = _dets()
    assert [d.box.as_tuple() for d in dets] == [(10.0, 20.0, 110.0, 140.0), (150.0, 30.0, 200.0, 130.0)]


def test_dlib_box_style_maps_each_clipped_box_and_keeps_score_and_landmarks():
    mt, dl = _dets(), _dets(box_style="dlib")
    assert len(dl) == len(mt) == 2
    ax1, ay1, ax2, ay2 = DLIB_BOX_IN_MTCNN_UNITS
    # first box, 100 x 120 from (10, 20): closed form of the mapping
    assert dl[0].box.as_tuple() == pytest.approx((10 + 100 * ax1, 20 + 120 * ay1, 10 + 100 * ax2, 20 + 120 * ay2))
    for m, d in zip(mt, dl, strict=True):
        assert d.box == dlib_style_box(m.box).clip(W, H)
        assert d.score == m.score and d.detector == "mtcnn"
        np.testing.assert_array_equal(d.landmarks.points, m.landmarks.points)
        assert d.landmarks.scheme == "eyes_nose_mouth5"
        assert 0 <= d.box.x1 < d.box.x2 <= W and 0 <= d.box.y1 < d.box.y2 <= H
    # the mapped box is shorter (no forehead) and starts lower than MTCNN's
    assert dl[0].box.height < mt[0].box.height and dl[0].box.y1 > mt[0].box.y1
    # the second box runs past the right edge once mapped (x2 = 150 + 1.079 * 50 > 200): clipped
    assert dlib_style_box(mt[1].box).x2 > W and dl[1].box.x2 == W


def test_box_style_in_repr():
    assert "box_style='dlib'" in repr(registry.create("mtcnn", box_style="dlib"))
