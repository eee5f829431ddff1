"""Similarity between embeddings. faceprint scores are cosine similarities of unit vectors."""

from __future__ import annotations

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.types import Embedding


def cosine_similarity(a: Embedding, b: Embedding) -> float:
    """Cosine similarity of two embeddings of the same model, in [-1, 1]."""
    if not isinstance(a, Embedding) or not isinstance(b, Embedding):
        raise InvalidInput("cosine_similarity takes two Embedding objects")
    if a.model != b.model:
        raise InvalidInput(f"embeddings come from different models ({a.model} vs {b.model}) and are not comparable")
    return float(np.clip(np.dot(a.vector, b.vector), -1.0, 1.0))


def similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between rows of ``a`` (n, d) and rows of ``b`` (m, d), both unit-norm."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InvalidInput(f"expected (n, d) and (m, d) arrays, got {a.shape} and {b.shape}")
    return np.clip(a @ b.T, -1.0, 1.0)


def euclidean_to_cosine(distance: float) -> float:
    """For unit vectors, ``|a − b|² = 2 − 2·cos``: convert a Euclidean distance to a cosine."""
    return 1.0 - distance * distance / 2.0
