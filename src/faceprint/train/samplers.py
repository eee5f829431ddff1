"""Batch samplers with deterministic, per-epoch order (``seed`` + ``set_epoch``).

* :class:`PKSampler` — P identities × K images per batch, for pair and triplet losses (FaceNet,
  Hermans et al. 2017): every identity with at least ``min_images`` images appears once per
  epoch; identities with fewer than K images are completed by sampling their images again.
* :class:`RandomBatchSampler` — a shuffled partition of the dataset into batches.

Both are ``torch.utils.data.Sampler`` yielding lists of indices (usable as ``batch_sampler`` of a
``DataLoader``), and their order depends only on ``(seed, epoch)``, so a resumed run replays the
same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from faceprint.errors import InvalidInput


class PKSampler(Sampler[list[int]]):
    """Batches of ``p`` identities × ``k`` images.

    Args:
        labels: identity label of every dataset item.
        p, k: identities per batch and images per identity.
        seed: base seed; the order of epoch ``e`` uses ``(seed, e)``.
        min_images: identities with fewer images are left out (2: each has a positive pair).
        drop_last: drop the last batch when fewer than ``p`` identities remain.
    """

    def __init__(
        self, labels: Sequence[int] | np.ndarray, p: int, k: int, *, seed: int = 0, min_images: int = 2, drop_last: bool = True
    ) -> None:
        if p < 1 or k < 1:
            raise InvalidInput(f"p and k must be >= 1, got p={p}, k={k}")
        labels = np.asarray(labels)
        self.p, self.k, self.seed, self.drop_last = int(p), int(k), int(seed), bool(drop_last)
        self.epoch = 0
        ids, inverse = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(inverse == i) for i in range(len(ids))]
        self.groups = [g for g in groups if len(g) >= min_images]
        if len(self.groups) < (self.p if drop_last else 1):
            raise InvalidInput(f"only {len(self.groups)} identities have >= {min_images} images; need p={self.p}")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.groups)
        return n // self.p if self.drop_last else -(-n // self.p)

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch])
        order = rng.permutation(len(self.groups))
        out = []
        for b in range(len(self)):
            batch: list[int] = []
            for g in order[b * self.p : (b + 1) * self.p]:
                items = self.groups[g]
                if len(items) >= self.k:
                    pick = rng.choice(items, size=self.k, replace=False)
                else:  # all of them, then repeats
                    pick = np.concatenate([rng.permutation(items), rng.choice(items, size=self.k - len(items))])
                batch.extend(int(i) for i in pick)
            out.append(batch)
        return out

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())


class RandomBatchSampler(Sampler[list[int]]):
    """Shuffled batches of ``batch_size`` indices out of ``n``."""

    def __init__(self, n: int, batch_size: int, *, seed: int = 0, drop_last: bool = True) -> None:
        if n < 1 or batch_size < 1:
            raise InvalidInput(f"need n >= 1 and batch_size >= 1, got {n}, {batch_size}")
        self.n, self.batch_size, self.seed, self.drop_last = int(n), int(batch_size), int(seed), bool(drop_last)
        if drop_last and n < batch_size:
            self.drop_last = False
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch])
        order = rng.permutation(self.n)
        return [order[i * self.batch_size : (i + 1) * self.batch_size].tolist() for i in range(len(self))]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())
