"""The adaptation run: learn a small head on frozen embeddings, verify on unseen identities.

Given frozen face embeddings (e.g. dlib's 128-d descriptors of LFW) with identity labels:

1. the **identities** (not the images) are split into train and held-out sets with a seed, so no
   held-out person is ever seen in training; a further slice of the train identities is kept for
   validation (model selection: the epoch with the best validation ROC AUC, epoch 0 — the
   identity map — included);
2. a small head (a linear 128→128 map initialised to the identity, or a residual 2-layer MLP whose
   last layer starts at zero; outputs L2-normalised) is trained on the train identities with each
   method — ArcFace, CosFace, triplet with batch-hard mining — and Joint Bayesian is fitted on them
   as a non-neural alternative;
3. verification is measured on pairs of held-out identities: every positive pair (optionally
   capped per identity) and as many random negative pairs; reported are ROC AUC, TAR at
   FAR = 1e-3 and 1e-2, the best accuracy over thresholds (optimistic: threshold chosen on the
   same pairs) and 10-fold accuracy (threshold chosen on the other nine folds), for the frozen
   baseline (cosine) and every adapted scorer. When validation selects an earlier epoch, the
   last epoch's head is reported too (row ``<method> (last)``), to show what training did.

Run it as ``python -m faceprint.train.adapt --embeddings FILE.npz`` (``X``: (N, D) float32, ``y``:
labels, optional ``names``); ``benchmarks/adaptation_lfw.py`` wraps it and writes JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faceprint.errors import InvalidInput

if TYPE_CHECKING:
    import torch
    from torch import nn

logger = logging.getLogger(__name__)

DEFAULT_METHODS = ("arcface", "cosface", "triplet", "joint_bayesian")
FAR_TARGETS = (1e-3, 1e-2)


# ------------------------------------------------------------------------------------------ data
def load_embeddings_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(X, y, names)`` from an .npz with arrays ``X`` (N, D), ``y`` (N,), optional ``names``."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"embeddings file not found: {path}")
    with np.load(path, allow_pickle=False) as z:
        if "X" not in z or "y" not in z:
            raise InvalidInput(f"{path} must hold arrays 'X' (N, D) and 'y' (N,); it has {sorted(z.files)}")
        X = np.asarray(z["X"], dtype=np.float32)
        y = np.asarray(z["y"])
        names = np.asarray(z["names"]) if "names" in z else None
    if X.ndim != 2 or len(X) != len(y):
        raise InvalidInput(f"X must be (N, D) with one label per row; got X {X.shape}, y {y.shape}")
    if not np.all(np.isfinite(X)):
        raise InvalidInput("X holds non-finite values")
    return X, y, names


def split_identities(y: np.ndarray, held_out_fraction: float = 0.5, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(train, held_out)`` over the images, splitting the *identities* at random."""
    if not 0.0 < held_out_fraction < 1.0:
        raise InvalidInput(f"held_out_fraction must be in (0, 1), got {held_out_fraction}")
    ids = np.unique(y)
    if len(ids) < 2:
        raise InvalidInput("need at least two identities to split")
    rng = np.random.default_rng(seed)
    n_out = min(len(ids) - 1, max(1, int(round(held_out_fraction * len(ids)))))
    out_ids = rng.choice(ids, size=n_out, replace=False)
    held = np.isin(y, out_ids)
    return ~held, held


def verification_pairs(
    y: np.ndarray, *, seed: int = 0, max_pairs_per_identity: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, same)``: every positive pair ``i < j`` (at most ``max_pairs_per_identity`` per
    identity, sampled), plus as many random negative pairs (distinct identities, no repeats)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    pi, pj = [], []
    for ident in np.unique(y):
        idx = np.flatnonzero(y == ident)
        if len(idx) < 2:
            continue
        a, b = np.triu_indices(len(idx), k=1)
        if max_pairs_per_identity and len(a) > max_pairs_per_identity:
            keep = rng.choice(len(a), size=max_pairs_per_identity, replace=False)
            a, b = a[keep], b[keep]
        pi.append(idx[a])
        pj.append(idx[b])
    if not pi:
        raise InvalidInput("no identity has two images: no positive pairs")
    pi_a, pj_a = np.concatenate(pi), np.concatenate(pj)
    n_pos = len(pi_a)
    if len(np.unique(y)) < 2:
        raise InvalidInput("need two identities for negative pairs")
    seen: set[tuple[int, int]] = set()
    ni: list[int] = []
    nj: list[int] = []
    while len(ni) < n_pos:
        need = (n_pos - len(ni)) * 2 + 16
        a, b = rng.integers(0, len(y), need), rng.integers(0, len(y), need)
        for u, v in zip(a.tolist(), b.tolist(), strict=True):
            if y[u] == y[v]:
                continue
            key = (min(u, v), max(u, v))
            if key in seen:
                continue
            seen.add(key)
            ni.append(key[0])
            nj.append(key[1])
            if len(ni) == n_pos:
                break
    i = np.concatenate([pi_a, np.asarray(ni)])
    j = np.concatenate([pj_a, np.asarray(nj)])
    same = np.concatenate([np.ones(n_pos, bool), np.zeros(n_pos, bool)])
    return i, j, same


