"""The few ``torch.distributed`` pieces a sharded classification head needs.

Conventions (used by :mod:`faceprint.train.losses.base` and :mod:`faceprint.train.partial_fc`):

* Features and labels are all-gathered, so every rank sees the whole global batch; each rank holds
  a shard of the class centres and computes logits for that shard only.
* Every rank returns the same **global** loss value (mean over the global batch), and gradients are
  arranged so that the gradient a rank obtains for its *local* features and its *local* weight
  shard equals the gradient of that global loss: :class:`AllGather` sums feature gradients over
  ranks, :func:`sharded_cross_entropy` back-propagates only through the local logits,
  :func:`global_sum` keeps the gradient of a per-shard partial sum local, and :func:`replicated`
  divides by the world size the gradient of terms that every rank computes identically.

With no process group (or a group of one), every helper reduces to the ordinary single-process
computation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F


def world_info(group: Any = None) -> tuple[int, int]:
    """``(rank, world_size)`` of ``group`` (the default group when None and one is initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(group), dist.get_world_size(group)


class AllGather(torch.autograd.Function):
    """Concatenate every rank's tensor along dim 0 (sizes may differ); the backward pass sums the
    gradient over ranks and returns each rank the rows of its own input."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, group: Any) -> torch.Tensor:
        rank, world = world_info(group)
        n = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
        sizes = [torch.zeros_like(n) for _ in range(world)]
        dist.all_gather(sizes, n, group=group)
        counts = [int(s.item()) for s in sizes]
        biggest = max(counts)
        padded = x.new_zeros((biggest, *x.shape[1:]))
        padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous(), group=group)
        ctx.group, ctx.offset, ctx.count = group, sum(counts[:rank]), counts[rank]
        return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)], dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.offset : ctx.offset + ctx.count], None


def all_gather(x: torch.Tensor, group: Any = None) -> torch.Tensor:
    """Autograd-aware all-gather along dim 0 (identity in a single process)."""
    if world_info(group)[1] == 1:
        return x
    return AllGather.apply(x, group)


def all_gather_nograd(x: torch.Tensor, group: Any = None) -> torch.Tensor:
    """All-gather for tensors without gradient (labels)."""
    if world_info(group)[1] == 1:
        return x
    with torch.no_grad():
        return AllGather.apply(x.detach(), group)


def all_reduce_sum(x: torch.Tensor, group: Any = None) -> torch.Tensor:
    """Sum of a detached tensor over ranks (a new tensor)."""
    out = x.detach().clone()
    if world_info(group)[1] > 1:
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
    return out


def global_sum(local: torch.Tensor, group: Any = None) -> torch.Tensor:
    """A per-rank partial sum turned into the global sum, whose gradient stays local.

    Value: ``Σ_ranks local``; gradient: that of ``local`` only (each rank back-propagates its own
    part, and the feature gradients are summed by :class:`AllGather`).
    """
    if world_info(group)[1] == 1:
        return local
    return local + (all_reduce_sum(local, group) - local.detach())


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.factor, None


def replicated(term: torch.Tensor, group: Any = None) -> torch.Tensor:
    """A term every rank computes identically from gathered features: same value, gradient
    divided by the world size (the all-gather's backward sums it back over ranks)."""
    world = world_info(group)[1]
    if world == 1:
        return term
    return _ScaleGrad.apply(term, 1.0 / world)


class _ShardedCrossEntropy(torch.autograd.Function):
    """Mean cross entropy over a batch whose class logits are split across ranks.

    ``target`` holds, for each sample, the column of its class in the local logits, or -1 when
    the class lives on another rank. Forward: all-reduce of the row maximum (MAX), of the sum of
    exponentials (SUM) and of the target logit (SUM). Backward: ``(softmax − onehot) / B`` on the
    local columns.
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, target: torch.Tensor, group: Any) -> torch.Tensor:
        with torch.no_grad():
            row_max = logits.max(dim=1).values
            dist.all_reduce(row_max, op=dist.ReduceOp.MAX, group=group)
            exp = torch.exp(logits - row_max[:, None])
            denom = exp.sum(dim=1)
            dist.all_reduce(denom, op=dist.ReduceOp.SUM, group=group)
            present = target >= 0
            tgt = torch.zeros_like(row_max)
            rows = torch.nonzero(present).squeeze(1)
            tgt[rows] = logits[rows, target[rows]]
            dist.all_reduce(tgt, op=dist.ReduceOp.SUM, group=group)
            loss = (torch.log(denom) + row_max - tgt).mean()
            prob = exp / denom[:, None]
        ctx.save_for_backward(prob, target)
        return loss

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        prob, target = ctx.saved_tensors
        g = prob.clone()
        rows = torch.nonzero(target >= 0).squeeze(1)
        g[rows, target[rows]] -= 1.0
        return g * (grad / prob.shape[0]), None, None


def sharded_cross_entropy(logits: torch.Tensor, target: torch.Tensor, group: Any = None) -> torch.Tensor:
    """``F.cross_entropy(logits, target)`` when the classes are split across ranks (see
    :class:`_ShardedCrossEntropy`); exactly ``F.cross_entropy`` in a single process."""
    if world_info(group)[1] == 1:
        return F.cross_entropy(logits, target)
    return _ShardedCrossEntropy.apply(logits, target, group)
