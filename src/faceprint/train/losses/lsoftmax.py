"""L-Softmax: large-margin softmax (unnormalised weights and features).

Liu et al., "Large-Margin Softmax Loss for Convolutional Neural Networks", ICML 2016. The target
logit ``‖W_y‖‖x‖cos θ_y`` becomes ``‖W_y‖‖x‖ψ(θ_y)`` with SphereFace's ψ (SphereFace is L-Softmax
with normalised weights); the other logits stay ``‖W_j‖‖x‖cos θ_j = W_jᵀx``. The paper anneals with
``(β·cos θ + ψ(θ)) / (1 + β)``, implemented exactly as SphereFace's λ. With m = 1 it is the plain
softmax without bias.
"""

from __future__ import annotations

import torch

from faceprint.train.losses.base import MarginContext
from faceprint.train.losses.sphereface import SphereFaceLoss


class LSoftmaxLoss(SphereFaceLoss):
    """SphereFace without weight normalisation: logits scaled by ``‖x‖·‖W_j‖``."""

    paper = "Liu et al., L-Softmax, ICML 2016"

    def logit_scale(self, ctx: MarginContext) -> torch.Tensor:
        return ctx.norms[:, None] * ctx.require("weight_norms")[None, :]

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return embeddings @ self.weight.T