# --------------------------------------------------------------------------------------- metrics
def verification_metrics(scores: np.ndarray, same: np.ndarray, *, folds: int = 10, seed: int = 0) -> dict[str, float]:
    """AUC, TAR@FAR (1e-3, 1e-2), best accuracy, and ``folds``-fold accuracy (mean, std), all from
    :mod:`faceprint.eval.metrics` (random stratification of pairs into folds, seeded)."""
    from faceprint.eval import metrics

    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    out: dict[str, float] = {"auc": metrics.roc_auc(scores, same)}
    for far in FAR_TARGETS:
        out[f"tar@far={far:g}"] = metrics.tar_at_far(scores, same, far).tar
    out["best_acc"] = metrics.best_threshold(scores, same)[1]
    fold = np.random.default_rng(seed).permutation(len(scores)) % folds
    kf = metrics.kfold_accuracy(scores, same, fold)
    out["acc_10fold"] = kf.mean
    out["acc_10fold_std"] = float(np.std(kf.fold_accuracies))
    return out


# ------------------------------------------------------------------------------------------ heads
def make_projection_head(dim: int, kind: str = "linear", hidden: int = 256) -> nn.Module:
    """A head that starts as the identity map: ``linear`` (W = I, b = 0) or a residual ``mlp``."""
    import torch
    from torch import nn

    class LinearHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(dim, dim)
            with torch.no_grad():
                self.fc.weight.copy_(torch.eye(dim))
                self.fc.bias.zero_()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    class MLPHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
            with torch.no_grad():
                self.fc2.weight.zero_()
                self.fc2.bias.zero_()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.fc2(torch.relu(self.fc1(x)))

    if kind == "linear":
        return LinearHead()
    if kind == "mlp":
        return MLPHead()
    raise InvalidInput(f"head kind must be 'linear' or 'mlp', got {kind!r}")


def _apply_head(head: nn.Module, X: np.ndarray) -> np.ndarray:
    import torch

    head.eval()
    with torch.no_grad():
        out = torch.nn.functional.normalize(head(torch.from_numpy(X)), dim=1).numpy()
    return out


