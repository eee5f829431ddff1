"""`--preset` on the CLI's pipeline options, and `faceprint models` listing the presets."""

from __future__ import annotations

import argparse
import json

import pytest

from faceprint.cli._common import add_pipeline_args, pipeline_from_args
from faceprint.cli.main import main
from faceprint.errors import InvalidInput
from faceprint.pipeline import PRESETS


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_pipeline_args(p)
    return p.parse_args(list(argv))


def test_no_option_is_the_shared_default() -> None:
    from faceprint.api import default_pipeline

    assert pipeline_from_args(parse()) is default_pipeline()


@pytest.mark.parametrize("name", ["fast", "fusion", "yunet_sface"])
def test_preset_builds_its_pipeline(name: str) -> None:
    pipe = pipeline_from_args(parse("--preset", name))
    assert pipe.config is not None and pipe.config.signature() == PRESETS[name].signature()


def test_options_change_the_preset() -> None:
    pipe = pipeline_from_args(parse("--preset", "fast", "--embedder", "sface_int8", "--landmarker", "none"))
    assert pipe.config is not None and pipe.config.embedder == "sface_int8" and pipe.config.landmarker is None
    assert pipe.flip_average  # the rest is fast's
    assert pipe.config.detector_options == PRESETS["fast"].detector_options
    yunet = pipeline_from_args(parse("--preset", "fast", "--detector", "yunet"))  # another detector: its own options
    assert yunet.config is not None and yunet.config.detector == "yunet" and yunet.config.landmarker == "dlib_shape5"


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="unknown preset 'nope'; choose one of"):
        pipeline_from_args(parse("--preset", "nope"))


def test_models_lists_the_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in out["presets"]} == set(PRESETS)
    assert all(r["summary"] and r["pipeline"] for r in out["presets"])
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "presets (--preset NAME" in text and "fusion" in text
