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


def test_classifier_with_float16_weights_is_half_the_size_and_agrees(tmp_path):
    from faceprint.models.analyzers.expression import LABELS
    from faceprint.models.analyzers.fer_cnn import register_from_card_file
    from faceprint.train.export import card_path, export_classifier_onnx

    torch.manual_seed(0)
    model = build_backbone("fer_vgg", 7).eval()  # 1.17 M parameters
    full = export_classifier_onnx(model, tmp_path / "full.onnx", labels=LABELS, name="unit_fer_full")
    half = export_classifier_onnx(model, tmp_path / "half.onnx", labels=LABELS, name="unit_fer_half", weights_dtype="float16")
    assert 0.45 < half.stat().st_size / full.stat().st_size < 0.55
    assert json.loads(card_path(half).read_text())["weights_dtype"] == "float16"
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    p_full = create_session(full, threads=1).run(None, {"input": faces})[0]
    p_half = create_session(half, threads=1).run(None, {"input": faces})[0]
    assert p_half.dtype == np.float32
    np.testing.assert_allclose(p_half, p_full, atol=5e-3)
    np.testing.assert_allclose(p_half.sum(1), 1.0, atol=1e-5)
    # it registers and runs as an analyzer like any exported classifier
    card = register_from_card_file(card_path(half))
    from faceprint.models import registry

    np.testing.assert_allclose(registry.create(card.name, threads=1).predict_crops(faces), p_half, atol=1e-6)
    # int8: a quarter of the size, per-channel error at most half a quantisation step
    q8 = export_classifier_onnx(model, tmp_path / "q8.onnx", labels=LABELS, name="unit_fer_q8", weights_dtype="int8")
    assert 0.2 < q8.stat().st_size / full.stat().st_size < 0.3
    p_q8 = create_session(q8, threads=1).run(None, {"input": faces})[0]
    np.testing.assert_allclose(p_q8, p_full, atol=2e-2)
    with pytest.raises(ValueError):
        export_classifier_onnx(model, tmp_path / "x.onnx", labels=LABELS, weights_dtype="int4")


def test_int8_weights_closed_form():
    import onnx
    from onnx import helper, numpy_helper

    from faceprint.train.export import compress_weights

    w = np.array([[1.0, -0.5, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 1.0, 0.3, 0.1]], np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["out"])],
        "g",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    m = onnx.load_from_string(compress_weights(data, "int8", min_elements=4))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    assert inits["w__int8"].dtype == np.int8 and inits["w__int8"].tolist() == [[127, -64, 32, 0], [0, 0, 0, 0], [-127, 64, 19, 6]]
    np.testing.assert_allclose(inits["w__scale"].ravel(), [1 / 127, 1.0, 2 / 127])  # an all-zero row keeps scale 1
    sess = create_session(m.SerializeToString(), threads=1)
    for row in range(3):
        x = np.eye(3, dtype=np.float32)[row : row + 1]
        got = sess.run(None, {"input": x})[0][0]
        assert np.abs(got - w[row]).max() <= inits["w__scale"].ravel()[row] / 2 + 1e-7
    assert compress_weights(data, "float32") == data
