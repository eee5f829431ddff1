"""AdaFace: quality (feature-norm) adaptive margin.

Kim et al., "AdaFace: Quality Adaptive Margin for Face Recognition", CVPR 2022. The feature norm
is a proxy of image quality. With ``‖x‖`` clipped to [0.001, 100] and detached, its batch mean
``μ`` and (unbiased) standard deviation ``σ`` are followed by EMAs (momentum 0.01, started at
μ = 20, σ = 100 and updated before use), and

    ẑ = clip( h·(‖x‖ − μ) / (σ + ε), −1, 1 )          (h = 0.333)
    g_angle = −m·ẑ,   g_add = m + m·ẑ
    target logit = cos( clip(θ_y + g_angle, ε, π − ε) ) − g_add.

High-quality samples (ẑ → 1) get a CosFace-like margin ``cos θ − 2m``; low-quality ones
(ẑ → −1) an ArcFace-like ``cos(θ + m)``. Paper defaults: s = 64, m = 0.4. When ẑ = 0 (for
instance h = 0) it is CosFace with margin m.
"""

from __future__ import annotations

import math

import torch

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss, safe_acos


class AdaFaceLoss(MarginSoftmaxLoss):
    """Feature-norm adaptive angular + additive margin with batch-statistics EMA."""

    paper = "Kim et al., AdaFace, CVPR 2022"
    batch_mean: torch.Tensor  # buffers: EMA of the feature norms' batch statistics
    batch_std: torch.Tensor

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.4,
        *,
        h: float = 0.333,
        momentum: float = 0.01,
        eps: float = 1e-3,
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.margin, self.h, self.momentum, self.eps = float(margin), float(h), float(momentum), float(eps)
        self.register_buffer("batch_mean", torch.tensor(20.0))
        self.register_buffer("batch_std", torch.tensor(100.0))

    def safe_norms(self, ctx: MarginContext) -> torch.Tensor:
        return ctx.norms.detach().clamp(0.001, 100.0)

    def update_statistics(self, ctx: MarginContext) -> None:
        norms = self.safe_norms(ctx).to(self.batch_mean.dtype)
        self.batch_mean.mul_(1.0 - self.momentum).add_(self.momentum * norms.mean())
        if norms.numel() > 1:
            self.batch_std.mul_(1.0 - self.momentum).add_(self.momentum * norms.std())

    def margin_scaler(self, ctx: MarginContext) -> torch.Tensor:
        """ẑ ∈ [−1, 1] per sample."""
        mean, std = self.batch_mean.to(ctx.norms.dtype), self.batch_std.to(ctx.norms.dtype)
        return ((self.safe_norms(ctx) - mean) / (std + self.eps) * self.h).clamp(-1.0, 1.0)

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        z = self.margin_scaler(ctx)
        theta = (safe_acos(cos_t) - self.margin * z).clamp(self.eps, math.pi - self.eps)
        return torch.cos(theta) - (self.margin + self.margin * z)
