import math

import numpy as np
import pytest

from faceprint.train.losses import LSoftmaxLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight
from .test_sphereface import psi_by_hand


def test_closed_form_uses_weight_and_feature_norms():
    W = tensor([unit(0, 3.0), unit(90, 0.5)])
    x = tensor([unit(50, 2.0)])
    y = torch.tensor([0])
    loss = with_weight(LSoftmaxLoss(2, 2, margin=2, lambda_base=0.0), W).eval()
    th = math.radians(50)
    rows = [[3.0 * 2.0 * psi_by_hand(th, 2), 0.5 * 2.0 * math.cos(math.radians(40))]]
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array(rows), abs=1e-12)
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0]), rel=1e-12)


def test_gradcheck():
    assert gradcheck_head(LSoftmaxLoss(2, 3, margin=2, lambda_base=0.0), X4, Y4, W3)


def test_m1_is_plain_softmax_without_bias():
    loss = with_weight(LSoftmaxLoss(2, 3, margin=1), W3)
    v, gx, gw = grads(loss, X4, Y4)
    x = X4.clone().requires_grad_(True)
    w = W3.clone().requires_grad_(True)
    want = torch.nn.functional.cross_entropy(x @ w.T, Y4)
    want.backward()
    assert float(v) == pytest.approx(float(want), rel=1e-12)
    assert torch.allclose(gx, x.grad, atol=1e-12) and torch.allclose(gw, w.grad, atol=1e-12)
