"""Closed-form tests of the dlib .dat decoder and of the conversion math."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from faceprint.errors import ModelIntegrityError, ModelUnavailable
from faceprint.models.convert import dlib_dat as dd
from faceprint.models.convert.dlib_dat import DatFormatError, DatReader


def enc_int(v: int) -> bytes:
    """dlib's integer encoding, written independently of the decoder: control byte (low nibble =
    byte count, bit 7 = negative) then the magnitude's little-endian bytes (at least one)."""
    mag = abs(v)
    body = mag.to_bytes(max(1, (mag.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if v < 0 else 0)]) + body


def enc_str(s: str) -> bytes:
    return enc_int(len(s)) + s.encode("ascii")


# ---------------------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    "data, value",
    [
        (b"\x00", 0),
        (b"\x01\x00", 0),
        (b"\x01\x02", 2),
        (b"\x81\x04", -4),
        (b"\x81\x1c", -28),
        (b"\x02\x00\x01", 256),
        (b"\x02\x80\x12", 4736),  # 32·3·7·7 + 32: the first conv's parameter count
        (b"\x82\xff\xff", -65535),
        (b"\x08" + b"\xff" * 8, 2**64 - 1),
        (b"\x03\x0a\xd7\xa3", 0xA3D70A),
    ],
)
def test_read_int_closed_form(data: bytes, value: int) -> None:
    r = DatReader(data)
    assert r.read_int() == value
    assert r.remaining == 0


def test_read_int_round_trips_independent_encoder() -> None:
    values = [0, 1, -1, 127, 128, 255, 256, -300, 2**31 - 1, -(2**31), 2**40 + 12345, -(2**63)]
    data = b"".join(enc_int(v) for v in values)
    r = DatReader(data)
    assert [r.read_int() for _ in values] == values
    assert r.remaining == 0


@pytest.mark.parametrize(
    "data, kwargs",
    [
        (b"\x02\x01", {}),  # truncated magnitude
        (b"", {}),  # nothing at all
        (b"\x11\x00", {}),  # reserved bits set
        (b"\x09" + b"\x00" * 9, {}),  # more bytes than an int64
        (b"\x03\x00\x00\x01", {"max_bytes": 2}),  # too wide for an int16 exponent
        (b"\x81\x01", {"unsigned": True}),  # negative where unsigned
    ],
)
def test_read_int_rejects_malformed(data: bytes, kwargs: dict) -> None:
    with pytest.raises(DatFormatError):
        DatReader(data).read_int(**kwargs)


def test_format_error_is_an_integrity_error() -> None:
    assert issubclass(DatFormatError, ModelIntegrityError)
    assert issubclass(DatFormatError, ModelUnavailable)


# ------------------------------------------------------------------------------- floats and strings


@pytest.mark.parametrize(
    "data, value",
    [
        (b"\x01\x10\x81\x04", 1.0),  # 16 · 2^-4
        (b"\x01\x03\x81\x02", 0.75),  # 3 · 2^-2
        (b"\x81\x05\x01\x03", -40.0),  # -5 · 2^3
        (b"\x01\x00\x01\x0b", 0.0),
        # the loss layer's margin and the input's red mean, bytes as found in the shipped file
        (b"\x03\x0a\xd7\xa3\x81\x1c", float(np.float32(0.04))),
        (b"\x03\x62\x90\xf5\x81\x11", float(np.float32(122.782))),
    ],
)
def test_read_float_closed_form(data: bytes, value: float) -> None:
    r = DatReader(data)
    assert r.read_float() == value
    assert r.remaining == 0


def test_read_float_special_values() -> None:
    assert DatReader(enc_int(0) + enc_int(32000)).read_float() == math.inf
    assert DatReader(enc_int(0) + enc_int(32001)).read_float() == -math.inf
    assert math.isnan(DatReader(enc_int(0) + enc_int(32002)).read_float())


