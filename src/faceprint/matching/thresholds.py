"""Where decision thresholds come from.

**Verification** (one-to-one: ``verify``; :func:`resolve_threshold`), in order of precedence:

1. an explicit ``threshold=`` argument;
2. an explicit calibration (a :class:`ThresholdCalibrator` or the path of a saved one);
3. the user's calibration for the model, saved by ``faceprint calibrate --save`` in
   ``$FACEPRINT_HOME/calibration/<model name>.json``;
4. the model card's default, calibrated by the project on LFW View 1 (shipped with the package as
   ``faceprint/models/cards/<model name>.calibration.json``).

**Identification** (one-to-N search: ``Gallery.identify``; :func:`resolve_identification_threshold`).
The threshold depends on the gallery — who a probe is compared with — and on the false-positive
identification rate (FPIR) the caller accepts, per :mod:`faceprint.matching.open_set`
(``FPIR(t) = 1 − Π_k (1 − FAR_k(t))^{n_k}``). In order of precedence:

1. an explicit ``threshold=`` argument (per call, then the Gallery's) — used as is;
2. the open-set model of the embedding model: the user's file
   ``$FACEPRINT_HOME/calibration/<model name>.open_set.json`` if present, else the project's,
   shipped as ``faceprint/models/cards/<model name>.open_set.json`` (impostor tails from LFW View 1
   DevTrain identities, made by ``scripts/calibrate_open_set.py``); the target FPIR is the
   argument's, else the Gallery's, else the file's default (1e-2);
3. no open-set model for this embedding model: the verification threshold above (the source says
   so: it is too loose for large galleries).

A user's *verification* calibration (``faceprint calibrate --save``) is not used for
identification: it keeps too few impostor scores to read the per-comparison FARs that searching
thousands of people needs.

**Clustering** (``faceprint cluster``; :func:`resolve_cluster_threshold`): ``threshold=`` argument,
else the open-set file's clustering constant for the method and the number of faces, else the
verification threshold.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from faceprint.config import home_dir
from faceprint.errors import InvalidInput, ModelUnavailable
from faceprint.matching.calibration import Threshold, ThresholdCalibrator
from faceprint.matching.open_set import OpenSetCalibration

logger = logging.getLogger(__name__)


def user_calibration_path(model_name: str, home: str | os.PathLike[str] | None = None) -> Path:
    return home_dir(home) / "calibration" / f"{model_name}.json"


def shipped_calibration(model_name: str) -> ThresholdCalibrator | None:
    """The project's calibration of a built-in model, or None when there is none."""
    res = resources.files("faceprint.models") / "cards" / f"{model_name}.calibration.json"
    try:
        data = json.loads(res.read_text())
    except FileNotFoundError:
        return None
    return ThresholdCalibrator.from_dict(data)


def _check_model(cal: ThresholdCalibrator, model_tag: str, where: str) -> None:
    if cal.model and cal.model != model_tag:
        raise InvalidInput(f"calibration {where} was made for model {cal.model}, not {model_tag}")


