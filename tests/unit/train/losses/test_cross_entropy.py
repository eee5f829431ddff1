"""Cross entropy with label smoothing, against the hand-computed value."""

import math

import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.heads import build_head  # noqa: E402
from faceprint.train.losses import LOSSES, CrossEntropyLoss, build_loss  # noqa: E402


def test_value_by_hand():
    # logits (0, ln 3, 0): softmax = (1/5, 3/5, 1/5)
    z = torch.tensor([[0.0, math.log(3.0), 0.0]], dtype=torch.float64)
    y = torch.tensor([1])
    assert float(CrossEntropyLoss()(z, y)) == pytest.approx(-math.log(3 / 5))
    eps = 0.3  # target q = (0.1, 0.8, 0.1)
    want = -(0.1 * math.log(1 / 5) + 0.8 * math.log(3 / 5) + 0.1 * math.log(1 / 5))
    assert float(CrossEntropyLoss(label_smoothing=eps)(z, y)) == pytest.approx(want)


def test_registered_headless_and_gradient():
    assert LOSSES["cross_entropy"] is CrossEntropyLoss
    head = build_head("cross_entropy", 7, 7, params={"label_smoothing": 0.1})
    assert isinstance(head, CrossEntropyLoss) and not list(head.parameters())
    z = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 6, 3])
    torch.autograd.gradcheck(lambda t: head(t, y), (z,))


def test_bad_input():
    with pytest.raises(InvalidInput):
        CrossEntropyLoss(label_smoothing=1.0)
    with pytest.raises(InvalidInput):
        CrossEntropyLoss()(torch.zeros(2, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(InvalidInput):
        CrossEntropyLoss()(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(InvalidInput):
        build_loss("cross_entropy", 3, 3, smoothing=0.1)
