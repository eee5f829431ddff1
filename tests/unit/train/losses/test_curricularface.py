import math

import numpy as np
import pytest

from faceprint.train.losses import ArcFaceLoss, CurricularFaceLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight


def test_closed_form_hard_negative_is_modulated_by_t():
    W = tensor([unit(0), unit(60), unit(180)])
    x = tensor([unit(40)])  # target class 0 at 40°, class 1 at 20° (hard), class 2 at 140° (easy)
    y = torch.tensor([0])
    s, m, t = 2.0, 0.5, 0.3
    loss = with_weight(CurricularFaceLoss(2, 3, scale=s, margin=m), W).eval()
    loss.t.fill_(t)
    c = lambda d: math.cos(math.radians(d))  # noqa: E731
    target = math.cos(math.radians(40) + m)
    assert c(20) > target > c(140)
    rows = [[s * target, s * c(20) * (t + c(20)), s * c(140)]]
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array(rows), abs=1e-12)
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0]), rel=1e-12)


def test_t_follows_the_mean_target_cosine_before_use():
    loss = with_weight(CurricularFaceLoss(2, 3, scale=2.0, margin=0.5, momentum=0.25), W3).train()
    cos_t = torch.nn.functional.normalize(X4, dim=1) @ torch.nn.functional.normalize(W3, dim=1).T
    mean = float(cos_t[torch.arange(4), Y4].mean())
    loss(X4, Y4)
    assert float(loss.t) == pytest.approx(0.25 * mean)
    loss(X4, Y4)
    assert float(loss.t) == pytest.approx(0.75 * 0.25 * mean + 0.25 * mean)


def test_gradcheck():
    loss = CurricularFaceLoss(2, 3, scale=3.0, margin=0.5)
    loss.t.fill_(0.4)
    assert gradcheck_head(loss, X4, Y4, W3)


def test_without_hard_negatives_it_is_arcface():
    W = tensor([unit(0), unit(120), unit(240)])
    x = tensor([unit(5), unit(118), unit(236)])  # every target within 5°: no negative beats cos(θ+m)
    y = torch.tensor([0, 1, 2])
    cur = with_weight(CurricularFaceLoss(2, 3, scale=4.0, margin=0.3), W).eval()
    cur.t.fill_(0.7)
    arc = with_weight(ArcFaceLoss(2, 3, scale=4.0, margin=0.3), W)
    for got, want in zip(grads(cur, x, y), grads(arc, x, y), strict=True):
        assert torch.allclose(got, want, atol=1e-12)
