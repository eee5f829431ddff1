"""Plain softmax (DeepFace).

Taigman et al., "DeepFace: Closing the Gap to Human-Level Performance in Face Verification",
CVPR 2014: identities are learned as an ordinary K-way classification,

    L = −log( exp(W_yᵀx + b_y) / Σ_j exp(W_jᵀx + b_j) ),

a linear layer on the raw (unnormalised) features followed by cross entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.losses.base import MarginContext, MarginSoftmaxLoss


class SoftmaxLoss(MarginSoftmaxLoss):
    """Linear layer (optional bias) + cross entropy; no normalisation, no margin.

    The bias is per class, so it cannot be sharded by Partial FC: use ``bias=False`` there.
    """

    paper = "Taigman et al., DeepFace, CVPR 2014"

    def __init__(self, embedding_dim: int, num_classes: int, *, bias: bool = True) -> None:
        super().__init__(embedding_dim, num_classes, scale=1.0)
        self.bias = nn.Parameter(torch.zeros(num_classes)) if bias else None

    def class_logits(self, embeddings: torch.Tensor, weight: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        if self.bias is not None and weight is not self.weight:
            raise InvalidInput("SoftmaxLoss with a bias cannot run on a subset of class centres (use bias=False)")
        return F.linear(embeddings, weight, self.bias)

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(embeddings, self.weight, self.bias)
