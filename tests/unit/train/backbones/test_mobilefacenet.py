import pytest

torch = pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.backbones import build_backbone, mobilefacenet, mobilefacenet_tiny  # noqa: E402
from faceprint.train.backbones.mobilefacenet import Bottleneck  # noqa: E402


def test_paper_configuration_size_and_output():
    net = mobilefacenet(128).eval()
    n_params = sum(p.numel() for p in net.parameters())
    assert 0.9e6 < n_params < 1.2e6  # the paper: 0.99M parameters
    assert sum(isinstance(m, Bottleneck) for m in net.modules()) == 15
    assert net.gdconv[0].kernel_size == (7, 7) and net.gdconv[0].groups == 512
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 112, 112)).shape == (2, 128)


def test_tiny_trains():
    net = mobilefacenet_tiny(64)
    out = net(torch.randn(2, 3, 112, 112))
    assert out.shape == (2, 64)
    out.sum().backward()


def test_unknown_backbone():
    with pytest.raises(InvalidInput):
        build_backbone("resnet9000")
