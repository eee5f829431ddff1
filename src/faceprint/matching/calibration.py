"""Threshold calibration on labelled pairs (scikit-learn style).

    >>> cal = ThresholdCalibrator(target_far=1e-3).fit(scores, labels)   # doctest: +SKIP
    >>> cal.threshold_, cal.tar_at_far_                                   # doctest: +SKIP
    >>> cal.save("my_threshold.json"); ThresholdCalibrator.load("my_threshold.json")  # doctest: +SKIP

The calibrator keeps the sorted impostor scores it was fitted on (at most ``max_kept`` of them, an
evenly spaced subsample beyond that), so :meth:`far_at` can report the false-match rate the
calibration data shows at any score.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from faceprint.errors import InvalidInput, NotFitted
from faceprint.eval import metrics

if TYPE_CHECKING:
    from faceprint.matching.open_set import OpenSetCalibration

Target = Literal["far", "accuracy"]

FORMAT = "faceprint.calibration/1"


class ThresholdCalibrator:
    """Fit a decision threshold on similarity scores of labelled pairs.

    Args:
        target_far: accept at most this false-accept rate on the calibration impostors. When None,
            the threshold maximising accuracy is chosen instead (the LFW operating point).
        model: the model tag the scores come from (``name@version``); recorded, and checked by
            users of the calibration.

    Learned attributes: ``threshold_``, ``tar_at_far_`` (TAR at the chosen threshold),
    ``far_`` (FAR reached), ``accuracy_``, ``n_genuine_``, ``n_impostor_``, ``impostor_scores_``
    (sorted), ``resolvable_`` (False when there are fewer than 1/target_far impostors).
    """

    def __init__(self, target_far: float | None = 1e-3, model: str | None = None, max_kept: int = 20000) -> None:
        if target_far is not None and not 0.0 < target_far < 1.0:
            raise InvalidInput(f"target_far must be in (0, 1), got {target_far}")
        self.target_far = target_far
        self.model = model
        self.max_kept = max_kept

    def fit(self, scores: np.ndarray, labels: np.ndarray, *, source: str | None = None) -> ThresholdCalibrator:
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        y = np.asarray(labels).reshape(-1).astype(bool)
        if self.target_far is None:
            thr, _ = metrics.best_threshold(s, y)
            resolvable = True
        else:
            op = metrics.tar_at_far(s, y, self.target_far)
            thr, resolvable = op.threshold, op.resolvable
        self.threshold_ = float(thr)
        self.tar_at_far_ = float(np.mean(s[y] >= thr))
        self.far_ = float(np.mean(s[~y] >= thr))
        self.accuracy_ = metrics.accuracy_at(s, y, thr)
        self.n_genuine_ = int(y.sum())
        self.n_impostor_ = int((~y).sum())
        self.resolvable_ = bool(resolvable)
        imp = np.sort(s[~y])
        if imp.size > self.max_kept:
            imp = imp[np.linspace(0, imp.size - 1, self.max_kept).round().astype(int)]
        self.impostor_scores_ = imp
        self.source_ = source
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFitted("ThresholdCalibrator is not fitted: call fit(scores, labels) first")

    def far_at(self, score: float) -> float:
        """Fraction of calibration impostor scores ≥ ``score`` (its estimated false-match rate).

        Zero means "below 1 / n_impostor": no calibration impostor scored that high.
        """
        self._check_fitted()
        imp = self.impostor_scores_
        n_ge = imp.size - np.searchsorted(imp, float(score), side="left")
        # scale back to the full impostor count when subsampled
        return float(n_ge / imp.size)

    def predict(self, scores: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray(scores, dtype=np.float64) >= self.threshold_

    # ------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "format": FORMAT,
            "model": self.model,
            "target": "accuracy" if self.target_far is None else "far",
            "target_far": self.target_far,
            "threshold": self.threshold_,
            "tar": self.tar_at_far_,
            "far": self.far_,
            "accuracy": self.accuracy_,
            "n_genuine": self.n_genuine_,
            "n_impostor": self.n_impostor_,
            "resolvable": self.resolvable_,
            "source": self.source_,
            "impostor_scores": [round(float(x), 7) for x in self.impostor_scores_],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ThresholdCalibrator:
        if d.get("format") != FORMAT:
            raise InvalidInput(f"not a faceprint calibration (format {d.get('format')!r}, expected {FORMAT!r})")
        self = cls(target_far=d.get("target_far"), model=d.get("model"))
        self.threshold_ = float(d["threshold"])
        self.tar_at_far_ = float(d["tar"])
        self.far_ = float(d["far"])
        self.accuracy_ = float(d["accuracy"])
        self.n_genuine_ = int(d["n_genuine"])
        self.n_impostor_ = int(d["n_impostor"])
        self.resolvable_ = bool(d["resolvable"])
        self.source_ = d.get("source")
        self.impostor_scores_ = np.sort(np.asarray(d.get("impostor_scores", []), dtype=np.float64))
        return self

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ThresholdCalibrator:
        return cls.from_dict(read_json(path, "calibration file"))



def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write a calibration (any JSON object) atomically; returns the path."""
    from faceprint.models.sources import atomic_write_bytes

    p = Path(path)
    atomic_write_bytes(p, (json.dumps(data, indent=1) + "\n").encode())
    return p


def read_json(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """Read a JSON object saved by :func:`write_json`; InvalidInput names ``what`` on failure."""
    try:
        d = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{what} not found: {path}") from None
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read {what} {path}: {e}") from None
    if not isinstance(d, dict):
        raise InvalidInput(f"{what} {path} does not hold a JSON object")
    return d

@dataclass(frozen=True)
class Threshold:
    """A decision threshold with its provenance, as used by verify/identify/cluster.

    Identification thresholds from the open-set model (:mod:`faceprint.matching.open_set`) also
    carry the model, the target FPIR and the gallery composition they were solved for, so a
    result can report the per-comparison FAR and the predicted FPIR at its score.
    """

    value: float
    source: str
    calibrator: ThresholdCalibrator | None = None
    open_set: OpenSetCalibration | None = field(default=None, repr=False, compare=False)
    target_fpir: float | None = None
    composition: tuple[tuple[int, int], ...] | None = None  # (photos per template, templates)

    def far_at(self, score: float) -> float | None:
        """Estimated per-comparison false-accept rate at ``score`` (None when unknown)."""
        if self.calibrator is not None:
            return self.calibrator.far_at(score)
        if self.open_set is not None:
            return self.open_set.far(score, 1)
        return None

    def fpir_at(self, score: float) -> float | None:
        """Predicted chance that a person who is not enrolled scores ``score`` or more against
        someone in this gallery (None unless the threshold came from the open-set model)."""
        if self.open_set is None or self.composition is None:
            return None
        return float(self.open_set.fpir(score, dict(self.composition)))
