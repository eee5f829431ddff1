import math

import numpy as np
import pytest

from faceprint.train.losses import CircleLoss, CosFaceLoss, PairCircleLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, grads, tensor, torch, unit, with_weight


def test_class_level_closed_form():
    W = tensor([unit(0), unit(90), unit(150)])
    x = tensor([unit(30)])
    y = torch.tensor([0])
    g, m = 4.0, 0.25
    sp, sn1, sn2 = math.cos(math.radians(30)), math.cos(math.radians(60)), math.cos(math.radians(120))
    ap = max(0.0, 1 + m - sp)
    an1, an2 = max(0.0, sn1 + m), max(0.0, sn2 + m)
    assert an2 == 0.0  # a negative far enough gets no weight
    rows = [[g * ap * (sp - (1 - m)), g * an1 * (sn1 - m), g * an2 * (sn2 - m)]]
    loss = with_weight(CircleLoss(2, 3, scale=g, margin=m), W)
    assert loss.logits(x, y).detach().numpy() == pytest.approx(np.array(rows), abs=1e-12)
    # the paper's form log(1 + Σ_n exp(γα_n(s_n−Δ_n))·exp(−γα_p(s_p−Δ_p)))
    paper = math.log(1 + (math.exp(rows[0][1]) + math.exp(rows[0][2])) * math.exp(-rows[0][0]))
    assert float(loss(x, y)) == pytest.approx(paper, rel=1e-12)
    assert paper == pytest.approx(ce(rows, [0]), rel=1e-12)


def _reference(x, w, y, g, m):
    """The class-level loss written out with the self-paced weights as constants."""
    cos = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(w, dim=1).T
    onehot = torch.nn.functional.one_hot(y, cos.shape[1]).bool()
    ap = (1 + m - cos.detach()).clamp_min(0)
    an = (cos.detach() + m).clamp_min(0)
    logits = torch.where(onehot, g * ap * (cos - (1 - m)), g * an * (cos - m))
    return torch.nn.functional.cross_entropy(logits, y)


def test_gradient_matches_the_reference_with_constant_weights():
    loss = with_weight(CircleLoss(2, 3, scale=6.0, margin=0.25), W3)
    v, gx, gw = grads(loss, X4, Y4)
    x, w = X4.clone().requires_grad_(True), W3.clone().requires_grad_(True)
    ref = _reference(x, w, Y4, 6.0, 0.25)
    ref.backward()
    assert float(v) == pytest.approx(float(ref), rel=1e-12)
    assert torch.allclose(gx, x.grad, atol=1e-12) and torch.allclose(gw, w.grad, atol=1e-12)


def test_gradcheck_without_self_pacing():
    assert gradcheck_head(CircleLoss(2, 3, scale=3.0, margin=0.25, self_paced=False), X4, Y4, W3)


def test_without_self_pacing_it_is_cosface_with_margin_one_minus_2m():
    circ = with_weight(CircleLoss(2, 3, scale=5.0, margin=0.3, self_paced=False), W3)
    cos = with_weight(CosFaceLoss(2, 3, scale=5.0, margin=1 - 2 * 0.3), W3)
    for got, want in zip(grads(circ, X4, Y4), grads(cos, X4, Y4), strict=True):
        assert torch.allclose(got, want, atol=1e-12)


def test_pair_level_closed_form():
    x = tensor([unit(0), unit(20), unit(100), unit(110)])
    y = torch.tensor([0, 0, 1, 1])
    g, m = 3.0, 0.25
    c = lambda d: math.cos(math.radians(d))  # noqa: E731
    total = 0.0
    angles = [0, 20, 100, 110]
    for a in range(4):
        sp = [c(angles[a] - angles[p]) for p in range(4) if p != a and y[p] == y[a]]
        sn = [c(angles[a] - angles[n]) for n in range(4) if y[n] != y[a]]
        lp = sum(math.exp(-g * max(0, 1 + m - s) * (s - (1 - m))) for s in sp)
        ln = sum(math.exp(g * max(0, s + m) * (s - m)) for s in sn)
        total += math.log(1 + lp * ln)
    assert float(PairCircleLoss(scale=g, margin=m)(x, y)) == pytest.approx(total / 4, rel=1e-12)


def test_pair_level_gradient_flows_and_no_pairs_gives_zero():
    x = X4.clone().requires_grad_(True)
    PairCircleLoss(scale=8.0)(x, torch.tensor([0, 0, 1, 1])).backward()
    assert x.grad.abs().sum() > 0
    assert float(PairCircleLoss()(X4, torch.tensor([0, 1, 2, 3]))) == 0.0
