import pytest

from faceprint.errors import InvalidInput
from faceprint.train.losses import LOSSES, MARGIN_LOSSES, ArcFaceLoss, MarginSoftmaxLoss, build_loss

from ._helpers import W3, X4, Y4, torch


def test_every_registered_loss_trains_and_documents_its_paper():
    torch.manual_seed(0)
    x = torch.randn(8, 6, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for name, cls in LOSSES.items():
        assert cls.__doc__ and getattr(cls, "paper", ""), name
        loss = build_loss(name, 6, 4)
        value = loss(x, y)
        assert torch.isfinite(value), name
        x.grad = None
        value.backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0, name


def test_margin_losses_share_the_template():
    for name in MARGIN_LOSSES:
        assert issubclass(LOSSES[name], MarginSoftmaxLoss)
    assert {"arcface", "cosface", "sphereface", "curricularface", "adaface", "magface", "circle", "sphereface2"} <= set(
        MARGIN_LOSSES
    )


def test_input_validation():
    loss = ArcFaceLoss(2, 3).double()
    with pytest.raises(InvalidInput):
        loss(X4[:, :1], Y4)
    with pytest.raises(InvalidInput):
        loss(X4, Y4[:3])
    with pytest.raises(InvalidInput):
        loss(X4, Y4.double())
    with pytest.raises(InvalidInput):
        build_loss("nope", 2, 3)
    with pytest.raises(InvalidInput):
        build_loss("arcface", 2, 3, margn=0.2)
    with pytest.raises(InvalidInput):
        ArcFaceLoss(2, 0)(X4, Y4)  # margin-only module


def test_int32_labels_are_accepted():
    loss = ArcFaceLoss(2, 3).double()
    with torch.no_grad():
        loss.weight.copy_(W3)
    assert float(loss(X4, Y4.int())) == pytest.approx(float(loss(X4, Y4)))
