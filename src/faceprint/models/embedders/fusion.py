"""Score fusion as an embedder: ``dlib_resnet_v1+sface``.

Each member model ``m`` scores a pair by cosine ``s_m``; the fused score is the mean z-score
``z = (1/M) Σ_m (s_m − μ_m) / σ_m`` with ``μ_m, σ_m`` the mean and standard deviation of ``s_m`` over
all LFW View 1 DevTrain pairs (``cards/<name>.fusion.json``; nothing else is used to fit them).

**The fusion's embedding** is the concatenation ``v = [√(w_1/W) u_1, …, √(w_M/W) u_M]`` of the
members' unit vectors ``u_m``, with ``w_m = 1 / (M σ_m)`` and ``W = Σ w_m``. ``v`` has unit norm, and
for two faces ``cos(v_a, v_b) = Σ_m w_m s_m / W = (z + Σ_m w_m μ_m) / W``: the cosine of fusion
embeddings is an increasing affine function of the fused z-score (closed form, :func:`cosine_to_z`).
So every consumer of embeddings — ``verify``, ``identify``, the gallery's cosine search, clustering,
``eval`` — works with fusion unchanged, and a threshold on ``z`` is a threshold on the cosine.

**Chips.** The members need different chips (dlib's 150 px chip, SFace's 112 px ArcFace chip), but
a pipeline aligns one chip per face. The fusion template ``fusion_canvas`` is an ArcFace-geometry
canvas (240 × 264 px, 2 px per ArcFace-chip pixel, margins so that the dlib chip fits inside), aligned
from the detector's five ``eyes_nose_mouth5`` points; :meth:`FusionEmbedder.embed_chips` cuts each
member's chip out of the canvas with that member's own template (the same five points mapped into the
canvas), so the fusion pipeline is a detector with five points (MTCNN, YuNet) and no landmarker.
``flip`` names the members whose chips are embedded together with their mirror image (averaged raw
descriptors, per member; the pipeline's own ``flip_average`` must stay off).
"""

from __future__ import annotations

import json
import logging
import threading
from importlib import resources
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.models.card import ModelCard, WeightSource
from faceprint.models.registry import register

logger = logging.getLogger(__name__)

NAME = "dlib_resnet_v1+sface"
MEMBERS: tuple[str, ...] = ("dlib_resnet_v1", "sface")
FORMAT = "faceprint.fusion/1"

#: ArcFace-chip units → canvas pixels: scale 2, offset 4 (the dlib chip spans x 6…107, y 21…121
#: in ArcFace-chip coordinates; the canvas covers x −4…116, y −4…128).
CANVAS_SCALE = 2.0
CANVAS_OFFSET = 4.0
CANVAS_SIZE = (240, 264)
CANVAS_TEMPLATE = "fusion_canvas"


def ensure_canvas_template() -> None:
    """Register the ``fusion_canvas`` alignment template (idempotent)."""
    from faceprint.align.templates import TEMPLATES, AlignTemplate, get_template, register_template

    if CANVAS_TEMPLATE in TEMPLATES:
        return
    arc = get_template("arcface_112").points["eyes_nose_mouth5"]
    register_template(
        AlignTemplate(
            name=CANVAS_TEMPLATE,
            size=CANVAS_SIZE,
            points={"eyes_nose_mouth5": (np.asarray(arc) + CANVAS_OFFSET) * CANVAS_SCALE},
            description="ArcFace 5-point geometry at 2 px per ArcFace-chip pixel, 4-unit margins (score fusion canvas)",
        )
    )


def canvas_points() -> np.ndarray:
    """The five ``eyes_nose_mouth5`` target points in canvas pixels."""
    from faceprint.align.templates import get_template

    ensure_canvas_template()
    return np.asarray(get_template(CANVAS_TEMPLATE).points["eyes_nose_mouth5"], np.float64)


# ------------------------------------------------------------------------------------ statistics


