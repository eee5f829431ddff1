"""Expression analysis, optionally with identification, in one pass over the detected faces:
the image is decoded and the faces detected once; each face's box feeds the expression model and
(when a gallery is given) its aligned chip feeds the embedder and the gallery search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.types import Face


@dataclass(frozen=True)
class FaceAnalysis:
    """One face: the pipeline's :class:`~faceprint.types.Face`, its expression
    (:class:`~faceprint.models.analyzers.expression.ExpressionPrediction`) and, when asked, who it
    is (:class:`~faceprint.matching.gallery.IdentifiedFace`)."""

    face: Face
    expression: Any
    identity: Any = None

    def to_dict(self) -> dict[str, Any]:
        d = self.face.detection.to_dict()
        d.pop("landmarks", None)
        e = self.expression.to_dict()
        d["expression"] = {"label": e["label"], "probabilities": e["probabilities"]}
        if self.identity is not None:
            d["identity"] = self.identity.to_dict()
        return d


def analyze_faces(
    image: np.ndarray,
    *,
    pipeline: Any,
    analyzer: Any,
    gallery: Any = None,
    k: int = 5,
    threshold: float | None = None,
) -> list[FaceAnalysis]:
    """Expression (and identity when ``gallery`` is given) of every face in an RGB uint8 image,
    most prominent first."""
    faces = pipeline.process(image, embed=gallery is not None)
    if not faces:
        return []
    expressions = analyzer.analyze(image, [f.box for f in faces])
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
    return [FaceAnalysis(f, e, ident) for f, e, ident in zip(faces, expressions, identities, strict=True)]
