import pytest

torch = pytest.importorskip("torch")

from faceprint.train.backbones import build_backbone, iresnet18, iresnet_tiny  # noqa: E402


def test_tiny_shapes_and_gradients():
    torch.manual_seed(0)
    net = iresnet_tiny(128)
    x = torch.randn(3, 3, 112, 112)
    out = net(x)
    assert out.shape == (3, 128)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_ir18_is_the_paper_layout():
    net = iresnet18(512).eval()
    blocks = list(net.body)
    assert len(blocks) == 8
    assert [b.conv2.stride[0] for b in blocks] == [2, 1, 2, 1, 2, 1, 2, 1]
    assert [b.conv1.out_channels for b in blocks[::2]] == [64, 128, 256, 512]
    assert net.fc.in_features == 512 * 7 * 7
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 112, 112)).shape == (1, 512)


@pytest.mark.parametrize("name", ["iresnet_tiny", "mobilefacenet_tiny"])
def test_channels_last_input_is_made_contiguous(name):
    # torch 2.13.0 CPU corrupts memory (segfault) in the backward of a strided 1×1 conv fed a
    # channels-last tensor: the backbones convert their input to NCHW-contiguous first.
    net = build_backbone(name, 64)
    seen = []
    net.stem.register_forward_pre_hook(lambda mod, args: seen.append(args[0].is_contiguous()))
    net(torch.randn(2, 3, 112, 112).contiguous(memory_format=torch.channels_last))
    assert seen == [True]
