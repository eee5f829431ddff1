"""Track templates: quality-weighted, unit norm, best observations kept."""

from __future__ import annotations

import numpy as np

from faceprint.types import Box, Detection, Embedding, Face
from faceprint.video.template import GOOD_FACE_PX, Observation, TemplateBuilder, face_quality


def test_template_is_the_quality_weighted_mean() -> None:
    a, b = np.eye(4)[0], np.eye(4)[1]
    tb = TemplateBuilder()
    tb.add(Observation(0, 0.0, Box(0, 0, 10, 10), 0.9, Embedding(a, model="m@1")))
    tb.add(Observation(1, 0.1, Box(0, 0, 10, 10), 0.1, Embedding(b, model="m@1")))
    t = tb.template()
    assert t is not None and t.model == "m@1"
    expected = (0.9 * a + 0.1 * b) / np.linalg.norm(0.9 * a + 0.1 * b)
    np.testing.assert_allclose(t.vector, expected, atol=1e-6)
    assert tb.best_observation is not None and tb.best_observation.frame == 0


def test_keeps_only_the_best_observations() -> None:
    tb = TemplateBuilder()
    for i in range(12):
        tb.add(Observation(i, i / 10, Box(0, 0, 10, 10), (i % 7 + 1) / 10, Embedding(np.eye(3)[i % 3], model="m@1")))
    qs = [o.quality for o in tb.best]
    assert len(qs) == 5 and qs == sorted(qs, reverse=True) and qs[0] == 0.7


def test_quality_grows_with_size_and_score() -> None:
    small = Face(Detection(Box(0, 0, GOOD_FACE_PX / 4, GOOD_FACE_PX / 4), 0.99))
    big = Face(Detection(Box(0, 0, GOOD_FACE_PX, GOOD_FACE_PX), 0.99))
    weak = Face(Detection(Box(0, 0, GOOD_FACE_PX, GOOD_FACE_PX), 0.5))
    assert face_quality(small) < face_quality(big) and face_quality(weak) < face_quality(big)
    assert face_quality(big) == 0.99
