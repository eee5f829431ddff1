import math

import pytest

from faceprint.train.losses import NormFaceLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, tensor, torch, unit, with_weight


def test_closed_form_is_invariant_to_feature_and_weight_norms():
    W = tensor([unit(0, 5.0), unit(90, 0.1)])
    x = tensor([unit(30, 7.0)])
    y = torch.tensor([0])
    s = 10.0
    rows = [[s * math.cos(math.radians(30)), s * math.cos(math.radians(60))]]
    loss = with_weight(NormFaceLoss(2, 2, scale=s), W)
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0]), rel=1e-12)


def test_gradcheck():
    assert gradcheck_head(NormFaceLoss(2, 3, scale=4.0), X4, Y4, W3)


def test_learned_scale_gets_a_gradient():
    loss = with_weight(NormFaceLoss(2, 3, scale=4.0, learn_scale=True), W3)
    loss(X4, Y4).backward()
    assert loss.learned_scale.grad is not None and float(loss.learned_scale.grad) != 0.0
