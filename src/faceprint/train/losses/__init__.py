"""Face-recognition losses, one per file, on one template (:mod:`faceprint.train.losses.base`).

Classification heads (own a ``(C, D)`` weight; ``loss(embeddings, labels)`` returns the mean loss):
``softmax``, ``normface``, ``sphereface``, ``lsoftmax``, ``cosface``, ``arcface``, ``curricularface``,
``adaface``, ``magface``, ``circle``, ``sphereface2``, ``center`` (softmax + center loss),
``deepid2`` (softmax + contrastive). Pair/triplet losses (no class weights, want P×K batches):
``triplet``, ``contrastive``, ``circle_pair``. For classification tasks whose backbone emits the
class logits itself: ``cross_entropy`` (label smoothing; no weights). :func:`build_loss` makes any of
them by name.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.losses.adaface import AdaFaceLoss
from faceprint.train.losses.arcface import ArcFaceLoss
from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss
from faceprint.train.losses.center import CenterLoss, SoftmaxCenterLoss
from faceprint.train.losses.circle import CircleLoss, PairCircleLoss
from faceprint.train.losses.contrastive import ContrastiveLoss, JointIdentificationVerificationLoss
from faceprint.train.losses.cosface import CosFaceLoss
from faceprint.train.losses.cross_entropy import CrossEntropyLoss
from faceprint.train.losses.curricularface import CurricularFaceLoss
from faceprint.train.losses.lsoftmax import LSoftmaxLoss
from faceprint.train.losses.magface import MagFaceLoss
from faceprint.train.losses.normface import NormFaceLoss
from faceprint.train.losses.softmax import SoftmaxLoss
from faceprint.train.losses.sphereface import SphereFaceLoss
from faceprint.train.losses.sphereface2 import SphereFace2Loss
from faceprint.train.losses.triplet import TripletLoss

#: name → loss class.
LOSSES: dict[str, type[nn.Module]] = {
    "softmax": SoftmaxLoss,
    "normface": NormFaceLoss,
    "sphereface": SphereFaceLoss,
    "lsoftmax": LSoftmaxLoss,
    "cosface": CosFaceLoss,
    "arcface": ArcFaceLoss,
    "curricularface": CurricularFaceLoss,
    "adaface": AdaFaceLoss,
    "magface": MagFaceLoss,
    "circle": CircleLoss,
    "sphereface2": SphereFace2Loss,
    "center": SoftmaxCenterLoss,
    "deepid2": JointIdentificationVerificationLoss,
    "triplet": TripletLoss,
    "contrastive": ContrastiveLoss,
    "circle_pair": PairCircleLoss,
    "cross_entropy": CrossEntropyLoss,
}

#: Heads built on :class:`MarginSoftmaxLoss` (usable with Partial FC and weight imprinting).
MARGIN_LOSSES = tuple(n for n, c in LOSSES.items() if issubclass(c, MarginSoftmaxLoss))


def build_loss(name: str, embedding_dim: int, num_classes: int, **params: Any) -> nn.Module:
    """Instantiate loss ``name``; classification heads get ``embedding_dim`` and ``num_classes``."""
    try:
        cls = LOSSES[name]
    except KeyError:
        raise InvalidInput(f"unknown loss {name!r}; known: {sorted(LOSSES)}") from None
    try:
        if getattr(cls, "needs_classes", True):
            return cls(embedding_dim, num_classes, **params)
        return cls(**params)
    except TypeError as e:
        raise InvalidInput(f"bad parameters for loss {name!r}: {e}") from None


def build_margin_loss(name: str, embedding_dim: int, num_classes: int, **params: Any) -> MarginSoftmaxLoss:
    """:func:`build_loss` for the names in :data:`MARGIN_LOSSES` (else :class:`InvalidInput`)."""
    if name not in MARGIN_LOSSES:
        raise InvalidInput(f"{name!r} is not one of the margin losses {MARGIN_LOSSES}")
    loss = build_loss(name, embedding_dim, num_classes, **params)
    if not isinstance(loss, MarginSoftmaxLoss):  # unreachable: MARGIN_LOSSES holds only MarginSoftmaxLoss classes
        raise InvalidInput(f"{name!r} is not a margin loss")
    return loss


__all__ = [
    "LOSSES",
    "MARGIN_LOSSES",
    "AdaFaceLoss",
    "ArcFaceLoss",
    "CenterLoss",
    "CircleLoss",
    "ContrastiveLoss",
    "CosFaceLoss",
    "CrossEntropyLoss",
    "CurricularFaceLoss",
    "JointIdentificationVerificationLoss",
    "LSoftmaxLoss",
    "MagFaceLoss",
    "MarginContext",
    "MarginSoftmaxLoss",
    "NormFaceLoss",
    "PairCircleLoss",
    "SoftmaxCenterLoss",
    "SoftmaxLoss",
    "SphereFace2Loss",
    "SphereFaceLoss",
    "TripletLoss",
    "build_loss",
    "build_margin_loss",
]
