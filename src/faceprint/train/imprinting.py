"""Dynamic Weight Imprinting (DWI) for few-shot domains.

Shi & Jain, "DocFace+: ID Document to Selfie Matching", IEEE T-BIOM 2019, §3.3. When most classes
have one or two images (ID photo + selfie), gradient descent updates each class weight so rarely
that the classifier underfits. DWI does not train the class weights by gradient at all: after each
step, the weights of the classes present in the mini-batch are *imprinted* from the batch's
features,

    w_j ← normalize( mean_{i: y_i = j} x_i / ‖x_i‖ ),

(with ``alpha < 1``: ``w_j ← normalize(w_j − α·(w_j − mean x̂))``, the reference code's rate), while
the loss (AM-Softmax/CosFace in the paper; any :class:`MarginSoftmaxLoss` here) is computed with
the weights as they were before the update and trains only the network. Initial weights are
imprinted from the features of every class (:meth:`DynamicWeightImprinting.initialize`).

:func:`finetune_with_imprinting` adapts an embedding model to a new domain from two images per
class with DWI + CosFace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from faceprint.errors import InvalidInput
from faceprint.train.losses.base import MarginSoftmaxLoss
from faceprint.train.losses.cosface import CosFaceLoss

logger = logging.getLogger(__name__)


@torch.no_grad()
def imprint_weights(weight: torch.Tensor, embeddings: torch.Tensor, labels: torch.Tensor, *, alpha: float = 1.0) -> torch.Tensor:
    """Imprint (in place) the rows of ``weight`` of the classes in ``labels``; returns those classes.

    ``w_j ← normalize(w_j − α·(w_j − mean_{y_i=j} x_i/‖x_i‖))``; α = 1 is pure imprinting.
    """
    feats = F.normalize(embeddings.detach().to(weight.dtype), dim=1)
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    means = torch.zeros(len(classes), weight.shape[1], dtype=weight.dtype, device=weight.device)
    means.index_add_(0, inverse, feats)
    means /= counts[:, None].to(weight.dtype)
    current = weight[classes]
    weight[classes] = F.normalize(current - alpha * (current - means), dim=1)
    return classes


class DynamicWeightImprinting(nn.Module):
    """Wrap a margin loss so that its class weights are imprinted instead of learned.

    The wrapped loss's ``weight`` is frozen (``requires_grad=False``). In training mode each forward
    returns the loss computed with the current weights and then imprints the batch's classes.
    """

    def __init__(self, loss: MarginSoftmaxLoss, *, alpha: float = 1.0) -> None:
        super().__init__()
        if not isinstance(loss, MarginSoftmaxLoss) or loss.weight is None:
            raise InvalidInput("DynamicWeightImprinting needs a margin loss with class weights")
        if not 0.0 < alpha <= 1.0:
            raise InvalidInput(f"alpha must be in (0, 1], got {alpha}")
        self.loss = loss
        self.alpha = float(alpha)
        loss.weight.requires_grad_(False)
        with torch.no_grad():
            loss.weight.copy_(F.normalize(loss.weight, dim=1))

    @property
    def weight(self) -> torch.Tensor:
        return self.loss.weight

    @torch.no_grad()
    def initialize(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        """Set every class present in ``labels`` to the normalised mean of its features."""
        imprint_weights(self.loss.weight, embeddings, labels, alpha=1.0)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        loss = self.loss(embeddings, labels)
        if self.training:
            imprint_weights(self.loss.weight, embeddings, labels, alpha=self.alpha)
        return loss

    @torch.no_grad()
    def predict_logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.loss.predict_logits(embeddings)


@dataclass
class FinetuneResult:
    """Mean training loss per epoch, and the imprinting head used."""

    epoch_losses: list[float] = field(default_factory=list)
    head: DynamicWeightImprinting | None = None


def _embed_all(model: nn.Module, inputs: torch.Tensor, batch_size: int) -> torch.Tensor:
    was = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])
    model.train(was)
    return out


def finetune_with_imprinting(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 10,
    classes_per_batch: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    scale: float = 30.0,
    margin: float = 0.35,
    alpha: float = 1.0,
    seed: int = 0,
) -> FinetuneResult:
    """Fine-tune ``model`` (inputs → embeddings) to a new domain with DWI + CosFace.

    Meant for the ID-selfie setting: few (typically 2) images per class. Each batch holds all the
    images of ``classes_per_batch`` classes, so every class in a batch has its pair there. The
    class weights are first imprinted from the initial model's features of all images, then
    imprinted again from every batch. ``model`` is trained in place with Adam.
    """
    labels = torch.as_tensor(labels).long()
    if len(inputs) != len(labels):
        raise InvalidInput(f"{len(inputs)} inputs but {len(labels)} labels")
    classes, labels = torch.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise InvalidInput("need at least two classes")
    with torch.no_grad():
        sample = model(inputs[:1])
    head = DynamicWeightImprinting(CosFaceLoss(sample.shape[1], len(classes), scale=scale, margin=margin), alpha=alpha)
    head.initialize(_embed_all(model, inputs, 256), labels)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    by_class = [torch.nonzero(labels == c).squeeze(1) for c in range(len(classes))]
    rng = np.random.default_rng(seed)
    result = FinetuneResult(head=head)
    model.train()
    head.train()
    for epoch in range(epochs):
        order = rng.permutation(len(classes))
        total, n = 0.0, 0
        for start in range(0, len(order), classes_per_batch):
            chosen = order[start : start + classes_per_batch]
            if len(chosen) < 2:
                continue
            idx = torch.cat([by_class[c] for c in chosen])
            loss = head(model(inputs[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            n += len(idx)
        result.epoch_losses.append(total / max(n, 1))
        logger.debug("DWI fine-tuning epoch %d: loss %.4f", epoch, result.epoch_losses[-1])
    return result
