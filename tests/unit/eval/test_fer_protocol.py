"""Folder-per-class classification protocol: metrics in closed form, dataset scanning, the report."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from faceprint.errors import InvalidInput
from faceprint.eval.protocols.fer import (
    classification_metrics,
    confusion_matrix,
    evaluate_folder,
    format_report,
    read_gray,
    render_confusion_png,
    scan_folder_dataset,
    write_report,
)


def test_confusion_matrix_counts() -> None:
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert confusion_matrix([], [], 2).sum() == 0
    with pytest.raises(InvalidInput):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(InvalidInput):
        confusion_matrix([0, 3], [0, 1], 3)


def test_metrics_closed_form() -> None:
    cm = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    m = classification_metrics(cm, ["a", "b", "c"])
    assert m.accuracy == pytest.approx(12 / 16)
    np.testing.assert_allclose(m.precision, [5 / 7, 3 / 4, 4 / 5])
    np.testing.assert_allclose(m.recall, [5 / 6, 3 / 6, 4 / 4])
    # F1 = 2TP / (2TP + FP + FN)
    f1 = [10 / 13, 6 / 10, 8 / 9]
    np.testing.assert_allclose(m.f1, f1)
    assert m.macro_f1 == pytest.approx(np.mean(f1))
    assert m.macro_recall == pytest.approx((5 / 6 + 0.5 + 1) / 3)
    np.testing.assert_array_equal(m.support, [6, 6, 4])
    d = m.to_dict()
    assert d["accuracy"] == pytest.approx(0.75) and d["num_images"] == 16
    assert d["per_class"]["b"] == {"precision": 0.75, "recall": 0.5, "f1": 0.6, "support": 6}
    assert d["confusion_matrix"] == cm.tolist()
    json.dumps(d)


def test_metrics_degenerate_classes() -> None:
    # class b never predicted (precision undefined, F1 0); class c has no images (excluded from macro)
    cm = np.array([[3, 0, 1], [2, 0, 0], [0, 0, 0]])
    m = classification_metrics(cm, ["a", "b", "c"])
    assert np.isnan(m.precision[1]) and m.f1[1] == 0.0 and m.recall[1] == 0.0
    assert np.isnan(m.recall[2]) and np.isnan(m.f1[2]) and m.precision[2] == 0.0
    assert m.macro_f1 == pytest.approx((2 * 3 / (2 * 3 + 2 + 1) + 0.0) / 2)
    assert m.to_dict()["per_class"]["b"]["precision"] is None
    json.dumps(m.to_dict())
    with pytest.raises(InvalidInput):
        classification_metrics(np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(InvalidInput):
        classification_metrics(np.eye(3), ["a", "b"])
    with pytest.raises(InvalidInput):
        classification_metrics(-np.eye(2), ["a", "b"])


LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """FER-style tree: each class's 48×48 images are filled with a grey level that encodes the class."""
    root = tmp_path / "val"
    for folder in ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]:
        (root / folder).mkdir(parents=True)
        for j in range(3):
            cv2.imwrite(str(root / folder / f"{j}.png"), np.full((48, 48), 30 * LABELS.index(folder) + 5, np.uint8))
    (root / "happy" / "notes.txt").write_text("not an image")
    return root


class GreyLevelClassifier:
    """Predicts the class encoded by the mean grey level; but calls every 'fear' face 'sad'."""

    card = SimpleNamespace(labels=LABELS, input_size=(64, 64), tag="stub@1")

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def predict_crops(self, gray_crops: np.ndarray) -> np.ndarray:
        self.shapes.append(gray_crops.shape)
        idx = np.rint((gray_crops.reshape(len(gray_crops), -1).mean(1) - 5) / 30).astype(int)
        idx[idx == LABELS.index("fear")] = LABELS.index("sad")
        return np.eye(len(LABELS), dtype=np.float32)[idx]


def test_scan_maps_folders_explicitly(tree: Path) -> None:
    ds = scan_folder_dataset(tree, LABELS)
    assert len(ds) == 21
    assert ds.folder_map["neutral"] == "neutral"
    # targets are indices into the *model's* label order, not the folder order
    neutral = [t for p, t in zip(ds.paths, ds.targets, strict=True) if p.parent.name == "neutral"]
    assert neutral == [LABELS.index("neutral")] * 3
    assert len(scan_folder_dataset(tree, LABELS, limit_per_class=1)) == 7
    (tree / "contempt").mkdir()
    with pytest.raises(InvalidInput, match="contempt"):
        scan_folder_dataset(tree, LABELS)
    assert len(scan_folder_dataset(tree, LABELS, {**{f: f for f in LABELS}, "contempt": "neutral"})) == 21
    with pytest.raises(InvalidInput, match="lacks"):
        scan_folder_dataset(tree, LABELS[:-1])
    with pytest.raises(InvalidInput):
        scan_folder_dataset(tree / "missing", LABELS)


def test_read_gray_resizes_bilinear(tmp_path: Path) -> None:
    img = np.tile(np.arange(0, 240, 5, dtype=np.uint8), (48, 1))
    cv2.imwrite(str(tmp_path / "g.png"), img)
    out = read_gray(tmp_path / "g.png", (64, 64))
    np.testing.assert_array_equal(out, cv2.resize(img, (64, 64), interpolation=cv2.INTER_LINEAR))
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    from faceprint.errors import InvalidImage

    with pytest.raises(InvalidImage):
        read_gray(tmp_path / "bad.jpg", (64, 64))


def test_evaluate_folder_end_to_end(tree: Path, tmp_path: Path) -> None:
    clf = GreyLevelClassifier()
    report = evaluate_folder(clf, tree, batch_size=4)
    assert all(s[1:] == (64, 64) and s[0] <= 4 for s in clf.shapes)
    m = report.metrics
    assert report.accuracy == pytest.approx(18 / 21)
    fear, sad = LABELS.index("fear"), LABELS.index("sad")
    assert m.confusion[fear, sad] == 3 and m.recall[fear] == 0.0
    assert m.precision[sad] == pytest.approx(0.5)
    d = report.to_dict()
    assert d["accuracy"] == pytest.approx(18 / 21, abs=1e-6) and d["model"] == "stub@1"
    assert "fear" in format_report(m)
    paths = write_report(report, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["num_images"] == 21
    png = cv2.imdecode(np.fromfile(str(paths["png"]), np.uint8), cv2.IMREAD_COLOR)
    assert png is not None and png.shape[0] > 300 and png.shape[1] > 300


def test_evaluate_folder_rejects_bad_classifier(tree: Path) -> None:
    class Wrong(GreyLevelClassifier):
        def predict_crops(self, gray_crops):
            return np.zeros((len(gray_crops), 3))

    with pytest.raises(InvalidInput, match="shape"):
        evaluate_folder(Wrong(), tree)
    with pytest.raises(InvalidInput):
        evaluate_folder(GreyLevelClassifier(), tree, batch_size=0)


def test_png_is_valid() -> None:
    m = classification_metrics(np.array([[3, 1], [0, 2]]), ["x", "y"])
    data = render_confusion_png(m, "t")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
