"""ArcFace: additive angular margin.

Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR 2019:

    L = −log( exp(s·cos(θ_y + m)) / (exp(s·cos(θ_y + m)) + Σ_{j≠y} exp(s·cos θ_j)) ),

computed as ``cos θ·cos m − sin θ·sin m``. As in the paper's reference implementation, where
``θ_y + m > π`` (``cos θ_y ≤ th = cos(π − m)``) the target logit falls back to
``cos θ_y − mm`` with ``mm = sin(π − m)·m`` so it stays monotonic in θ; ``easy_margin=True``
applies the margin only where ``cos θ_y > 0``. Paper defaults: s = 64, m = 0.5. With m = 0 it is
NormFace.
"""

from __future__ import annotations

import torch

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss, additive_angular


class ArcFaceLoss(MarginSoftmaxLoss):
    """Target logit ``cos(θ_y + m)`` (with the ``th``/``mm`` fallback), scale ``s``."""

    paper = "Deng et al., ArcFace, CVPR 2019"

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.5, *, easy_margin: bool = False
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.margin = float(margin)
        self.easy_margin = bool(easy_margin)

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        return additive_angular(cos_t, self.margin, easy_margin=self.easy_margin)
