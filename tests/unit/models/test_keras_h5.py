"""Keras HDF5 reader and ONNX builder on tiny hand-made files with the Keras 2.0.5 layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from faceprint.errors import InvalidInput
from faceprint.models.convert.keras_h5 import (
    InputSpec,
    conv_output_size,
    read_keras_h5,
    same_padding,
    to_onnx,
)


# ------------------------------------------------------------------------------ file construction
def _layer(cls: str, name: str, inbound: list[str], **config) -> dict:
    return {
        "class_name": cls,
        "name": name,
        "config": {"name": name, **config},
        "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]] if inbound else [],
    }


def write_keras_h5(
    path: Path, layers: list[dict], weights: dict[str, dict[str, np.ndarray]], *, sequential: bool = False
) -> Path:
    """Write a file shaped like Keras 2.0.5's ``model.save()`` output."""
    import h5py

    if sequential:
        config = {
            "class_name": "Sequential",
            "config": [{"class_name": ly["class_name"], "config": ly["config"]} for ly in layers],
        }
    else:
        config = {
            "class_name": "Model",
            "config": {
                "name": "tiny",
                "layers": layers,
                "input_layers": [[layers[0]["name"], 0, 0]],
                "output_layers": [[layers[-1]["name"], 0, 0]],
            },
        }
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.0.5"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([ly["name"].encode() for ly in layers])
        for ly in layers:
            g = mw.create_group(ly["name"])
            ws = weights.get(ly["name"], {})
            names = [f"{ly['name']}_1/{k}:0" for k in ws]
            g.attrs["weight_names"] = np.array([n.encode() for n in names]) if names else np.array([], np.float64)
            for n, arr in zip(names, ws.values(), strict=True):
                g.create_dataset(n, data=np.asarray(arr, np.float32))
    return path


def _bn(rng: np.random.Generator, c: int) -> dict[str, np.ndarray]:
    return {
        "gamma": rng.uniform(0.5, 1.5, c),
        "beta": rng.normal(0, 0.3, c),
        "moving_mean": rng.normal(0, 0.3, c),
        "moving_variance": rng.uniform(0.2, 2.0, c),
    }


CONV = dict(data_format="channels_last", dilation_rate=[1, 1], activation="linear")


@pytest.fixture
def tiny(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, dict]:
    """Input 8×8×2 → conv3×3/2 same (+bias) → BN → relu → sepconv3×3 same → BN → maxpool 3×3/2 same;
    shortcut conv1×1/2 same → BN; add → global average → softmax."""
    layers = [
        _layer("InputLayer", "input_1", [], batch_input_shape=[None, 8, 8, 2], dtype="float32"),
        _layer(
            "Conv2D",
            "conv2d_1",
            ["input_1"],
            filters=3,
            kernel_size=[3, 3],
            strides=[2, 2],
            padding="same",
            use_bias=True,
            **CONV,
        ),
        _layer("BatchNormalization", "bn_1", ["conv2d_1"], axis=-1, epsilon=1e-3, center=True, scale=True),
        _layer("Activation", "relu_1", ["bn_1"], activation="relu"),
        _layer(
            "SeparableConv2D",
            "sep_1",
            ["relu_1"],
            filters=4,
            kernel_size=[3, 3],
            strides=[1, 1],
            padding="same",
            depth_multiplier=1,
            use_bias=False,
            **CONV,
        ),
        _layer("BatchNormalization", "bn_2", ["sep_1"], axis=-1, epsilon=1e-3, center=True, scale=True),
        _layer("MaxPooling2D", "pool_1", ["bn_2"], pool_size=[3, 3], strides=[2, 2], padding="same", data_format="channels_last"),
        _layer(
            "Conv2D", "short_1", ["relu_1"], filters=4, kernel_size=[1, 1], strides=[2, 2], padding="same", use_bias=False, **CONV
        ),
        _layer("BatchNormalization", "bn_3", ["short_1"], axis=-1, epsilon=1e-3, center=True, scale=True),
        _layer("Add", "add_1", ["pool_1", "bn_3"]),
        _layer("GlobalAveragePooling2D", "gap_1", ["add_1"], data_format="channels_last"),
        _layer("Activation", "predictions", ["gap_1"], activation="softmax"),
    ]
    weights = {
        "conv2d_1": {"kernel": rng.normal(size=(3, 3, 2, 3)), "bias": rng.normal(size=3)},
        "bn_1": _bn(rng, 3),
        "sep_1": {"depthwise_kernel": rng.normal(size=(3, 3, 3, 1)), "pointwise_kernel": rng.normal(size=(1, 1, 3, 4))},
        "bn_2": _bn(rng, 4),
        "short_1": {"kernel": rng.normal(size=(1, 1, 3, 4))},
        "bn_3": _bn(rng, 4),
    }
    weights = {k: {n: np.asarray(v, np.float32) for n, v in d.items()} for k, d in weights.items()}
    return write_keras_h5(tmp_path / "tiny.h5", layers, weights), weights


