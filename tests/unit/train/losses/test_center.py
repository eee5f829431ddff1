import pytest

from faceprint.train.losses import CenterLoss, SoftmaxCenterLoss, SoftmaxLoss

from ._helpers import X4, Y4, tensor, torch


def test_closed_form_loss():
    loss = CenterLoss(2, 2).double()
    with torch.no_grad():
        loss.centers.copy_(tensor([[1.0, 0.0], [0.0, 2.0]]))
    x = tensor([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 0])
    want = 0.5 * (1.0 + 4.0 + 1.0) / 3
    assert float(loss.eval()(x, y)) == pytest.approx(want)


def test_centre_update_follows_the_papers_rule():
    alpha = 0.5
    loss = CenterLoss(2, 3, alpha=alpha).double().train()
    c0 = tensor([[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    with torch.no_grad():
        loss.centers.copy_(c0)
    x = tensor([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 0])
    value = loss(x, y)
    # the loss used the old centres
    assert float(value) == pytest.approx(0.5 * (1.0 + 4.0 + 1.0) / 3)
    # Δc_j = Σ_{y_i=j}(c_j − x_i) / (1 + n_j);  c_j ← c_j − α Δc_j
    d0 = ((c0[0] - x[0]) + (c0[0] - x[2])) / (1 + 2)
    d1 = (c0[1] - x[1]) / (1 + 1)
    assert torch.allclose(loss.centers[0], c0[0] - alpha * d0)
    assert torch.allclose(loss.centers[1], c0[1] - alpha * d1)
    assert torch.equal(loss.centers[2], c0[2])  # absent class does not move
    assert not any(p is loss.centers for p in loss.parameters())  # not trained by the optimiser


def test_no_update_in_eval_and_gradcheck():
    loss = CenterLoss(2, 3).double().eval()
    with torch.no_grad():
        loss.centers.copy_(torch.randn(3, 2, dtype=torch.float64))
    before = loss.centers.clone()
    x = X4.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: loss(a, Y4), (x,), eps=1e-6, atol=1e-6)
    assert torch.equal(loss.centers, before)
    loss(x, Y4).backward()
    # ∂L/∂x_i = (x_i − c_{y_i}) / B
    assert torch.allclose(x.grad, (X4 - before[Y4]) / 4)


def test_joint_supervision():
    joint = SoftmaxCenterLoss(2, 3, lam=0.1).double().eval()
    soft = SoftmaxLoss(2, 3).double()
    soft.load_state_dict(joint.softmax.state_dict())
    want = soft(X4, Y4) + 0.1 * 0.5 * (X4**2).sum(dim=1).mean()  # centres start at 0
    assert float(joint(X4, Y4)) == pytest.approx(float(want), rel=1e-12)
