"""The enrolment quality floor on real photos (face_recognition's examples): a face below the
floor is refused with LowQualityFace (nothing stored), enroll_many reports it as an error outcome,
the CLI's --min-quality, and the default floor lets sharp photos in and keeps a heavily blurred one
out."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceprint import config
from faceprint.errors import InvalidInput, LowQualityFace

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def default_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py turns the floor off for the other tests: back to the shipped default here."""
    monkeypatch.delenv("FACEPRINT_MIN_QUALITY", raising=False)


@pytest.fixture(scope="module")
def examples(fr_examples: Path) -> Path:
    return fr_examples / "examples"


@pytest.fixture(scope="module")
def pipeline():
    from faceprint.pipeline import Pipeline, PipelineConfig

    return Pipeline.from_config(PipelineConfig())


def _gallery(tmp_path: Path, pipeline, **kw):
    from faceprint.matching.gallery import Gallery

    return Gallery(home=tmp_path, pipeline=pipeline, **kw)


def test_floor_refuses_and_stores_nothing(tmp_path: Path, pipeline, examples: Path) -> None:
    with _gallery(tmp_path, pipeline, min_quality=1.0) as g:
        with pytest.raises(LowQualityFace) as e:
            g.enroll("Obama", [str(examples / "obama.jpg")])
        assert e.value.code == "low_quality" and e.value.floor == 1.0 and 0.0 <= e.value.quality < 1.0
        assert "below the enrolment floor" in str(e.value) and "obama.jpg" in str(e.value)
        assert g.count() == (0, 0)
        r = g.enroll("Obama", [str(examples / "obama.jpg")], min_quality=0.0)  # per call
        assert r.outcomes[0].status == "enrolled"
        outcomes = list(g.enroll_many([("Biden", str(examples / "biden.jpg"))]))
        assert outcomes[0].status == "error" and outcomes[0].error_code == "low_quality"
    with pytest.raises(InvalidInput, match="min_quality"):
        _gallery(tmp_path, pipeline, min_quality=1.5)
    import faceprint

    with pytest.raises(LowQualityFace):
        faceprint.enroll("Obama", str(examples / "obama.jpg"), min_quality=1.0, home=tmp_path / "api", pipeline=pipeline)


def test_default_floor_keeps_blur_out_and_sharp_photos_in(tmp_path: Path, pipeline, examples: Path) -> None:
    import cv2

    import faceprint

    if config.DEFAULT_MIN_QUALITY <= 0:
        pytest.skip("no default floor")
    img = faceprint.load_image(str(examples / "obama.jpg"))
    blurred = cv2.GaussianBlur(img, (0, 0), 20)  # ~8 px on the 112 px chip (quality 0.93; sigma 8: 0.996, 16: 0.954)
    with _gallery(tmp_path, pipeline) as g:
        for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
            assert g.enroll(name.split(".")[0], [str(examples / name)]).outcomes[0].status == "enrolled"
        with pytest.raises(LowQualityFace):
            g.enroll("Blurred", [blurred])


@pytest.mark.parametrize("preset", ["default", "fast"])
def test_every_example_headshot_passes_the_default_floor_whatever_the_pipeline(tmp_path: Path, examples: Path,
                                                                                preset: str) -> None:
    """The quality of a face does not depend on the pipeline's landmark scheme: the ``fast`` preset's
    dlib 5 points have no mouth, so its MTCNN points are used (they scored alex-lacamoire.png 0.65 as a
    box crop before)."""
    import faceprint
    from faceprint.models import registry
    from faceprint.pipeline import Pipeline, preset_config

    pipe = Pipeline.from_config(preset_config(preset))
    q = registry.create(config.DEFAULT_QUALITY_MODEL)
    names = ("alex-lacamoire.png", "lin-manuel-miranda.png", "obama.jpg", "biden.jpg")
    scores = {}
    for name in names:
        img = faceprint.load_image(str(examples / name))
        (face,) = pipe.process(img)
        scores[name] = q.assess(img, [face])[0].score
    assert min(scores.values()) >= config.DEFAULT_MIN_QUALITY, scores
    with _gallery(tmp_path, pipe) as g:
        for name in names:
            assert g.enroll(name.split(".")[0].split("-")[0], [str(examples / name)]).outcomes[0].status == "enrolled"


def test_cli_min_quality(tmp_path: Path, examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from faceprint.cli.main import main

    home = str(tmp_path / "h")
    rc = main(["enroll", "Obama", str(examples / "obama.jpg"), "--home", home, "--min-quality", "1", "--no-progress"])
    assert rc == 1
    err = capsys.readouterr()
    assert "below the enrolment floor" in err.out + err.err
    assert main(["enroll", "Obama", str(examples / "obama.jpg"), "--home", home, "--min-quality", "0", "--no-progress"]) == 0
    assert main(["enroll", "Obama", str(examples / "obama.jpg"), "--home", home, "--min-quality", "2", "--no-progress"]) == 2


def test_service_floor(tmp_path: Path, pipeline, examples: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from faceprint.service.app import create_app
    from faceprint.service.settings import ServiceSettings

    app = create_app(ServiceSettings(home=tmp_path, min_quality=1.0, analyzer=None, warmup=False), pipeline=pipeline)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        files = [("images", ("o.jpg", (examples / "obama.jpg").read_bytes(), "image/jpeg"))]
        r = c.post("/v1/enroll", data={"name": "Obama"}, files=files)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "low_quality"
