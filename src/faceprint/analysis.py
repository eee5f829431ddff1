"""Face analysis, optionally with identification, in one pass over the detected faces: the image is
decoded and the faces detected once; each face feeds every analyzer asked for (expression, age,
gender, liveness, quality) and, when a gallery is given, its aligned chip feeds the embedder and
the gallery search.

    >>> analyzers = load_analyzers(["gender", "quality"])            # doctest: +SKIP
    >>> analyze_faces(img, pipeline=p, analyzers=analyzers)           # doctest: +SKIP

Tasks (:data:`TASKS`) and their default models (:data:`DEFAULT_MODELS`, chosen by measurement:
docs/analysis.md). ``tasks=None`` means every installed task: one whose weights are not installed
is skipped with a logged warning; a task asked for by name whose weights are missing raises
:class:`~faceprint.errors.ModelUnavailable`. Race/ethnicity is no task: it is added only with
``include_race=True``, for bias audits (:mod:`faceprint.models.analyzers.race`).

The human-model analyzers share one face tensor per face and one run per network: the default age
and gender models are both FaceRes heads, so asking for both costs one FaceRes pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint import config
from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.types import Face

logger = logging.getLogger(__name__)

#: The analysis tasks, in result order.
TASKS = ("expression", "age", "gender", "liveness", "quality")

#: The default model of each task (:mod:`faceprint.config`).
DEFAULT_MODELS: Mapping[str, str] = {
    "expression": config.DEFAULT_EXPRESSION_MODEL,
    "age": config.DEFAULT_AGE_MODEL,
    "gender": config.DEFAULT_GENDER_MODEL,
    "liveness": config.DEFAULT_LIVENESS_MODEL,
    "quality": config.DEFAULT_QUALITY_MODEL,
}

#: The bias-audit model (never a default task).
RACE_MODEL = "human_gear_race"


@dataclass(frozen=True)
class FaceAnalysis:
    """One face: the pipeline's :class:`~faceprint.types.Face` and one typed, frozen prediction per
    task asked for (None when not asked or not installed): ``expression``
    (:class:`~faceprint.models.analyzers.base.ExpressionPrediction`), ``age``
    (:class:`~faceprint.models.analyzers.age.AgePrediction`), ``gender``
    (:class:`~faceprint.models.analyzers.gender.GenderPrediction`), ``liveness``
    (:class:`~faceprint.models.analyzers.liveness.LivenessPrediction`), ``quality``
    (:class:`~faceprint.models.analyzers.quality.QualityPrediction`); ``identity``
    (:class:`~faceprint.matching.gallery.IdentifiedFace`) when identification was asked; ``race``
    only for bias audits (``include_race=True``)."""

    face: Face
    expression: Any = None
    identity: Any = None
    age: Any = None
    gender: Any = None
    liveness: Any = None
    quality: Any = None
    race: Any = None

    def to_dict(self) -> dict[str, Any]:
        d = self.face.detection.to_dict()
        d.pop("landmarks", None)
        if self.expression is not None:
            e = self.expression.to_dict()
            d["expression"] = {"label": e["label"], "probabilities": e["probabilities"]}
        for task in ("age", "gender", "liveness", "quality", "race"):
            pred = getattr(self, task)
            if pred is not None:
                v = pred.to_dict()
                v.pop("box", None)
                d[task] = v
        if self.identity is not None:
            d["identity"] = self.identity.to_dict()
        return d


def parse_tasks(tasks: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """``"age,gender"`` or ``["age", "gender"]`` -> ``("age", "gender")`` in :data:`TASKS` order;
    None stays None (every installed task). Unknown or no tasks raise :class:`InvalidInput`."""
    if tasks is None:
        return None
    items = [t.strip().lower() for t in (tasks.split(",") if isinstance(tasks, str) else tasks)]
    items = [t for t in items if t]
    unknown = sorted(set(items) - set(TASKS))
    if unknown:
        hint = " (race is no task: use the bias-audit option)" if "race" in unknown else ""
        raise InvalidInput(f"unknown analysis task(s) {', '.join(unknown)}{hint}; known: {', '.join(TASKS)}")
    if not items:
        raise InvalidInput(f"no analysis task given; known: {', '.join(TASKS)}")
    return tuple(t for t in TASKS if t in items)


def _load(analyzer: Any) -> None:
    """Load the analyzer's weights now, so a missing model shows before any image is read."""
    if hasattr(analyzer, "load"):
        analyzer.load()
    elif hasattr(analyzer, "_session"):
        analyzer._session()


