import math

import numpy as np
import pytest

from faceprint.train.losses import AdaFaceLoss, CosFaceLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight


def test_closed_form_margins_follow_the_feature_norm():
    W = tensor([unit(0), unit(90)])
    x = tensor([unit(30, 6.0), unit(60, 2.0), unit(45, 4.0)])  # high, low, average norm
    y = torch.tensor([0, 0, 1])
    s, m, h = 2.0, 0.4, 0.6
    loss = with_weight(AdaFaceLoss(2, 2, scale=s, margin=m, h=h), W).eval()
    loss.batch_mean.fill_(4.0)
    loss.batch_std.fill_(1.0)
    eps = 1e-3
    z = [max(-1.0, min(1.0, h * (n - 4.0) / (1.0 + eps))) for n in (6.0, 2.0, 4.0)]
    assert z[0] == 1.0 and z[1] == -1.0 and z[2] == 0.0
    c = lambda d: math.cos(math.radians(d))  # noqa: E731
    t = [math.cos(math.radians(a) - m * zz) - (m + m * zz) for a, zz in zip((30, 60, 45), z, strict=True)]
    rows = [[s * t[0], s * c(60)], [s * t[1], s * c(30)], [s * c(45), s * t[2]]]
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array(rows), abs=1e-12)
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0, 0, 1]), rel=1e-12)
    # high quality: CosFace-like cos θ − 2m; low quality: ArcFace-like cos(θ + m); average: cos θ − m
    assert t[0] == pytest.approx(c(30 - math.degrees(m)) - 2 * m)
    assert t[1] == pytest.approx(math.cos(math.radians(60) + m))
    assert t[2] == pytest.approx(c(45) - m)


def test_batch_statistics_ema():
    loss = with_weight(AdaFaceLoss(2, 3, momentum=0.5), W3).train()
    norms = X4.norm(dim=1)
    loss(X4, Y4)
    assert float(loss.batch_mean) == pytest.approx(0.5 * 20 + 0.5 * float(norms.mean()))
    assert float(loss.batch_std) == pytest.approx(0.5 * 100 + 0.5 * float(norms.std()))


def test_gradcheck_in_both_saturated_regimes():
    loss = AdaFaceLoss(2, 3, scale=3.0, margin=0.4)
    loss.batch_mean.fill_(1.3)
    loss.batch_std.fill_(0.01)  # every ẑ saturates at ±1 (locally constant)
    assert gradcheck_head(loss, X4, Y4, W3)


def test_h_zero_is_cosface():
    ada = with_weight(AdaFaceLoss(2, 3, scale=5.0, margin=0.4, h=0.0), W3).eval()
    cos = with_weight(CosFaceLoss(2, 3, scale=5.0, margin=0.4), W3)
    for got, want in zip(grads(ada, X4, Y4), grads(cos, X4, Y4), strict=True):
        assert torch.allclose(got, want, atol=1e-9)
