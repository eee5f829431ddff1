"""What every expression analyzer shares: a lazily built, thread-safe onnxruntime session with a
canary check, batched prediction on grey uint8 crops ``(N, H, W)`` at the card's input size, and
``analyze(image, boxes)``. A subclass says how its session is made (:meth:`_load`) and how a
detector box becomes a crop (:meth:`crop`).

Test-time augmentation (``tta``): ``"flip"`` averages each face's probabilities with its mirror
image's (one model call on twice the crops); ``"tencrop"`` averages ten views — the face and the
face shifted diagonally by 1/12 of its side towards each corner (edges replicated; the usual
"four corners and the centre" crops for a network that looks at the centre of its input), each
with its mirror image; ``"none"`` does not augment. The default is the card's
``extra["tta"]`` (``"none"`` when absent), so a model whose published figures were measured with
flip TTA is used that way."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput, ModelIntegrityError
from faceprint.models.card import ModelCard
from faceprint.types import Box


@dataclass(frozen=True)
class ExpressionPrediction:
    """Expression of one face: the top label and every label's probability (model output order)."""

    label: str
    probabilities: dict[str, float]
    box: Box

    @property
    def score(self) -> float:
        """Probability of the top label."""
        return self.probabilities[self.label]

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": {k: round(v, digits) for k, v in self.probabilities.items()},
            "box": [round(v, 2) for v in self.box.as_tuple()],
        }


#: Test-time augmentations an analyzer can apply (module docstring).
TTA_MODES = ("none", "flip", "tencrop")


def tta_views(crops: np.ndarray, mode: str) -> np.ndarray:
    """The test-time views of grey crops ``(N, H, W)`` for ``mode``, stacked view-major:
    ``(V·N, H, W)`` with view ``v`` of crop ``i`` at ``v·N + i`` (module docstring)."""
    if mode == "none":
        return crops
    views = [crops]
    if mode == "tencrop":
        h, w = crops.shape[1:]
        d = max(1, round(min(h, w) / 12))
        padded = np.pad(crops, ((0, 0), (d, d), (d, d)), mode="edge")
        views += [padded[:, d + dy : d + dy + h, d + dx : d + dx + w] for dx, dy in ((-d, -d), (d, -d), (-d, d), (d, d))]
    views += [v[:, :, ::-1] for v in views]
    return np.ascontiguousarray(np.concatenate(views, axis=0))


class OnnxAnalyzerBase:
    """Base of the ONNX expression analyzers (see the module docstring).

    Args:
        card: the registry card (labels and input size).
        threads: onnxruntime intra-op threads (default: ``$FACEPRINT_THREADS`` or all cores).
        batch_size: crops per onnxruntime call in :meth:`predict_crops`.
        tta: ``"none"`` or ``"flip"`` (module docstring); ``None``: the card's default.
    """

    def __init__(self, card: ModelCard, *, threads: int | None = None, batch_size: int = 64, tta: str | None = None) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, got {batch_size}")
        mode = str(card.extra.get("tta", "none")) if tta is None else tta
        if mode not in TTA_MODES:
            raise InvalidInput(f"tta must be one of {TTA_MODES}, got {mode!r}")
        self.tta = mode
        if not card.labels or not card.input_size:
            raise InvalidInput(f"model card {card.name!r} needs labels and input_size")
        self.card = card
        self._threads = threads
        self._batch_size = int(batch_size)
        self._lock = threading.Lock()
        self._sess: Any = None
        self._input_name = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.card.labels or ())

    @property
    def input_size(self) -> tuple[int, int]:
        """``(width, height)`` of the crops the model takes."""
        return tuple(self.card.input_size)  # type: ignore[arg-type,return-value]

    # ------------------------------------------------------------------ to implement

    def _load(self) -> Any:
        """Build the onnxruntime session (called once, under the lock)."""
        raise NotImplementedError

    def crop(self, image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Grey uint8 crops ``(N, H, W)`` of ``boxes`` in an RGB uint8 image."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared

    def _session(self) -> Any:
        sess = self._sess
        if sess is not None:
            return sess
        with self._lock:
            if self._sess is None:
                sess = self._load()
                self._check_session(sess)
                self._input_name = sess.get_inputs()[0].name  # set before publishing the session
                self._sess = sess
            return self._sess

    def _check_session(self, sess: Any) -> None:
        """Canary: a mid-grey crop must give a probability vector over the card's labels."""
        w, h = self.input_size
        probs = sess.run(None, {sess.get_inputs()[0].name: np.full((1, h, w), 128, np.uint8)})[0]
        if probs.shape != (1, len(self.labels)) or not np.isfinite(probs).all() or abs(float(probs.sum()) - 1.0) > 1e-4:
            raise ModelIntegrityError(f"{self.card.name}: the model gives {probs!r} on the canary input")

    def predict_crops(self, gray_crops: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, K)`` float32 (rows sum to 1, columns in :attr:`labels` order) for
        grey crops ``(N, H, W)`` uint8 at the card's input size, cut as :meth:`crop` cuts them."""
        w, h = self.input_size
        if not isinstance(gray_crops, np.ndarray):
            raise InvalidInput(f"gray_crops must be a numpy array, got {type(gray_crops).__name__}")
        if gray_crops.dtype != np.uint8:
            raise InvalidInput(f"gray_crops must be uint8, got {gray_crops.dtype}")
        if gray_crops.ndim != 3 or gray_crops.shape[1:] != (h, w):
            raise InvalidInput(f"gray_crops must have shape (N, {h}, {w}), got {gray_crops.shape}")
        n = gray_crops.shape[0]
        if n == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        sess = self._session()
        x = tta_views(np.ascontiguousarray(gray_crops), self.tta)
        out = [sess.run(None, {self._input_name: x[i : i + self._batch_size]})[0] for i in range(0, len(x), self._batch_size)]
        probs = np.concatenate(out, axis=0).astype(np.float32, copy=False)
        if len(x) > n:  # average the views of each crop
            probs = probs.reshape(len(x) // n, n, -1).mean(axis=0)
        return probs

    def analyze(self, image: np.ndarray, boxes: Sequence[Box]) -> list[ExpressionPrediction]:
        """Expression of each face box in an ``(H, W, 3)`` uint8 RGB image (same order as ``boxes``)."""
        boxes = list(boxes)
        probs = self.predict_crops(self.crop(image, boxes))
        labels = self.labels
        return [
            ExpressionPrediction(
                label=labels[int(np.argmax(p))], probabilities={k: float(v) for k, v in zip(labels, p, strict=True)}, box=b
            )
            for p, b in zip(probs, boxes, strict=True)
        ]