def fit_statistics(member_scores: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{member: {"mean", "std"}}`` of each member's cosine scores (DevTrain pairs only)."""
    out = {}
    for m, s in member_scores.items():
        s = np.asarray(s, np.float64)
        sd = float(s.std())
        if s.size < 2 or not sd > 0:
            raise InvalidInput(f"cannot fit fusion statistics for {m}: {s.size} scores, std {sd}")
        out[m] = {"mean": float(s.mean()), "std": sd}
    return out


def weights(stats: dict[str, dict[str, float]], members: tuple[str, ...]) -> np.ndarray:
    """``w_m = 1 / (M σ_m)``."""
    return np.array([1.0 / (len(members) * stats[m]["std"]) for m in members])


def fused_z(member_scores: dict[str, np.ndarray], stats: dict[str, dict[str, float]], members: tuple[str, ...]) -> np.ndarray:
    """Mean z-score of the members' cosine scores."""
    return np.mean([(np.asarray(member_scores[m], np.float64) - stats[m]["mean"]) / stats[m]["std"] for m in members], axis=0)


def z_to_cosine(z: Any, stats: dict[str, dict[str, float]], members: tuple[str, ...]) -> Any:
    """Cosine of fusion embeddings that corresponds to fused z-score ``z``."""
    w = weights(stats, members)
    mu = np.array([stats[m]["mean"] for m in members])
    return (np.asarray(z, np.float64) + float(w @ mu)) / float(w.sum())


def cosine_to_z(c: Any, stats: dict[str, dict[str, float]], members: tuple[str, ...]) -> Any:
    """Fused z-score that corresponds to cosine ``c`` of fusion embeddings."""
    w = weights(stats, members)
    mu = np.array([stats[m]["mean"] for m in members])
    return np.asarray(c, np.float64) * float(w.sum()) - float(w @ mu)


def combine(unit_vectors: dict[str, np.ndarray], stats: dict[str, dict[str, float]], members: tuple[str, ...]) -> np.ndarray:
    """Fusion embeddings ``(N, ΣD_m)`` from each member's unit vectors ``(N, D_m)``."""
    w = weights(stats, members)
    parts = [np.sqrt(wm / w.sum()) * np.asarray(unit_vectors[m], np.float64) for wm, m in zip(w, members, strict=True)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def shipped_statistics(name: str = NAME) -> dict[str, Any] | None:
    """The shipped ``cards/<name>.fusion.json`` (None when absent)."""
    res = resources.files("faceprint.models") / "cards" / f"{name}.fusion.json"
    try:
        data = json.loads(res.read_text())
    except FileNotFoundError:
        return None
    if data.get("format") != FORMAT:
        raise ModelUnavailable(f"{res}: not a faceprint fusion file (format {data.get('format')!r})")
    return dict(data)


# ----------------------------------------------------------------------------------- embedder


def _card() -> ModelCard:
    from faceprint.models.embedders.sface import shipped_threshold

    ensure_canvas_template()  # the registry imports this module lazily; pipelines then find the template
    data = shipped_statistics()
    return ModelCard(
        name=NAME,
        task="embedder",
        version="1",
        source=WeightSource(package=None, path="<members: dlib_resnet_v1, sface>"),
        license="members' licences: dlib_resnet_v1 public domain (CC0-1.0 distribution); sface Apache-2.0",
        input_size=CANVAS_SIZE,
        color_order="RGB",
        embedding_dim=256,
        template=CANVAS_TEMPLATE,
        default_threshold=shipped_threshold(NAME),
        threshold_provenance=(
            f"cosine of fusion embeddings at the best-accuracy fused z-score on LFW View 1 pairsDevTrain.txt; "
            f"see faceprint/models/cards/{NAME}.calibration.json and {NAME}.fusion.json"
        ),
        notes=(
            "Score fusion of dlib_resnet_v1 (mirror-averaged) and sface: mean of z-scored cosines, statistics "
            "from LFW View 1 DevTrain only. Embedding = concatenation of the members' unit vectors weighted so "
            "that its cosine is an affine increasing function of the fused z-score. Chips: a 240x264 ArcFace-"
            "geometry canvas from the detector's 5 points (use MTCNN or YuNet without a landmarker, and "
            "flip_average=False); each member's chip is cut from it."
        ),
        extra={"members": list(MEMBERS), "flip": ["dlib_resnet_v1"], "statistics": (data or {}).get("statistics"),
               "fitted": data is not None},
    )


CARD = _card()


@register(CARD)
class FusionEmbedder:
    """Embeds ``fusion_canvas`` chips with every member and combines their unit vectors.

    Args:
        card: the fusion card (the registry passes it).
        statistics: ``{member: {"mean", "std"}}`` (default: the shipped ``.fusion.json``).
        flip: members embedded with their mirror image too (default: the card's).
        members: member embedder instances by name (default: created from the registry).
    """

    def __init__(self, card: ModelCard = CARD, *, statistics: dict[str, dict[str, float]] | None = None,
                 flip: tuple[str, ...] | None = None, members: dict[str, Any] | None = None) -> None:
        self.card = card
        self.members: tuple[str, ...] = tuple(card.extra.get("members", MEMBERS))
        stats = statistics if statistics is not None else card.extra.get("statistics")
        if not stats:
            raise ModelUnavailable(f"{card.name} has no fusion statistics: fit them (benchmarks/fusion_calibrate.py)")
        missing = [m for m in self.members if m not in stats]
        if missing:
            raise InvalidInput(f"fusion statistics lack members {missing}")
        self.statistics = stats
        self.flip = tuple(card.extra.get("flip", ())) if flip is None else tuple(flip)
        self._given = dict(members or {})
        self._lock = threading.Lock()
        self._models: dict[str, Any] | None = None
        ensure_canvas_template()

    def _load(self) -> dict[str, Any]:
        if self._models is None:
            with self._lock:
                if self._models is None:
                    from faceprint.models import registry

                    self._models = {m: self._given.get(m) or registry.create(m) for m in self.members}
        return self._models

    def member_chips(self, canvases: np.ndarray, member: str) -> np.ndarray:
        """Each canvas's chip for ``member`` (cut with the member's template from the canvas points)."""
        from faceprint.align import align_face
        from faceprint.types import Landmarks

        template = self._load()[member].card.template
        lm = Landmarks(canvas_points(), "eyes_nose_mouth5")
        return np.stack([align_face(np.ascontiguousarray(c), lm, template).chip for c in canvases])

    def unit_vectors(self, canvases: np.ndarray) -> dict[str, np.ndarray]:
        """Each member's unit-norm descriptors ``(N, D_m)`` of the canvases."""
        models = self._load()
        out = {}
        for m in self.members:
            chips = self.member_chips(canvases, m)
            if m in self.flip:
                n = len(chips)
                both = models[m].embed_chips(np.concatenate([chips, np.ascontiguousarray(chips[:, :, ::-1])]))
                raw = (both[:n] + both[n:]) / 2.0
            else:
                raw = models[m].embed_chips(chips)
            raw = np.asarray(raw, np.float64)
            out[m] = raw / np.linalg.norm(raw, axis=1, keepdims=True)
        return out

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Fusion embeddings ``(N, 256)`` (unit norm) of canvases ``(N, 264, 240, 3)`` uint8 RGB."""
        arr = np.asarray(chips)
        w, h = CANVAS_SIZE
        if arr.ndim != 4 or arr.shape[1:] != (h, w, 3) or arr.dtype != np.uint8:
            raise InvalidInput(
                f"{self.card.name} expects {CANVAS_TEMPLATE} chips (N, {h}, {w}, 3) uint8 RGB, got {arr.shape} {arr.dtype}"
            )
        if len(arr) == 0:
            return np.zeros((0, self.card.embedding_dim or 0), np.float32)
        return combine(self.unit_vectors(arr), self.statistics, self.members)
