import pytest

from faceprint.errors import InvalidInput
from faceprint.pipeline import PRESETS, PipelineConfig, preset_config


def test_default_preset_is_the_default_config():
    assert preset_config("default") == PipelineConfig()
    assert {"default", "fast"} <= set(PRESETS)


def test_unknown_preset_names_the_choices():
    with pytest.raises(InvalidInput, match="default"):
        preset_config("nope")