# ---------------------------------------------------------------------------- numpy reference (NHWC)
def _pad_same(x, k, s, value=0.0):
    (top, bottom), (left, right) = same_padding(x.shape[1], k, s), same_padding(x.shape[2], k, s)
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _conv_ref(x, kern, s):
    k = kern.shape[0]
    xp = _pad_same(x, k, s)
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    out = np.zeros((x.shape[0], oh, ow, kern.shape[3]))
    for y in range(oh):
        for xx in range(ow):
            win = xp[:, y * s : y * s + k, xx * s : xx * s + k, :]
            out[:, y, xx] = np.einsum("nijc,ijco->no", win, kern)
    return out


def _dw_ref(x, kern):
    xp = _pad_same(x, 3, 1)
    out = np.zeros_like(x)
    for y in range(x.shape[1]):
        for xx in range(x.shape[2]):
            out[:, y, xx] = np.einsum("nijc,ijc->nc", xp[:, y : y + 3, xx : xx + 3, :], kern[..., 0])
    return out


def _maxpool_ref(x, k, s):
    xp = _pad_same(x, k, s, value=-np.inf)
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    return np.stack(
        [np.stack([xp[:, y * s : y * s + k, xx * s : xx * s + k].max(axis=(1, 2)) for xx in range(ow)], 1) for y in range(oh)], 1
    )


def _bn_ref(x, p, eps=1e-3):
    return (x - p["moving_mean"]) / np.sqrt(p["moving_variance"] + eps) * p["gamma"] + p["beta"]


def tiny_reference(x: np.ndarray, w: dict) -> np.ndarray:
    w = {k: {n: v.astype(np.float64) for n, v in d.items()} for k, d in w.items()}
    a = np.maximum(_bn_ref(_conv_ref(x, w["conv2d_1"]["kernel"], 2) + w["conv2d_1"]["bias"], w["bn_1"]), 0)
    b = _conv_ref(_dw_ref(a, w["sep_1"]["depthwise_kernel"]), w["sep_1"]["pointwise_kernel"], 1)
    b = _maxpool_ref(_bn_ref(b, w["bn_2"]), 3, 2)
    c = _bn_ref(_conv_ref(a, w["short_1"]["kernel"], 2), w["bn_3"])
    g = (b + c).mean(axis=(1, 2))
    e = np.exp(g - g.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _run(proto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


# ------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (30, 3, 2, (0, 1)),  # odd total: the extra pixel goes after (bottom/right)
        (60, 3, 2, (0, 1)),
        (15, 3, 2, (1, 1)),
        (8, 3, 2, (0, 1)),
        (60, 1, 2, (0, 0)),
        (64, 3, 1, (1, 1)),
        (5, 4, 1, (1, 2)),
        (1, 3, 2, (1, 1)),
        (4, 2, 2, (0, 0)),
    ],
)
def test_same_padding_examples(size, kernel, stride, expected) -> None:
    assert same_padding(size, kernel, stride) == expected


