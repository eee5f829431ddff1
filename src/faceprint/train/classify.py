"""Validation of a classification run (expression recognition): probabilities, accuracy, macro F1.

Used by :class:`faceprint.train.loop.Trainer` after every epoch when ``task = "classification"``
and ``data.val_root`` is set. The metrics are the evaluation protocol's
(:func:`faceprint.eval.protocols.fer.classification_metrics`), so the per-epoch figures are the
ones ``faceprint eval fer`` reports for the exported model (up to float rounding in onnxruntime).
With ``tta_flip`` the probabilities of each face and of its mirror image are averaged as well, and
reported separately (``*_flip``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def predict_probabilities(
    model: nn.Module, data: Any, *, flip: bool = False, batch_size: int = 256, device: Any = "cpu"
) -> np.ndarray:
    """``(N, K)`` softmax probabilities of every item of ``data`` (its ``batch(indices, flip)``
    without augmentation); the mirrored faces when ``flip``. The model is put in eval mode and
    restored to its previous mode afterwards."""
    was_training = model.training
    model.eval()
    out = []
    try:
        n = len(data)
        for s in range(0, n, batch_size):
            idx = np.arange(s, min(n, s + batch_size))
            x, _ = data.batch(idx, np.full(len(idx), flip) if flip else None)
            out.append(torch.softmax(model(x.to(device)).float(), dim=1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out, axis=0)


def evaluate_classifier(
    model: nn.Module, data: Any, *, tta_flip: bool = True, batch_size: int = 256, device: Any = "cpu"
) -> dict[str, Any]:
    """Accuracy and macro F1 (plus ``accuracy_flip`` / ``macro_f1_flip`` with ``tta_flip``) of
    ``model`` on ``data``, and the seconds it took."""
    from faceprint.eval.protocols.fer import classification_metrics, confusion_matrix

    labels = list(getattr(data, "class_names", [])) or [str(i) for i in range(int(data.labels.max()) + 1)]
    t0 = time.perf_counter()
    probs = predict_probabilities(model, data, batch_size=batch_size, device=device)
    row: dict[str, Any] = {}

    def score(p: np.ndarray, suffix: str) -> None:
        m = classification_metrics(confusion_matrix(data.labels, p.argmax(1), len(labels)), labels)
        row["accuracy" + suffix] = m.accuracy
        row["macro_f1" + suffix] = m.macro_f1

    score(probs, "")
    if tta_flip:
        score(0.5 * (probs + predict_probabilities(model, data, flip=True, batch_size=batch_size, device=device)), "_flip")
    row["val_seconds"] = time.perf_counter() - t0
    return row


__all__ = ["evaluate_classifier", "predict_probabilities"]
