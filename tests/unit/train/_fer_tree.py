"""A small synthetic FER2013-style folder tree (48×48 grey PNGs, one pattern per class)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def make_fer_tree(root: Path, per_class: int = 4, seed: int = 0, extra_names: bool = False) -> Path:
    """``root/<emotion>/Training_<n>.png``; class ``k`` is a bright bar at row band ``k`` plus
    noise. With ``extra_names`` each class also gets an augmented-looking ``Training_<n>.png0.png``."""
    import cv2

    rng = np.random.default_rng(seed)
    n = 0
    for k, folder in enumerate(FOLDERS):
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        for _ in range(per_class):
            img = rng.integers(0, 60, (48, 48)).astype(np.uint8)
            img[6 * k + 3 : 6 * k + 8, 8:40] = 230
            cv2.imwrite(str(d / f"Training_{n}.png"), img)
            if extra_names:
                cv2.imwrite(str(d / f"Training_{n}.png0.png"), img)
            n += 1
    return root
