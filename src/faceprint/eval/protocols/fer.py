"""Expression-classification evaluation on a folder-per-class tree (FER2013 layout).

``root/<class folder>/*.jpg`` → each image read as greyscale, resized to the classifier's input
size with ``cv2.resize`` bilinear (what fer does to its face crops; FER2013's 48×48 faces become
64×64 for the shipped model) and classified with ``predict_crops``. Folder names are mapped to the
classifier's labels explicitly (:data:`FER2013_FOLDERS`); an unmapped folder is an error rather
than silently skipped.

Metrics (rows of the confusion matrix are the true class, columns the prediction):
accuracy, per-class precision / recall / F1 / support, macro F1 (mean of the per-class F1 over the
classes present), macro recall (balanced accuracy).

Any classifier works if it has ``card.labels``, ``card.input_size`` and
``predict_crops((N, H, W) uint8) -> (N, K)`` scores (see :class:`CropClassifier`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from faceprint.errors import InvalidImage, InvalidInput

logger = logging.getLogger(__name__)

#: FER2013 folder names (the shared data's ``fer2013/validation`` layout) → expression label.
FER2013_FOLDERS: dict[str, str] = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "surprise": "surprise",
}

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class CropClassifier(Protocol):
    """What the protocol needs from a model: labels, input size and batched scoring of grey crops."""

    card: Any  # a ModelCard with ``labels`` and ``input_size`` (width, height)

    def predict_crops(self, gray_crops: np.ndarray) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------ metrics
def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts; ``[i, j]`` = images of true class ``i`` predicted as ``j``."""
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise InvalidInput(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if t.size and (t.min() < 0 or p.min() < 0 or t.max() >= num_classes or p.max() >= num_classes):
        raise InvalidInput(f"class indices must lie in [0, {num_classes})")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class ClassificationMetrics:
    """Metrics of a confusion matrix (``labels`` in row/column order).

    Precision of a class never predicted, and recall of a class with no images, are NaN (and
    reported as ``null``); macro averages are over the classes that have images.
    """

    labels: tuple[str, ...]
    confusion: np.ndarray
    accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    macro_f1: float
    macro_recall: float
    macro_precision: float

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if not np.isfinite(v) else round(float(v), 6)

        return {
            "labels": list(self.labels),
            "num_images": self.total,
            "accuracy": num(self.accuracy),
            "macro_f1": num(self.macro_f1),
            "macro_recall": num(self.macro_recall),
            "macro_precision": num(self.macro_precision),
            "per_class": {
                lab: {
                    "precision": num(self.precision[i]),
                    "recall": num(self.recall[i]),
                    "f1": num(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, lab in enumerate(self.labels)
            },
            "confusion_matrix": self.confusion.astype(int).tolist(),
        }


def classification_metrics(confusion: np.ndarray, labels: Sequence[str]) -> ClassificationMetrics:
    """Accuracy, per-class precision/recall/F1 and macro averages of a ``(K, K)`` confusion matrix."""
    cm = np.asarray(confusion)
    k = len(labels)
    if cm.shape != (k, k):
        raise InvalidInput(f"confusion matrix must be {k}x{k} for {k} labels, got {cm.shape}")
    if cm.size and (cm.min() < 0 or not np.all(np.isfinite(cm))):
        raise InvalidInput("confusion matrix entries must be non-negative counts")
    cm = cm.astype(np.int64)
    total = int(cm.sum())
    if total == 0:
        raise InvalidInput("confusion matrix is empty (no images)")
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        denom = precision + recall
        f1 = np.where(support > 0, np.where(np.nan_to_num(denom) > 0, 2 * precision * recall / denom, 0.0), np.nan)
    present = support > 0
    # a present class that is never predicted has precision 0 for macro purposes
    prec_present = np.nan_to_num(precision[present], nan=0.0)
    return ClassificationMetrics(
        labels=tuple(labels),
        confusion=cm,
        accuracy=float(tp.sum() / total),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        macro_f1=float(np.mean(f1[present])),
        macro_recall=float(np.mean(recall[present])),
        macro_precision=float(np.mean(prec_present)),
    )


# ------------------------------------------------------------------------------------------ dataset
@dataclass(frozen=True)
class FolderDataset:
    """Image paths and their label indices (into ``labels``)."""

    root: Path
    labels: tuple[str, ...]
    paths: tuple[Path, ...]
    targets: np.ndarray
    folder_map: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)


def scan_folder_dataset(
    root: str | Path,
    labels: Sequence[str],
    folder_map: Mapping[str, str] | None = None,
    *,
    limit_per_class: int | None = None,
) -> FolderDataset:
    """List ``root/<folder>/<image>`` files, mapping each folder to one of ``labels``.

    ``folder_map`` defaults to :data:`FER2013_FOLDERS`. A sub-folder that the map does not name, or
    that maps to a label the classifier lacks, raises :class:`InvalidInput`. Files are sorted, so
    ``limit_per_class`` takes the same images every run.
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInput(f"dataset root {root} is not a directory")
    fmap = dict(FER2013_FOLDERS if folder_map is None else folder_map)
    label_index = {lab: i for i, lab in enumerate(labels)}
    bad_targets = sorted({v for v in fmap.values() if v not in label_index})
    if bad_targets:
        raise InvalidInput(f"folder map names labels the classifier lacks: {bad_targets} (its labels: {list(labels)})")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in folders if p.name not in fmap]
    if unknown:
        raise InvalidInput(f"folders not in the folder→label map: {unknown} (map: {fmap})")
    if not folders:
        raise InvalidInput(f"{root} has no class folders")
    paths: list[Path] = []
    targets: list[int] = []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if limit_per_class is not None:
            files = files[:limit_per_class]
        paths.extend(files)
        targets.extend([label_index[fmap[folder.name]]] * len(files))
    if not paths:
        raise InvalidInput(f"no images under {root}")
    return FolderDataset(
        root=root,
        labels=tuple(labels),
        paths=tuple(paths),
        targets=np.asarray(targets, dtype=np.int64),
        folder_map={p.name: fmap[p.name] for p in folders},
    )


def read_gray(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Greyscale uint8 ``(size[1], size[0])``: decoded with OpenCV, resized bilinearly if needed."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if img is None:
        raise InvalidImage(f"cannot decode {path}")
    if img.shape != (size[1], size[0]):
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    return img


# ------------------------------------------------------------------------------------------- report
@dataclass(frozen=True)
class FerReport:
    """Result of :func:`evaluate_folder`."""

    model: str
    dataset: FolderDataset
    metrics: ClassificationMetrics
    predictions: np.ndarray  # (N,) predicted label index per image, in dataset order
    seconds: float
    input_size: tuple[int, int]
    tta: str = "none"  # the classifier's test-time augmentation ("none", "flip", "tencrop")

    @property
    def accuracy(self) -> float:
        return self.metrics.accuracy

    def to_dict(self) -> dict[str, Any]:
        d = {
            "protocol": "folder_classification",
            "model": self.model,
            "root": str(self.dataset.root),
            "folder_map": dict(self.dataset.folder_map),
            "preprocessing": f"greyscale, cv2.resize bilinear to {self.input_size[0]}x{self.input_size[1]}",
            "tta": self.tta,
            **self.metrics.to_dict(),
            "seconds": round(self.seconds, 3),
            "ms_per_image": round(1000.0 * self.seconds / max(1, len(self.dataset)), 4),
        }
        return d


def evaluate_folder(
    classifier: CropClassifier,
    root: str | Path,
    *,
    folder_map: Mapping[str, str] | None = None,
    batch_size: int = 64,
    limit_per_class: int | None = None,
    progress: bool = False,
) -> FerReport:
    """Classify every image under ``root`` and score the predictions (see module docstring)."""
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be >= 1, got {batch_size}")
    card = getattr(classifier, "card", None)
    labels = tuple(getattr(card, "labels", None) or ())
    if not labels:
        raise InvalidInput("the classifier's card has no labels")
    size = tuple(getattr(card, "input_size", None) or (64, 64))
    ds = scan_folder_dataset(root, labels, folder_map, limit_per_class=limit_per_class)
    preds = np.empty(len(ds), dtype=np.int64)
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(ds), unit="img", desc="eval", leave=False)
    try:
        for start in range(0, len(ds), batch_size):
            chunk = ds.paths[start : start + batch_size]
            crops = np.stack([read_gray(p, size) for p in chunk])
            scores = np.asarray(classifier.predict_crops(crops))
            if scores.shape != (len(chunk), len(labels)):
                raise InvalidInput(f"classifier returned shape {scores.shape}, expected {(len(chunk), len(labels))}")
            preds[start : start + len(chunk)] = scores.argmax(axis=1)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    cm = confusion_matrix(ds.targets, preds, len(labels))
    metrics = classification_metrics(cm, labels)
    model = getattr(card, "tag", None) or getattr(card, "name", type(classifier).__name__)
    logger.info("%s on %s: accuracy %.4f, macro F1 %.4f (%d images)", model, ds.root, metrics.accuracy, metrics.macro_f1, len(ds))
    tta = str(getattr(classifier, "tta", "none"))
    return FerReport(model=str(model), dataset=ds, metrics=metrics, predictions=preds, seconds=seconds, input_size=size, tta=tta)


def format_report(metrics: ClassificationMetrics, title: str = "") -> str:
    """A plain-text table: per-class precision/recall/F1/support, the confusion matrix, the totals."""
    labels = metrics.labels
    w = max(8, max(len(lab) for lab in labels))

    def pct(v: float) -> str:
        return "   n/a" if not np.isfinite(v) else f"{100 * v:6.2f}"

    lines = [title] if title else []
    lines.append(f"{'class':<{w}}  precision  recall      f1  support")
    for i, lab in enumerate(labels):
        lines.append(
            f"{lab:<{w}}     {pct(metrics.precision[i])}  {pct(metrics.recall[i])}  {pct(metrics.f1[i])}  "
            f"{int(metrics.support[i]):7d}"
        )
    lines.append("")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * (w + 1) + " ".join(f"{lab[:7]:>7}" for lab in labels))
    for i, lab in enumerate(labels):
        lines.append(f"{lab:<{w}} " + " ".join(f"{int(v):7d}" for v in metrics.confusion[i]))
    lines.append("")
    lines.append(
        f"accuracy {100 * metrics.accuracy:.2f}%   macro F1 {100 * metrics.macro_f1:.2f}%   "
        f"macro recall {100 * metrics.macro_recall:.2f}%   images {metrics.total}"
    )
    return "\n".join(lines)


def render_confusion_png(metrics: ClassificationMetrics, title: str = "") -> bytes:
    """PNG bytes of the confusion matrix (cell colour = row-normalised rate, text = count and %),
    drawn with OpenCV (no plotting dependency)."""
    import cv2

    labels = metrics.labels
    k = len(labels)
    cell, left, top, font = 84, 110, 92, cv2.FONT_HERSHEY_SIMPLEX
    width, height = left + k * cell + 20, top + k * cell + 50
    img = np.full((height, width, 3), 255, np.uint8)  # BGR canvas
    rows = metrics.confusion.sum(axis=1, keepdims=True)
    rate = np.divide(metrics.confusion, rows, out=np.zeros(metrics.confusion.shape, np.float64), where=rows > 0)
    light, dark = np.array([255, 251, 247], np.float64), np.array([107, 48, 8], np.float64)  # white → blue (BGR)
    for i in range(k):
        for j in range(k):
            x0, y0 = left + j * cell, top + i * cell
            colour = tuple(int(c) for c in light + (dark - light) * rate[i, j])
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), colour, -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), (200, 200, 200), 1)
            ink = (255, 255, 255) if rate[i, j] > 0.5 else (30, 30, 30)
            for text, dy, scale in ((str(int(metrics.confusion[i, j])), 36, 0.55), (f"{100 * rate[i, j]:.1f}%", 60, 0.42)):
                (tw, _), _ = cv2.getTextSize(text, font, scale, 1)
                cv2.putText(img, text, (x0 + (cell - tw) // 2, y0 + dy), font, scale, ink, 1, cv2.LINE_AA)
    for i, lab in enumerate(labels):
        (tw, _), _ = cv2.getTextSize(lab, font, 0.45, 1)
        cv2.putText(img, lab, (left - tw - 8, top + i * cell + cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, lab, (left + i * cell + (cell - tw) // 2, top - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "predicted", (left + (k * cell) // 2 - 40, top - 34), font, 0.5, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.putText(img, "true", (10, top - 10), font, 0.5, (80, 80, 80), 1, cv2.LINE_AA)
    head = title or "confusion matrix"
    cv2.putText(img, head, (10, 24), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    foot = f"accuracy {100 * metrics.accuracy:.2f}%  macro F1 {100 * metrics.macro_f1:.2f}%  n={metrics.total}"
    cv2.putText(img, foot, (10, height - 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV always encodes PNG
        raise InvalidInput("PNG encoding failed")
    return buf.tobytes()


def write_report(report: FerReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json`` and ``confusion.png`` under ``out_dir``; returns their paths."""
    import json

    from faceprint.models.sources import atomic_write_bytes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "png": out / "confusion.png"}
    atomic_write_bytes(paths["json"], (json.dumps(report.to_dict(), indent=2) + "\n").encode())
    atomic_write_bytes(paths["png"], render_confusion_png(report.metrics, title=f"{report.model} on {report.dataset.root.name}"))
    return paths


def iter_predictions(report: FerReport) -> Iterable[tuple[Path, str, str]]:
    """``(path, true label, predicted label)`` for every image, in dataset order."""
    labels = report.dataset.labels
    for p, t, y in zip(report.dataset.paths, report.dataset.targets, report.predictions, strict=True):
        yield p, labels[int(t)], labels[int(y)]


__all__ = [
    "FER2013_FOLDERS",
    "ClassificationMetrics",
    "CropClassifier",
    "FerReport",
    "FolderDataset",
    "classification_metrics",
    "confusion_matrix",
    "evaluate_folder",
    "format_report",
    "iter_predictions",
    "read_gray",
    "render_confusion_png",
    "scan_folder_dataset",
    "write_report",
]
