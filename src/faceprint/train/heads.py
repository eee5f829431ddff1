"""Build the training head (the part after the backbone) from a loss name and options.

``build_head("arcface", 128, 10_000, sample_rate=0.1)`` gives ArcFace through
:class:`~faceprint.train.partial_fc.PartialFC`; ``imprinting=True`` wraps a margin loss in
:class:`~faceprint.train.imprinting.DynamicWeightImprinting`. Pair/triplet losses need no class
count.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.imprinting import DynamicWeightImprinting
from faceprint.train.losses import LOSSES, MARGIN_LOSSES, build_loss, build_margin_loss
from faceprint.train.partial_fc import PartialFC


def build_head(
    name: str,
    embedding_dim: int,
    num_classes: int,
    *,
    params: dict[str, Any] | None = None,
    sample_rate: float = 1.0,
    imprinting: bool = False,
    process_group: Any = None,
    seed: int = 0,
) -> nn.Module:
    """The loss module to train with: ``head(embeddings, labels) -> scalar loss``."""
    params = dict(params or {})
    if name not in LOSSES:
        raise InvalidInput(f"unknown loss {name!r}; known: {sorted(LOSSES)}")
    if (sample_rate < 1.0 or process_group is not None) and name not in MARGIN_LOSSES:
        raise InvalidInput(f"Partial FC works with the margin losses {MARGIN_LOSSES}, not {name!r}")
    if imprinting and name not in MARGIN_LOSSES:
        raise InvalidInput(f"weight imprinting works with the margin losses {MARGIN_LOSSES}, not {name!r}")
    if imprinting and sample_rate < 1.0:
        raise InvalidInput("weight imprinting and Partial FC sampling cannot be combined")
    if sample_rate < 1.0 or process_group is not None:
        if name == "sphereface2":
            params.setdefault("total_classes", num_classes)
        if name == "softmax":
            params.setdefault("bias", False)
        margin = build_margin_loss(name, embedding_dim, 0, **params)
        return PartialFC(margin, embedding_dim, num_classes, sample_rate, process_group=process_group, seed=seed)
    if imprinting:
        return DynamicWeightImprinting(build_margin_loss(name, embedding_dim, num_classes, **params))
    return build_loss(name, embedding_dim, num_classes, **params)


def is_pair_based(name: str) -> bool:
    """Whether loss ``name`` wants P×K batches."""
    return bool(getattr(LOSSES.get(name), "pair_based", False))
