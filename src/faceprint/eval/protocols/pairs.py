"""Pair-verification protocols: LFW's View 1/View 2 pair files, and any user CSV of pairs.

The runner embeds every distinct image once (cached by content hash and pipeline), scores every
pair by cosine similarity and reports the LFW-style k-fold accuracy (each fold's threshold chosen on
the other folds), ROC AUC, EER and TAR at fixed FARs with the number of impostors behind each.

**No-face policy** (never a silently dropped pair): when the detector finds no face in an image,
the image is embedded from a fixed central box (``central_box``, 45 % of the shorter side, the
landmarker placing the landmarks inside it; pipelines without a landmarker get their points as
:mod:`faceprint.box_points` says). Such images are counted and listed in the report, and never cached.
When several faces are found, the one nearest the image centre is used (LFW's convention: the
person named is at the centre); for user CSVs, the most prominent face unless told otherwise.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from faceprint.errors import FaceprintError, InvalidInput
from faceprint.eval import metrics
from faceprint.eval.embedding_cache import CachedEmbedding, EmbeddingCache
from faceprint.pipeline import Pipeline, Selection, central_box, select_face

logger = logging.getLogger(__name__)

SELECTIONS: tuple[str, ...] = ("largest", "center", "score")


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    same: bool
    fold: int


@dataclass(frozen=True)
class PairSet:
    pairs: tuple[Pair, ...]
    source: str
    n_folds: int

    @property
    def images(self) -> list[Path]:
        seen: dict[Path, None] = {}
        for p in self.pairs:
            seen.setdefault(p.a)
            seen.setdefault(p.b)
        return list(seen)


def lfw_image_path(root: Path, name: str, index: int) -> Path:
    images = root / "images" if (root / "images").is_dir() else root
    return images / name / f"{name}_{index:04d}.jpg"


def read_lfw_pairs(path: str | Path, root: str | Path) -> PairSet:
    """Parse an LFW pairs file (View 1 ``pairsDevTrain.txt``/``pairsDevTest.txt`` or View 2
    ``pairs.txt``). The header is ``n`` (one set of n genuine + n impostor pairs) or ``k n``
    (k folds, each n genuine followed by n impostor pairs)."""
    path, root = Path(path), Path(root)
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as e:
        raise InvalidInput(f"cannot read pairs file {path}: {e}") from None
    if not lines:
        raise InvalidInput(f"empty pairs file {path}")
    head = lines[0]
    try:
        if len(head) == 2:
            k, n = int(head[0]), int(head[1])
        elif len(head) == 1:
            k, n = 1, int(head[0])
        else:
            raise ValueError
    except ValueError:
        raise InvalidInput(f"{path}: first line must be 'n' or 'k n', got {' '.join(head)!r}") from None
    body = lines[1:]
    if len(body) != 2 * k * n:
        raise InvalidInput(f"{path}: header promises {2 * k * n} pairs, file has {len(body)}")
    pairs = []
    for i, f in enumerate(body):
        fold = i // (2 * n)
        try:
            if len(f) == 3:
                pairs.append(Pair(lfw_image_path(root, f[0], int(f[1])), lfw_image_path(root, f[0], int(f[2])), True, fold))
            elif len(f) == 4:
                pairs.append(Pair(lfw_image_path(root, f[0], int(f[1])), lfw_image_path(root, f[2], int(f[3])), False, fold))
            else:
                raise ValueError
        except ValueError:
            raise InvalidInput(f"{path}: line {i + 2} is not an LFW pair: {' '.join(f)!r}") from None
    return PairSet(tuple(pairs), str(path), k)


def read_csv_pairs(path: str | Path, root: str | Path | None = None, n_folds: int = 10, seed: int = 0) -> PairSet:
    """Parse a CSV of ``path_a,path_b,same`` (same: 1/0/true/false; a header row is allowed).
    Relative paths are resolved against ``root`` (default: the CSV's folder). Pairs are assigned
    to ``n_folds`` folds at random (seeded), stratified by label."""
    path = Path(path)
    base = Path(root) if root else path.parent
    truthy = {"1", "true", "yes", "y", "t"}
    falsy = {"0", "false", "no", "n", "f"}
    rows: list[tuple[Path, Path, bool]] = []
    try:
        with open(path, newline="") as fh:
            for i, row in enumerate(csv.reader(fh)):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != 3:
                    raise InvalidInput(f"{path}: line {i + 1} must have 3 fields (path_a,path_b,same), got {len(row)}")
                lab = row[2].strip().lower()
                if lab not in truthy | falsy:
                    if i == 0:
                        continue  # header
                    raise InvalidInput(f"{path}: line {i + 1}: 'same' must be 1/0/true/false, got {row[2]!r}")
                rows.append((base / row[0].strip(), base / row[1].strip(), lab in truthy))
    except OSError as e:
        raise InvalidInput(f"cannot read pairs file {path}: {e}") from None
    if not rows:
        raise InvalidInput(f"{path}: no pairs")
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(rows), dtype=int)
    for same in (True, False):
        idx = np.array([i for i, r in enumerate(rows) if r[2] == same])
        if idx.size:
            rng.shuffle(idx)
            folds[idx] = np.arange(idx.size) % n_folds
    k = min(n_folds, len(rows))
    return PairSet(tuple(Pair(a, b, s, int(f)) for (a, b, s), f in zip(rows, folds, strict=True)), str(path), k)


def read_pairs_file(path: str | Path, root: str | Path | None = None, *, n_folds: int = 10) -> tuple[PairSet, str]:
    """Read a pairs file of either format and return it with its default face selection:
    CSV (``.csv`` or a comma on the first line) → ``"largest"``; LFW format → ``"center"``."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"pairs file not found: {p}")
    try:
        first = p.read_text(errors="replace").lstrip().split("\n", 1)[0]
    except OSError as e:
        raise InvalidInput(f"cannot read pairs file {p}: {e}") from None
    if p.suffix.lower() == ".csv" or "," in first:
        return read_csv_pairs(p, root, n_folds=n_folds), "largest"
    return read_lfw_pairs(p, root or p.parent), "center"


def embed_images(
    paths: Sequence[Path],
    pipeline: Pipeline,
    *,
    select: str = "center",
    cache: EmbeddingCache | None = None,
    signature: str | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> tuple[dict[Path, CachedEmbedding], dict[Path, str]]:
    """One embedding per image (see the module's no-face policy).

    Returns ``(embeddings, errors)``: images that could not be read at all are reported in
    ``errors`` (path → message) rather than raising, so one bad file does not end a long run.
    """
    from faceprint.io import load_image

    if select not in SELECTIONS:
        raise InvalidInput(f"face selection must be one of {', '.join(SELECTIONS)}, got {select!r}")
    how = cast(Selection, select)
    sig = signature or (pipeline.config.signature() if pipeline.config else pipeline.model_tag)
    data: dict[Path, bytes] = {}
    shas: dict[Path, str] = {}
    errors: dict[Path, str] = {}
    for p in paths:
        try:
            b = Path(p).read_bytes()
        except OSError as e:
            errors[p] = f"cannot read: {e.strerror or e}"
            continue
        data[p] = b
        shas[p] = hashlib.sha256(b).hexdigest()
    cached = cache.get_many(list(set(shas.values())), sig, select) if cache else {}
    out: dict[Path, CachedEmbedding] = {p: cached[s] for p, s in shas.items() if s in cached}
    todo = [p for p in data if p not in out]
    logger.info("%d images: %d cached, %d to embed", len(paths), len(out), len(todo))

    def decoded() -> Iterable[tuple[Path, np.ndarray | None]]:
        for p in todo:
            try:
                yield p, load_image(data[p], name=str(p))
            except FaceprintError as e:
                errors[p] = str(e)
                yield p, None

    items: Iterable[tuple[Path, np.ndarray | None]] = decoded()
    if progress is not None:
        items = progress(items, len(todo))
    for p, img in items:
        if img is None:
            continue
        faces = pipeline.process(img)
        status = "detected"
        n = len(faces)
        if faces:
            face = select_face(faces, how, img.shape)
        else:
            status = "fallback"
            face = pipeline.process(img, boxes=[central_box(img.shape)])[0]
        emb = face.embedding
        if emb is None:
            raise InvalidInput(f"the pipeline gave no embedding for {p} (does it have an embedder?)")
        item = CachedEmbedding(emb.vector, emb.norm, status, n)
        out[p] = item
        if cache and status != "fallback":  # fallbacks are few and their policy may change: never cached
            cache.put(shas[p], sig, select, item)
    return out, errors


def run_pairs(
    pairset: PairSet,
    pipeline: Pipeline,
    *,
    select: str = "center",
    cache: EmbeddingCache | None = None,
    fars: Sequence[float] = (1e-2, 1e-3),
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    metric: str = "cosine",
) -> dict[str, Any]:
    """Run the protocol and return a JSON-able report (see module docstring).

    ``metric`` is ``"cosine"`` (faceprint's score: cosine similarity of unit embeddings) or
    ``"euclidean"`` (minus the Euclidean distance of the raw, unnormalised descriptors — dlib's and
    face_recognition's documented comparison), so peers are scored the way they document.
    """
    t0 = time.perf_counter()
    embs, errors = embed_images(pairset.images, pipeline, select=select, cache=cache, progress=progress)
    t_embed = time.perf_counter() - t0
    missing = [p for p in pairset.pairs if p.a not in embs or p.b not in embs]
    if missing:
        first = next(iter(errors.items()), None)
        raise InvalidInput(
            f"{len(missing)} pair(s) name images that could not be read"
            + (f" (e.g. {first[0]}: {first[1]})" if first else "")
        )
    a = np.stack([embs[p.a].vector for p in pairset.pairs])
    b = np.stack([embs[p.b].vector for p in pairset.pairs])
    if metric == "cosine":
        scores = np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0).astype(np.float64)
    elif metric == "euclidean":
        na = np.array([embs[p.a].norm for p in pairset.pairs])[:, None]
        nb = np.array([embs[p.b].norm for p in pairset.pairs])[:, None]
        scores = -np.linalg.norm(a * na - b * nb, axis=1).astype(np.float64)
    else:
        raise InvalidInput(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    labels = np.array([p.same for p in pairset.pairs])
    folds = np.array([p.fold for p in pairset.pairs])
    report: dict[str, Any] = {
        "pairs_file": pairset.source,
        "n_pairs": len(pairset.pairs),
        "n_genuine": int(labels.sum()),
        "n_impostor": int((~labels).sum()),
        "n_images": len(embs),
        "model": pipeline.model_tag,
        "pipeline": pipeline.config.signature() if pipeline.config else pipeline.model_tag,
        "face_selection": select,
        "metric": metric,
    }
    if pairset.n_folds >= 2:
        kf = metrics.kfold_accuracy(scores, labels, folds)
        report.update(
            accuracy=kf.mean,
            std_error=kf.standard_error,
            std=kf.std,
            folds=[
                {"fold": i + 1, "accuracy": float(acc), "threshold": float(thr)}
                for i, (acc, thr) in enumerate(zip(kf.fold_accuracies, kf.fold_thresholds, strict=True))
            ],
            accuracy_protocol=f"{pairset.n_folds}-fold: each fold's threshold chosen on the other {pairset.n_folds - 1}",
        )
    else:
        thr, acc = metrics.best_threshold(scores, labels)
        report.update(
            accuracy=acc,
            best_threshold=thr,
            accuracy_protocol="single set: threshold chosen on the same pairs (optimistic; use for tuning only)",
        )
    e, e_thr = metrics.eer(scores, labels)
    report.update(
        roc_auc=metrics.roc_auc(scores, labels),
        eer=e,
        eer_threshold=e_thr,
        tar_at_far=[metrics.tar_at_far(scores, labels, f).to_dict() for f in fars],
    )
    fallback = sorted(str(p) for p, v in embs.items() if v.status == "fallback")
    multi = sum(1 for v in embs.values() if v.n_faces > 1)
    report["no_face"] = {
        "count": len(fallback),
        "policy": "embedded from a central box (45% of the shorter side) with the landmarker; pair kept",
        "images": fallback,
    }
    report["multiple_faces"] = {"count": multi, "policy": f"face chosen by '{select}'"}
    report["timing"] = {"embed_seconds": round(t_embed, 2)}
    report["_scores"] = scores
    report["_labels"] = labels
    return report


def write_plots(report: dict[str, Any], out_dir: Path, title: str = "") -> dict[str, str]:
    """ROC (log FAR) and DET plots as PNG files; returns their paths."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    scores, labels = report["_scores"], report["_labels"]
    roc = metrics.roc_curve(scores, labels)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    floor = 1.0 / roc.n_impostor
    ax.plot(np.maximum(roc.far, floor / 2), roc.tar, lw=1.5)
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, 1)
    ax.set_xlabel(f"FAR (log; {roc.n_impostor} impostor pairs)")
    ax.set_ylabel("TAR")
    ax.set_title(f"ROC {title} (AUC {report['roc_auc']:.4f})")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    paths["roc"] = str(out_dir / "roc.png")
    fig.savefig(paths["roc"])
    plt.close(fig)

    far, frr, _ = metrics.det_curve(scores, labels)
    eps = 1e-4
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    ax.plot(norm.ppf(np.clip(far, eps, 1 - eps)), norm.ppf(np.clip(frr, eps, 1 - eps)), lw=1.5)
    ticks = np.array([1e-3, 1e-2, 0.05, 0.2, 0.5])
    ax.set_xticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set_xlabel("FAR")
    ax.set_ylabel("FRR")
    ax.set_title(f"DET {title} (EER {report['eer']:.4f})")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    paths["det"] = str(out_dir / "det.png")
    fig.savefig(paths["det"])
    plt.close(fig)
    return paths


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its private arrays (for JSON)."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
