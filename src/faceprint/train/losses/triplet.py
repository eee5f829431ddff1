"""Triplet loss with online mining.

Schroff, Kalenichenko & Philbin, "FaceNet: A Unified Embedding for Face Recognition and
Clustering", CVPR 2015: on L2-normalised embeddings,

    L = mean over mined triplets of [ ‖f(a) − f(p)‖² − ‖f(a) − f(n)‖² + α ]₊      (α = 0.2),

with triplets mined online inside the batch (:mod:`faceprint.train.miners`: ``semi_hard`` as in
FaceNet, ``batch_hard`` and ``batch_all`` as in Hermans et al. 2017). ``squared=False`` uses plain
Euclidean distances (Hermans et al.). ``batch_all`` averages over the triplets with a positive loss
only (Hermans et al.'s "BA≠0"), the others over all mined triplets. Batches must hold several images
per identity (:class:`~faceprint.train.samplers.PKSampler`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train import miners


class TripletLoss(nn.Module):
    """FaceNet triplet loss; ``miner`` in {"semi_hard", "batch_hard", "batch_all"}."""

    paper = "Schroff et al., FaceNet, CVPR 2015; Hermans et al. 2017 (batch hard)"
    needs_classes = False
    pair_based = True

    def __init__(self, margin: float = 0.2, miner: str = "batch_hard", *, squared: bool = True, normalize: bool = True) -> None:
        super().__init__()
        if miner not in miners.MINERS:
            raise InvalidInput(f"unknown miner {miner!r}; known: {sorted(miners.MINERS)}")
        self.margin, self.miner, self.squared, self.normalize = float(margin), miner, bool(squared), bool(normalize)
        self.last_num_triplets = 0

    def mine(self, dist: torch.Tensor, labels: torch.Tensor) -> miners.Triplets:
        if self.miner == "batch_all":
            return miners.batch_all_triplets(labels)
        if self.miner == "batch_hard":
            return miners.batch_hard_triplets(dist, labels)
        return miners.semi_hard_triplets(dist, labels)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = F.normalize(embeddings, dim=1) if self.normalize else embeddings
        dist = miners.pairwise_distances(x, squared=self.squared)
        a, p, n = self.mine(dist, labels)
        self.last_num_triplets = int(a.numel())
        if a.numel() == 0:
            return embeddings.sum() * 0.0  # no valid triplet in this batch
        losses = F.relu(dist[a, p] - dist[a, n] + self.margin)
        if self.miner == "batch_all":
            active = losses > 0
            return losses[active].mean() if bool(active.any()) else losses.sum() * 0.0
        return losses.mean()
