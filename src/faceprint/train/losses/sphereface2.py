"""SphereFace2: one-vs-all binary classification instead of a softmax over classes.

Wen et al., "SphereFace2: Binary Classification is All You Need for Deep Face Recognition",
ICLR 2022. Each class centre is a binary classifier; with the similarity adjustment
``g(z) = 2·((z + 1)/2)^t − 1``, an additive margin ``m``, scale ``r``, a shared bias ``b`` and a
positive/negative balance ``λ`` (the "C" variant):

    L = (λ/r)·log(1 + exp(−(r·(g(cos θ_y) − m) + b)))
      + ((1 − λ)/r)·Σ_{i≠y} log(1 + exp(r·(g(cos θ_i) + m) + b)),

averaged over the batch. Paper defaults: λ = 0.7, r = 40, m = 0.4, t = 3. ``b`` is learned; it
starts where the positive and the (C − 1) negative terms have gradients of equal size for
features orthogonal to every centre (cos θ = 0), i.e. the root of
``λ·σ(−(a_y + b)) = (1 − λ)(C − 1)·σ(a_i + b)`` with ``a_y = r·(g(0) − m)``, ``a_i = r·(g(0) + m)``.
``loss_weight`` multiplies the loss (the per-class terms are small). Since the loss is a sum over
classes it shards trivially under Partial FC. With t = 1, m = 0 and λ = ½ it is per-class
logistic regression on ``r·cos θ + b``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from faceprint.train.distributed import global_sum
from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss


def balanced_bias(num_classes: int, lam: float, r: float, m: float, t: float) -> float:
    """The bias that balances positive and negative gradients at cos θ = 0 (see module doc)."""
    if num_classes < 2:
        return 0.0
    g0 = 2.0 * 0.5**t - 1.0
    a_y, a_i = r * (g0 - m), r * (g0 + m)
    z = lam / ((1.0 - lam) * (num_classes - 1))
    # With v = exp(a_i + b): exp(a_y − a_i)·v² + (1 − z)·v − z = 0, positive root (rationalised).
    v = 2.0 * z / ((1.0 - z) + math.sqrt((1.0 - z) ** 2 + 4.0 * z * math.exp(a_y - a_i)))
    return math.log(v) - a_i


class SphereFace2Loss(MarginSoftmaxLoss):
    """One-vs-all binary losses with similarity adjustment ``g``, margin ``m``, scale ``r``."""

    paper = "Wen et al., SphereFace2, ICLR 2022 (variant C)"

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 40.0,
        margin: float = 0.4,
        *,
        lam: float = 0.7,
        t: float = 3.0,
        loss_weight: float = 1.0,
        bias_init: float | None = None,
        total_classes: int | None = None,
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.margin, self.lam, self.t, self.loss_weight = float(margin), float(lam), float(t), float(loss_weight)
        n = total_classes or num_classes
        b = balanced_bias(n, self.lam, self.scale, self.margin, self.t) if bias_init is None else float(bias_init)
        self.bias = nn.Parameter(torch.tensor(b))

    def similarity(self, cos: torch.Tensor) -> torch.Tensor:
        return 2.0 * ((cos + 1.0) / 2.0) ** self.t - 1.0

    def class_logits(self, embeddings: torch.Tensor, weight: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        cos = self.cosine(embeddings, weight)
        ctx.cos = cos
        mask = ctx.target_mask(cos.shape)
        ctx.cache["mask"] = mask
        g = self.similarity(cos)
        shifted = torch.where(mask, g - self.margin, g + self.margin)
        return self.scale * shifted + self.bias

    def reduce(self, logits: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        mask = ctx.cache["mask"]
        pos = torch.where(mask, F.softplus(-logits), torch.zeros_like(logits)).sum(dim=1)
        neg = torch.where(mask, torch.zeros_like(logits), F.softplus(logits)).sum(dim=1)
        per_sample = (self.lam * pos + (1.0 - self.lam) * neg) / self.scale
        return self.loss_weight * global_sum(per_sample.sum(), ctx.group) / per_sample.shape[0]

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.scale * self.similarity(self.cosine(embeddings, self.weight)) + self.bias
