import math

import pytest

from faceprint.train.losses import SphereFace2Loss
from faceprint.train.losses.sphereface2 import balanced_bias

from ._helpers import W3, X4, Y4, gradcheck_head, tensor, torch, unit, with_weight


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_closed_form():
    W = tensor([unit(0), unit(90), unit(200)])
    x = tensor([unit(30), unit(80)])
    y = torch.tensor([0, 1])
    r, m, lam, t, b = 5.0, 0.2, 0.7, 3.0, -1.5
    loss = with_weight(SphereFace2Loss(2, 3, scale=r, margin=m, lam=lam, t=t, bias_init=b), W)
    g = lambda c: 2 * ((c + 1) / 2) ** t - 1  # noqa: E731
    total = 0.0
    for xa, ya in ((30, 0), (80, 1)):
        for j, wa in enumerate((0, 90, 200)):
            c = math.cos(math.radians(xa - wa))
            if j == ya:
                total += lam / r * softplus(-(r * (g(c) - m) + b))
            else:
                total += (1 - lam) / r * softplus(r * (g(c) + m) + b)
    assert float(loss(x, y)) == pytest.approx(total / 2, rel=1e-12)


def test_bias_balances_positive_and_negative_gradients_at_cos_zero():
    C, lam, r, m, t = 1000, 0.7, 40.0, 0.4, 3.0
    b = balanced_bias(C, lam, r, m, t)
    g0 = 2 * 0.5**t - 1
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    pos = lam * sig(-(r * (g0 - m) + b))
    neg = (1 - lam) * (C - 1) * sig(r * (g0 + m) + b)
    assert pos == pytest.approx(neg, rel=1e-9)
    assert float(SphereFace2Loss(8, C).bias) == pytest.approx(b)


def test_gradcheck():
    assert gradcheck_head(SphereFace2Loss(2, 3, scale=4.0, margin=0.3), X4, Y4, W3)


def test_t1_m0_half_lambda_is_per_class_logistic_regression():
    r, b = 6.0, 0.25
    loss = with_weight(SphereFace2Loss(2, 3, scale=r, margin=0.0, lam=0.5, t=1.0, bias_init=b), W3)
    cos = torch.nn.functional.normalize(X4, dim=1) @ torch.nn.functional.normalize(W3, dim=1).T
    onehot = torch.nn.functional.one_hot(Y4, 3).double()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(r * cos + b, onehot, reduction="sum")
    assert float(loss(X4, Y4)) == pytest.approx(float(bce) / (2 * r) / 4, rel=1e-12)
