import math

import numpy as np
import pytest

from faceprint.train.losses import ArcFaceLoss, NormFaceLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight


def test_closed_form_including_the_theta_plus_m_beyond_pi_fallback():
    W = tensor([unit(0), unit(90)])
    x = tensor([unit(30, 2.0), unit(-80, 0.5)])  # sample 1 is 170° away from its class (90°)
    y = torch.tensor([0, 1])
    s, m = 4.0, 0.5
    t0 = math.cos(math.radians(30) + m)  # θ + m < π: cos(θ + m)
    o0 = math.cos(math.radians(60))
    assert math.cos(math.radians(170)) < math.cos(math.pi - m)  # beyond th: fallback
    t1 = math.cos(math.radians(170)) - math.sin(math.pi - m) * m
    o1 = math.cos(math.radians(80))
    loss = with_weight(ArcFaceLoss(2, 2, scale=s, margin=m), W)
    logits = loss.logits(x, y)
    assert logits.detach().numpy() == pytest.approx(np.array([[s * t0, s * o0], [s * o1, s * t1]]), abs=1e-12)
    assert float(loss(x, y)) == pytest.approx(ce([[s * t0, s * o0], [s * o1, s * t1]], [0, 1]), rel=1e-12)


def test_easy_margin_only_applies_where_cos_is_positive():
    W = tensor([unit(0), unit(90)])
    x = tensor([unit(30), unit(-45)])  # sample 1: 135° from class 1, cos < 0 → no margin
    y = torch.tensor([0, 1])
    loss = with_weight(ArcFaceLoss(2, 2, scale=1.0, margin=0.5, easy_margin=True), W)
    lg = loss.logits(x, y)
    lg = lg.detach()
    assert float(lg[0, 0]) == pytest.approx(math.cos(math.radians(30) + 0.5))
    assert float(lg[1, 1]) == pytest.approx(math.cos(math.radians(135)))


def test_gradcheck():
    assert gradcheck_head(ArcFaceLoss(2, 3, scale=3.0, margin=0.5), X4, Y4, W3)


def test_margin_zero_is_normface():
    a = with_weight(ArcFaceLoss(2, 3, scale=5.0, margin=0.0), W3)
    n = with_weight(NormFaceLoss(2, 3, scale=5.0), W3)
    for got, want in zip(grads(a, X4, Y4), grads(n, X4, Y4), strict=True):
        assert torch.allclose(got, want, atol=1e-12)


def test_margin_makes_the_loss_larger():
    a = with_weight(ArcFaceLoss(2, 3, scale=5.0, margin=0.3), W3)
    n = with_weight(NormFaceLoss(2, 3, scale=5.0), W3)
    assert float(a(X4, Y4)) > float(n(X4, Y4))
