"""Open-set identification and clustering thresholds that depend on how many faces are compared.

Why
    A one-to-one verification threshold (e.g. 0.9104 for dlib ResNet, FAR ≈ 0.8 % per comparison)
    is far too loose for a search: a person who is *not* enrolled is compared with every enrolled
    identity, and the search goes wrong when *any* of those N impostor scores reaches the threshold.

Model (how FPIR is computed)
    Let ``FAR_k(t)`` be the probability that an impostor probe face scores at least ``t`` against
    an identity template built from ``k`` photos (the gallery's ``combine="mean"`` rule: the
    L2-normalised mean embedding; mean templates of more photos score impostors a little higher,
    so each ``k`` has its own tail). A gallery holding ``n_k`` identities with ``k`` photos
    compares a non-mated probe with all of them; treating the comparisons as independent,

        FPIR(t) = 1 − Π_k (1 − FAR_k(t))^{n_k}          (≈ Σ_k n_k · FAR_k(t) when small)

    which, for N one-photo identities, is the familiar ``FPIR ≈ 1 − (1 − FAR(t))^N``. The false-
    positive identification rate is the fraction of searches by people who are not enrolled that
    return someone. Given a target FPIR the threshold is the smallest ``t`` with
    ``FPIR(t) ≤ target`` (FPIR falls as ``t`` rises; solved by bisection). Under the ``max`` rule
    each enrolled *face* is a comparison: ``{1: number of faces}``. In the small-FPIR regime the
    formula is an expectation (expected false candidates per search) and does not need the
    comparisons to be independent; it does assume the probe population resembles the calibration
    population (see the caveats in the calibration file's ``notes``).

Calibration (what is shipped)
    ``FAR_k`` is tabulated from cross-identity score distributions of held-apart data — for the
    built-in model, the images named in LFW View 1 *pairsDevTrain.txt* (2,132 people; never View 2,
    never the people ``benchmarks/gallery_lfw.py`` evaluates on), by ``scripts/calibrate_open_set.py``. Per template size
    the table maps log10 FAR (0.5 … 1e-10) to a score: the empirical quantile where at least
    :data:`MIN_TAIL_COUNT` impostor pairs support it, and beyond that a generalized Pareto tail
    (peaks over threshold, probability-weighted-moment fit, :func:`fit_gpd_pwm`) fitted to the top
    of the impostor scores. Per-comparison FARs below the measured range (needed for galleries of
    ~10⁵ and more) are therefore extrapolations, and the threshold's source says so.

Measured (``benchmarks/gallery_lfw.py``: 2,779 LFW people never used for calibration, 5 random
    splits, 11,045 non-mated searches per gallery size, default pipeline, MTCNN + SFace int8)
    Target FPIR 1e-2 → observed 0.0090 / 0.0096 / 0.0133 / 0.0098 with 100 / 300 / 1,000 / 1,389
    people enrolled (binomial SE ≈ 0.001; the splits share people, so the real spread is larger);
    target 1e-3 → 0.0007 / 0.0010 / 0.0014 / 0.0014. DIR at the 1e-2 thresholds 1.00 / 0.99 / 0.97 /
    0.96. The shipped tails floor the Pareto shape at ξ = 0 (``min_shape=0``), chosen on DevTrain
    alone by the rule in ``benchmarks/open_set_transfer.py`` (tails fitted on half the identities,
    searched by the other half, 30 halvings: worst ratio to the target 1.05 × against the free fit's
    1.71 ×); the free fit, shipped before, gave 0.0020 / 0.0026 at 1e-3 with 1,000 / 1,389 people.

Clustering
    The same tail gives ``faceprint cluster`` a default that scales with the collection: link two
    faces when their score reaches ``t(n)`` with ``(n − 1) · FAR_1(t(n)) = c``, i.e. each face
    expects ``c`` false links among the ``n − 1`` others. ``c`` is chosen per clustering method to
    maximise pairwise F1 on DevTrain identities (recorded in the file with the F1 reached).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceprint.errors import InvalidInput
from faceprint.matching.calibration import read_json, write_json

FORMAT = "faceprint.open_set/1"
#: FARs at and above this many supporting impostor pairs are read off the empirical distribution.
MIN_TAIL_COUNT = 25
#: the generalized Pareto tail is fitted to the scores above this FAR (at least MIN_EXCEEDANCES of them)
TAIL_FAR = 1e-3
MIN_EXCEEDANCES = 200
#: the tabulated log10 FAR grid: 0.5 … 1e-10
LOG10_FAR_GRID = np.round(np.concatenate([[math.log10(0.5)], np.arange(-0.5, -10.0001, -0.05)]), 4)
DEFAULT_TARGET_FPIR = 1e-2
#: every model's scores are cosines of unit vectors (the fusion's too): no threshold at or above this names anyone
MAX_SCORE = 1.0


# ------------------------------------------------------------- tail fitting


def fit_gpd_pwm(exceedances: np.ndarray) -> tuple[float, float]:
    """Generalized Pareto ``(shape ξ, scale σ)`` of positive exceedances by probability-weighted
    moments (Hosking & Wallis 1987): with ``a0`` the mean and ``a1 = mean((1 − p_j) x_(j))``,
    ``p_j = (j − 0.35) / n`` over the ascending sample, ``σ = 2 a0 a1 / (a0 − 2 a1)`` and
    ``ξ = 2 − a0 / (a0 − 2 a1)``. Survival: ``S(x) = (1 + ξ x / σ)^(−1/ξ)`` (``exp(−x/σ)`` at ξ = 0);
    ξ < 0 is a tail with an end point at ``−σ/ξ``."""
    x = np.sort(np.asarray(exceedances, dtype=np.float64).reshape(-1))
    if x.size < 10 or np.any(x < 0):
        raise InvalidInput("fit_gpd_pwm needs at least 10 non-negative exceedances")
    n = x.size
    p = (np.arange(1, n + 1) - 0.35) / n
    a0 = float(x.mean())
    a1 = float(np.mean((1.0 - p) * x))
    den = a0 - 2.0 * a1
    if den <= 0:
        raise InvalidInput("exceedances too heavy-tailed for a PWM fit")
    return 2.0 - a0 / den, 2.0 * a0 * a1 / den


def _scale_at_shape(exceedances: np.ndarray, shape: float) -> float:
    """The PWM scale of a generalized Pareto with its shape fixed: the mean is ``σ / (1 − ξ)``."""
    return float(np.mean(exceedances)) * (1.0 - shape)


def gpd_isf(s: np.ndarray | float, shape: float, scale: float) -> np.ndarray:
    """Exceedance ``x`` with survival ``S(x) = s`` under the generalized Pareto tail."""
    s = np.asarray(s, dtype=np.float64)
    if abs(shape) < 1e-9:
        return -scale * np.log(s)
    return scale / shape * (np.power(s, -shape) - 1.0)


def gpd_sf(x: np.ndarray | float, shape: float, scale: float) -> np.ndarray:
    x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    if abs(shape) < 1e-9:
        return np.exp(-x / scale)
    base = np.maximum(1.0 + shape * x / scale, 0.0)
    with np.errstate(divide="ignore"):
        return np.power(base, -1.0 / shape)


@dataclass(frozen=True)
class FarTable:
    """Score at each tabulated false-accept rate for one template size.

    ``log10_far`` descends, ``score`` ascends (strictly): ``FAR(score[i]) = 10**log10_far[i]``.
    """

    log10_far: np.ndarray
    score: np.ndarray
    n_impostor: int
    empirical_min_far: float  # below this the table comes from the fitted tail
    tail: dict[str, float] = field(default_factory=dict)  # u, far_u, shape, scale, n_exceedances
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_scores(
        cls,
        impostor_scores: np.ndarray,
        *,
        grid: np.ndarray = LOG10_FAR_GRID,
        min_shape: float | None = None,
        min_tail_count: int = MIN_TAIL_COUNT,
        **info: Any,
    ) -> FarTable:
        """Tabulate the upper tail of ``impostor_scores`` (empirical where at least ``min_tail_count``
        scores support a FAR, then generalized Pareto). ``min_shape``: a floor on the fitted shape ξ
        (e.g. 0: no lighter than an exponential tail); None fits it freely.
        ``benchmarks/open_set_transfer.py`` measures what both do."""
        if min_shape is not None and not min_shape < 1.0:
            raise InvalidInput(f"min_shape must be below 1 (a Pareto tail with a mean), got {min_shape}")
        if int(min_tail_count) < 1:
            raise InvalidInput(f"min_tail_count must be at least 1 impostor pair, got {min_tail_count}")
        s = np.sort(np.asarray(impostor_scores, dtype=np.float64).reshape(-1))
        n = s.size
        if n < MIN_EXCEEDANCES * 5:
            raise InvalidInput(f"need at least {MIN_EXCEEDANCES * 5} impostor scores to tabulate a tail, got {n}")
        far = 10.0 ** np.asarray(grid, dtype=np.float64)
        far_u = max(TAIL_FAR, MIN_EXCEEDANCES / n)
        u = float(np.quantile(s, 1.0 - far_u))
        exc = s[s > u] - u
        shape, scale = fit_gpd_pwm(exc)
        if min_shape is not None and shape < min_shape:
            shape, scale = float(min_shape), _scale_at_shape(exc, float(min_shape))
            info = {**info, "shape_floor": float(min_shape)}
        far_u = exc.size / n  # the exact exceedance rate above u
        emp_min = min_tail_count / n
        emp = np.quantile(s, np.clip(1.0 - far, 0.0, 1.0))
        model = u + gpd_isf(np.minimum(far / far_u, 1.0), shape, scale)
        score = np.where(far >= emp_min, emp, model)
        score = np.maximum.accumulate(score) + np.arange(score.size) * 1e-9  # strictly increasing
        tail = {"u": u, "far_u": far_u, "shape": shape, "scale": scale, "n_exceedances": int(exc.size)}
        if shape < 0:
            tail["end_point"] = u - scale / shape
        return cls(np.asarray(grid, dtype=np.float64), score, n, emp_min, tail, dict(info))

    def far(self, score: float | np.ndarray) -> np.ndarray:
        """FAR at ``score`` (log-linear interpolation; clamped to the table's ends)."""
        return np.power(10.0, np.interp(score, self.score, self.log10_far))

    def score_at(self, far: float | np.ndarray) -> np.ndarray:
        lf = np.log10(np.clip(np.asarray(far, dtype=np.float64), 1e-300, 1.0))
        return np.interp(-lf, -self.log10_far, self.score)

    @property
    def min_far(self) -> float:
        return float(10.0 ** self.log10_far[-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_impostor": self.n_impostor,
            "empirical_min_far": self.empirical_min_far,
            "tail": {k: float(v) if not isinstance(v, int) else v for k, v in self.tail.items()},
            **self.info,
            "log10_far": [round(float(x), 4) for x in self.log10_far],
            "score": [round(float(x), 7) for x in self.score],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FarTable:
        lf = np.asarray(d["log10_far"], dtype=np.float64)
        sc = np.asarray(d["score"], dtype=np.float64)
        if lf.shape != sc.shape or lf.size < 2 or np.any(np.diff(sc) < 0) or np.any(np.diff(lf) > 0):
            raise InvalidInput("malformed FAR table: log10_far must descend and score ascend, same length")
        sc = sc + np.arange(sc.size) * 1e-12  # rounding may have made neighbours equal
        info = {k: v for k, v in d.items() if k not in ("log10_far", "score", "n_impostor", "empirical_min_far", "tail")}
        return cls(lf, sc, int(d["n_impostor"]), float(d["empirical_min_far"]), dict(d.get("tail", {})), info)


# ------------------------------------------------------------- the model


@dataclass(frozen=True)
class OpenSetThreshold:
    """The threshold for a target FPIR and how it was reached."""

    value: float
    target_fpir: float
    n_compared: int  # templates (mean rule) or faces (max rule) a probe is compared with
    composition: tuple[tuple[int, int], ...]  # (photos per template, templates)
    far_per_comparison: float  # FAR_1 at the threshold
    extrapolated: bool  # the per-comparison FAR is below what the calibration data measured
    clamped: bool  # the target needs a FAR below the table's end: the strictest tabulated score
    unreachable: bool = False  # at or above MAX_SCORE: no face can match, the target is out of this model's reach


def _composition(sizes: Mapping[int, int] | int) -> dict[int, int]:
    if isinstance(sizes, (int, np.integer)):
        return {1: int(sizes)} if int(sizes) > 0 else {}
    out: dict[int, int] = {}
    for k, v in dict(sizes).items():
        k, v = int(k), int(v)
        if k < 1 or v < 0:
            raise InvalidInput(f"gallery composition must map photos per template (>= 1) to counts (>= 0), got {k}: {v}")
        if v:
            out[k] = out.get(k, 0) + v
    return out


class OpenSetCalibration:
    """Per-template-size impostor tails of one embedding model (+ clustering constants).

    Build with :meth:`fit` (labelled embeddings) or load the shipped one with
    :func:`faceprint.matching.thresholds.open_set_calibration`.
    """

    def __init__(
        self,
        tables: Mapping[int, FarTable],
        *,
        model: str | None = None,
        pipeline: str | None = None,
        source: str | None = None,
        source_short: str | None = None,
        default_target_fpir: float = DEFAULT_TARGET_FPIR,
        clustering: Mapping[str, Mapping[str, Any]] | None = None,
        report: Mapping[str, Any] | None = None,
    ) -> None:
        if not tables or 1 not in tables:
            raise InvalidInput("an open-set calibration needs at least the one-photo (k=1) impostor table")
        self.tables = {int(k): t for k, t in sorted(tables.items())}
        self.model = model
        self.pipeline = pipeline
        self.source = source
        self.source_short = source_short or source
        self.default_target_fpir = float(default_target_fpir)
        self.clustering = {k: dict(v) for k, v in (clustering or {}).items()}
        self.report = dict(report or {})

    # ------------------------------------------------------------ queries

    def table(self, template_size: int) -> FarTable:
        """The table of the largest calibrated template size not above ``template_size``."""
        ks = [k for k in self.tables if k <= max(1, int(template_size))]
        return self.tables[max(ks)]

    def far(self, score: float, template_size: int = 1) -> float:
        """Per-comparison false-accept rate at ``score`` against a ``template_size``-photo template."""
        return float(self.table(template_size).far(score))

    def score_at_far(self, far: float, template_size: int = 1) -> float:
        return float(self.table(template_size).score_at(far))

    def fpir(self, score: float | np.ndarray, sizes: Mapping[int, int] | int) -> np.ndarray | float:
        """Predicted FPIR at ``score`` for a gallery of ``sizes`` ({photos per template: templates},
        or an int: that many one-photo templates): ``1 − Π_k (1 − FAR_k)^{n_k}``."""
        comp = _composition(sizes)
        s = np.asarray(score, dtype=np.float64)
        log_miss = np.zeros_like(s)
        for k, n in comp.items():
            log_miss = log_miss + n * np.log1p(-np.minimum(self.table(k).far(s), 1.0 - 1e-15))
        out = -np.expm1(log_miss)
        return float(out) if out.ndim == 0 else out

    def threshold(self, target_fpir: float | None, sizes: Mapping[int, int] | int) -> OpenSetThreshold:
        """The smallest score whose predicted FPIR is at most ``target_fpir`` for this gallery."""
        fpir = self.default_target_fpir if target_fpir is None else float(target_fpir)
        if not 0.0 < fpir < 1.0:
            raise InvalidInput(f"target FPIR must be in (0, 1), got {fpir}")
        comp = _composition(sizes) or {1: 1}  # an empty gallery: report the one-comparison threshold
        used = {k: self.table(k) for k in comp}
        lo = min(float(t.score[0]) for t in used.values())
        hi = max(float(t.score[-1]) for t in used.values())
        clamped = False
        if self.fpir(hi, comp) > fpir:
            t, clamped = hi, True
        elif self.fpir(lo, comp) <= fpir:
            t = lo
        else:
            a, b = lo, hi  # fpir(a) > target >= fpir(b)
            for _ in range(60):
                m = 0.5 * (a + b)
                if self.fpir(m, comp) > fpir:
                    a = m
                else:
                    b = m
            t = b
        far1 = self.far(t, 1)
        extrapolated = any(float(used[k].far(t)) < used[k].empirical_min_far for k in comp)
        return OpenSetThreshold(
            value=float(t),
            target_fpir=fpir,
            n_compared=int(sum(comp.values())),
            composition=tuple(sorted(comp.items())),
            far_per_comparison=far1,
            extrapolated=extrapolated or clamped,
            clamped=clamped,
            unreachable=t >= MAX_SCORE,
        )

    def cluster_threshold(self, n_faces: int, method: str = "chinese_whispers") -> tuple[float, float]:
        """``(threshold, c)`` for clustering ``n_faces`` faces: ``(n − 1) · FAR_1(t) = c``."""
        m = "chinese_whispers" if method == "cw" else method
        entry = self.clustering.get(m)
        if entry is None:
            raise InvalidInput(f"no clustering calibration for method {method!r} (have {sorted(self.clustering)})")
        c = float(entry["false_links_per_face"])
        far = min(0.5, c / max(1, int(n_faces) - 1))
        return self.score_at_far(far, 1), c

    # ------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        labels: Sequence[Any],
        *,
        template_sizes: Sequence[int] = (1, 2, 3, 4),
        templates_per_identity: int = 4,
        seed: int = 0,
        min_shape: float | None = None,
        min_tail_count: int = MIN_TAIL_COUNT,
        **kwargs: Any,
    ) -> OpenSetCalibration:
        """Tabulate impostor tails from unit embeddings of labelled identities.

        k = 1: every cross-identity pair of faces. k ≥ 2: every face against the normalised mean of
        ``k`` photos of each *other* identity with at least ``k`` photos (up to
        ``templates_per_identity`` different random ``k``-subsets per identity). ``min_shape``,
        ``min_tail_count``: see :meth:`FarTable.from_scores`."""
        x = np.asarray(vectors, dtype=np.float32)
        y = np.asarray(labels)
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise InvalidInput("vectors must be (n, d) with one label per row")
        _, ids = np.unique(y, return_inverse=True)
        tables: dict[int, FarTable] = {}
        prev: FarTable | None = None
        for k in sorted(template_sizes):
            scores, n_probe, n_tmpl = impostor_scores(x, ids, k, templates_per_identity=templates_per_identity, seed=seed)
            if scores.size < MIN_EXCEEDANCES * 5:
                continue
            t = FarTable.from_scores(scores, min_shape=min_shape, min_tail_count=min_tail_count, n_probes=n_probe,
                                     n_templates=n_tmpl, template_size=int(k))
            if prev is not None and np.any(t.score < prev.score):
                # averaging more photos never makes impostors score lower (measured: the tail moves
                # up with k); where a smaller sample says otherwise, keep the stricter neighbour
                t = FarTable(t.log10_far, np.maximum(t.score, prev.score), t.n_impostor, t.empirical_min_far, t.tail,
                             {**t.info, "floored_by_smaller_templates": True})
            tables[int(k)] = prev = t
        return cls(tables, **kwargs)

    # ------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "pipeline": self.pipeline,
            "source": self.source,
            "source_short": self.source_short,
            "default_target_fpir": self.default_target_fpir,
            "fpir_model": "FPIR(t) = 1 - prod_k (1 - FAR_k(t))^n_k over the n_k enrolled identities whose template "
            "averages k photos (max rule: k = 1, n = enrolled faces); threshold = smallest t with FPIR(t) <= target",
            "clustering": self.clustering,
            "report": self.report,
            "far_tables": {str(k): t.to_dict() for k, t in self.tables.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpenSetCalibration:
        if d.get("format") != FORMAT:
            raise InvalidInput(f"not a faceprint open-set calibration (format {d.get('format')!r}, expected {FORMAT!r})")
        tables = {int(k): FarTable.from_dict(v) for k, v in d["far_tables"].items()}
        return cls(
            tables,
            model=d.get("model"),
            pipeline=d.get("pipeline"),
            source=d.get("source"),
            source_short=d.get("source_short"),
            default_target_fpir=float(d.get("default_target_fpir", DEFAULT_TARGET_FPIR)),
            clustering=d.get("clustering") or {},
            report=d.get("report") or {},
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OpenSetCalibration:
        return cls.from_dict(read_json(path, "open-set calibration file"))


def impostor_scores(
    x: np.ndarray, ids: np.ndarray, k: int, *, templates_per_identity: int = 4, seed: int = 0, block: int = 2048
) -> tuple[np.ndarray, int, int]:
    """Cross-identity scores (float32) of every face against ``k``-photo templates of the other
    identities; returns ``(scores, n_probes, n_templates)``. k = 1 uses each unordered pair once."""
    n = x.shape[0]
    if k == 1:
        out = []
        for s in range(0, n, block):
            sim = x[s : s + block] @ x.T
            r = np.arange(s, min(n, s + block))[:, None]
            keep = (np.arange(n)[None, :] > r) & (ids[None, :] != ids[r])
            out.append(sim[keep])
        return (np.concatenate(out) if out else np.zeros(0, np.float32)), n, n
    rng = np.random.default_rng(seed + k)
    tmpl, owner = [], []
    for i in np.unique(ids):
        members = np.nonzero(ids == i)[0]
        if members.size < k:
            continue
        n_sub = min(templates_per_identity, math.comb(int(members.size), k))
        seen: set[tuple[int, ...]] = set()
        while len(seen) < n_sub:
            seen.add(tuple(sorted(rng.choice(members, k, replace=False).tolist())))
        for sub in sorted(seen):
            v = x[list(sub)].mean(axis=0)
            tmpl.append(v / np.linalg.norm(v))
            owner.append(i)
    if not tmpl:
        return np.zeros(0, np.float32), n, 0
    t = np.stack(tmpl).astype(np.float32)
    o = np.asarray(owner)
    out = []
    for s in range(0, n, block):
        sim = x[s : s + block] @ t.T
        keep = ids[s : s + block, None] != o[None, :]
        out.append(sim[keep])
    return np.concatenate(out), n, len(tmpl)
