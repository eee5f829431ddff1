"""The detection-rate control of ``detect_every="auto"``: closed-form plans from measured costs."""

from __future__ import annotations

import math

import pytest

from faceprint.errors import InvalidInput
from faceprint.video.process import AUTO_HEADROOM, _RateControl


def test_a_fixed_rate_detects_every_nth_frame() -> None:
    r = _RateControl(3, fps=30.0, speed=3.0, max_gap=1.0)
    hits = [i for i in range(10) if r.should_detect(i) and (r.record(i, True, 0.05) or True)]
    assert hits == [0, 3, 6, 9] and r.describe() == "3"


def test_auto_takes_the_smallest_n_whose_average_cost_fits_the_budget() -> None:
    r = _RateControl("auto", fps=30.0, speed=3.0, max_gap=1.0)
    budget = 1.0 / (30.0 * 3.0 * AUTO_HEADROOM)
    assert r.budget == pytest.approx(budget)
    r.record(0, True, 5.0)  # the first detection loads the models: ignored
    assert r.c_det is None and r.n == 1
    r.record(1, False, 0.002)
    r.record(2, True, 0.040)
    # (N - 1) tracked frames + 1 detection within N budgets: N >= (c_det - c_trk) / (budget - c_trk)
    n = math.ceil((0.040 - 0.002) / (budget - 0.002))
    assert r.n == n == 5
    avg = (0.040 + (n - 1) * 0.002) / n
    assert avg <= budget < 1.0 / 90.0  # the plan keeps more than 3x real time


def test_auto_never_waits_longer_than_max_gap() -> None:
    r = _RateControl("auto", fps=30.0, speed=3.0, max_gap=0.2)
    r.record(0, True, 1.0)
    r.record(1, False, 0.02)  # tracking alone eats the budget
    r.record(2, True, 1.0)
    assert r.n == r.max_n == 6


def test_cheap_detection_detects_every_frame() -> None:
    r = _RateControl("auto", fps=30.0, speed=1.0, max_gap=1.0)
    r.record(0, True, 0.5)
    r.record(1, True, 0.001)
    assert r.n == 1 and r.describe().startswith("auto (detections at every N-th frame")


@pytest.mark.parametrize("every", [0, -1, 1.5, True, "often"])
def test_bad_rates_are_refused(every: object) -> None:
    with pytest.raises(InvalidInput):
        _RateControl(every, fps=30.0, speed=3.0, max_gap=1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        _RateControl("auto", fps=30.0, speed=0.0, max_gap=1.0)
