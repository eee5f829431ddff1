"""MagFace: magnitude-aware margin and magnitude regulariser.

Meng et al., "MagFace: A Universal Representation for Face Recognition and Quality Assessment",
CVPR 2021. The feature magnitude ``a = ‖x‖`` (clipped to [l_a, u_a]) sets an ArcFace margin that
grows linearly with it, and a regulariser rewards large magnitudes with a diminishing return:

    m(a) = (u_m − l_m)/(u_a − l_a)·(a − l_a) + l_m
    g(a) = a/u_a² + 1/a
    L = −log( exp(s·cos(θ_y + m(a))) / (exp(s·cos(θ_y + m(a))) + Σ_{j≠y} exp(s·cos θ_j)) ) + λ_g·mean g(a)

The target logit uses the same ``th``/``mm`` fallback as ArcFace with the per-sample margin.
Gradients flow through ``a`` in both terms. Paper defaults: s = 64, l_a = 10, u_a = 110,
l_m = 0.45, u_m = 0.8, λ_g = 35. With l_m = u_m = m it is ArcFace(m) + λ_g·g(a).
"""

from __future__ import annotations

import torch

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss, additive_angular


class MagFaceLoss(MarginSoftmaxLoss):
    """Magnitude-dependent ArcFace margin + λ_g·g(a)."""

    paper = "Meng et al., MagFace, CVPR 2021"

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        *,
        l_a: float = 10.0,
        u_a: float = 110.0,
        l_m: float = 0.45,
        u_m: float = 0.8,
        lambda_g: float = 35.0,
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.l_a, self.u_a, self.l_m, self.u_m, self.lambda_g = map(float, (l_a, u_a, l_m, u_m, lambda_g))

    def magnitude(self, ctx: MarginContext) -> torch.Tensor:
        return ctx.norms.clamp(self.l_a, self.u_a)

    def adaptive_margin(self, a: torch.Tensor) -> torch.Tensor:
        return (self.u_m - self.l_m) / (self.u_a - self.l_a) * (a - self.l_a) + self.l_m

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        return additive_angular(cos_t, self.adaptive_margin(self.magnitude(ctx)))

    def extra_loss(self, ctx: MarginContext) -> torch.Tensor | None:
        if self.lambda_g == 0:
            return None
        a = self.magnitude(ctx)
        return self.lambda_g * (a / self.u_a**2 + 1.0 / a).mean()
