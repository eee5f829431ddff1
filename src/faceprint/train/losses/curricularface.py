"""CurricularFace: adaptive curriculum on the hard negatives.

Huang et al., "CurricularFace: Adaptive Curriculum Learning Loss for Deep Face Recognition",
CVPR 2020. The target logit is ArcFace's ``cos(θ_y + m)`` (same ``th``/``mm`` fallback); a
non-target cosine that beats it (a *hard* negative, ``cos θ_j > cos(θ_y + m)``) is modulated,

    N(t, cos θ_j) = cos θ_j                 if cos θ_j ≤ cos(θ_y + m)
                  = cos θ_j·(t + cos θ_j)   otherwise,

where ``t`` follows the mean target cosine by an EMA, ``t ← α·mean(cos θ_y) + (1 − α)·t``
(α = 0.01, t₀ = 0), updated before use in each training step. Early on ``t ≈ 0`` shrinks hard
negatives (easy samples first); as ``t`` grows they are emphasised. Paper defaults: s = 64,
m = 0.5. With no hard negatives it equals ArcFace.
"""

from __future__ import annotations

import math

import torch

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss, additive_angular, safe_sin


class CurricularFaceLoss(MarginSoftmaxLoss):
    """ArcFace target + hard-negative modulation ``cos·(t + cos)`` with EMA ``t``."""

    paper = "Huang et al., CurricularFace, CVPR 2020"
    t: torch.Tensor  # buffer: EMA of the target cosine

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.5, *, momentum: float = 0.01
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.margin, self.momentum = float(margin), float(momentum)
        self.register_buffer("t", torch.zeros(()))

    def update_statistics(self, ctx: MarginContext) -> None:
        mean = ctx.require("target_cos").detach().mean().to(self.t.dtype)
        self.t.mul_(1.0 - self.momentum).add_(self.momentum * mean)

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        # cos(θ + m) without fallback decides which negatives are hard (reference implementation).
        ctx.cache["cos_theta_m"] = (cos_t * math.cos(self.margin) - safe_sin(cos_t) * math.sin(self.margin)).detach()
        return additive_angular(cos_t, self.margin)

    def other_logits(self, cos: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        hard = cos > ctx.cache["cos_theta_m"][:, None]
        t = self.t.to(cos.dtype)
        return torch.where(hard, cos * (t + cos), cos)
