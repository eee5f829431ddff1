"""Score fusion: closed forms on a tiny hand-made set."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.models.embedders import fusion

MEMBERS = ("a", "b")


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_fit_statistics_mean_and_std():
    st = fusion.fit_statistics({"a": np.array([0.0, 1.0]), "b": np.array([1.0, 2.0, 3.0])})
    assert st["a"] == pytest.approx({"mean": 0.5, "std": 0.5})
    assert st["b"]["mean"] == pytest.approx(2.0) and st["b"]["std"] == pytest.approx(np.sqrt(2 / 3))
    with pytest.raises(InvalidInput):
        fusion.fit_statistics({"a": np.array([1.0, 1.0])})


def test_weights_are_one_over_m_sigma():
    st = {"a": {"mean": 0.1, "std": 0.5}, "b": {"mean": 0.2, "std": 0.25}}
    assert fusion.weights(st, MEMBERS) == pytest.approx([1.0, 2.0])


def test_cosine_of_fusion_embeddings_is_affine_in_the_mean_z_score():
    # four faces, two members with 2-d and 3-d unit vectors
    ua = _unit([[1, 0], [0.6, 0.8], [0, 1], [-1, 0.2]])
    ub = _unit([[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0.7], [0.1, -1, 0.3]])
    st = {"a": {"mean": 0.2, "std": 0.4}, "b": {"mean": -0.1, "std": 0.1}}
    v = fusion.combine({"a": ua, "b": ub}, st, MEMBERS)
    assert np.linalg.norm(v, axis=1) == pytest.approx(np.ones(4), abs=1e-6)
    pairs = [(0, 1), (0, 2), (1, 3), (2, 3)]
    sa = np.array([ua[i] @ ua[j] for i, j in pairs])
    sb = np.array([ub[i] @ ub[j] for i, j in pairs])
    z = fusion.fused_z({"a": sa, "b": sb}, st, MEMBERS)
    # by hand: mean of ((sa - 0.2) / 0.4, (sb + 0.1) / 0.1)
    assert z == pytest.approx(((sa - 0.2) / 0.4 + (sb + 0.1) / 0.1) / 2)
    cos = np.array([float(v[i] @ v[j]) for i, j in pairs])
    # w = (1/(2*0.4), 1/(2*0.1)) = (1.25, 5); cos = (1.25 sa + 5 sb) / 6.25
    assert cos == pytest.approx((1.25 * sa + 5 * sb) / 6.25, abs=1e-6)
    assert fusion.z_to_cosine(z, st, MEMBERS) == pytest.approx(cos, abs=1e-6)
    assert fusion.cosine_to_z(cos, st, MEMBERS) == pytest.approx(z, abs=1e-5)
    # same ranking, so any threshold on z is a threshold on the cosine
    assert np.argsort(cos).tolist() == np.argsort(z).tolist()


class _Fake:
    """A member that returns fixed descriptors (its card names a real template)."""

    def __init__(self, template, vecs):
        from faceprint.models.card import ModelCard, WeightSource

        self.card = ModelCard(name="fake", task="embedder", version="1", source=WeightSource(None, ""), license="-",
                              template=template)
        self.vecs = np.asarray(vecs, np.float32)
        self.calls = []

    def embed_chips(self, chips):
        self.calls.append(chips.shape)
        return np.tile(self.vecs, (len(chips) // len(self.vecs), 1))[: len(chips)]


def test_embedder_combines_members_and_checks_input():
    st = {m: {"mean": 0.0, "std": 1.0} for m in fusion.MEMBERS}
    dl = _Fake("dlib_150_pad025", [[2.0] + [0.0] * 127])
    sf = _Fake("arcface_112", [[0.0, 3.0] + [0.0] * 126])
    emb = fusion.FusionEmbedder(statistics=st, members={"dlib_resnet_v1": dl, "sface": sf})
    w, h = fusion.CANVAS_SIZE
    canvases = np.zeros((2, h, w, 3), np.uint8)
    out = emb.embed_chips(canvases)
    assert out.shape == (2, 256)
    assert out[0, 0] == pytest.approx(np.sqrt(0.5)) and out[0, 129] == pytest.approx(np.sqrt(0.5))
    assert dl.calls == [(4, 150, 150, 3)]  # mirrored: chips and mirrors in one call
    assert sf.calls == [(2, 112, 112, 3)]
    with pytest.raises(InvalidInput):
        emb.embed_chips(np.zeros((1, 112, 112, 3), np.uint8))
    with pytest.raises(InvalidInput):
        fusion.FusionEmbedder(statistics={"sface": {"mean": 0, "std": 1}})


def test_canvas_holds_the_member_chips():
    """The member chips cut from the canvas are the ArcFace / dlib chips of the same five points."""
    from faceprint.align import align_face
    from faceprint.types import Landmarks

    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    import cv2

    img = cv2.GaussianBlur(img, (0, 0), 3)
    lm = Landmarks([[120, 140], [180, 140], [150, 175], [125, 205], [175, 205]], "eyes_nose_mouth5")
    fusion.ensure_canvas_template()
    canvas = align_face(img, lm, fusion.CANVAS_TEMPLATE).chip
    inner = Landmarks(fusion.canvas_points(), "eyes_nose_mouth5")
    for template in ("arcface_112", "dlib_150_pad025"):
        direct = align_face(img, lm, template).chip.astype(np.float64)
        via = align_face(canvas, inner, template).chip.astype(np.float64)
        assert np.mean(np.abs(direct - via)) < 2.0, template
