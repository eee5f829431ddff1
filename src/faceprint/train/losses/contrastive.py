"""Contrastive loss and DeepID2's joint identification-verification signal.

Sun, Wang & Tang, "Deep Learning Face Representation by Joint Identification-Verification",
NIPS 2014 (DeepID2). Identification: softmax cross entropy over identities. Verification, on a
pair of features ``f_i, f_j`` (Hadsell, Chopra & LeCun 2006):

    Verif = ½‖f_i − f_j‖²                    if y_i = y_j
          = ½ max(0, m − ‖f_i − f_j‖)²       otherwise,

and the training signal is ``Ident + λ·Verif`` (the paper's λ ≈ 0.05). Here the verification term
is averaged over all pairs ``i < j`` of the batch (DeepID2 samples pairs; a P×K batch holds both
kinds). DeepID2 also learns ``m``; ``learn_margin=True`` makes it a parameter.
"""

from __future__ import annotations

import torch
from torch import nn

from faceprint.train.losses.softmax import SoftmaxLoss


class ContrastiveLoss(nn.Module):
    """Mean contrastive loss over all pairs ``i < j`` of the batch (raw features, L2 distance)."""

    paper = "Hadsell et al. 2006; Sun et al., DeepID2, NIPS 2014 (verification signal)"
    needs_classes = False
    pair_based = True

    def __init__(self, margin: float = 1.0, *, learn_margin: bool = False) -> None:
        super().__init__()
        m = torch.tensor(float(margin))
        if learn_margin:
            self.margin = nn.Parameter(m)
        else:
            self.register_buffer("margin", m)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
        if i.numel() == 0:
            return embeddings.sum() * 0.0
        diff = embeddings[i] - embeddings[j]
        d2 = (diff * diff).sum(dim=1)
        same = labels[i] == labels[j]
        d = torch.sqrt(d2.clamp_min(1e-12))
        neg = torch.relu(self.margin.to(d.dtype) - d) ** 2
        return 0.5 * torch.where(same, d2, neg).mean()


class JointIdentificationVerificationLoss(nn.Module):
    """DeepID2: softmax identification + ``lam`` × contrastive verification."""

    paper = "Sun et al., DeepID2, NIPS 2014"
    needs_classes = True
    pair_based = True

    def __init__(
        self, embedding_dim: int, num_classes: int, *, lam: float = 0.05, margin: float = 1.0, learn_margin: bool = False
    ) -> None:
        super().__init__()
        self.identification = SoftmaxLoss(embedding_dim, num_classes)
        self.verification = ContrastiveLoss(margin, learn_margin=learn_margin)
        self.lam = float(lam)

    @property
    def weight(self) -> nn.Parameter:
        return self.identification.weight

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.identification(embeddings, labels) + self.lam * self.verification(embeddings, labels)

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.identification.predict_logits(embeddings)
