"""Online triplet miners (FaceNet, Hermans et al.).

Each miner looks at a batch's pairwise distance matrix (no gradient needed) and labels, and
returns index tensors ``(anchor, positive, negative)`` of the triplets to train on; the loss then
recomputes those distances with gradients. An anchor needs at least one positive (same label,
another sample) and one negative in the batch: use :class:`~faceprint.train.samplers.PKSampler`.

* :func:`batch_all_triplets` — every valid triplet (Hermans et al. "batch all").
* :func:`batch_hard_triplets` — per anchor the farthest positive and the closest negative
  (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017).
* :func:`semi_hard_triplets` — per (anchor, positive) pair the closest negative that is still
  farther than the positive, ``d(a,p) < d(a,n)`` (Schroff et al., "FaceNet", CVPR 2015, §3.2);
  when no negative is farther, the farthest negative (the least hard one) is used, as
  TensorFlow's ``triplet_semihard_loss`` does.
"""

from __future__ import annotations

import torch

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def pairwise_distances(x: torch.Tensor, *, squared: bool = True) -> torch.Tensor:
    """``(B, B)`` Euclidean distances (squared by default); the diagonal is exactly 0."""
    sq = (x * x).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min(0.0)
    d2 = d2 * (1.0 - torch.eye(len(x), dtype=x.dtype, device=x.device))
    if squared:
        return d2
    return torch.sqrt(d2.clamp_min(1e-12)) * (d2 > 0)


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def batch_all_triplets(labels: torch.Tensor) -> Triplets:
    """All ``(a, p, n)`` with ``y_a = y_p ≠ y_n`` and ``a ≠ p``."""
    pos, neg = _masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    a, p, n = torch.nonzero(valid, as_tuple=True)
    return a, p, n


def batch_hard_triplets(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Per anchor: hardest (farthest) positive and hardest (closest) negative."""
    pos, neg = _masks(labels)
    dist = dist.detach()
    valid = pos.any(dim=1) & neg.any(dim=1)
    p = torch.where(pos, dist, torch.full_like(dist, -torch.inf)).argmax(dim=1)
    n = torch.where(neg, dist, torch.full_like(dist, torch.inf)).argmin(dim=1)
    a = torch.nonzero(valid).squeeze(1)
    return a, p[a], n[a]


def semi_hard_triplets(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Per positive pair ``(a, p)``: the closest negative with ``d(a,n) > d(a,p)``; if none, the
    farthest negative."""
    pos, neg = _masks(labels)
    dist = dist.detach()
    a, p = torch.nonzero(pos & neg.any(dim=1, keepdim=True), as_tuple=True)
    d_ap = dist[a, p][:, None]
    d_an = dist[a]  # (T, B)
    neg_a = neg[a]
    outside = neg_a & (d_an > d_ap)
    closest_outside = torch.where(outside, d_an, torch.full_like(d_an, torch.inf)).argmin(dim=1)
    farthest = torch.where(neg_a, d_an, torch.full_like(d_an, -torch.inf)).argmax(dim=1)
    n = torch.where(outside.any(dim=1), closest_outside, farthest)
    return a, p, n


MINERS = {"batch_all", "batch_hard", "semi_hard"}
