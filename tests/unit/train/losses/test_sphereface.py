import math

import numpy as np
import pytest

from faceprint.train.losses import SphereFaceLoss
from faceprint.train.losses.sphereface import chebyshev_cos_m, psi

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight


def psi_by_hand(theta: float, m: int) -> float:
    k = min(int(m * theta / math.pi), m - 1)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def test_psi_is_the_papers_piecewise_function_and_monotonic():
    thetas = torch.linspace(0.01, math.pi - 0.01, 200, dtype=torch.float64)
    for m in (1, 2, 3, 4):
        got = psi(torch.cos(thetas), m)
        want = torch.tensor([psi_by_hand(float(t), m) for t in thetas], dtype=torch.float64)
        assert torch.allclose(got, want, atol=1e-9)
        assert bool((got[1:] < got[:-1]).all())  # strictly decreasing on [0, π]
        assert torch.allclose(chebyshev_cos_m(torch.cos(thetas), m), torch.cos(m * thetas), atol=1e-12)


def test_closed_form_with_lambda():
    W = tensor([unit(0, 3.0), unit(90, 0.5)])  # weight norms are normalised away
    x = tensor([unit(50, 2.0)])
    y = torch.tensor([0])
    loss = with_weight(SphereFaceLoss(2, 2, margin=4, lambda_base=10.0, lambda_gamma=1.0, lambda_min=0.5), W)
    loss.iteration.fill_(3)  # λ = max(0.5, 10/(1 + 3)) = 2.5
    assert loss.lam == pytest.approx(2.5)
    th = math.radians(50)
    target = 2.0 * (2.5 * math.cos(th) + psi_by_hand(th, 4)) / 3.5
    other = 2.0 * math.cos(math.radians(40))
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array([[target, other]]), abs=1e-12)
    loss.eval()
    assert float(loss(x, y)) == pytest.approx(ce([[target, other]], [0]), rel=1e-12)


def test_lambda_anneals_during_training_only():
    loss = SphereFaceLoss(2, 3)  # base 1000, γ 0.12, power 1, λ_min 5
    assert loss.lam == pytest.approx(1000.0)
    loss.train()
    for _ in range(3):
        loss(X4.float(), Y4)
    assert int(loss.iteration) == 3
    assert loss.lam == pytest.approx(1000.0 / (1 + 0.12 * 3))
    loss.eval()
    loss(X4.float(), Y4)
    assert int(loss.iteration) == 3
    loss.iteration.fill_(10**6)
    assert loss.lam == 5.0


def test_gradcheck():
    assert gradcheck_head(SphereFaceLoss(2, 3, margin=4, lambda_base=0.0), X4, Y4, W3)
    assert gradcheck_head(SphereFaceLoss(2, 3, margin=3, lambda_base=10.0), X4, Y4, W3)


def test_m1_is_normalised_weight_softmax():
    loss = with_weight(SphereFaceLoss(2, 3, margin=1), W3)
    v, gx, gw = grads(loss, X4, Y4)
    x = X4.clone().requires_grad_(True)
    w = W3.clone().requires_grad_(True)
    want = torch.nn.functional.cross_entropy(x @ torch.nn.functional.normalize(w, dim=1).T, Y4)
    want.backward()
    assert float(v) == pytest.approx(float(want), rel=1e-12)
    assert torch.allclose(gx, x.grad, atol=1e-12) and torch.allclose(gw, w.grad, atol=1e-12)