@dataclass(frozen=True)
class Analyzers:
    """The analyzers of one analysis: task -> analyzer (see :func:`load_analyzers`)."""

    by_task: Mapping[str, Any]
    skipped: Mapping[str, str]

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(t for t in (*TASKS, "race") if t in self.by_task)

    def models(self) -> dict[str, str]:
        """task -> the model's tag."""
        return {t: str(self.by_task[t].card.tag) for t in self.tasks}

    def run(self, image: np.ndarray, faces: Sequence[Face]) -> list[dict[str, Any]]:
        """One ``{task: prediction}`` per face, in ``faces`` order."""
        from faceprint.models.analyzers.human_base import HumanAnalyzerBase

        out: list[dict[str, Any]] = [{} for _ in faces]
        if not faces:
            return out
        boxes = [f.box for f in faces]
        tensors: list[np.ndarray] | None = None
        runs: dict[str, dict[str, np.ndarray]] = {}  # human network -> outputs, shared by its heads
        for task in self.tasks:
            a = self.by_task[task]
            if isinstance(a, HumanAnalyzerBase):
                if tensors is None:
                    tensors = a.face_tensors(image, boxes)
                for m in a.models:
                    if m not in runs:
                        runs[m] = a.run(m, tensors)
                preds = a._predict({m: runs[m] for m in a.models}, boxes)
            elif task == "quality":
                preds = a.assess(image, faces)
            else:
                preds = a.analyze(image, boxes)
            for d, p in zip(out, preds, strict=True):
                d[task] = p
        return out


def load_analyzers(
    tasks: str | Iterable[str] | None = None,
    *,
    models: Mapping[str, str] | None = None,
    include_race: bool = False,
    given: Mapping[str, Any] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    optional: bool = False,
) -> Analyzers:
    """The analyzers for ``tasks`` (None: every installed task, a missing one skipped with a
    warning; named tasks whose weights are missing raise :class:`ModelUnavailable`).

    ``models``: task -> registry name, overriding :data:`DEFAULT_MODELS`; ``given``: task ->
    an analyzer already built (e.g. the service's expression model); ``options``: task -> keyword
    arguments for its factory; ``include_race``: add GEAR's race head, for bias audits only;
    ``optional``: treat the named tasks like defaulted ones (skip a missing one with a warning).
    """
    from faceprint.models import registry

    wanted = parse_tasks(tasks)
    explicit = wanted is not None and not optional
    chosen = {**DEFAULT_MODELS, **(models or {})}
    unknown = sorted(set(models or {}) - set(TASKS))
    if unknown:
        raise InvalidInput(f"models: unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    todo = list(wanted if wanted is not None else TASKS) + (["race"] if include_race else [])
    by_task: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for task in todo:
        if given and given.get(task) is not None:
            by_task[task] = given[task]
            continue
        name = RACE_MODEL if task == "race" else chosen[task]
        try:
            card = registry.get_card(name)
            if task != "race" and card.extra.get("analysis_task", "expression") != task:
                raise InvalidInput(f"model {name!r} is not a {task} model")
            a = registry.create(name, **dict((options or {}).get(task, {})))
            _load(a)
        except ModelUnavailable as e:
            if explicit or task == "race":
                raise ModelUnavailable(f"analysis task {task!r} needs model {name!r}: {e}") from None
            logger.warning("analysis task %s skipped: model %s is not installed (%s)", task, name, e)
            skipped[task] = str(e)
            continue
        by_task[task] = a
    return Analyzers(by_task, skipped)


def analyze_faces(
    image: np.ndarray,
    *,
    pipeline: Any,
    analyzer: Any = None,
    analyzers: Analyzers | None = None,
    gallery: Any = None,
    k: int = 5,
    threshold: float | None = None,
) -> list[FaceAnalysis]:
    """Every asked-for analysis (and identity when ``gallery`` is given) of every face in an RGB
    uint8 image, most prominent first. ``analyzer`` alone is an expression model (the form before
    tasks existed)."""
    if analyzers is None:
        if analyzer is None:
            raise InvalidInput("analyze_faces needs analyzers= (load_analyzers) or an expression analyzer=")
        analyzers = Analyzers({"expression": analyzer}, {})
    faces = pipeline.process(image, embed=gallery is not None)
    if not faces:
        return []
    preds = analyzers.run(image, faces)
    identities: list[Any] = [None] * len(faces)
    if gallery is not None:
        embedded = [i for i, f in enumerate(faces) if f.embedding is not None]
        found = gallery.identify_embeddings(
            [faces[i].embedding for i in embedded],
            k,
            threshold=threshold,
            boxes=[faces[i].box for i in embedded],
            detection_scores=[faces[i].detection.score for i in embedded],
        )
        for i, r in zip(embedded, found, strict=True):
            identities[i] = r
    return [FaceAnalysis(f, identity=ident, **p) for f, p, ident in zip(faces, preds, identities, strict=True)]


__all__ = ["DEFAULT_MODELS", "RACE_MODEL", "TASKS", "Analyzers", "FaceAnalysis", "analyze_faces", "load_analyzers", "parse_tasks"]
