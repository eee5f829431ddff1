"""Where faceprint keeps its files, and the limits on what it decodes. Read from the environment each
time (no import-time state). This module is the one source of truth for the defaults; the service's
settings read them from here.

* ``FACEPRINT_HOME``  — the data directory (gallery, calibrations). Default: the per-user data dir.
* ``FACEPRINT_CACHE`` — converted models and embedding caches. Default: the per-user cache dir.
* ``FACEPRINT_MAX_PIXELS`` — decoder pixel limit, width × height from the file header
  (default :data:`DEFAULT_MAX_PIXELS`, 50 megapixels: the largest phone-camera photos).
* ``FACEPRINT_MAX_FILE_MB`` — the most bytes read from one image file or stream
  (default :data:`DEFAULT_MAX_FILE_BYTES`, 256 MiB); a read never goes past it.
* ``FACEPRINT_MAX_DECODE_MB`` — the most memory one decode may use, estimated from the header before
  any pixel is decoded (default :data:`DEFAULT_MAX_DECODE_BYTES`, 640 MiB: every 8-bit image of
  :data:`DEFAULT_MAX_PIXELS` fits).
"""

from __future__ import annotations

import os
from pathlib import Path

MIB = 1 << 20

DEFAULT_MAX_PIXELS = 50_000_000
#: the expression model of `faceprint analyze`, `faceprint.analyze`, `eval fer` and `/v1/analyze`: the most
#: accurate one measured on FER2013 validation (benchmarks/results/fer_eval.json: 68.35 % with its flip TTA,
#: fer_mini_xception 58.37 %); both were trained on FER2013 (research use only), so terms do not separate them.
DEFAULT_EXPRESSION_MODEL = "faceprint_fer_cnn"
#: gender: the most accurate on 600 LFW faces with verified labels (benchmarks/results/analysis.json:
#: human_faceres_gender 0.9583, human_oarriaga_gender 0.8067, human_gear_gender 0.8050).
DEFAULT_GENDER_MODEL = "human_faceres_gender"
#: age: the lowest error on 965 LFW photos of 108 public figures of known birth year (benchmarks/results/age.json:
#: MAE averaged per person human_faceres_age 10.27 years, human_gear_age 11.67, human_ssrnet_age 18.25) and the
#: most FairFace faces in their annotated age group (0.281, 0.166, 0.119); it is also the gender default's
#: network, so age and gender come from one pass.
DEFAULT_AGE_MODEL = "human_faceres_age"
#: liveness: the one presentation-attack analyzer (antispoof + liveness).
DEFAULT_LIVENESS_MODEL = "human_liveness"
#: face-image quality (:mod:`faceprint.quality`).
DEFAULT_QUALITY_MODEL = "faceprint_quality"
#: enrolment refuses faces whose quality (faceprint.models.analyzers.quality) is below this (0 turns the
#: floor off): the largest floor on a 0.01 grid that rejects <= 0.2 % of LFW View 1 DevTrain faces (LFW's
#: faces are nearly all recognisable: only the clearly degraded are refused) — 0.96 rejects 0.15 % of them,
#: 0.18 % of View 2's (benchmarks/results/quality.json). The first rule tried (<= 2 %: 0.98, 1.1 % of LFW)
#: refused face_recognition's example headshot lin-manuel-miranda.png (0.97).
DEFAULT_MIN_QUALITY = 0.96
DEFAULT_MAX_FILE_BYTES = 256 * MIB
DEFAULT_MAX_DECODE_BYTES = 640 * MIB


def home_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else ``$FACEPRINT_HOME``, else the user data dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("FACEPRINT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("faceprint", appauthor=False))


def cache_dir() -> Path:
    """The cache directory: ``$FACEPRINT_CACHE``, else the user cache dir."""
    env = os.environ.get("FACEPRINT_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("faceprint", appauthor=False))


def _positive_env(var: str, default: float) -> float:
    env = os.environ.get(var)
    if not env:
        return default
    try:
        value = float(env)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        from faceprint.errors import InvalidInput

        raise InvalidInput(f"{var} must be a positive number, got {env!r}")
    return value


def max_pixels() -> int:
    """The decoder's pixel limit: ``$FACEPRINT_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`."""
    env = os.environ.get("FACEPRINT_MAX_PIXELS")
    if env:
        try:
            return int(env)
        except ValueError:
            from faceprint.errors import InvalidInput

            raise InvalidInput(f"FACEPRINT_MAX_PIXELS must be an integer, got {env!r}") from None
    return DEFAULT_MAX_PIXELS


def max_file_bytes() -> int:
    """The most bytes read from one image: ``$FACEPRINT_MAX_FILE_MB`` (MiB), else :data:`DEFAULT_MAX_FILE_BYTES`."""
    return int(_positive_env("FACEPRINT_MAX_FILE_MB", DEFAULT_MAX_FILE_BYTES / MIB) * MIB)


def max_decode_bytes() -> int:
    """The decode memory budget: ``$FACEPRINT_MAX_DECODE_MB`` (MiB), else :data:`DEFAULT_MAX_DECODE_BYTES`."""
    return int(_positive_env("FACEPRINT_MAX_DECODE_MB", DEFAULT_MAX_DECODE_BYTES / MIB) * MIB)
