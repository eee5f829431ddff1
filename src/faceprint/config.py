"""Where faceprint keeps its files. Read from the environment each time (no import-time state).

* ``FACEPRINT_HOME``  — the data directory (gallery, calibrations). Default: the per-user data dir.
* ``FACEPRINT_CACHE`` — converted models and embedding caches. Default: the per-user cache dir.
* ``FACEPRINT_MAX_PIXELS`` — decoder pixel limit (default 50 megapixels).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MAX_PIXELS = 50_000_000


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


def max_pixels() -> int:
    env = os.environ.get("FACEPRINT_MAX_PIXELS")
    if env:
        try:
            return int(env)
        except ValueError:
            from faceprint.errors import InvalidInput

            raise InvalidInput(f"FACEPRINT_MAX_PIXELS must be an integer, got {env!r}") from None
    return DEFAULT_MAX_PIXELS
