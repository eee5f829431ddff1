"""TFJS graph -> ONNX converter, one op at a time, on tiny graphs with closed-form outputs."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.models.convert.tfjs_graph import decode_attr, read_tfjs_graph, to_onnx

ort = pytest.importorskip("onnxruntime")


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ilist(values) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def _model(tmp_path, nodes, weights, shape, quant=None):
    """model.json + one shard with ``weights`` (name -> array); ``quant`` name -> quantization dict."""
    specs, blobs = [], []
    for name, arr in weights.items():
        q = (quant or {}).get(name)
        spec = {"name": name, "shape": list(arr.shape), "dtype": "int32" if arr.dtype.kind == "i" else "float32"}
        if q is None:
            blobs.append(arr.astype(np.int32 if arr.dtype.kind == "i" else np.float32).tobytes())
        else:
            spec["quantization"] = q["spec"]
            blobs.append(q["data"].tobytes())
        specs.append(spec)
    (tmp_path / "w.bin").write_bytes(b"".join(blobs))
    const_nodes = [{"name": n, "op": "Const", "attr": {}} for n in weights]
    ph = {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": str(s)} for s in shape]}}}}
    doc = {
        "format": "graph-model",
        "modelTopology": {"node": [ph, *const_nodes, *nodes]},
        "weightsManifest": [{"paths": ["w.bin"], "weights": specs}],
    }
    (tmp_path / "model.json").write_text(json.dumps(doc))
    return read_tfjs_graph(tmp_path / "model.json")


def _run(graph, x):
    sess = ort.InferenceSession(to_onnx(graph).SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x.astype(np.float32)})


def _conv_ref(x, w, stride=1, same=True, depthwise=False):
    """NHWC conv (TF semantics: SAME puts the odd pixel at the bottom/right)."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    oh, ow = (-(-h // stride), -(-wd // stride)) if same else ((h - kh) // stride + 1, (wd - kw) // stride + 1)
    ph = max((oh - 1) * stride + kh - h, 0) if same else 0
    pw = max((ow - 1) * stride + kw - wd, 0) if same else 0
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = []
    for i in range(oh):
        row = []
        for j in range(ow):
            patch = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            if depthwise:  # w [kh, kw, c, 1]
                row.append(np.einsum("nhwc,hwc->nc", patch, w[..., 0]))
            else:
                row.append(np.einsum("nhwc,hwco->no", patch, w))
        out.append(np.stack(row, 1))
    return np.stack(out, 1)


def test_decode_attr_forms():
    assert decode_attr({"i": "3"}) == 3
    assert decode_attr(_ilist([1, 2])) == [1, 2]
    assert decode_attr(_s("SAME")) == "SAME"
    assert decode_attr({"list": {"s": [_s("BiasAdd")["s"]]}}) == ["BiasAdd"]
    assert decode_attr({"shape": {"dim": [{"size": "-1"}, {"size": "4"}]}}) == (-1, 4)
    assert decode_attr({"b": True}) is True


@pytest.mark.parametrize("stride", [1, 2])
def test_fused_conv2d_same_bias_relu(tmp_path, stride):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    node = {
        "name": "y", "op": "_FusedConv2D", "input": ["x", "w", "b"],
        "attr": {"padding": _s("SAME"), "strides": _ilist([1, stride, stride, 1]), "data_format": _s("NHWC"),
                 "dilations": _ilist([1, 1, 1, 1]), "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu")["s"]]}}},
    }
    g = _model(tmp_path, [node], {"w": w, "b": bias}, (-1, 5, 5, 2))
    x = rng.normal(size=(2, 5, 5, 2)).astype(np.float32)
    (y,) = _run(g, x)
    np.testing.assert_allclose(y, np.maximum(_conv_ref(x, w, stride) + bias, 0), rtol=1e-5, atol=1e-5)


