import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from faceprint.models.runtime.onnx import create_session  # noqa: E402
from faceprint.train.backbones import build_backbone  # noqa: E402
from faceprint.train.export import export_onnx  # noqa: E402


@pytest.mark.parametrize("name", ["iresnet_tiny", "mobilefacenet_tiny"])
def test_onnx_embedder_matches_torch_with_a_dynamic_batch(tmp_path, name):
    torch.manual_seed(0)
    net = build_backbone(name, 128)
    net.train()
    net(torch.randn(4, 3, 112, 112))  # move the BN running statistics off their defaults
    path = export_onnx(net, tmp_path / "m.onnx")
    assert net.training  # the caller's model is left as it was
    sess = create_session(path, threads=1)
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "input" and inp.shape[1:] == [3, 112, 112] and out.name == "embedding"
    x = np.random.default_rng(0).uniform(-1, 1, size=(5, 3, 112, 112)).astype(np.float32)
    got = sess.run(None, {"input": x})[0]
    with torch.no_grad():
        want = net.eval()(torch.from_numpy(x)).numpy()
    assert got.shape == (5, 128)
    assert np.abs(got - want).max() < 1e-4
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert meta["mean"] == [127.5] * 3 and meta["std"] == [127.5] * 3
    assert meta["input_size"] == [112, 112] and meta["color_order"] == "RGB" and meta["embedding_dim"] == 128


def test_exported_model_registers_as_an_embedder(tmp_path):
    from faceprint.models import registry
    from faceprint.train.export import register_exported

    torch.manual_seed(0)
    net = build_backbone("iresnet_tiny", 128).eval()
    export_onnx(net, tmp_path / "tiny.onnx", name="unit_exported_tiny")
    card = register_exported(tmp_path / "tiny.onnx")
    assert card.name == "unit_exported_tiny" and card.template == "arcface_112" and card.embedding_dim == 128
    chips = np.random.default_rng(0).integers(0, 256, size=(3, 112, 112, 3), dtype=np.uint8)
    got = registry.create("unit_exported_tiny").embed_chips(chips)
    x = (chips.astype(np.float32) - 127.5) / 127.5
    with torch.no_grad():
        want = net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
    assert np.abs(got - want).max() < 1e-4


def test_cards_listed_in_the_environment_are_registered(tmp_path, monkeypatch):
    from faceprint.models import registry

    net = build_backbone("iresnet_tiny", 64).eval()
    export_onnx(net, tmp_path / "envtiny.onnx", name="unit_env_tiny")
    monkeypatch.setenv("FACEPRINT_MODEL_CARDS", str(tmp_path / "envtiny.card.json"))
    monkeypatch.setattr(registry, "_builtins_loaded", False)
    assert registry.get_card("unit_env_tiny").embedding_dim == 64
