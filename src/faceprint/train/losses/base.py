"""The template every classification ("normalised-softmax") face loss is written on.

A margin loss differs from the others only in how it turns cosines into logits, so one forward
does the shared work and calls small hooks:

1. ``cos θ_j = ⟨x/‖x‖, W_j/‖W_j‖⟩`` for every class ``j`` (:meth:`MarginSoftmaxLoss.cosine`);
2. ``cos θ_y`` of each sample's target class is collected (across shards when distributed);
3. :meth:`~MarginSoftmaxLoss.update_statistics` updates running statistics (EMA buffers),
   training mode only, under ``no_grad``;
4. :meth:`~MarginSoftmaxLoss.target_logit` maps ``cos θ_y`` to the target logit (the margin:
   ``cos θ − m``, ``cos(θ + m)``, ...), :meth:`~MarginSoftmaxLoss.other_logits` maps the
   non-target cosines (identity for most losses; CurricularFace and Circle modulate them);
5. everything is multiplied by :meth:`~MarginSoftmaxLoss.logit_scale` (a constant ``s``, or the
   feature norm for SphereFace), and reduced by :meth:`~MarginSoftmaxLoss.reduce` (softmax cross
   entropy; SphereFace2 sums per-class binary losses instead);
6. :meth:`~MarginSoftmaxLoss.extra_loss` adds a regulariser (MagFace's ``g(a)``).

The same forward runs on a *shard* of the class centres (:class:`~faceprint.train.partial_fc.PartialFC`):
``target_index`` then gives each sample's target column in the shard, ``-1`` when the class
lives on another rank, and the reduction is distributed (see :mod:`faceprint.train.distributed`).
Each loss module also owns a full weight matrix ``weight`` (``(C, D)``) for the ordinary
single-process use ``loss(embeddings, labels)``; ``num_classes=0`` makes a weightless "margin
only" module for Partial FC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.distributed import all_reduce_sum, replicated, sharded_cross_entropy, world_info

#: Clamp used before ``acos``/``sqrt`` so that gradients stay finite at cos θ = ±1.
COS_EPS = 1e-7


@dataclass
class MarginContext:
    """What the hooks may look at, for one forward pass.

    Attributes:
        labels: ``(B,)`` global class ids.
        target_index: ``(B,)`` column of each sample's class in the logits, ``-1`` when the class
            is on another shard.
        norms: ``(B,)`` L2 norms of the raw features (differentiable).
        cos: ``(B, C)`` cosines to the (local) class centres.
        target_cos: ``(B,)`` cosine to the target class (gathered across shards; differentiable
            where the target is local).
        weight_norms: ``(C,)`` norms of the raw class weights.
        group: the process group (None in a single process); ``world_size`` its size.
        training: the module's training flag.
        cache: scratch space shared between hooks of one forward pass.
    """

    labels: torch.Tensor
    target_index: torch.Tensor
    norms: torch.Tensor
    cos: torch.Tensor | None = None
    target_cos: torch.Tensor | None = None
    weight_norms: torch.Tensor | None = None
    group: Any = None
    world_size: int = 1
    training: bool = True
    cache: dict[str, Any] = field(default_factory=dict)

    def require(self, name: Literal["cos", "target_cos", "weight_norms"]) -> torch.Tensor:
        """The tensor ``name``, which :meth:`MarginSoftmaxLoss.class_logits` sets before it calls the hooks."""
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"MarginContext.{name} is not set yet (class_logits sets it before calling the hooks)")
        return value

    @property
    def present(self) -> torch.Tensor:
        return self.target_index >= 0

    def target_mask(self, shape: torch.Size | tuple[int, int]) -> torch.Tensor:
        """Boolean ``(B, C)`` mask of the target entries present in this shard."""
        mask = torch.zeros(shape, dtype=torch.bool, device=self.target_index.device)
        rows = torch.nonzero(self.present).squeeze(1)
        mask[rows, self.target_index[rows]] = True
        return mask


def safe_acos(cos: torch.Tensor) -> torch.Tensor:
    return torch.acos(cos.clamp(-1.0 + COS_EPS, 1.0 - COS_EPS))


def safe_sin(cos: torch.Tensor) -> torch.Tensor:
    """``sin θ`` from ``cos θ`` for θ in [0, π], with a finite gradient at the ends."""
    return torch.sqrt((1.0 - cos * cos).clamp_min(COS_EPS))


def additive_angular(cos: torch.Tensor, margin: float | torch.Tensor, *, easy_margin: bool = False) -> torch.Tensor:
    """ArcFace's target logit ``cos(θ + m)`` with its reference implementation's guards.

    ``cos(θ + m)`` stops decreasing in θ once ``θ + m > π``. The reference implementation
    therefore uses it only where ``θ < π − m`` (``cos θ > th = cos(π − m)``) and falls back to the
    CosFace-like ``cos θ − mm`` with ``mm = sin(π − m)·m`` beyond, which keeps the target logit
    monotonic. With ``easy_margin`` the margin applies only where ``cos θ > 0``.
    ``margin`` may be a per-sample tensor (MagFace).
    """
    m = torch.as_tensor(margin, dtype=cos.dtype, device=cos.device)
    phi = cos * torch.cos(m) - safe_sin(cos) * torch.sin(m)
    if easy_margin:
        return torch.where(cos > 0, phi, cos)
    th = torch.cos(math.pi - m)
    mm = torch.sin(math.pi - m) * m
    return torch.where(cos > th, phi, cos - mm)


class MarginSoftmaxLoss(nn.Module):
    """Base class: normalised features and class centres, cosine logits, hooks, scale, cross entropy.

    Subclasses override the hooks only. Class attributes:

    * ``paper``: the reference, shown in docs.
    * ``needs_classes = True``: the loss has a classification head (vs. pair/triplet losses).
    * ``pair_based = False``: the loss wants P×K batches (pair/triplet losses).
    """

    paper = ""
    needs_classes = True
    pair_based = False

    def __init__(self, embedding_dim: int, num_classes: int, scale: float = 64.0) -> None:
        super().__init__()
        if embedding_dim <= 0 or num_classes < 0:
            raise InvalidInput(f"embedding_dim must be > 0 and num_classes >= 0, got {embedding_dim}, {num_classes}")
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        self.scale = float(scale)
        if num_classes > 0:
            self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
            nn.init.normal_(self.weight, std=0.01)
        else:
            self.register_parameter("weight", None)

    # ----------------------------------------------------------------------------------- hooks
    def target_logit(self, cos_t: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        """``(B,)`` target cosine → ``(B,)`` target logit before scaling. Default: unchanged."""
        return cos_t

    def other_logits(self, cos: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        """``(B, C)`` cosines → non-target logits before scaling (target entries are overwritten).
        Called after :meth:`target_logit`. Default: unchanged."""
        return cos

    def logit_scale(self, ctx: MarginContext) -> float | torch.Tensor:
        """The scale ``s`` (a float, or a tensor broadcastable to ``(B, C)``)."""
        return self.scale

    def update_statistics(self, ctx: MarginContext) -> None:
        """Update running statistics (training mode only, under ``no_grad``). Default: none."""

    def extra_loss(self, ctx: MarginContext) -> torch.Tensor | None:
        """A regulariser added to the loss, computed from the (gathered) features. Default: none."""
        return None

    # -------------------------------------------------------------------------------- template
    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch: ``embeddings`` ``(B, D)``, ``labels`` ``(B,)`` class ids."""
        if self.weight is None:
            raise InvalidInput(f"{type(self).__name__} was built with num_classes=0 (margin only); use it through PartialFC")
        return self.compute(embeddings, labels, self.weight)

    def compute(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        weight: torch.Tensor,
        *,
        target_index: torch.Tensor | None = None,
        group: Any = None,
    ) -> torch.Tensor:
        """The template on an explicit weight matrix (all classes, or a shard of them)."""
        self._check(embeddings, labels, weight, target_index)
        labels = labels.long()
        target_index = None if target_index is None else target_index.long()
        world = world_info(group)[1]
        ctx = MarginContext(
            labels=labels,
            target_index=labels if target_index is None else target_index,
            norms=embeddings.norm(dim=1),
            group=group,
            world_size=world,
            training=self.training,
        )
        if world == 1 and bool((ctx.target_index < 0).any()):
            raise InvalidInput("every sample's target class must be among the given class centres")
        logits = self.class_logits(embeddings, weight, ctx)
        loss = self.reduce(logits, ctx)
        extra = self.extra_loss(ctx)
        if extra is not None:
            loss = loss + replicated(extra, group)
        return loss

    def cosine(self, embeddings: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return (F.normalize(embeddings, dim=1) @ F.normalize(weight, dim=1).T).clamp(-1.0, 1.0)

    def class_logits(self, embeddings: torch.Tensor, weight: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        cos = self.cosine(embeddings, weight)
        ctx.cos = cos
        ctx.weight_norms = weight.norm(dim=1)
        ctx.target_cos = self._target_cos(cos, ctx)
        if ctx.training:
            with torch.no_grad():
                self.update_statistics(ctx)
        tgt = self.target_logit(ctx.target_cos, ctx)
        other = self.other_logits(cos, ctx)
        logits = torch.where(ctx.target_mask(cos.shape), tgt[:, None], other)
        return logits * self.logit_scale(ctx)

    def reduce(self, logits: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        return sharded_cross_entropy(logits, ctx.target_index, ctx.group)

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The scaled ``(B, C)`` logits the loss is computed from (margins on the targets), without
        updating running statistics."""
        if self.weight is None:
            raise InvalidInput("no class weights (margin-only module)")
        self._check(embeddings, labels, self.weight, None)
        labels = labels.long()
        ctx = MarginContext(labels=labels, target_index=labels, norms=embeddings.norm(dim=1), training=False)
        return self.class_logits(embeddings, self.weight, ctx)

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Margin-free logits ``s·cos θ`` for monitoring (top-1 accuracy)."""
        if self.weight is None:
            raise InvalidInput("no class weights (margin-only module)")
        return self.cosine(embeddings, self.weight) * self.scale

    # ---------------------------------------------------------------------------------- helpers
    @staticmethod
    def _target_cos(cos: torch.Tensor, ctx: MarginContext) -> torch.Tensor:
        idx = ctx.target_index.clamp_min(0)
        local = cos.gather(1, idx[:, None]).squeeze(1)
        if ctx.world_size == 1:
            return local
        present = ctx.present
        full = all_reduce_sum(torch.where(present, local.detach(), torch.zeros_like(local)), ctx.group)
        return torch.where(present, local, full)

    def _check(
        self, embeddings: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, target_index: torch.Tensor | None
    ) -> None:
        if embeddings.ndim != 2 or embeddings.shape[1] != weight.shape[1]:
            raise InvalidInput(f"embeddings must be (B, {weight.shape[1]}), got {tuple(embeddings.shape)}")
        if labels.ndim != 1 or labels.shape[0] != embeddings.shape[0]:
            raise InvalidInput(f"labels must be (B,) = ({embeddings.shape[0]},), got {tuple(labels.shape)}")
        if labels.dtype not in (torch.int64, torch.int32):
            raise InvalidInput(f"labels must be integer class ids, got {labels.dtype}")
        if target_index is None and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= weight.shape[0]):
            raise InvalidInput(f"labels must be in [0, {weight.shape[0]}), got [{int(labels.min())}, {int(labels.max())}]")

    def extra_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, scale={self.scale}"