def test_depthwise_valid_and_relu6(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 3, 3, 1)).astype(np.float32) * 3
    nodes = [
        {"name": "d", "op": "DepthwiseConv2dNative", "input": ["x", "w"],
         "attr": {"padding": _s("VALID"), "strides": _ilist([1, 1, 1, 1])}},
        {"name": "y", "op": "Relu6", "input": ["d"]},
    ]
    g = _model(tmp_path, nodes, {"w": w}, (-1, 6, 6, 3))
    x = rng.normal(size=(1, 6, 6, 3)).astype(np.float32)
    (y,) = _run(g, x)
    np.testing.assert_allclose(y, np.clip(_conv_ref(x, w, same=False, depthwise=True), 0, 6), rtol=1e-5, atol=1e-5)


def test_pools_same_exclude_padding(tmp_path):
    attr = {"ksize": _ilist([1, 2, 2, 1]), "strides": _ilist([1, 2, 2, 1]), "padding": _s("SAME")}
    nodes = [
        {"name": "a", "op": "AvgPool", "input": ["x"], "attr": attr},
        {"name": "m", "op": "MaxPool", "input": ["x"], "attr": attr},
    ]
    g = _model(tmp_path, nodes, {}, (-1, 3, 3, 1))
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    a, m = _run(g, x)
    # windows rows {0,1},{2} x cols {0,1},{2}; padded cells not counted
    np.testing.assert_allclose(a[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8]])
    np.testing.assert_allclose(m[0, :, :, 0], [[4, 5], [7, 8]])


def test_fused_matmul_bias_and_softmax(tmp_path):
    w = np.asarray([[1, 0, 0], [0, 2, 0]], np.float32)
    bias = np.asarray([0, 0, 1], np.float32)
    nodes = [
        {"name": "mm", "op": "_FusedMatMul", "input": ["x", "w", "b"],
         "attr": {"transpose_a": {"b": False}, "transpose_b": {"b": False}, "fused_ops": {"list": {"s": [_s("BiasAdd")["s"]]}}}},
        {"name": "y", "op": "Softmax", "input": ["mm"]},
    ]
    g = _model(tmp_path, nodes, {"w": w, "b": bias}, (-1, 2))
    x = np.asarray([[1.0, 1.0]], np.float32)
    (y,) = _run(g, x)
    e = np.exp([1.0, 2.0, 1.0])
    np.testing.assert_allclose(y[0], e / e.sum(), rtol=1e-6)


def test_reshape_keeps_nhwc_order_and_mean(tmp_path):
    nodes = [
        {"name": "r", "op": "Reshape", "input": ["x", "shape"]},
        {"name": "y", "op": "Mean", "input": ["x", "axes"], "attr": {"keep_dims": {"b": False}}},
    ]
    g = _model(tmp_path, nodes, {"shape": np.asarray([-1, 12], np.int32), "axes": np.asarray([1, 2], np.int32)}, (-1, 2, 2, 3))
    x = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    r, y = _run(g, x)
    np.testing.assert_array_equal(r, x.reshape(1, 12))
    np.testing.assert_allclose(y, x.mean(axis=(1, 2)))


def test_strided_slice_shrink_and_masks(tmp_path):
    nodes = [
        {"name": "s", "op": "StridedSlice", "input": ["x", "b", "e", "st"],
         "attr": {"begin_mask": {"i": "1"}, "end_mask": {"i": "1"}, "shrink_axis_mask": {"i": "2"}}},
        {"name": "t", "op": "StridedSlice", "input": ["x", "b2", "e2", "st2"],
         "attr": {"begin_mask": {"i": "0"}, "end_mask": {"i": "2"}}},
    ]
    w = {
        "b": np.asarray([0, 2], np.int32), "e": np.asarray([0, 3], np.int32), "st": np.asarray([1, 1], np.int32),
        "b2": np.asarray([1, 1], np.int32), "e2": np.asarray([2, 0], np.int32), "st2": np.asarray([1, 2], np.int32),
    }
    g = _model(tmp_path, nodes, w, (-1, 5))
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    s, t = _run(g, x)
    np.testing.assert_array_equal(s, x[:, 2])
    np.testing.assert_array_equal(t, x[1:2, 1::2])


