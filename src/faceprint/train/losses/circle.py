"""Circle loss: self-paced weighting of within-class and between-class similarities.

Sun et al., "Circle Loss: A Unified Perspective of Pair Similarity Optimization", CVPR 2020. For
an anchor with within-class similarities ``s_p`` and between-class similarities ``s_n``,

    L = log[ 1 + Σ_n exp(γ·α_n·(s_n − Δ_n)) · Σ_p exp(−γ·α_p·(s_p − Δ_p)) ],
    α_p = [1 + m − s_p]₊,  α_n = [s_n + m]₊  (treated as constants),  Δ_p = 1 − m,  Δ_n = m.

*Class-level* (:class:`CircleLoss`): the similarities are cosines to class centres, one positive
per sample, so ``L`` is a softmax cross entropy with target logit ``γ·α_p·(s_p − Δ_p)`` and other
logits ``γ·α_n·(s_n − Δ_n)`` (paper's face setting: γ = 256, m = 0.25). *Pair-level*
(:class:`PairCircleLoss`): the similarities are cosines between the batch's samples, one term per
anchor, averaged over anchors that have a positive and a negative.

Without the self-paced weights (``self_paced=False``: α_p = α_n = 1) the class-level loss is
CosFace with scale γ and margin ``1 − 2m`` (a common shift of the logits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss


class CircleLoss(MarginSoftmaxLoss):
    """Class-level Circle loss on the margin template (``scale`` is γ)."""

    paper = "Sun et al., Circle Loss, CVPR 2020 (class-level)"

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 256.0, margin: float = 0.25, *, self_paced: bool = True
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale=scale)
        self.margin, self.self_paced = float(margin), bool(self_paced)

    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        alpha = (1.0 + self.margin - cos_t.detach()).clamp_min(0.0) if self.self_paced else 1.0
        return alpha * (cos_t - (1.0 - self.margin))

    def other_logits(self, cos: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        alpha = (cos.detach() + self.margin).clamp_min(0.0) if self.self_paced else 1.0
        return alpha * (cos - self.margin)


class PairCircleLoss(nn.Module):
    """Pair-level Circle loss on the cosine similarities of a batch (no class centres)."""

    paper = "Sun et al., Circle Loss, CVPR 2020 (pair-level)"
    needs_classes = False
    pair_based = True

    def __init__(self, scale: float = 80.0, margin: float = 0.4) -> None:
        super().__init__()
        self.scale, self.margin = float(scale), float(margin)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = F.normalize(embeddings, dim=1)
        sim = x @ x.T
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        pos, neg = same & ~eye, ~same
        ap = (1.0 + self.margin - sim.detach()).clamp_min(0.0)
        an = (sim.detach() + self.margin).clamp_min(0.0)
        logit_p = -self.scale * ap * (sim - (1.0 - self.margin))
        logit_n = self.scale * an * (sim - self.margin)
        neg_inf = torch.finfo(sim.dtype).min
        lse_p = torch.logsumexp(logit_p.masked_fill(~pos, neg_inf), dim=1)
        lse_n = torch.logsumexp(logit_n.masked_fill(~neg, neg_inf), dim=1)
        valid = pos.any(dim=1) & neg.any(dim=1)
        if not bool(valid.any()):
            return embeddings.sum() * 0.0
        return F.softplus(lse_p + lse_n)[valid].mean()
