import math

import numpy as np
import pytest

from faceprint.train.losses import CosFaceLoss, NormFaceLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight


def test_closed_form():
    W = tensor([unit(0), unit(90), unit(180)])
    x = tensor([unit(30, 3.0), unit(135)])
    y = torch.tensor([0, 2])
    s, m = 2.0, 0.35
    c = lambda d: math.cos(math.radians(d))  # noqa: E731
    rows = [[s * (c(30) - m), s * c(60), s * c(150)], [s * c(135), s * c(45), s * (c(45) - m)]]
    loss = with_weight(CosFaceLoss(2, 3, scale=s, margin=m), W)
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array(rows), abs=1e-12)
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0, 2]), rel=1e-12)


def test_gradcheck():
    assert gradcheck_head(CosFaceLoss(2, 3, scale=4.0, margin=0.35), X4, Y4, W3)


def test_margin_zero_is_normface():
    a = with_weight(CosFaceLoss(2, 3, scale=7.0, margin=0.0), W3)
    n = with_weight(NormFaceLoss(2, 3, scale=7.0), W3)
    for got, want in zip(grads(a, X4, Y4), grads(n, X4, Y4), strict=True):
        assert torch.allclose(got, want, atol=1e-12)
