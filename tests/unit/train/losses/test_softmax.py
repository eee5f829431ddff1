import pytest

from faceprint.errors import InvalidInput
from faceprint.train.losses import SoftmaxLoss

from ._helpers import W3, X4, Y4, ce, gradcheck_head, tensor, torch, with_weight


def test_closed_form_linear_logits_with_bias():
    W = tensor([[1.0, 0.0], [0.0, 2.0]])
    x = tensor([[3.0, 1.0], [-1.0, 0.5]])
    y = torch.tensor([0, 1])
    loss = with_weight(SoftmaxLoss(2, 2), W)
    with torch.no_grad():
        loss.bias.copy_(torch.tensor([0.5, -0.25]))
    rows = [[3.0 + 0.5, 2.0 - 0.25], [-1.0 + 0.5, 1.0 - 0.25]]
    assert float(loss(x, y)) == pytest.approx(ce(rows, [0, 1]), rel=1e-12)


def test_gradcheck():
    assert gradcheck_head(SoftmaxLoss(2, 3, bias=False), X4, Y4, W3)


def test_equals_torch_cross_entropy_on_a_linear_layer():
    loss = with_weight(SoftmaxLoss(2, 3), W3)
    want = torch.nn.functional.cross_entropy(X4 @ W3.T + loss.bias, Y4)
    assert float(loss(X4, Y4)) == pytest.approx(float(want), rel=1e-12)


def test_rejects_labels_out_of_range():
    with pytest.raises(InvalidInput):
        SoftmaxLoss(2, 3)(X4.float(), torch.tensor([0, 1, 2, 3]))