def test_same_padding_closed_form() -> None:
    for n in range(1, 41):
        for k in range(1, 6):
            for s in range(1, 4):
                before, after = same_padding(n, k, s)
                out = -(-n // s)
                assert conv_output_size(n, k, s, "same") == out
                assert after - before in (0, 1)
                assert before >= 0
                # the padded input holds exactly `out` windows, the last one ending at the last row
                assert (n + before + after - k) // s + 1 == out
                assert (out - 1) * s + k == n + before + after or before + after == 0
        assert conv_output_size(n + 2, 3, 1, "valid") == n


def test_reader(tiny) -> None:
    path, weights = tiny
    m = read_keras_h5(path)
    assert m.keras_version == "2.0.5" and m.backend == "tensorflow"
    assert m.inputs == ("input_1",) and m.outputs == ("predictions",)
    assert m.input_shape == (8, 8, 2)
    assert [ly.class_name for ly in m.layers][:3] == ["InputLayer", "Conv2D", "BatchNormalization"]
    assert m.layer("add_1").inbound == ("pool_1", "bn_3")
    assert m.layer("input_1").inbound == ()
    assert set(m.layer("sep_1").weights) == {"depthwise_kernel", "pointwise_kernel"}
    np.testing.assert_array_equal(m.layer("conv2d_1").weights["kernel"], weights["conv2d_1"]["kernel"])
    np.testing.assert_array_equal(m.layer("bn_2").weights["moving_variance"], weights["bn_2"]["moving_variance"])
    assert m.layer("relu_1").weights == {}
    assert m.num_parameters == sum(v.size for d in weights.values() for v in d.values())
    assert m.layer("conv2d_1").config["padding"] == "same"


@pytest.mark.parametrize("fold", [True, False])
def test_onnx_matches_numpy_reference(tiny, rng, fold) -> None:
    path, weights = tiny
    x = rng.normal(size=(5, 8, 8, 2)).astype(np.float32)
    proto = to_onnx(read_keras_h5(path), InputSpec(layout="NHWC"), fold_batchnorm=fold)
    ops = [n.op_type for n in proto.graph.node]
    assert ("BatchNormalization" in ops) is (not fold)
    got = _run(proto, x)
    ref = tiny_reference(x.astype(np.float64), weights)
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_input_layouts_agree(tiny, rng) -> None:
    path, _ = tiny
    m = read_keras_h5(path)
    x = rng.integers(0, 256, size=(3, 8, 8, 2)).astype(np.uint8)
    pre = (x.astype(np.float32) / 255 - 0.5) * 2
    a = _run(to_onnx(m, InputSpec(layout="NHWC")), pre)
    b = _run(to_onnx(m, InputSpec(layout="NCHW")), np.ascontiguousarray(pre.transpose(0, 3, 1, 2)))
    c = _run(to_onnx(m, InputSpec(layout="NHWC", dtype="uint8", scale=2 / 255, offset=-1.0)), x)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_stride2_same_conv_pads_bottom_right(tmp_path) -> None:
    """All-ones 3×3/2 'same' conv on a 4×4 all-ones image: TensorFlow pads one row/column at the
    bottom/right only, so the windows hold 9, 6, 6 and 4 ones."""
    layers = [
        _layer("InputLayer", "in", [], batch_input_shape=[None, 4, 4, 1]),
        _layer("Conv2D", "c", ["in"], filters=1, kernel_size=[3, 3], strides=[2, 2], padding="same", use_bias=False, **CONV),
    ]
    path = write_keras_h5(tmp_path / "c.h5", layers, {"c": {"kernel": np.ones((3, 3, 1, 1), np.float32)}})
    out = _run(to_onnx(read_keras_h5(path)), np.ones((1, 4, 4, 1), np.float32))
    np.testing.assert_array_equal(out[0, 0], [[9, 6], [6, 4]])


def test_maxpool_same_ignores_padding(tmp_path) -> None:
    layers = [
        _layer("InputLayer", "in", [], batch_input_shape=[None, 4, 4, 1]),
        _layer("MaxPooling2D", "p", ["in"], pool_size=[3, 3], strides=[2, 2], padding="same", data_format="channels_last"),
    ]
    path = write_keras_h5(tmp_path / "p.h5", layers, {})
    x = -np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) - 1  # all negative: zero padding would win
    out = _run(to_onnx(read_keras_h5(path)), x)
    np.testing.assert_array_equal(out[0, 0], [[-1, -3], [-9, -11]])


def test_sequential_and_dense(tmp_path, rng) -> None:
    layers = [
        _layer("Conv2D", "c", [], filters=2, kernel_size=[2, 2], strides=[1, 1], padding="valid", use_bias=True,
               batch_input_shape=[None, 3, 3, 1], **{**CONV, "activation": "relu"}),
        _layer("Flatten", "f", []),
        _layer("Dropout", "d", [], rate=0.5),
        _layer("Dense", "fc", [], units=3, use_bias=True, activation="softmax"),
    ]
    w = {
        "c": {"kernel": rng.normal(size=(2, 2, 1, 2)).astype(np.float32), "bias": rng.normal(size=2).astype(np.float32)},
        "fc": {"kernel": rng.normal(size=(8, 3)).astype(np.float32), "bias": rng.normal(size=3).astype(np.float32)},
    }
    path = write_keras_h5(tmp_path / "s.h5", layers, w, sequential=True)
    m = read_keras_h5(path)
    assert m.input_shape == (3, 3, 1) and len(m.layers) == 5
    x = rng.normal(size=(2, 3, 3, 1)).astype(np.float32)
    got = _run(to_onnx(m), x)
    conv = (
        np.stack(
            [
                np.stack([np.einsum("nijc,ijco->no", x[:, i : i + 2, j : j + 2], w["c"]["kernel"]) for j in range(2)], 1)
                for i in range(2)
            ],
            1,
        )
        + w["c"]["bias"]
    )
    flat = np.maximum(conv, 0).reshape(2, -1)  # Keras flattens channels-last
    logits = flat @ w["fc"]["kernel"] + w["fc"]["bias"]
    ref = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_unsupported_layer(tmp_path) -> None:
    layers = [
        _layer("InputLayer", "in", [], batch_input_shape=[None, 4, 4, 1]),
        _layer("LSTM", "l", ["in"], units=3),
    ]
    path = write_keras_h5(tmp_path / "u.h5", layers, {})
    with pytest.raises(InvalidInput, match="LSTM"):
        to_onnx(read_keras_h5(path))


def test_not_a_keras_file(tmp_path) -> None:
    import h5py

    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_dataset("a", data=np.zeros(3))
    with pytest.raises(InvalidInput, match="model_config"):
        read_keras_h5(tmp_path / "x.h5")
    (tmp_path / "y.h5").write_bytes(b"not hdf5")
    with pytest.raises(InvalidInput):
        read_keras_h5(tmp_path / "y.h5")
