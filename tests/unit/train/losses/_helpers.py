"""Tiny hand-made cases shared by the loss tests: 2-d features at chosen angles."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional


def unit(deg: float, norm: float = 1.0) -> list[float]:
    r = math.radians(deg)
    return [norm * math.cos(r), norm * math.sin(r)]


def tensor(rows, dtype=torch.float64):
    return torch.tensor(rows, dtype=dtype)


def ce(logits: list[list[float]], labels: list[int]) -> float:
    """Mean softmax cross entropy, by hand."""
    total = 0.0
    for row, y in zip(logits, labels, strict=True):
        mx = max(row)
        total += -(row[y] - mx - math.log(sum(math.exp(v - mx) for v in row)))
    return total / len(labels)


def with_weight(loss, W):
    """Set a loss module's class weights (float64)."""
    loss = loss.double()
    with torch.no_grad():
        loss.weight.copy_(W)
    return loss


def gradcheck_head(loss, x, labels, W) -> bool:
    """``torch.autograd.gradcheck`` of ``loss.compute`` w.r.t. features and class weights (eval
    mode, float64)."""
    loss = loss.double().eval()
    x = x.detach().double().requires_grad_(True)
    W = W.detach().double().requires_grad_(True)
    return torch.autograd.gradcheck(lambda a, b: loss.compute(a, labels, b), (x, W), eps=1e-6, atol=1e-6, rtol=1e-4)


def grads(loss, x, labels):
    """(value, d/dx, d/dW) of ``loss(x, labels)``."""
    x = x.detach().clone().requires_grad_(True)
    loss.zero_grad()
    v = loss(x, labels)
    v.backward()
    return v.detach(), x.grad.detach(), loss.weight.grad.detach().clone()


# A generic tiny case: 2-d, 3 classes at 0°, 120°, 240°, four samples.
W3 = tensor([unit(0), unit(120, 2.0), unit(240, 0.5)])
X4 = tensor([unit(20, 1.5), unit(100, 0.7), unit(250, 2.0), unit(-30, 1.2)])
Y4 = torch.tensor([0, 1, 2, 0])