def test_read_string_and_bool() -> None:
    r = DatReader(b"\x01\x05con_4" + b"\x01\x00" + b"10")
    assert r.read_string() == "con_4"
    assert r.read_string() == ""
    assert r.read_bool() is True
    assert r.read_bool() is False
    assert r.remaining == 0


def test_string_errors() -> None:
    with pytest.raises(DatFormatError, match="expected 'relu_'"):
        DatReader(enc_str("affine_")).expect_string("relu_")
    with pytest.raises(DatFormatError):
        DatReader(b"\x01\x05con").read_string()  # truncated
    with pytest.raises(DatFormatError):
        DatReader(b"\x01\x02\xff\xfe").read_string()  # not ASCII
    with pytest.raises(DatFormatError):
        DatReader(b"\x01").read_bool()  # not '0'/'1'


# ---------------------------------------------------------------------------------------- tensors


def test_read_tensor_closed_form() -> None:
    values = [1.5, -2.0, 0.25, 3.0, 4.0, 5.0]
    data = enc_int(2) + enc_int(2) + enc_int(3) + enc_int(1) + enc_int(1) + struct.pack("<6f", *values)
    r = DatReader(data + b"tail")
    t = r.read_tensor()
    assert t.shape == (2, 3, 1, 1)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.reshape(-1), np.array(values, dtype=np.float32))
    assert r.remaining == 4


def test_read_empty_tensor_and_alias() -> None:
    r = DatReader(enc_int(2) + enc_int(0) * 4 + enc_int(1) + b"".join(enc_int(v) for v in (32, 3, 7, 7)))
    assert r.read_tensor().shape == (0, 0, 0, 0)
    assert r.read_alias() == (32, 3, 7, 7)


def test_read_tensor_errors() -> None:
    with pytest.raises(DatFormatError, match="version 1"):
        DatReader(enc_int(1) + enc_int(1) * 4).read_tensor()
    short = enc_int(2) + enc_int(2) + enc_int(1) * 3 + struct.pack("<f", 1.0)  # 2 floats announced, 1 given
    with pytest.raises(DatFormatError, match="end of data"):
        DatReader(short).read_tensor()
    with pytest.raises(DatFormatError):
        DatReader(enc_int(2) + enc_int(3) + b"".join(enc_int(v) for v in (1, 1, 1))).read_alias()


# ------------------------------------------------------------------------------ residual padding rule


def test_padded_add_shape() -> None:
    assert dd.padded_add_shape((64, 17, 17), (32, 17, 17)) == (64, 17, 17)
    assert dd.padded_add_shape((256, 3, 3), (256, 4, 4)) == (256, 4, 4)
    assert dd.padded_add_shape((4, 3, 5), (3, 4, 2)) == (4, 4, 5)
    with pytest.raises(ValueError):
        dd.padded_add_shape((1, 2), (1, 2, 3))


def test_padded_add_top_left_aligned() -> None:
    a = np.arange(1, 1 + 2 * 3 * 3, dtype=np.float32).reshape(1, 2, 3, 3)  # 2 channels, 3×3
    b = np.full((1, 1, 4, 4), 100.0, dtype=np.float32)  # 1 channel, 4×4
    out = dd.padded_add(a, b)
    assert out.shape == (1, 2, 4, 4)
    # channel 0: a (top-left 3×3) + 100 everywhere
    np.testing.assert_array_equal(out[0, 0, :3, :3], a[0, 0] + 100)
    np.testing.assert_array_equal(out[0, 0, 3, :], [100, 100, 100, 100])
    np.testing.assert_array_equal(out[0, 0, :, 3], [100, 100, 100, 100])
    # channel 1: b contributes nothing (zero-padded channel); a's 3×3 then zeros
    np.testing.assert_array_equal(out[0, 1, :3, :3], a[0, 1])
    assert out[0, 1, 3, :].tolist() == [0, 0, 0, 0]
    assert out[0, 1, :, 3].tolist() == [0, 0, 0, 0]
    # 1 + 100 at the origin, 9 + 100 at (2, 2) of channel 0, 18 at (2, 2) of channel 1
    assert out[0, 0, 0, 0] == 101 and out[0, 0, 2, 2] == 109 and out[0, 1, 2, 2] == 18


