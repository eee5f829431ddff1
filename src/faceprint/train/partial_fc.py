"""Partial FC: train with millions of identities by sampling class centres.

An, Zhu et al., "Partial FC: Training 10 Million Identities on a Single Machine", ICCVW 2021
(also "Killing Two Birds with One Stone", CVPR 2022). The class-centre matrix is sharded across
ranks (rank ``r`` holds a contiguous block of classes); every step

1. features and labels are all-gathered, so each rank sees the whole global batch;
2. each rank keeps the centres of the positive classes of the batch that live in its shard and
   fills up to ``ceil(r·C_local)`` centres with negatives sampled uniformly from the rest of its
   shard (``sample_rate = 1`` keeps everything);
3. it computes logits for those centres with any margin loss of
   :mod:`faceprint.train.losses` (the loss is used through its hooks only — build it with
   ``num_classes=0``, or any size: its own weight is ignored);
4. the softmax is distributed: all-reduce of the row maximum and of the sum of exponentials
   (:func:`faceprint.train.distributed.sharded_cross_entropy`).

Every rank returns the same global mean loss. The gradient each rank obtains for its *local*
features and its weight shard is the gradient of that global loss (the all-gather's backward sums
feature gradients over ranks), so 2 processes give exactly what 1 process gives on the whole
batch. A backbone wrapped in ``DistributedDataParallel`` averages its gradients over ranks, i.e. it
sees that gradient divided by the world size (a constant learning-rate factor). Parameters of the
margin loss itself (SphereFace2's bias, NormFace's learned scale) are replicated: their gradients
are summed over ranks by a hook.

The sampled centres are indexed from the full shard parameter, so unsampled rows get a zero
gradient (optimisers with momentum or weight decay still move them, as in Partial FC v2).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.distributed import all_gather, all_gather_nograd, world_info
from faceprint.train.losses.base import MarginSoftmaxLoss


def shard_bounds(num_classes: int, rank: int, world: int) -> tuple[int, int]:
    """``[start, end)`` of the classes held by ``rank``: contiguous blocks, the first
    ``num_classes % world`` ranks holding one more."""
    base, extra = divmod(num_classes, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class PartialFC(nn.Module):
    """A sampled, sharded classification head around a margin loss.

    Args:
        margin_loss: a :class:`MarginSoftmaxLoss` (its hooks, scale and buffers are used).
        embedding_dim, num_classes: size of the whole (unsharded) head.
        sample_rate: fraction ``r`` of each shard's centres used per step (positives always kept).
        process_group: the group the centres are sharded over (default: the default group when
            ``torch.distributed`` is initialised, else a single process).
        seed: seeds the initialisation of this shard and the negative sampling.
    """

    step: torch.Tensor  # buffer: training steps taken (seeds the negative sampling)

    def __init__(
        self,
        margin_loss: MarginSoftmaxLoss,
        embedding_dim: int,
        num_classes: int,
        sample_rate: float = 0.1,
        *,
        process_group: Any = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(margin_loss, MarginSoftmaxLoss):
            raise InvalidInput(f"PartialFC needs a margin loss from faceprint.train.losses, got {type(margin_loss).__name__}")
        if getattr(margin_loss, "bias", None) is not None and type(margin_loss).__name__ == "SoftmaxLoss":
            raise InvalidInput("SoftmaxLoss with a per-class bias cannot be sharded; use SoftmaxLoss(..., bias=False)")
        if not 0.0 < sample_rate <= 1.0:
            raise InvalidInput(f"sample_rate must be in (0, 1], got {sample_rate}")
        self.margin_loss = margin_loss
        self.embedding_dim, self.num_classes, self.sample_rate = int(embedding_dim), int(num_classes), float(sample_rate)
        self.process_group = process_group
        self.rank, self.world_size = world_info(process_group)
        if self.num_classes < self.world_size:
            raise InvalidInput(f"{self.num_classes} classes cannot be sharded over {self.world_size} ranks")
        self.class_start, self.class_end = shard_bounds(self.num_classes, self.rank, self.world_size)
        self.num_local = self.class_end - self.class_start
        self.num_sample = max(1, math.ceil(self.sample_rate * self.num_local)) if self.num_local else 0
        self.seed = int(seed)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.rank)
        self.weight = nn.Parameter(torch.normal(0.0, 0.01, (self.num_local, self.embedding_dim), generator=gen))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.last_index: torch.Tensor | None = None  # global class ids used in the last step
        if self.world_size > 1:
            for p in margin_loss.parameters():
                if p is not getattr(margin_loss, "weight", None) and p.requires_grad:
                    p.register_hook(self._sum_over_ranks)

    def _sum_over_ranks(self, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=self.process_group)
        return grad

    @torch.no_grad()
    def load_full_weight(self, full: torch.Tensor) -> None:
        """Set this shard from the whole ``(C, D)`` centre matrix (tests, conversions)."""
        if tuple(full.shape) != (self.num_classes, self.embedding_dim):
            raise InvalidInput(f"expected a ({self.num_classes}, {self.embedding_dim}) matrix, got {tuple(full.shape)}")
        self.weight.copy_(full[self.class_start : self.class_end])

    @torch.no_grad()
    def sample(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(index, target)``: local rows of the centres to use, and each sample's column among
        them (-1 when its class is on another rank)."""
        local = labels - self.class_start
        in_shard = (local >= 0) & (local < self.num_local)
        local = torch.where(in_shard, local, torch.full_like(local, -1))
        if self.num_sample >= self.num_local:
            return torch.arange(self.num_local, device=labels.device), local
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(self.step) * 7919 + self.rank)
        score = torch.rand(self.num_local, generator=gen).to(labels.device)
        positives = torch.unique(local[in_shard])
        score[positives] = 2.0  # always kept
        k = max(self.num_sample, int(positives.numel()))
        index = torch.topk(score, k).indices.sort().values
        remap = torch.full((self.num_local,), -1, dtype=torch.long, device=labels.device)
        remap[index] = torch.arange(k, device=labels.device)
        target = torch.where(in_shard, remap[local.clamp_min(0)], torch.full_like(local, -1))
        return index, target

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Global mean loss of the (global) batch; ``embeddings``/``labels`` are this rank's part."""
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_dim:
            raise InvalidInput(f"embeddings must be (B, {self.embedding_dim}), got {tuple(embeddings.shape)}")
        labels = labels.long()
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise InvalidInput(f"labels must be in [0, {self.num_classes})")
        feats = all_gather(embeddings, self.process_group)
        labs = all_gather_nograd(labels, self.process_group)
        index, target = self.sample(labs)
        self.last_index = index + self.class_start
        weight = self.weight if index.numel() == self.num_local else self.weight[index]
        loss = self.margin_loss.compute(feats, labs, weight, target_index=target, group=self.process_group)
        if self.training:
            self.step += 1
        return loss

    def extra_repr(self) -> str:
        return (
            f"classes={self.num_classes}, shard=[{self.class_start}, {self.class_end}), "
            f"sample_rate={self.sample_rate}, rank={self.rank}/{self.world_size}"
        )
