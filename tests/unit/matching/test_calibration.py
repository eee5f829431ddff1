import numpy as np
import pytest

from faceprint.errors import InvalidInput, NotFitted
from faceprint.matching.calibration import ThresholdCalibrator
from faceprint.matching.thresholds import resolve_threshold

SCORES = np.array([0.9, 0.8, 0.6, 0.4, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05])
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)


def test_fit_returns_self_and_learned_attributes():
    cal = ThresholdCalibrator(target_far=0.2, model="m@1")
    assert cal.fit(SCORES, LABELS) is cal
    assert cal.threshold_ == pytest.approx(0.6)
    assert cal.tar_at_far_ == pytest.approx(0.75)
    assert cal.far_ == pytest.approx(1 / 6)
    assert cal.n_impostor_ == 6 and cal.resolvable_


def test_accuracy_target():
    cal = ThresholdCalibrator(target_far=None).fit(SCORES, LABELS)
    assert cal.accuracy_ == pytest.approx(0.8)


def test_far_at_score():
    cal = ThresholdCalibrator(target_far=0.2).fit(SCORES, LABELS)
    assert cal.far_at(0.7) == pytest.approx(1 / 6)
    assert cal.far_at(0.0) == pytest.approx(1.0)
    assert cal.far_at(0.99) == 0.0


def test_not_fitted():
    with pytest.raises(NotFitted):
        ThresholdCalibrator().far_at(0.5)


def test_bad_target():
    with pytest.raises(InvalidInput):
        ThresholdCalibrator(target_far=1.5)


def test_save_load_roundtrip(tmp_path):
    cal = ThresholdCalibrator(target_far=0.2, model="m@1").fit(SCORES, LABELS, source="unit test")
    p = cal.save(tmp_path / "cal.json")
    back = ThresholdCalibrator.load(p)
    assert back.threshold_ == cal.threshold_ and back.model == "m@1" and back.source_ == "unit test"
    np.testing.assert_allclose(back.impostor_scores_, np.sort(SCORES[~LABELS]))
    with pytest.raises(InvalidInput):
        ThresholdCalibrator.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInput):
        ThresholdCalibrator.load(tmp_path / "bad.json")


def test_resolve_threshold_precedence(tmp_path):
    cal = ThresholdCalibrator(target_far=0.2, model="m@1").fit(SCORES, LABELS)
    assert resolve_threshold("m@1", threshold=0.5).source == "argument"
    t = resolve_threshold("m@1", calibration=cal)
    assert t.value == pytest.approx(0.6) and t.far_at(0.7) == pytest.approx(1 / 6)
    path = cal.save(tmp_path / "c.json")
    assert "calibration file" in resolve_threshold("m@1", calibration=path).source
    with pytest.raises(InvalidInput):
        resolve_threshold("other@1", calibration=path)
    # a user calibration in the home dir is picked up
    cal.save(tmp_path / "home" / "calibration" / "m.json")
    t = resolve_threshold("m@1", home=tmp_path / "home")
    assert t.source.startswith("user calibration")
    with pytest.raises(InvalidInput):
        resolve_threshold("m@1", threshold=3.0)
