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
#: the expression model of `faceprint analyze`, `faceprint.analyze`, `eval fer` and `/v1/analyze`
DEFAULT_EXPRESSION_MODEL = "fer_mini_xception"
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
