"""What the gallery answers: identification results and enrolment / re-embedding reports.

Typed frozen value objects, each with ``to_dict()`` for JSON (CLI ``--json``, the service).
Exported from :mod:`faceprint` (``faceprint.IdentifiedFace`` ...) and from
:mod:`faceprint.matching.gallery` (where they used to live).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from faceprint.types import Box

__all__ = ["Candidate", "EnrollOutcome", "EnrollResult", "EnrollStatus", "IdentifiedFace", "ReembedReport"]


@dataclass(frozen=True)
class Candidate:
    identity: str
    score: float  # cosine similarity to the identity's template (see `combine`)
    face_id: int  # the enrolled face that matched best (max rule); -1 under the mean rule

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "score": round(self.score, 6), "face_id": self.face_id}


@dataclass(frozen=True)
class IdentifiedFace:
    """One face of a probe image: its top-k identities and the open-set decision."""

    box: Box | None
    candidates: tuple[Candidate, ...]
    identity: str | None  # the best candidate when its score reaches the threshold, else None
    score: float | None  # the best candidate's score (None when the gallery is empty)
    threshold: float
    threshold_source: str
    far_estimate: float | None = None  # per-comparison false-accept rate at the best score
    detection_score: float | None = None
    fpir_estimate: float | None = None  # predicted FPIR of this gallery at the best score (open-set model)

    @property
    def is_unknown(self) -> bool:
        return self.identity is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": None if self.box is None else [round(v, 2) for v in self.box.as_tuple()],
            "detection_score": None if self.detection_score is None else round(self.detection_score, 4),
            "identity": self.identity,
            "unknown": self.identity is None,
            "score": None if self.score is None else round(self.score, 6),
            "threshold": round(self.threshold, 6),
            "threshold_source": self.threshold_source,
            "far_estimate": self.far_estimate,
            "fpir_estimate": self.fpir_estimate,
            "candidates": [c.to_dict() for c in self.candidates],
        }


EnrollStatus = Literal["enrolled", "duplicate", "error"]


@dataclass(frozen=True)
class EnrollOutcome:
    """What happened to one image. ``enrolled``/``duplicate`` outcomes are durable when reported."""

    name: str
    source: str
    status: EnrollStatus
    face_id: int | None = None
    box: Box | None = None
    error: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "error"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "source": self.source, "status": self.status, "face_id": self.face_id}
        if self.box is not None:
            d["box"] = [round(v, 2) for v in self.box.as_tuple()]
        if self.error:
            d["error"] = self.error
            d["error_code"] = self.error_code
        return d


@dataclass(frozen=True)
class EnrollResult:
    name: str
    outcomes: tuple[EnrollOutcome, ...]

    @property
    def n_enrolled(self) -> int:
        return sum(o.status == "enrolled" for o in self.outcomes)

    @property
    def n_duplicates(self) -> int:
        return sum(o.status == "duplicate" for o in self.outcomes)

    @property
    def face_ids(self) -> list[int]:
        return [o.face_id for o in self.outcomes if o.face_id is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enrolled": self.n_enrolled,
            "duplicates": self.n_duplicates,
            "images": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True)
class ReembedReport:
    """What a re-embedding did. ``dropped``: faces removed because their source was gone (only
    with ``drop_missing``); ``missing``: faces kept without the new model's embedding because their
    source was gone (``add_model``: they keep their other models' embeddings)."""

    model_from: str | None
    model_to: str
    n_reembedded: int
    n_dropped: int
    dropped: tuple[str, ...] = field(default=())
    missing: tuple[str, ...] = field(default=())
    added: bool = False  # True: the model was added beside the others (``add_model``)

    @property
    def n_missing(self) -> int:
        return len(self.missing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_from": self.model_from,
            "model_to": self.model_to,
            "added": self.added,
            "reembedded": self.n_reembedded,
            "dropped": self.n_dropped,
            "dropped_sources": list(self.dropped[:50]),
            "missing": self.n_missing,
            "missing_sources": list(self.missing[:50]),
        }
