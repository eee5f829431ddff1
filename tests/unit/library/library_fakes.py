"""A fake pipeline for the library's unit tests: one face per photo, whose embedding is the
photo's mean colour, so photos of one colour are one "person"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from faceprint.types import AlignedFace, Box, Detection, Embedding, Face

COLOURS = {"red": (200, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 200)}


class FakePipeline:
    model_tag = "fake@1"
    config = None

    def __init__(self) -> None:
        self.calls = 0

    def process(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        h, w = image.shape[:2]
        mean = image.reshape(-1, 3).mean(axis=0).astype(np.float32) + 1.0
        box = Box(w * 0.25, h * 0.25, w * 0.75, h * 0.75)
        chip = np.ascontiguousarray(image[:16, :16])
        return [Face(Detection(box, 0.99, detector="fake"), aligned=AlignedFace(chip, np.eye(2, 3), "fake"),
                     embedding=Embedding(mean, model=self.model_tag, norm=float(np.linalg.norm(mean))))]


def write_photo(path: Path, colour: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[colour], np.int16)
    img = np.clip(base + rng.integers(-15, 16, size=(40, 40, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


