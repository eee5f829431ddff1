"""The analyzers on real faces from ../shared/data (face_recognition's example photos): gender of
known people, age in a plausible range, liveness of a real photo, quality of a sharp face above a
blurred copy of it, every task through ``faceprint.analyze`` and the CLI's ``--tasks``. Skips when
the data or the human models (scripts/npm_weights.sh) are absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import faceprint
from faceprint.analysis import TASKS

pytestmark = pytest.mark.integration

#: face_recognition's examples/knn_examples/train: person folder -> recorded gender
KNOWN_GENDER = {"biden": "male", "obama": "male", "kit_harington": "male", "rose_leslie": "female", "alex_lacamoire": "male"}


@pytest.fixture(scope="module")
def examples(fr_examples: Path, human_models: None) -> Path:
    return fr_examples / "examples"


def _one(image, **kw) -> faceprint.analysis.FaceAnalysis:
    found = faceprint.analyze(str(image) if isinstance(image, Path) else image, **kw)
    assert found, "no face found"
    return found[0]


def test_every_task_by_default_and_no_race(examples: Path) -> None:
    a = _one(examples / "obama.jpg")
    for task in TASKS:
        assert getattr(a, task) is not None, task
    assert a.race is None
    d = a.to_dict()
    assert set(TASKS) <= set(d) and "race" not in d
    assert 0.0 <= d["quality"]["score"] <= 1.0
    assert d["liveness"]["threshold"] == 0.6


def test_gender_of_known_faces(examples: Path) -> None:
    train = examples / "knn_examples" / "train"
    checked = 0
    for person, gender in KNOWN_GENDER.items():
        for photo in sorted((train / person).iterdir())[:2]:
            g = _one(photo, tasks="gender").gender
            assert g.label == gender, (photo, g)
            assert 0.5 <= g.score <= 1.0
            checked += 1
    assert checked >= 8


def test_age_is_plausible(examples: Path) -> None:
    for name in ("biden.jpg", "obama2.jpg"):
        age = _one(examples / name, tasks="age").age.age
        assert 25 <= age <= 80, (name, age)
    kit = sorted((examples / "knn_examples" / "train" / "kit_harington").iterdir())[0]
    assert 15 <= _one(kit, tasks=["age"]).age.age <= 45


def test_liveness_of_a_real_photo(examples: Path) -> None:
    lv = _one(examples / "obama.jpg", tasks="liveness").liveness
    assert lv.threshold == 0.6 and 0.0 <= lv.real <= 1.0 and 0.0 <= lv.live <= 1.0
    assert lv.is_live  # a bona fide camera photo (scores 0.69 / 0.99)


def test_quality_sharp_above_blurred(examples: Path) -> None:
    import cv2

    img = faceprint.load_image(str(examples / "obama.jpg"))
    blurred = cv2.GaussianBlur(img, (0, 0), 6)
    sharp_q = _one(img, tasks="quality").quality
    blur_q = _one(blurred, tasks="quality").quality
    assert blur_q.signals.sharpness < sharp_q.signals.sharpness
    assert blur_q.score < sharp_q.score, (blur_q, sharp_q)


def test_bias_audit_option_adds_race_only_when_asked(examples: Path) -> None:
    a = _one(examples / "obama.jpg", tasks="gender", include_race=True)
    assert a.race is not None and set(a.race.probabilities) == {"white", "black", "asian", "indian", "other"}
    assert abs(sum(a.race.probabilities.values()) - 1) < 1e-3
    assert a.to_dict()["race"]["purpose"] == "bias audit"


def test_cli_tasks(examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceprint.cli.main import main

    assert main(["analyze", str(examples / "obama.jpg"), "--tasks", "gender,quality", "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["models"]) == {"gender", "quality"}
    (face,) = out["results"][0]["faces"]
    assert face["gender"]["label"] == "male" and "age" not in face and "expression" not in face
    assert main(["analyze", str(examples / "biden.jpg"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "age" in text and "quality" in text and "threshold 0.6" in text and "bias audit" not in text
    assert main(["analyze", str(examples / "biden.jpg"), "--tasks", "gender", "--bias-audit", "--no-progress"]) == 0
    assert "[bias audit]" in capsys.readouterr().out


def test_age_and_gender_share_one_faceres_pass(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.analysis import load_analyzers
    from faceprint.models.analyzers.human_base import HumanAnalyzerBase

    analyzers = load_analyzers("age,gender")
    calls: list[str] = []
    real_run = HumanAnalyzerBase.run
    monkeypatch.setattr(HumanAnalyzerBase, "run", lambda self, m, t: calls.append(m) or real_run(self, m, t))
    img = faceprint.load_image(str(examples / "two_people.jpg"))
    faces = faceprint.faces(img, embed=False)
    preds = analyzers.run(img, faces)
    assert calls == ["faceres"] and len(preds) == len(faces) == 2
    assert all(np.isfinite(p["age"].age) and p["gender"].label in ("female", "male") for p in preds)
