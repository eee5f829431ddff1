"""ONNX rewrites applied to shipped files: dequantize folding, unused inputs, symbolic dims."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from faceprint.errors import ModelIntegrityError  # noqa: E402
from faceprint.models.convert import onnx_rewrite  # noqa: E402


def _model(q, scale, zp, attrs, extra_input=False):
    nodes = [
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["w"], **attrs),
        helper.make_node("Add", ["x", "w"], ["y"]),
    ]
    inits = [numpy_helper.from_array(q, "q"), numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "z")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, *q.shape[1:]])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("unused_w", TensorProto.FLOAT, list(q.shape)))
        inputs.append(helper.make_tensor_value_info("q", TensorProto.INT8, list(q.shape)))  # initializer listed as input
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_fold_per_tensor_and_per_axis():
    q = np.array([[-2, 0, 3], [5, -7, 1]], np.int8)
    m = _model(q, np.array(0.5, np.float32), np.array(1, np.int8), {})
    folded = onnx_rewrite.fold_dequantize(m)
    assert [n.op_type for n in folded.graph.node] == ["Add"]
    w = numpy_helper.to_array(next(i for i in folded.graph.initializer if i.name == "w"))
    assert w == pytest.approx((q.astype(float) - 1) * 0.5)
    m2 = _model(q, np.array([0.5, 2.0], np.float32), np.array([0, 1], np.int8), {"axis": 0})
    w2 = numpy_helper.to_array(next(i for i in onnx_rewrite.fold_dequantize(m2).graph.initializer if i.name == "w"))
    assert w2 == pytest.approx(np.array([[-1.0, 0.0, 1.5], [8.0, -16.0, 0.0]]))
    x = np.ones((1, 3), np.float32)
    assert _run(onnx_rewrite.fold_dequantize(m2), x) == pytest.approx(_run(m2, x))


def test_fold_blocked():
    q = np.arange(8, dtype=np.int8).reshape(2, 4)
    scale = np.array([[1.0, 10.0], [2.0, 20.0]], np.float32)
    zp = np.zeros((2, 2), np.int8)
    m = _model(q, scale, zp, {"axis": 1, "block_size": 2})
    w = numpy_helper.to_array(next(i for i in onnx_rewrite.fold_dequantize(m).graph.initializer if i.name == "w"))
    assert w == pytest.approx(np.array([[0, 1, 20, 30], [8, 10, 120, 140]]))
    x = np.zeros((2, 4), np.float32)
    assert _run(onnx_rewrite.fold_dequantize(m), x) == pytest.approx(w)


def test_drop_unused_and_initializer_inputs():
    q = np.array([[1, 2]], np.int8)
    m = _model(q, np.array(1.0, np.float32), np.array(0, np.int8), {}, extra_input=True)
    m = onnx_rewrite.fold_input_initializers(m)
    assert [i.name for i in m.graph.input] == ["x", "unused_w"]
    m = onnx_rewrite.drop_unused_inputs(m, keep=("x",))
    assert [i.name for i in m.graph.input] == ["x"]
    assert _run(m, np.zeros((1, 2), np.float32)) == pytest.approx(np.array([[1.0, 2.0]]))


def test_set_dim_params():
    q = np.array([[1, 2]], np.int8)
    m = onnx_rewrite.set_dim_params(_model(q, np.array(1.0, np.float32), np.array(0, np.int8), {}), {"x": {0: "N"}})
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert _run(m, np.zeros((3, 2), np.float32)).shape == (3, 2)
    with pytest.raises(ModelIntegrityError):
        onnx_rewrite.set_dim_params(m, {"nope": {0: "N"}})
    with pytest.raises(ModelIntegrityError):
        onnx_rewrite.set_dim_params(m, {"x": {5: "N"}})
    with pytest.raises(ModelIntegrityError):
        onnx_rewrite.load_model(b"not onnx at all")
