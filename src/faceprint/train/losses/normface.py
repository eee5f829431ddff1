"""NormFace: normalised softmax.

Wang et al., "NormFace: L2 Hypersphere Embedding for Face Verification", ACM MM 2017: normalise
features and class weights and rescale the cosine,

    L = −log( exp(s·cos θ_y) / Σ_j exp(s·cos θ_j) ),

with a fixed or learned scale ``s`` (a bounded ``s`` keeps the loss from vanishing on the unit
sphere). Also the "no margin" case of every other loss here.
"""

from __future__ import annotations

import torch
from torch import nn

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss


class NormFaceLoss(MarginSoftmaxLoss):
    """Cosine logits ``s·cos θ_j``; ``learn_scale=True`` makes ``s`` a parameter (NormFace §3.3)."""

    paper = "Wang et al., NormFace, ACM MM 2017"

    def __init__(self, embedding_dim: int, num_classes: int, scale: float = 16.0, *, learn_scale: bool = False) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.learned_scale = nn.Parameter(torch.tensor(float(scale))) if learn_scale else None

    def logit_scale(self, ctx: MarginContext) -> float | torch.Tensor:
        return self.scale if self.learned_scale is None else self.learned_scale
