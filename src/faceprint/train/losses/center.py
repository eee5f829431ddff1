"""Center loss with its own centre update.

Wen, Zhang, Li & Qiao, "A Discriminative Feature Learning Approach for Deep Face Recognition",
ECCV 2016. Each class keeps a centre ``c_j`` in feature space and

    L_C = ½·mean_i ‖x_i − c_{y_i}‖²

pulls features to their centre (the paper sums over the mini-batch; here both L_C and the softmax
term are means, which keeps the paper's λ meaning). The centres are **not** trained by the
optimiser: after each training forward they move by the paper's rule (Eq. 4, Algorithm 1)

    Δc_j = Σ_i δ(y_i = j)·(c_j − x_i) / (1 + Σ_i δ(y_i = j))
    c_j ← c_j − α·Δc_j                                       (α = 0.5)

using the batch's features (detached) and the centres the loss was computed with; only the
classes present in the batch move. The centres are a buffer, so they are saved in ``state_dict``
and ignored by optimisers. ``∂L_C/∂x_i = (x_i − c_{y_i})/B``.
"""

from __future__ import annotations

import torch
from torch import nn

from faceprint.train.losses.softmax import SoftmaxLoss


class CenterLoss(nn.Module):
    """Center loss term with the α update rule (training mode only)."""

    paper = "Wen et al., Center Loss, ECCV 2016"
    needs_classes = True
    pair_based = False
    centers: torch.Tensor  # buffer (C, D)

    def __init__(self, embedding_dim: int, num_classes: int, *, alpha: float = 0.5) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.register_buffer("centers", torch.zeros(num_classes, embedding_dim))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        diff = embeddings - self.centers[labels].to(embeddings.dtype)  # indexing copies: safe to update after
        loss = 0.5 * (diff * diff).sum(dim=1).mean()
        if self.training:
            self.update_centers(embeddings.detach(), labels)
        return loss

    @torch.no_grad()
    def update_centers(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        """``c_j ← c_j − α·Σ_{i: y_i=j}(c_j − x_i) / (1 + n_j)`` for the classes in the batch."""
        classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        c = self.centers[classes]
        sums = torch.zeros_like(c).index_add_(0, inverse, embeddings.to(c.dtype))
        delta = (counts[:, None].to(c.dtype) * c - sums) / (1.0 + counts[:, None].to(c.dtype))
        self.centers[classes] = c - self.alpha * delta


class SoftmaxCenterLoss(nn.Module):
    """The paper's joint supervision ``L = L_S + λ·L_C`` (λ = 0.003, α = 0.5 for faces)."""

    paper = "Wen et al., Center Loss, ECCV 2016"
    needs_classes = True
    pair_based = False

    def __init__(self, embedding_dim: int, num_classes: int, *, lam: float = 0.003, alpha: float = 0.5) -> None:
        super().__init__()
        self.softmax = SoftmaxLoss(embedding_dim, num_classes)
        self.center = CenterLoss(embedding_dim, num_classes, alpha=alpha)
        self.lam = float(lam)

    @property
    def weight(self) -> nn.Parameter:
        return self.softmax.weight

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.softmax(embeddings, labels) + self.lam * self.center(embeddings, labels)

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.softmax.predict_logits(embeddings)