def test_padded_add_onnx_matches_reference() -> None:
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    g = dd._Graph()
    out = g.padded_add("a", (2, 3, 3), "b", (3, 4, 2))
    graph = helper.make_graph(
        g.nodes,
        "t",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2, 3, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 3, 4, 2]),
        ],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", dd.OPSET)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
    b = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    got = sess.run(None, {"a": a, "b": b})[0]
    assert got.shape == (2, 3, 4, 3)
    np.testing.assert_array_equal(got, dd.padded_add(a, b))


# ------------------------------------------------------------------------------ conv/affine folding


def _correlate(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Direct (slow) zero-padded cross-correlation, (C,H,W) → (O,H',W'), float64."""
    x = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)))
    o, _, kh, kw = w.shape
    ho = dd.conv_output_size(x.shape[1] - 2 * pad, kh, stride, pad)
    wo = dd.conv_output_size(x.shape[2] - 2 * pad, kw, stride, pad)
    out = np.zeros((o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def test_fold_affine_closed_form() -> None:
    w = np.array([[[[1, 2], [3, 4]]], [[[-1, 0], [0, 1]]]], dtype=np.float32)  # (2, 1, 2, 2)
    b = np.array([0.5, 2.0], dtype=np.float32)
    gamma = np.array([2.0, -0.5], dtype=np.float32)
    beta = np.array([-1.0, 3.0], dtype=np.float32)
    wf, bf = dd.fold_affine(w, b, gamma, beta)
    np.testing.assert_array_equal(wf[0, 0], [[2, 4], [6, 8]])
    np.testing.assert_array_equal(wf[1, 0], [[0.5, 0], [0, -0.5]])
    np.testing.assert_array_equal(bf, [0.5 * 2 - 1, 2.0 * -0.5 + 3])  # [0, 2]
    assert wf.dtype == np.float32 and bf.dtype == np.float32
    # on a 2×2 input of ones: conv = sum(w) + b; then affine
    x = np.ones((1, 2, 2))
    y_ref = (_correlate(x, w, b, 1, 0) * gamma[:, None, None]) + beta[:, None, None]
    np.testing.assert_allclose(_correlate(x, wf, bf, 1, 0), y_ref)
    np.testing.assert_allclose(y_ref.reshape(-1), [(10 + 0.5) * 2 - 1, (0 + 2) * -0.5 + 3])


def test_fold_affine_equals_conv_then_affine(rng: np.random.Generator) -> None:
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    gamma = rng.normal(size=4).astype(np.float32)
    beta = rng.normal(size=4).astype(np.float32)
    x = rng.normal(size=(3, 9, 9))
    for stride, pad in ((1, 1), (2, 0)):
        ref = _correlate(x, w, b, stride, pad) * gamma[:, None, None] + beta[:, None, None]
        wf, bf = dd.fold_affine(w, b, gamma, beta)
        np.testing.assert_allclose(_correlate(x, wf, bf, stride, pad), ref, rtol=1e-5, atol=1e-5)


def test_fold_affine_rejects_mismatched_channels() -> None:
    with pytest.raises(ValueError):
        dd.fold_affine(np.zeros((2, 1, 1, 1)), np.zeros(2), np.ones(3), np.zeros(3))


@pytest.mark.parametrize(
    "size, k, s, p, out",
    [(150, 7, 2, 0, 72), (72, 3, 2, 0, 35), (35, 3, 2, 0, 17), (35, 2, 2, 0, 17), (8, 3, 2, 0, 3),
     (8, 2, 2, 0, 4), (4, 3, 2, 0, 1), (4, 2, 2, 0, 2), (17, 3, 1, 1, 17)],
)
def test_conv_output_size(size: int, k: int, s: int, p: int, out: int) -> None:
    assert dd.conv_output_size(size, k, s, p) == out


# ------------------------------------------------------------------------------------ architecture


def test_architecture_matches_dlib_network_description() -> None:
    kinds = [spec[0] for spec in dd.ARCHITECTURE]
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("relu") == 29
    assert kinds.count("add_prev") == 14  # 3 + 4 + 3 + 3 + 1 residual blocks
    assert kinds.count("avg_pool") == 5  # 4 down-block skips + the global average
    assert dd.ARCHITECTURE[0] == ("fc", 128) and dd.ARCHITECTURE[-1] == ("con", 32, 7, 2)
    versions = dd._expected_versions()
    assert versions[-1] == 3 and set(versions[:-1]) == {1, 2}
    assert versions.count(1) == kinds.count("tag") + kinds.count("skip")


def test_parse_rejects_other_networks() -> None:
    with pytest.raises(DatFormatError, match="loss_metric"):
        dd.parse_dat(enc_int(1) + enc_str("loss_multiclass_log_"))
    with pytest.raises(DatFormatError):
        dd.parse_dat(b"")
    # the right loss layer, then a structure that is not the face ResNet
    bad = enc_int(1) + enc_str("loss_metric_") + enc_int(2) + enc_int(3)
    with pytest.raises(DatFormatError, match="structure"):
        dd.parse_dat(bad)


# ----------------------------------------------------------------- the shipped file (if installed)


@pytest.fixture(scope="module")
def dat_bytes() -> bytes:
    from faceprint.models.sources import package_file

    try:
        path = package_file("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat")
    except ModelUnavailable as e:
        pytest.skip(str(e))
    return path.read_bytes()


def test_parse_shipped_file(dat_bytes: bytes) -> None:
    net = dd.parse_dat(dat_bytes)
    np.testing.assert_array_equal(
        np.array(net.input.mean, dtype=np.float32), np.array([122.782, 117.001, 104.298], dtype=np.float32)
    )
    assert (net.input.rows, net.input.cols) == (150, 150)
    assert net.loss.distance_threshold == pytest.approx(0.6)
    convs = [layer for layer in net.layers if isinstance(layer, dd.Conv)]
    assert len(convs) == 29
    assert convs[0].filters.shape == (32, 3, 7, 7) and convs[0].padding == (0, 0)
    # stride-2 convs have no padding, stride-1 3×3 convs pad 1
    for c in convs[1:]:
        assert c.padding == ((0, 0) if c.stride == (2, 2) else (1, 1))
    fc = net.layers[-1]
    assert isinstance(fc, dd.FullyConnected) and fc.weights.shape == (256, 128) and fc.bias is None
    shapes = dd._infer_shapes(net)
    assert shapes[-1] == (128, 1, 1)
    # residual outputs; the zero-padding rule makes 64-channel blocks out of a 32-channel skip, a
    # 4×4 sum of a 3×3 block output and a 4×4 pooled skip, and a 2×2 sum of 1×1 and 2×2 at the end
    add_shapes = [s for layer, s in zip(net.layers, shapes, strict=True) if isinstance(layer, dd.AddPrev)]
    assert add_shapes == (
        [(32, 35, 35)] * 3 + [(64, 17, 17)] * 4 + [(128, 8, 8)] * 3 + [(256, 4, 4)] * 3 + [(256, 2, 2)]
    )


def test_parse_detects_truncation_and_trailing_bytes(dat_bytes: bytes) -> None:
    with pytest.raises(DatFormatError):
        dd.parse_dat(dat_bytes[: len(dat_bytes) // 2])
    with pytest.raises(DatFormatError, match="trailing"):
        dd.parse_dat(dat_bytes + b"\x00")