def _cosine_scores(E: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    En = E / np.linalg.norm(E, axis=1, keepdims=True)
    return np.einsum("nd,nd->n", En[i], En[j])


@dataclass
class HeadFit:
    head: Any
    best_epoch: int
    val_auc: list[float]
    seconds: float
    last_state: dict[str, Any] | None = None  # the final epoch's head, when another was selected


def fit_head(
    X: np.ndarray,
    y: np.ndarray,
    method: str,
    *,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    head_kind: str = "linear",
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 256,
    pk: tuple[int, int] = (32, 4),
    loss_params: dict[str, Any] | None = None,
    seed: int = 0,
) -> HeadFit:
    """Train a projection head on ``(X, y)`` with ``method`` in {arcface, cosface, triplet}; with a
    validation set, the head of the epoch with the best validation AUC (epoch 0 = identity) is kept."""
    import torch

    from faceprint.train.imprinting import imprint_weights
    from faceprint.train.losses import build_loss, build_margin_loss
    from faceprint.train.samplers import PKSampler, RandomBatchSampler

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    classes, yi = np.unique(y, return_inverse=True)
    dim = X.shape[1]
    head = make_projection_head(dim, head_kind)
    params = dict(loss_params or {})
    if method in ("arcface", "cosface"):
        defaults = {"arcface": {"scale": 32.0, "margin": 0.3}, "cosface": {"scale": 32.0, "margin": 0.25}}[method]
        margin = build_margin_loss(method, dim, len(classes), **{**defaults, **params})
        imprint_weights(margin.weight.data, torch.from_numpy(X), torch.from_numpy(yi))  # start at class means
        loss: nn.Module = margin
        sampler: Any = RandomBatchSampler(len(X), batch_size, seed=seed, drop_last=False)
    elif method == "triplet":
        loss = build_loss("triplet", dim, 0, **{"margin": 0.2, "miner": "batch_hard", **params})
        sampler = PKSampler(yi, pk[0], pk[1], seed=seed)
    else:
        raise InvalidInput(f"unknown adaptation method {method!r}")
    opt = torch.optim.Adam(list(head.parameters()) + list(loss.parameters()), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(yi.astype(np.int64))

    val: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # (X_val, i, j, same)
    if X_val is not None and y_val is not None and len(np.unique(y_val)) > 1:
        try:
            val = (X_val, *verification_pairs(y_val, seed=seed + 1, max_pairs_per_identity=50))
        except InvalidInput:
            val = None

    def val_auc(val: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> float:
        Xv, vi, vj, vs = val
        from faceprint.eval.metrics import roc_auc

        return roc_auc(_cosine_scores(_apply_head(head, Xv), vi, vj), vs)

    history = [val_auc(val)] if val is not None else []
    best_state, best_epoch = copy.deepcopy(head.state_dict()), 0
    for epoch in range(1, epochs + 1):
        head.train()
        loss.train()
        for idx in sampler.batches(epoch):
            idx_t = torch.as_tensor(idx, dtype=torch.long)
            value = loss(head(Xt[idx_t]), yt[idx_t])
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
        if val is not None:
            history.append(val_auc(val))
            if history[-1] > history[best_epoch]:
                best_state, best_epoch = copy.deepcopy(head.state_dict()), epoch
    last_state = None
    if val is not None:
        if best_epoch != epochs:
            last_state = copy.deepcopy(head.state_dict())
        head.load_state_dict(best_state)
    else:
        best_epoch = epochs
    return HeadFit(head=head, best_epoch=best_epoch, val_auc=history, seconds=time.perf_counter() - t0, last_state=last_state)


# ---------------------------------------------------------------------------------------- the run
@dataclass
class AdaptationResult:
    rows: list[dict[str, Any]]
    split: dict[str, int]
    settings: dict[str, Any] = field(default_factory=dict)

    COLUMNS = ("method", "auc", "tar@far=0.001", "tar@far=0.01", "best_acc", "acc_10fold", "epoch", "seconds")

    def table(self) -> str:
        head = (
            f"{'method':<16} {'AUC':>8} {'TAR@1e-3':>9} {'TAR@1e-2':>9} {'best acc':>9} "
            f"{'10-fold acc':>15} {'epoch':>6} {'fit s':>7}"
        )
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r['method']:<16} {r['auc']:>8.5f} {r['tar@far=0.001']:>9.4f} {r['tar@far=0.01']:>9.4f} "
                f"{r['best_acc']:>9.4f} {r['acc_10fold']:>8.4f}±{r['acc_10fold_std']:.4f} "
                f"{'' if r.get('epoch') is None else r['epoch']:>6} {r.get('seconds', 0.0):>7.1f}"
            )
        s = self.split
        lines.append(
            f"train: {s['train_identities']} identities / {s['train_images']} images "
            f"(fit {s['fit_identities']}, val {s['val_identities']}); held-out: {s['test_identities']} identities / "
            f"{s['test_images']} images, {s['positive_pairs']} positive + {s['negative_pairs']} negative pairs"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_adaptation(
    X: np.ndarray,
    y: np.ndarray,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    held_out_fraction: float = 0.5,
    val_fraction: float = 0.2,
    seed: int = 0,
    epochs: int = 30,
    lr: float = 1e-3,
    head_kind: str = "linear",
    max_pairs_per_identity: int | None = None,
    threads: int | None = None,
    report_last_epoch: bool = True,
) -> AdaptationResult:
    """Split identities, adapt with each method, and evaluate on held-out identity pairs."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise InvalidInput(f"X must be (N, D) with one label per row; got {X.shape}, {y.shape}")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    train_mask, test_mask = split_identities(y, held_out_fraction, seed=seed)
    Xtr, ytr, Xte, yte = X[train_mask], y[train_mask], X[test_mask], y[test_mask]
    fit_mask, val_mask = (np.ones(len(ytr), bool), np.zeros(len(ytr), bool))
    if val_fraction > 0:
        fit_mask, val_mask = split_identities(ytr, val_fraction, seed=seed + 7)
    pi, pj, same = verification_pairs(yte, seed=seed, max_pairs_per_identity=max_pairs_per_identity)
    rows: list[dict[str, Any]] = []

    def add(method: str, scores: np.ndarray, **extra: Any) -> None:
        row = {"method": method, **verification_metrics(scores, same, seed=seed), **extra}
        rows.append(row)
        logger.info("%s: %s", method, row)

    add("frozen (cosine)", _cosine_scores(Xte, pi, pj), epoch=None, seconds=0.0)
    for method in methods:
        if method == "joint_bayesian":
            from faceprint.train.joint_bayesian import JointBayesian

            t0 = time.perf_counter()
            jb = JointBayesian().fit(Xtr, ytr)
            add("joint_bayesian", np.asarray(jb.score(Xte[pi], Xte[pj])), epoch=None, seconds=time.perf_counter() - t0)
            continue
        fit = fit_head(
            Xtr[fit_mask],
            ytr[fit_mask],
            method,
            X_val=Xtr[val_mask] if val_mask.any() else None,
            y_val=ytr[val_mask] if val_mask.any() else None,
            head_kind=head_kind,
            epochs=epochs,
            lr=lr,
            seed=seed,
        )
        E = _apply_head(fit.head, Xte)
        add(method, _cosine_scores(E, pi, pj), epoch=fit.best_epoch, seconds=fit.seconds, val_auc=fit.val_auc)
        if fit.last_state is not None and report_last_epoch:
            # What training did, without model selection (reported, never selected on test pairs).
            best = copy.deepcopy(fit.head.state_dict())
            fit.head.load_state_dict(fit.last_state)
            add(f"{method} (last)", _cosine_scores(_apply_head(fit.head, Xte), pi, pj), epoch=epochs, seconds=fit.seconds)
            fit.head.load_state_dict(best)
    split = {
        "train_identities": int(len(np.unique(ytr))),
        "train_images": int(len(ytr)),
        "fit_identities": int(len(np.unique(ytr[fit_mask]))),
        "val_identities": int(len(np.unique(ytr[val_mask]))) if val_mask.any() else 0,
        "test_identities": int(len(np.unique(yte))),
        "test_images": int(len(yte)),
        "positive_pairs": int(same.sum()),
        "negative_pairs": int((~same).sum()),
    }
    settings = {
        "seed": seed,
        "held_out_fraction": held_out_fraction,
        "val_fraction": val_fraction,
        "epochs": epochs,
        "lr": lr,
        "head": head_kind,
        "methods": list(methods),
        "max_pairs_per_identity": max_pairs_per_identity,
        "embedding_dim": int(X.shape[1]),
    }
    return AdaptationResult(rows=rows, split=split, settings=settings)


# ------------------------------------------------------------------------------------- script entry
def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Adaptation run: small heads on frozen embeddings, identity-disjoint verification.")
    p.add_argument("--embeddings", required=True, help=".npz with X (N, D) float32, y (N,) labels, optional names")
    p.add_argument("--json", dest="json_out", default=None, help="write the result as JSON to this file")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS), help="comma-separated: arcface,cosface,triplet,joint_bayesian")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--held-out", type=float, default=0.5, help="fraction of identities held out")
    p.add_argument("--val", type=float, default=0.2, help="fraction of train identities used for model selection")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--head", choices=("linear", "mlp"), default="linear")
    p.add_argument("--max-pairs-per-identity", type=int, default=None, help="cap positive pairs per held-out identity")
    p.add_argument("--threads", type=int, default=None)
    return p


def result_from_args(args: argparse.Namespace) -> AdaptationResult:
    X, y, _ = load_embeddings_npz(args.embeddings)
    return run_adaptation(
        X,
        y,
        methods=[m.strip() for m in args.methods.split(",") if m.strip()],
        held_out_fraction=args.held_out,
        val_fraction=args.val,
        seed=args.seed,
        epochs=args.epochs,
        lr=args.lr,
        head_kind=args.head,
        max_pairs_per_identity=args.max_pairs_per_identity,
        threads=args.threads,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    try:
        result = result_from_args(args)
    except InvalidInput as e:
        print(f"adapt: error: {e}", file=sys.stderr)
        return 2
    print(result.table())
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result.to_dict(), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
