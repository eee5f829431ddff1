import math

import numpy as np
import pytest

from faceprint.train.losses import ArcFaceLoss, MagFaceLoss, NormFaceLoss

from ._helpers import W3, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight

X_BIG = tensor([unit(20, 15.0), unit(100, 40.0), unit(250, 90.0), unit(-30, 25.0)])  # norms inside [l_a, u_a]


def test_closed_form_margin_and_regulariser():
    W = tensor([unit(0), unit(90)])
    x = tensor([unit(30, 60.0)])
    y = torch.tensor([0])
    s, lg = 2.0, 35.0
    loss = with_weight(MagFaceLoss(2, 2, scale=s, lambda_g=lg), W)
    a = 60.0
    m = (0.8 - 0.45) / (110 - 10) * (a - 10) + 0.45
    rows = [[s * math.cos(math.radians(30) + m), s * math.cos(math.radians(60))]]
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array(rows), abs=1e-12)
    g = a / 110**2 + 1 / a
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0]) + lg * g, rel=1e-12)


def test_magnitude_is_clipped():
    loss = MagFaceLoss(2, 2)
    assert float(loss.adaptive_margin(torch.tensor(10.0))) == pytest.approx(0.45)
    assert float(loss.adaptive_margin(torch.tensor(110.0))) == pytest.approx(0.8)


def test_gradcheck_through_the_magnitude():
    assert gradcheck_head(MagFaceLoss(2, 3, scale=3.0, lambda_g=2.0), X_BIG, Y4, W3)


def test_constant_margin_is_arcface_plus_regulariser():
    mag = with_weight(MagFaceLoss(2, 3, scale=4.0, l_m=0.3, u_m=0.3, lambda_g=0.0), W3)
    arc = with_weight(ArcFaceLoss(2, 3, scale=4.0, margin=0.3), W3)
    for got, want in zip(grads(mag, X_BIG, Y4), grads(arc, X_BIG, Y4), strict=True):
        assert torch.allclose(got, want, atol=1e-12)
    mag0 = with_weight(MagFaceLoss(2, 3, scale=4.0, l_m=0.0, u_m=0.0, lambda_g=0.0), W3)
    norm = with_weight(NormFaceLoss(2, 3, scale=4.0), W3)
    assert float(mag0(X_BIG, Y4)) == pytest.approx(float(norm(X_BIG, Y4)), rel=1e-12)
