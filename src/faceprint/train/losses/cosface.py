"""CosFace / AM-Softmax: additive cosine margin.

Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face Recognition", CVPR 2018; Wang et al.,
"Additive Margin Softmax for Face Verification", IEEE SPL 2018:

    L = −log( exp(s·(cos θ_y − m)) / (exp(s·(cos θ_y − m)) + Σ_{j≠y} exp(s·cos θ_j)) ).

Paper defaults: s = 64, m = 0.35. With m = 0 it is NormFace.
"""

from __future__ import annotations

import torch

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss


class CosFaceLoss(MarginSoftmaxLoss):
    """Target logit ``cos θ_y − m``, scale ``s``."""

    paper = "Wang et al., CosFace, CVPR 2018 (AM-Softmax, SPL 2018)"

    def __init__(self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.35) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.margin = float(margin)

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        return cos_t - self.margin
