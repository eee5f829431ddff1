"""The FER2013 VGG-style classifier: size, shapes at 48 and 40 px, centre crop, argument checks."""

import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.backbones import build_backbone, fer_vgg  # noqa: E402
from faceprint.train.backbones.fer_vgg import FerVGG  # noqa: E402


def test_shipped_configuration_size_and_logits():
    net = fer_vgg(7).eval()
    n_params = sum(p.numel() for p in net.parameters())
    # 8 conv3x3 (no bias) + 8 BN + linear 256->7
    convs = [(1, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    expected = sum(9 * a * b + 2 * b for a, b in convs) + 256 * 7 + 7
    assert n_params == expected == 1_174_439
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) == 3
    with torch.no_grad():
        assert net(torch.zeros(3, 1, 48, 48)).shape == (3, 7)
        assert net(torch.zeros(2, 1, 40, 40)).shape == (2, 7)


def test_centre_crop_makes_a_48px_face_its_central_40px_window():
    torch.manual_seed(0)
    net = build_backbone("fer_vgg_tiny", 7, crop=40).eval()
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x[:, :, 4:44, 4:44]))
        torch.testing.assert_close(net(x[:, :, 4:44, 4:44]), net(x[:, :, 4:44, 4:44].clone()))
    plain = build_backbone("fer_vgg_tiny", 7).eval()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():  # without crop the whole face is pooled: a different answer
        assert not torch.allclose(plain(x), net(x))


def test_tiny_trains_and_outputs_class_count():
    net = build_backbone("fer_vgg_tiny", 5)
    out = net(torch.randn(4, 1, 40, 40))
    assert out.shape == (4, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(widths=(8, 16), convs=(1,)),
        dict(num_classes=1),
        dict(dropout=1.0),
        dict(crop=4),
        dict(crop=64),
        dict(widths=(), convs=()),
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(InvalidInput):
        FerVGG(**kwargs)
