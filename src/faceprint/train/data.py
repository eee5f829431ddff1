"""Training data: a folder of face chips, one sub-folder per identity.

The chips are expected to be aligned already (detection and alignment are the pipeline's job);
each image is read with Pillow, converted to RGB (greyscale is replicated to three channels),
resized to ``image_size``×``image_size`` and normalised the ArcFace way, ``(x − 127.5) / 127.5``,
RGB, NCHW — the same convention :func:`faceprint.train.export.export_onnx` records for the
exported embedder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint.errors import InvalidInput

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp", ".webp", ".tif", ".tiff"})
MEAN, STD = 127.5, 127.5


def scan_image_folder(
    root: str | Path,
    *,
    max_identities: int | None = None,
    max_per_identity: int | None = None,
    min_per_identity: int = 1,
) -> tuple[list[Path], np.ndarray, list[str]]:
    """``(paths, labels, class_names)`` of ``root/<identity>/<image>``, in sorted (natural) order."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidInput(f"training data folder not found: {root}")

    def natural(p: Path) -> tuple:
        import re

        return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name))

    paths: list[Path] = []
    labels: list[int] = []
    names: list[str] = []
    for d in sorted((d for d in root.iterdir() if d.is_dir()), key=natural):
        files = sorted((f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS), key=natural)
        if max_per_identity:
            files = files[:max_per_identity]
        if len(files) < max(1, min_per_identity):
            continue
        label = len(names)
        names.append(d.name)
        paths.extend(files)
        labels.extend([label] * len(files))
        if max_identities and len(names) >= max_identities:
            break
    if not paths:
        raise InvalidInput(f"no images found under {root} (expected one sub-folder per identity)")
    return paths, np.asarray(labels, dtype=np.int64), names


def load_chip(path: str | Path, size: int = 112) -> np.ndarray:
    """An ``(size, size, 3)`` uint8 RGB chip from an image file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as src:
            im = src.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as e:
        raise InvalidInput(f"cannot read training image {path}: {e}") from e


def chips_to_tensor(chips: np.ndarray, flip: np.ndarray | None = None) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 → ``(N, 3, H, W)`` float32 tensor ``(x − 127.5)/127.5``; rows where
    ``flip`` is true are mirrored horizontally."""
    import torch

    arr = np.asarray(chips)
    if flip is not None and flip.any():
        arr = arr.copy()
        arr[flip] = arr[flip, :, ::-1]
    # NCHW-contiguous on purpose: torch 2.13.0 (CPU) corrupts memory in the backward of a strided
    # 1×1 convolution fed a channels-last tensor, which is what a bare permute would give.
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float().contiguous()
    return (t - MEAN) / STD


class ImageFolderData:
    """Images of ``root/<identity>/*`` with integer labels; decoded once and kept in memory when
    ``cache`` (the default), else decoded per batch."""

    def __init__(
        self,
        root: str | Path,
        *,
        image_size: int = 112,
        max_identities: int | None = None,
        max_per_identity: int | None = None,
        min_per_identity: int = 1,
        cache: bool = True,
    ) -> None:
        self.paths, self.labels, self.class_names = scan_image_folder(
            root, max_identities=max_identities, max_per_identity=max_per_identity, min_per_identity=min_per_identity
        )
        self.image_size = int(image_size)
        self._chips: np.ndarray | None = None
        if cache:
            self._chips = np.stack([load_chip(p, self.image_size) for p in self.paths])
        logger.info("training data: %d images of %d identities from %s", len(self.paths), self.num_classes, root)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.paths)

    def chips(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        if self._chips is not None:
            return self._chips[np.asarray(indices)]
        return np.stack([load_chip(self.paths[i], self.image_size) for i in indices])

    def batch(self, indices: Sequence[int], flip: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images (B, 3, S, S) float32, labels (B,) int64)`` tensors."""
        import torch

        idx = np.asarray(indices)
        return chips_to_tensor(self.chips(idx), flip), torch.from_numpy(self.labels[idx])


class TensorData:
    """In-memory data already in tensor form (tests, synthetic runs): ``images`` (N, 3, S, S)."""

    def __init__(self, images: Any, labels: Any) -> None:
        import torch

        self.images = torch.as_tensor(images, dtype=torch.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = [str(c) for c in np.unique(self.labels)]

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: Sequence[int], flip: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        x = self.images[idx]
        if flip is not None and flip.any():
            f = torch.as_tensor(flip)
            x = x.clone()
            x[f] = x[f].flip(-1)
        return x, torch.from_numpy(self.labels[np.asarray(indices)])
