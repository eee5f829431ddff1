"""Shared fixtures. Tests that need the real data in ../shared/data skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEPRINT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Converted models go to one cache per test session (never the user's), unless
    FACEPRINT_TEST_CACHE names a persistent one to speed up repeated local runs."""
    from faceprint.models.sources import npm_dir

    # npm-packaged weights were unpacked at set-up into the real cache: keep reading them there
    os.environ.setdefault("FACEPRINT_NPM_DIR", str(npm_dir()))
    persistent = os.environ.get("FACEPRINT_TEST_CACHE")
    os.environ["FACEPRINT_CACHE"] = persistent or str(tmp_path_factory.mktemp("faceprint-cache"))
    os.environ.setdefault("FACEPRINT_HOME", str(tmp_path_factory.mktemp("faceprint-home")))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (clone with ../shared beside it)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def lfw_root(shared_data: Path) -> Path:
    return _require(shared_data / "lfw")


@pytest.fixture(scope="session")
def fr_examples(shared_data: Path) -> Path:
    return _require(shared_data / "face_recognition_examples")


@pytest.fixture(scope="session")
def detection_dlib(shared_data: Path) -> Path:
    return _require(shared_data / "detection_dlib")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
