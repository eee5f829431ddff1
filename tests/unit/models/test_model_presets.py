"""The presets that name the SFace / YuNet / fusion models are consistent with their cards."""

from __future__ import annotations

import pytest

from faceprint.models import registry
from faceprint.pipeline import PRESETS, PipelineConfig, preset_config


@pytest.mark.parametrize("name", ["accurate", "sface", "sface_int8", "yunet_sface", "fusion"])
def test_presets_name_registered_models_and_align_from_the_detector(name):
    cfg = preset_config(name)
    assert cfg != PipelineConfig()
    emb = registry.get_card(cfg.embedder)
    det = registry.get_card(cfg.detector)
    assert emb.task == "embedder" and det.task == "detector"
    # chips come from the detector's own five points: no landmarker, no pipeline-level mirror averaging
    assert cfg.landmarker is None and cfg.flip_average is False
    assert det.landmark_scheme == "eyes_nose_mouth5"
    from faceprint.align.templates import get_template

    assert get_template(emb.template).accepts("eyes_nose_mouth5")
    assert cfg.signature()  # every stage resolvable


def test_default_is_untouched():
    assert PRESETS["default"] == PipelineConfig() and PipelineConfig().embedder == "dlib_resnet_v1"
