"""Cross entropy on class logits, with optional label smoothing — for classification tasks.

For backbones that emit class logits themselves (``fer_vgg``), so the head owns no weights:

    L = −Σ_j q_j log softmax(z)_j,   q = (1 − ε)·onehot(y) + ε / K,

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016 (label
smoothing regularisation, ε). With ε = 0 it is the plain cross entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faceprint.errors import InvalidInput


class CrossEntropyLoss(nn.Module):
    """Mean cross entropy of ``(N, K)`` logits against ``(N,)`` int64 labels, label smoothing ``ε``."""

    paper = "Szegedy et al., Rethinking the Inception Architecture (label smoothing), CVPR 2016"
    needs_classes = False
    pair_based = False

    def __init__(self, *, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise InvalidInput(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
            raise InvalidInput(f"expected (N, K) logits and (N,) labels, got {tuple(logits.shape)} and {tuple(labels.shape)}")
        if labels.dtype != torch.int64:
            raise InvalidInput(f"labels must be int64, got {labels.dtype}")
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)


__all__ = ["CrossEntropyLoss"]