def resolve_threshold(
    model_tag: str,
    *,
    threshold: float | None = None,
    calibration: ThresholdCalibrator | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Threshold:
    """The threshold to use for ``model_tag`` (``name@version``) and where it came from."""
    name = model_tag.split("@", 1)[0]
    if threshold is not None:
        t = float(threshold)
        if not -1.0 <= t <= 1.0:
            raise InvalidInput(f"threshold must be a cosine similarity in [-1, 1], got {t}")
        return Threshold(t, "argument")
    if calibration is not None:
        if isinstance(calibration, ThresholdCalibrator):
            _check_model(calibration, model_tag, "object")
            return Threshold(calibration.threshold_, "calibration (object)", calibration)
        cal = ThresholdCalibrator.load(calibration)
        _check_model(cal, model_tag, str(calibration))
        return Threshold(cal.threshold_, f"calibration file {calibration}", cal)
    user = user_calibration_path(name, home)
    if user.is_file():
        cal = ThresholdCalibrator.load(user)
        _check_model(cal, model_tag, str(user))
        return Threshold(cal.threshold_, f"user calibration {user}", cal)
    shipped = shipped_calibration(name)
    if shipped is not None:
        _check_model(shipped, model_tag, "shipped with faceprint")
        desc = shipped.source_ or "project calibration"
        return Threshold(shipped.threshold_, f"model card default ({desc})", shipped)
    from faceprint.models import registry

    card = registry.get_card(name)
    if card.default_threshold is None:
        raise ModelUnavailable(
            f"model {name} has no calibrated threshold: pass threshold=..., or run `faceprint calibrate`"
        )
    return Threshold(card.default_threshold, f"model card default ({card.threshold_provenance or 'uncalibrated'})")


# ------------------------------------------------------------------ open set

OPEN_SET_SUFFIX = ".open_set.json"


def user_open_set_path(model_name: str, home: str | os.PathLike[str] | None = None) -> Path:
    return home_dir(home) / "calibration" / f"{model_name}{OPEN_SET_SUFFIX}"


def shipped_open_set_path(model_name: str) -> Path:
    """Where the project's open-set calibration of a built-in model lives (may not exist)."""
    return Path(str(resources.files("faceprint.models") / "cards" / f"{model_name}{OPEN_SET_SUFFIX}"))


@functools.lru_cache(maxsize=16)
def _load_open_set(path: str, mtime_ns: int) -> OpenSetCalibration:
    return OpenSetCalibration.load(path)


def open_set_calibration(model_tag: str, home: str | os.PathLike[str] | None = None) -> tuple[OpenSetCalibration, str] | None:
    """``(calibration, where)`` for ``model_tag``: the user's file, else the shipped one, else None.
    Parsed files are cached (keyed by path and modification time)."""
    name = model_tag.split("@", 1)[0]
    for path, where in ((user_open_set_path(name, home), "user"), (shipped_open_set_path(name), "shipped")):
        try:
            st = path.stat()
        except OSError:
            continue
        cal = _load_open_set(str(path), st.st_mtime_ns)
        if cal.model and cal.model != model_tag:
            raise InvalidInput(f"open-set calibration {path} was made for model {cal.model}, not {model_tag}")
        return cal, (f"user calibration {path}" if where == "user" else f"shipped calibration: {cal.source_short}")
    return None


def _fmt_composition(comp: tuple[tuple[int, int], ...], unit: str) -> str:
    n = sum(v for _, v in comp)
    if unit == "faces" or len(comp) == 1 and comp[0][0] == 1:
        return f"{n:,} {unit}"
    parts = ", ".join(f"{v:,} with {k} photo{'s' if k > 1 else ''}" for k, v in comp)
    return f"{n:,} {unit} ({parts})"


def resolve_identification_threshold(
    model_tag: str,
    composition: Mapping[int, int] | int,
    *,
    threshold: float | None = None,
    target_fpir: float | None = None,
    unit: str = "identities",
    home: str | os.PathLike[str] | None = None,
) -> Threshold:
    """The open-set decision threshold for searching a gallery of ``composition`` ({photos per
    template: identities}; an int = that many one-photo identities; ``{1: faces}`` under the max
    rule, with ``unit="faces"``) at ``target_fpir`` (see the module docstring for precedence)."""
    if threshold is not None:
        return resolve_threshold(model_tag, threshold=threshold)
    if target_fpir is not None and not 0.0 < float(target_fpir) < 1.0:
        raise InvalidInput(f"target FPIR must be in (0, 1), got {target_fpir}")
    found = open_set_calibration(model_tag, home)
    if found is None:
        t = resolve_threshold(model_tag, home=home)
        return Threshold(t.value, f"verification threshold, no open-set calibration for {model_tag}: {t.source}", t.calibrator)
    cal, where = found
    r = cal.threshold(target_fpir, composition)
    desc = f"open-set: FPIR {r.target_fpir:g} over {_fmt_composition(r.composition, unit)}"
    if r.clamped:
        desc += f"; needs a per-comparison FAR below the calibrated {cal.tables[1].min_far:.0e}: strictest calibrated score"
    elif r.extrapolated:
        desc += f"; per-comparison FAR {r.far_per_comparison:.1e} extrapolated beyond the measured impostor pairs (Pareto tail)"
    if r.unreachable:
        desc += ("; above any cosine, so no one can be named: the target cannot be reached at this gallery size "
                 "with this model (give a larger FPIR, a threshold, or use the default model)")
        logger.warning("open-set threshold %.4f for %s at FPIR %g over %s is above any cosine: no one can be named",
                       r.value, model_tag, r.target_fpir, _fmt_composition(r.composition, unit))
    return Threshold(r.value, f"{desc} ({where})", None, cal, r.target_fpir, r.composition)


def resolve_cluster_threshold(
    model_tag: str,
    n_faces: int,
    *,
    method: str = "chinese_whispers",
    threshold: float | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Threshold:
    """The similarity that links two faces when clustering ``n_faces`` faces with ``method``."""
    if threshold is not None:
        return resolve_threshold(model_tag, threshold=threshold)
    found = open_set_calibration(model_tag, home)
    m = "chinese_whispers" if method == "cw" else method
    if found is None or m not in found[0].clustering:
        t = resolve_threshold(model_tag, home=home)
        why = f"no open-set calibration for {model_tag}" if found is None else f"no clustering calibration for {m}"
        return Threshold(t.value, f"verification threshold ({why}): {t.source}", t.calibrator)
    cal, where = found
    value, c = cal.cluster_threshold(n_faces, m)
    return Threshold(
        value,
        f"clustering {n_faces:,} faces: {c:g} expected false links per face ({m}, F1-optimal on the calibration "
        f"identities; {where})",
        None,
        cal,
    )