def test_elementwise_expand_concat_pad(tmp_path):
    nodes = [
        {"name": "m", "op": "Mul", "input": ["x", "k"]},
        {"name": "a", "op": "AddV2", "input": ["m", "k"]},
        {"name": "mn", "op": "Minimum", "input": ["a", "k"]},
        {"name": "c", "op": "ConcatV2", "input": ["a", "mn", "axis"]},
        {"name": "e", "op": "ExpandDims", "input": ["c", "axis"]},
        {"name": "p", "op": "Pad", "input": ["x", "pads"]},
    ]
    w = {"k": np.asarray([2.0], np.float32), "axis": np.asarray(1, np.int32), "pads": np.asarray([[0, 0], [1, 2]], np.int32)}
    g = _model(tmp_path, nodes, w, (-1, 2))
    x = np.asarray([[0.0, 1.0]], np.float32)
    outs = dict(zip(["e", "p"], _run(g, x)[-2:], strict=True))
    a = x * 2 + 2
    np.testing.assert_allclose(outs["e"], np.concatenate([a, np.minimum(a, 2)], 1)[:, None, :])
    np.testing.assert_allclose(outs["p"], [[0, 0, 1, 0, 0]])


def test_quantized_and_float16_weights(tmp_path):
    q = np.asarray([0, 1, 255], np.uint8)
    nodes = [
        {"name": "y", "op": "Mul", "input": ["x", "wq"]},
        {"name": "z", "op": "Mul", "input": ["x", "wh"]},
    ]
    quant = {
        "wq": {"spec": {"dtype": "uint8", "scale": 0.5, "min": -1.0}, "data": q},
        "wh": {"spec": {"dtype": "float16"}, "data": np.asarray([0.5, -2.0, 1024.0], np.float16)},
    }
    g = _model(tmp_path, nodes, {"wq": np.zeros(3, np.float32), "wh": np.zeros(3, np.float32)}, (-1, 3), quant)
    np.testing.assert_allclose(g.weights["wq"], [-1.0, -0.5, 126.5])
    y, z = _run(g, np.ones((1, 3), np.float32))
    np.testing.assert_allclose(y[0], [-1.0, -0.5, 126.5])
    np.testing.assert_allclose(z[0], [0.5, -2.0, 1024.0])


def test_batchnorm_and_unary(tmp_path):
    nodes = [
        {"name": "bn", "op": "FusedBatchNormV3", "input": ["x", "sc", "of", "mu", "var"], "attr": {"epsilon": {"f": 0.0}}},
        {"name": "t", "op": "Tanh", "input": ["bn"]},
        {"name": "r", "op": "Rsqrt", "input": ["var"]},
    ]
    w = {"sc": np.asarray([2.0], np.float32), "of": np.asarray([1.0], np.float32),
         "mu": np.asarray([0.5], np.float32), "var": np.asarray([4.0], np.float32)}
    g = _model(tmp_path, nodes, w, (-1, 1, 1, 1))
    x = np.full((1, 1, 1, 1), 2.5, np.float32)
    outs = _run(g, x)
    np.testing.assert_allclose(outs[0], np.tanh((2.5 - 0.5) * 2 / 2 + 1), rtol=1e-6)
    np.testing.assert_allclose(outs[1], [0.5])


def test_unsupported_op_is_named(tmp_path):
    g = _model(tmp_path, [{"name": "y", "op": "NonMaxSuppressionV5", "input": ["x"]}], {}, (-1, 2))
    with pytest.raises(InvalidInput, match="NonMaxSuppressionV5"):
        to_onnx(g)


def test_not_a_graph_model(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {}}))
    with pytest.raises(InvalidInput, match="graph model"):
        read_tfjs_graph(tmp_path / "m.json")
