"""The user-supplied ONNX embedder, tested with a tiny ONNX model built here."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from faceprint.errors import InvalidInput, ModelIntegrityError, ModelUnavailable
from faceprint.models import registry
from faceprint.models.embedders.onnx_arcface import OnnxArcFaceEmbedder, register_from_card_file, register_onnx_embedder
from faceprint.models.sources import sha256_file


def tiny_model(path, layout="NCHW", dim=4):
    """A 1x1 conv (3 -> dim channels, known weights) + global average pool + flatten."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(dim, 3, 1, 1)).astype(np.float32)
    nodes = []
    x_name = "x"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]))
        x_name = "xt"
    nodes += [
        helper.make_node("Conv", [x_name, "w"], ["c"]),
        helper.make_node("GlobalAveragePool", ["c"], ["g"]),
        helper.make_node("Flatten", ["g"], ["y"]),
    ]
    shape = ["N", 3, 112, 112] if layout == "NCHW" else ["N", 112, 112, 3]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", dim])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return w[:, :, 0, 0]


def expected(chips, w, mean, std, bgr=False):
    x = chips.astype(np.float32)
    if bgr:
        x = x[..., ::-1]
    x = (x - np.float32(mean)) / np.float32(std)
    return x.mean(axis=(1, 2)) @ w.T


@pytest.fixture
def chips():
    return np.random.default_rng(1).integers(0, 256, size=(5, 112, 112, 3), dtype=np.uint8)


def test_matches_closed_form(tmp_path, chips):
    w = tiny_model(tmp_path / "m.onnx")
    emb = registry.create("onnx_arcface", path=tmp_path / "m.onnx")
    out = emb.embed_chips(chips)
    np.testing.assert_allclose(out, expected(chips, w, 127.5, 127.5), rtol=1e-4, atol=1e-5)


def test_bgr_and_nhwc(tmp_path, chips):
    w = tiny_model(tmp_path / "m.onnx", layout="NHWC")
    card = register_onnx_embedder("tiny_bgr", tmp_path / "m.onnx", color_order="BGR", layout="NHWC",
                                  mean=(0, 0, 0), std=(255, 255, 255), embedding_dim=4)
    assert registry.get_card("tiny_bgr") == card
    out = registry.create("tiny_bgr").embed_chips(chips)
    np.testing.assert_allclose(out, expected(chips, w, 0, 255, bgr=True), rtol=1e-4, atol=1e-6)


def test_card_file_and_sha(tmp_path, chips):
    tiny_model(tmp_path / "m.onnx")
    (tmp_path / "m.card.json").write_text(json.dumps({
        "name": "tiny_card", "path": "m.onnx", "version": "2", "embedding_dim": 4,
        "sha256": sha256_file(tmp_path / "m.onnx"), "mean": [127.5] * 3, "std": [128] * 3,
    }))
    card = register_from_card_file(tmp_path / "m.card.json")
    assert card.tag == "tiny_card@2" and card.std == (128, 128, 128)
    assert registry.create("tiny_card").embed_chips(chips).shape == (5, 4)
    (tmp_path / "bad.card.json").write_text(json.dumps({"name": "x", "path": "m.onnx", "sha256": "0" * 64}))
    with pytest.raises(ModelIntegrityError):
        registry.create(register_from_card_file(tmp_path / "bad.card.json").name).embed_chips(chips)


def test_bad_inputs(tmp_path, chips):
    with pytest.raises(InvalidInput):
        OnnxArcFaceEmbedder()  # no path
    with pytest.raises(ModelUnavailable):
        registry.create("onnx_arcface", path=tmp_path / "missing.onnx").embed_chips(chips)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable):
        registry.create("onnx_arcface", path=tmp_path / "junk.onnx").embed_chips(chips)
    tiny_model(tmp_path / "m.onnx")
    emb = registry.create("onnx_arcface", path=tmp_path / "m.onnx")
    with pytest.raises(InvalidInput):
        emb.embed_chips(chips.astype(np.float32))
    with pytest.raises(InvalidInput):
        emb.embed_chips(chips[:, :100])
    with pytest.raises(InvalidInput):
        register_from_card_file(tmp_path / "nope.json")
