"""Where a decision threshold comes from, in order of precedence:

1. an explicit ``threshold=`` argument;
2. an explicit calibration (a :class:`ThresholdCalibrator` or the path of a saved one);
3. the user's calibration for the model, saved by ``faceprint calibrate --save`` in
   ``$FACEPRINT_HOME/calibration/<model name>.json``;
4. the model card's default, calibrated by the project on LFW View 1 (shipped with the package as
   ``faceprint/models/cards/<model name>.calibration.json``).
"""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path

from faceprint.config import home_dir
from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.matching.calibration import Threshold, ThresholdCalibrator

logger = logging.getLogger(__name__)


def user_calibration_path(model_name: str, home: str | os.PathLike[str] | None = None) -> Path:
    return home_dir(home) / "calibration" / f"{model_name}.json"


def shipped_calibration(model_name: str) -> ThresholdCalibrator | None:
    """The project's calibration of a built-in model, or None when there is none."""
    res = resources.files("faceprint.models") / "cards" / f"{model_name}.calibration.json"
    try:
        data = json.loads(res.read_text())
    except FileNotFoundError:
        return None
    return ThresholdCalibrator.from_dict(data)


def _check_model(cal: ThresholdCalibrator, model_tag: str, where: str) -> None:
    if cal.model and cal.model != model_tag:
        raise InvalidInput(f"calibration {where} was made for model {cal.model}, not {model_tag}")


def resolve_threshold(
    model_tag: str,
    *,
    threshold: float | None = None,
    calibration: ThresholdCalibrator | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Threshold:
    """The threshold to use for ``model_tag`` (``name@version``) and where it came from."""
    name = model_tag.split("@", 1)[0]
    if threshold is not None:
        t = float(threshold)
        if not -1.0 <= t <= 1.0:
            raise InvalidInput(f"threshold must be a cosine similarity in [-1, 1], got {t}")
        return Threshold(t, "argument")
    if calibration is not None:
        if isinstance(calibration, ThresholdCalibrator):
            _check_model(calibration, model_tag, "object")
            return Threshold(calibration.threshold_, "calibration (object)", calibration)
        cal = ThresholdCalibrator.load(calibration)
        _check_model(cal, model_tag, str(calibration))
        return Threshold(cal.threshold_, f"calibration file {calibration}", cal)
    user = user_calibration_path(name, home)
    if user.is_file():
        cal = ThresholdCalibrator.load(user)
        _check_model(cal, model_tag, str(user))
        return Threshold(cal.threshold_, f"user calibration {user}", cal)
    cal = shipped_calibration(name)
    if cal is not None:
        _check_model(cal, model_tag, "shipped with faceprint")
        desc = cal.source_ or "project calibration"
        return Threshold(cal.threshold_, f"model card default ({desc})", cal)
    from faceprint.models import registry

    card = registry.get_card(name)
    if card.default_threshold is None:
        raise ModelUnavailable(
            f"model {name} has no calibrated threshold: pass threshold=..., or run `faceprint calibrate`"
        )
    return Threshold(card.default_threshold, f"model card default ({card.threshold_provenance or 'uncalibrated'})")
