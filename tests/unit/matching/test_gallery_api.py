"""The Gallery's injected pipeline and input reader (issue 17): identification never hashes the
image; galleries without a pipeline of their own follow ``set_default_pipeline``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gallery_fakes import FakePipeline, make_image, save_png

import faceprint
from faceprint.errors import GalleryError
from faceprint.matching import inputs
from faceprint.matching.gallery import Gallery

THR = 0.7


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = inputs.content_hash

    def counting(*parts: bytes) -> str:
        calls.append(sum(len(p) for p in parts))
        return real(*parts)

    monkeypatch.setattr(inputs, "content_hash", counting)
    return calls


def test_identify_does_not_hash_the_image(tmp_path: Path, hash_calls: list[int]) -> None:
    g = Gallery(home=tmp_path, pipeline=FakePipeline(), threshold=THR)
    photo = save_png(tmp_path / "ada.png", 1, 0)
    g.enroll("ada", photo)
    g.enroll("bob", make_image(2, 0))
    assert len(hash_calls) == 2  # enrolment hashes (its duplicate key)
    big = np.zeros((1080, 1920, 3), np.uint8)  # a 1080p frame
    big[:16, :26] = make_image(1, 3)
    hash_calls.clear()
    assert g.identify(big)[0].identity == "ada"
    assert g.identify(make_image(2, 4))[0].identity == "bob"
    assert g.identify(photo)[0].identity == "ada"  # a path: read and decoded, not hashed
    assert g.identify(photo.read_bytes())[0].identity == "ada"
    assert hash_calls == []
    assert g.enroll("ada", photo).outcomes[0].status == "duplicate" and len(hash_calls) == 1
    g.close()


def test_read_input_hashes_only_when_asked() -> None:
    img = make_image(1, 0)
    assert inputs.read_input(img, with_hash=False).sha256 is None
    a = inputs.read_input(img, with_hash=True).sha256
    assert a is not None and len(a) == 64 and a == inputs.read_input(img.copy(), with_hash=True).sha256


@pytest.fixture
def default_pipeline_reset() -> Iterator[None]:
    yield
    faceprint.set_default_pipeline(None)


def test_set_default_pipeline_applies_to_the_function_api(tmp_path: Path, default_pipeline_reset: None) -> None:
    first, second = FakePipeline(), FakePipeline()
    faceprint.set_default_pipeline(first)  # type: ignore[arg-type]
    faceprint.enroll("ada", make_image(1, 0), home=tmp_path)
    assert faceprint.identify(make_image(1, 3), home=tmp_path, threshold=THR)[0].identity == "ada"
    assert (first.calls, second.calls) == (2, 0)
    faceprint.set_default_pipeline(second)  # type: ignore[arg-type]
    assert faceprint.identify(make_image(1, 4), home=tmp_path, threshold=THR)[0].identity == "ada"
    assert (first.calls, second.calls) == (2, 1)  # the new default, not the one the gallery first saw
    faceprint.set_default_pipeline(FakePipeline("fake@2"))  # type: ignore[arg-type]
    with pytest.raises(GalleryError, match="never mixed"):  # and its model is checked against the gallery's
        faceprint.identify(make_image(1, 4), home=tmp_path)


def test_gallery_takes_a_pipeline_or_a_provider(tmp_path: Path) -> None:
    pipes = [FakePipeline(), FakePipeline()]
    current = {"p": pipes[0]}
    g = Gallery(home=tmp_path, pipeline=lambda: current["p"], threshold=THR)
    g.enroll("ada", make_image(1, 0))
    current["p"] = pipes[1]
    assert g.identify(make_image(1, 2))[0].identity == "ada"
    assert [p.calls for p in pipes] == [1, 1]
    with pytest.raises(faceprint.InvalidInput):
        Gallery(home=tmp_path, pipeline=42)  # type: ignore[arg-type]
    g.close()


def test_results_are_exported_from_faceprint() -> None:
    from faceprint.matching import gallery as gallery_mod
    from faceprint.matching import results

    for name in ("Candidate", "IdentifiedFace", "EnrollOutcome", "EnrollResult", "ReembedReport"):
        assert getattr(faceprint, name) is getattr(results, name) is getattr(gallery_mod, name)
