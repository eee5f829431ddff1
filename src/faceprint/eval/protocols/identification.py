"""1:N identification on a folder-per-identity image tree (LFW's ``images/<Name>/*.jpg``).

The split is deterministic and documented so that anyone can reproduce it:

* Identities are sorted by name; each identity's images are sorted by file name.
* **Closed set.** Every identity with ≥ 2 images enrols its *first* image; its other images are
  the probes. Every identity with exactly one image is enrolled too, as a distractor. Each probe
  is ranked against every enrolled identity (score = cosine similarity; one image per identity).
* **Open set.** The identities with ≥ 2 images are shuffled with ``numpy.random.default_rng(seed)``
  (seed 0 by default) and the first ``heldout_fraction`` (half) of them are *held out*: not
  enrolled, their images become non-mated probes. The others enrol their first image as above, and
  their remaining images are the mated probes; the single-image identities stay as distractors.
  DIR (detection and identification rate) is reported at FPIR = 1e-2 (and 1e-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.eval import metrics

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class IdentitySet:
    names: tuple[str, ...]
    images: tuple[tuple[Path, ...], ...]  # per identity, sorted

    @property
    def all_images(self) -> list[Path]:
        return [p for imgs in self.images for p in imgs]


def scan_identities(root: str | Path) -> IdentitySet:
    """Identities from a folder-per-identity tree (``root/images`` is used when present)."""
    root = Path(root)
    base = root / "images" if (root / "images").is_dir() else root
    if not base.is_dir():
        raise InvalidInput(f"not a folder: {base}")
    names, images = [], []
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        imgs = tuple(sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if imgs:
            names.append(d.name)
            images.append(imgs)
    if not names:
        raise InvalidInput(f"no identity folders with images under {base}")
    return IdentitySet(tuple(names), tuple(images))


def run_identification(
    ids: IdentitySet,
    vectors: dict[Path, np.ndarray],
    *,
    seed: int = 0,
    heldout_fraction: float = 0.5,
    fpirs: tuple[float, ...] = (1e-2, 1e-1),
    max_rank: int = 20,
) -> dict[str, Any]:
    """Closed-set CMC and open-set DIR@FPIR (see module docstring). ``vectors`` maps every image
    to its unit embedding."""
    multi = [i for i, imgs in enumerate(ids.images) if len(imgs) >= 2]
    single = [i for i, imgs in enumerate(ids.images) if len(imgs) == 1]
    if len(multi) < 2:
        raise InvalidInput("identification needs at least two identities with two or more images")

    def vec(p: Path) -> np.ndarray:
        return vectors[p]

    # ---- closed set
    enrolled = multi + single
    g = np.stack([vec(ids.images[i][0]) for i in enrolled])
    g_ids = np.array(enrolled)
    probe_paths = [(i, p) for i in multi for p in ids.images[i][1:]]
    pv = np.stack([vec(p) for _, p in probe_paths])
    p_ids = np.array([i for i, _ in probe_paths])
    sim = pv @ g.T
    curve = metrics.cmc(sim, p_ids, g_ids, max_rank=max_rank)

    # ---- open set
    rng = np.random.default_rng(seed)
    order = np.array(multi)[rng.permutation(len(multi))]
    n_out = int(round(heldout_fraction * len(order)))
    held = set(order[:n_out].tolist())
    kept = [i for i in multi if i not in held]
    enrolled_o = kept + single
    go = np.stack([vec(ids.images[i][0]) for i in enrolled_o])
    go_ids = np.array(enrolled_o)
    mated = [(i, p) for i in kept for p in ids.images[i][1:]]
    nonmated = [p for i in sorted(held) for p in ids.images[i]]
    ms = np.stack([vec(p) for _, p in mated]) @ go.T
    m_best = ms.argmax(axis=1)
    m_top = ms[np.arange(len(mated)), m_best]
    m_correct = go_ids[m_best] == np.array([i for i, _ in mated])
    ns = np.stack([vec(p) for p in nonmated]) @ go.T
    n_top = ns.max(axis=1)
    open_points = [metrics.dir_at_fpir(m_top, m_correct, n_top, f) for f in fpirs]

    return {
        "protocol": "folder-per-identity 1:N (split documented in faceprint.eval.protocols.identification)",
        "closed_set": {
            "gallery_identities": int(len(enrolled)),
            "distractor_identities": int(len(single)),
            "probes": int(len(probe_paths)),
            "rank1": float(curve[0]),
            "rank5": float(curve[min(4, len(curve) - 1)]),
            "cmc": [float(x) for x in curve],
        },
        "open_set": {
            "seed": seed,
            "heldout_identities": int(n_out),
            "gallery_identities": int(len(enrolled_o)),
            "mated_probes": int(len(mated)),
            "nonmated_probes": int(len(nonmated)),
            "points": [
                {"fpir_target": f, "fpir": op.fpir, "dir": op.dir, "threshold": op.threshold}
                for f, op in zip(fpirs, open_points, strict=True)
            ],
        },
    }
