import math

import pytest

from faceprint.train.losses import ContrastiveLoss, JointIdentificationVerificationLoss, SoftmaxLoss

from ._helpers import X4, gradcheck_head, tensor, torch


def test_closed_form_over_all_pairs():
    x = tensor([[0.0, 0.0], [0.3, 0.4], [2.0, 0.0]])
    y = torch.tensor([0, 0, 1])
    m = 1.0
    # pairs: (0,1) same d=0.5; (0,2) diff d=2 > m; (1,2) diff d=sqrt(1.7²+0.4²)
    d12 = math.hypot(1.7, 0.4)
    want = (0.5 * 0.25 + 0.5 * max(0.0, m - 2.0) ** 2 + 0.5 * max(0.0, m - d12) ** 2) / 3
    assert float(ContrastiveLoss(m)(x, y)) == pytest.approx(want, rel=1e-12)
    x2 = tensor([[0.0, 0.0], [0.6, 0.0]])
    assert float(ContrastiveLoss(1.0)(x2, torch.tensor([0, 1]))) == pytest.approx(0.5 * 0.4**2)


def test_gradcheck():
    x = tensor([[0.1, 0.2], [0.5, -0.1], [0.4, 0.6], [-0.3, 0.2]]).requires_grad_(True)
    y = torch.tensor([0, 0, 1, 1])
    assert torch.autograd.gradcheck(lambda a: ContrastiveLoss(1.5)(a, y), (x,), eps=1e-6, atol=1e-6)


def test_joint_loss_is_softmax_plus_lambda_verification_and_margin_can_learn():
    joint = JointIdentificationVerificationLoss(2, 3, lam=0.5, learn_margin=True).double()
    y = torch.tensor([0, 1, 2, 0])
    soft = SoftmaxLoss(2, 3).double()
    soft.load_state_dict(joint.identification.state_dict())
    want = soft(X4, y) + 0.5 * ContrastiveLoss(1.0).double()(X4, y)
    got = joint(X4, y)
    assert float(got) == pytest.approx(float(want), rel=1e-12)
    got.backward()
    assert joint.verification.margin.grad is not None
    x = X4.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: joint(a, y), (x,), eps=1e-6, atol=1e-6)
    assert gradcheck_head(SoftmaxLoss(2, 3, bias=False), X4, y, torch.randn(3, 2, dtype=torch.float64))
