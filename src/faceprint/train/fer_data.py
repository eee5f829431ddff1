"""Training data for expression classification: a FER2013-style folder tree of 48×48 grey faces.

``root/<emotion>/*.jpg`` with the seven FER2013 folder names (angry, disgust, fear, happy, neutral,
sad, surprise) → labels in the **analyzer's** output order
(:data:`faceprint.models.analyzers.expression.LABELS`: angry, disgust, fear, happy, sad, surprise,
neutral), through the same folder map as the evaluation protocol
(:data:`faceprint.eval.protocols.fer.FER2013_FOLDERS`). Images are decoded exactly as the
evaluation protocol decodes them (:func:`faceprint.eval.protocols.fer.read_gray`: OpenCV greyscale,
bilinear resize if not ``image_size``) and kept in memory as uint8 (28,709 × 48 × 48 = 66 MB).
``include`` is a regular expression a file name must match in full, e.g. ``Training_\\d+\\.jpg`` to
keep only FER2013's original files in a tree that also holds augmented copies.

Normalisation: ``(x − 127.5) / 127.5`` on the 0–255 grey scale (one channel, NCHW float32), the
toolkit's convention; the exported ONNX graph applies it itself to uint8 input.

Augmentation (training batches only; :class:`FerAugment`), vectorised over the batch in torch and
drawn from the ``numpy.random.Generator`` the training loop passes per batch (so a resumed run sees
the same augmentations):

1. one affine warp per image, sampled bilinearly with border replication: horizontal flip (the
   loop's flips), rotation ±``rotation``°, zoom ``scale``, and a ``crop``×``crop`` window at a
   uniformly random position inside the 48×48 face (plus up to ``shift``·48 px more), i.e. random
   cropping and small affine jitter in one resampling;
2. brightness ± ``brightness`` and contrast ×(1 ± ``contrast``) (on the normalised scale);
3. random erasing (Zhong et al. 2020): with probability ``erase_p`` one rectangle of
   ``erase_area`` of the crop (aspect ratio 0.3–3.3) is set to 0 (mid-grey).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint.errors import InvalidInput

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MEAN, STD = 127.5, 127.5


@dataclass(frozen=True)
class FerAugment:
    """Training-time augmentation (module docstring). ``FerAugment.none()`` disables all of it
    except the loop's horizontal flips."""

    crop: int = 40
    rotation: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.0
    brightness: float = 0.2
    contrast: float = 0.2
    erase_p: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, *, image_size: int = 48) -> FerAugment:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        bad = set(d) - known
        if bad:
            raise InvalidInput(f"unknown augmentation option(s) {sorted(bad)}; known: {sorted(known)}")
        for k in ("scale", "erase_area"):
            if k in d:
                d[k] = tuple(float(v) for v in d[k])
        d.setdefault("crop", min(cls.crop, image_size))
        aug = cls(**d)
        aug.check(image_size)
        return aug

    @classmethod
    def none(cls, image_size: int = 48) -> FerAugment:
        return cls(crop=image_size, rotation=0.0, scale=(1.0, 1.0), shift=0.0, brightness=0.0, contrast=0.0, erase_p=0.0)

    def check(self, image_size: int) -> None:
        if not 8 <= self.crop <= image_size:
            raise InvalidInput(f"augment.crop must lie in [8, {image_size}], got {self.crop}")
        lo, hi = self.scale
        if not 0 < lo <= hi:
            raise InvalidInput(f"augment.scale must be (lo, hi) with 0 < lo <= hi, got {self.scale}")
        a0, a1 = self.erase_area
        if not 0 < a0 <= a1 < 1:
            raise InvalidInput(f"augment.erase_area must be (lo, hi) with 0 < lo <= hi < 1, got {self.erase_area}")
        for name in ("rotation", "shift", "brightness", "contrast"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"augment.{name} must be >= 0")
        if not 0 <= self.erase_p <= 1:
            raise InvalidInput(f"augment.erase_p must lie in [0, 1], got {self.erase_p}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def augment_batch(x: torch.Tensor, flip: np.ndarray | None, rng: np.random.Generator, aug: FerAugment) -> torch.Tensor:
    """Augmented ``(B, 1, crop, crop)`` float32 tensor from a normalised ``(B, 1, S, S)`` batch."""
    import torch
    import torch.nn.functional as F

    b, _, s, _ = x.shape
    c = int(aug.crop)
    angle = np.deg2rad(rng.uniform(-aug.rotation, aug.rotation, b))
    zoom = np.exp(rng.uniform(math.log(aug.scale[0]), math.log(aug.scale[1]), b))
    half = (s - c) / s + aug.shift * 2.0  # normalised translation range (±), inside the image
    tx, ty = rng.uniform(-half, half, b), rng.uniform(-half, half, b)
    fx = np.where(flip, -1.0, 1.0) if flip is not None else np.ones(b)
    a = (c / s) / zoom
    cos, sin = np.cos(angle), np.sin(angle)
    theta = np.stack(
        [np.stack([a * cos * fx, -a * sin, tx], 1), np.stack([a * sin * fx, a * cos, ty], 1)], 1
    ).astype(np.float32)
    grid = F.affine_grid(torch.from_numpy(theta), [b, 1, c, c], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if aug.brightness or aug.contrast:
        gain = rng.uniform(1 - aug.contrast, 1 + aug.contrast, b).astype(np.float32)
        bias = rng.uniform(-aug.brightness, aug.brightness, b).astype(np.float32)
        out = out * torch.from_numpy(gain).view(b, 1, 1, 1) + torch.from_numpy(bias).view(b, 1, 1, 1)
    if aug.erase_p > 0:
        do = rng.random(b) < aug.erase_p
        area = rng.uniform(aug.erase_area[0], aug.erase_area[1], b) * c * c
        ratio = np.exp(rng.uniform(math.log(0.3), math.log(1 / 0.3), b))
        h = np.clip(np.round(np.sqrt(area * ratio)), 1, c).astype(np.int64)
        w = np.clip(np.round(np.sqrt(area / ratio)), 1, c).astype(np.int64)
        y0 = (rng.random(b) * (c - h + 1)).astype(np.int64)
        x0 = (rng.random(b) * (c - w + 1)).astype(np.int64)
        ys, xs = np.arange(c)[None, :, None], np.arange(c)[None, None, :]
        mask = (
            do[:, None, None]
            & (ys >= y0[:, None, None])
            & (ys < (y0 + h)[:, None, None])
            & (xs >= x0[:, None, None])
            & (xs < (x0 + w)[:, None, None])
        )
        out = out.masked_fill(torch.from_numpy(mask)[:, None], 0.0)
    return out.contiguous()


def scan_fer_folder(
    root: str | Path,
    labels: Sequence[str],
    *,
    folder_map: Mapping[str, str] | None = None,
    include: str | None = None,
    max_per_class: int | None = None,
) -> tuple[list[Path], np.ndarray]:
    """``(paths, label indices)`` of ``root/<emotion>/<image>`` (sorted), folders mapped to ``labels``
    like the evaluation protocol maps them; files whose name does not fully match ``include`` are
    skipped."""
    from faceprint.eval.protocols.fer import scan_folder_dataset

    ds = scan_folder_dataset(root, labels, folder_map)
    pattern = re.compile(include) if include else None
    paths: list[Path] = []
    targets: list[int] = []
    per_class: dict[int, int] = {}
    for p, t in zip(ds.paths, ds.targets, strict=True):
        if pattern is not None and not pattern.fullmatch(p.name):
            continue
        t = int(t)
        if max_per_class is not None and per_class.get(t, 0) >= max_per_class:
            continue
        per_class[t] = per_class.get(t, 0) + 1
        paths.append(p)
        targets.append(t)
    if not paths:
        raise InvalidInput(f"no images under {root}" + (f" match {include!r}" if include else ""))
    return paths, np.asarray(targets, dtype=np.int64)


class FerFolderData:
    """FER2013-style expression data (module docstring), for :class:`faceprint.train.loop.Trainer`.

    ``batch(indices, flip, rng)`` returns augmented training crops when ``rng`` is given (the loop
    passes one per batch), else the plain normalised faces (flipped where ``flip``), which is also
    what evaluation uses.
    """

    #: The training loop passes a per-batch ``rng`` to :meth:`batch` when this is true.
    random_augment = True

    def __init__(
        self,
        root: str | Path,
        *,
        labels: Sequence[str] | None = None,
        folder_map: Mapping[str, str] | None = None,
        include: str | None = None,
        image_size: int = 48,
        augment: FerAugment | Mapping[str, Any] | None = None,
        max_per_class: int | None = None,
    ) -> None:
        from faceprint.eval.protocols.fer import read_gray
        from faceprint.models.analyzers.expression import LABELS

        self.root = Path(root)
        self.class_names = list(labels or LABELS)
        self.image_size = int(image_size)
        self.augment = augment if isinstance(augment, FerAugment) else FerAugment.from_dict(augment, image_size=self.image_size)
        self.augment.check(self.image_size)
        self.paths, self.labels = scan_fer_folder(
            root, self.class_names, folder_map=folder_map, include=include, max_per_class=max_per_class
        )
        size = (self.image_size, self.image_size)
        self.images = np.stack([read_gray(p, size) for p in self.paths])
        logger.info("expression data: %d images from %s, per class %s", len(self), root, self.class_counts())

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.paths)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(n) for name, n in zip(self.class_names, counts, strict=True)}

    def tensor(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Normalised ``(B, 1, S, S)`` float32 tensor of the stored faces (no augmentation)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(self.images[np.asarray(indices)])).float()
        return ((x - MEAN) / STD).unsqueeze(1).contiguous()

    def batch(
        self, indices: Sequence[int], flip: np.ndarray | None = None, rng: np.random.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)``: augmented ``(B, 1, crop, crop)`` when ``rng`` is given, else the
        plain ``(B, 1, S, S)`` faces (mirrored where ``flip``)."""
        import torch

        idx = np.asarray(indices)
        x = self.tensor(idx)
        y = torch.from_numpy(self.labels[idx])
        if rng is not None:
            return augment_batch(x, flip, rng, self.augment), y
        if flip is not None and np.any(flip):
            f = torch.from_numpy(np.asarray(flip, dtype=bool))
            x = x.clone()
            x[f] = x[f].flip(-1)
        return x, y


__all__ = ["MEAN", "STD", "FerAugment", "FerFolderData", "augment_batch", "scan_fer_folder"]
