"""The presets that name the SFace / YuNet / fusion models are consistent with their cards."""

from __future__ import annotations

import pytest

from faceprint.models import registry
from faceprint.pipeline import PRESETS, PipelineConfig, preset_config


@pytest.mark.parametrize("name", ["accurate", "sface", "sface_int8", "yunet_sface", "fusion"])
def test_presets_name_registered_models_and_align_from_the_detector(name):
    cfg = preset_config(name)
    emb = registry.get_card(cfg.embedder)
    det = registry.get_card(cfg.detector)
    assert emb.task == "embedder" and det.task == "detector"
    # chips come from the detector's own five points: no landmarker, no pipeline-level mirror averaging
    assert cfg.landmarker is None and cfg.flip_average is False
    assert det.landmark_scheme == "eyes_nose_mouth5"
    from faceprint.align.templates import get_template

    assert get_template(emb.template).accepts("eyes_nose_mouth5")
    assert cfg.signature()  # every stage resolvable


def test_default_accurate_and_fast_are_the_measured_picks():
    # the default and `accurate` are the best View 1 pipeline (SFace int8 on MTCNN's points), `fast` and `dlib`
    # the dlib pipeline the default was before issue 12
    assert PRESETS["default"] == PipelineConfig() == PRESETS["accurate"] == PRESETS["sface_int8"]
    assert PipelineConfig().embedder == "sface_int8"
    fast = PRESETS["fast"]
    assert fast == PRESETS["dlib"] and fast != PipelineConfig()
    assert (fast.landmarker, fast.embedder, fast.flip_average) == ("dlib_shape5", "dlib_resnet_v1", True)
    assert fast.signature() == (
        "det=mtcnn@1[box_style=dlib,thresholds=(0.6, 0.7, 0.9)];lm=dlib_shape5@1;emb=dlib_resnet_v1@1[];align=2;flip"
    )
