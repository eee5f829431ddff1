"""`faceprint analyze` and `faceprint eval fer` through the CLI entry point (detector stubbed)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceprint.cli import analyze_cmd
from faceprint.cli.main import main
from faceprint.errors import InvalidImage
from faceprint.types import Box, Detection


class StubDetector:
    """Finds one face in images wider than 100 px, none in smaller ones."""

    def detect(self, image: np.ndarray) -> list[Detection]:
        if image.shape[1] <= 100:
            return []
        return [Detection(Box(40, 30, 120, 110), 0.9, detector="stub")]


def stub_load_image(path) -> np.ndarray:
    """Stand-in for faceprint.io.load_image (decoded with OpenCV, RGB)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InvalidImage("cannot decode", source=str(path))
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@pytest.fixture
def stub_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dlib_hog detector and faceprint.io are written in parallel: stand-ins with their interfaces."""
    import faceprint.io

    monkeypatch.setattr(analyze_cmd, "_detector", lambda args: StubDetector())
    monkeypatch.setattr(faceprint.io, "load_image", stub_load_image, raising=False)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), rng.integers(0, 256, (160, 200, 3), dtype=np.uint8))
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((50, 50, 3), np.uint8))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    return {"face": face, "small": small, "bad": bad}


def test_analyze_json(stub_detector, images, capsys) -> None:
    rc = main(["analyze", str(images["face"]), str(images["small"]), "--json", "--no-progress"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "faceprint_fer_cnn@3"
    face, small = out["results"]
    assert small["faces"] == []
    (f,) = face["faces"]
    assert f["box"] == [40.0, 30.0, 120.0, 110.0]
    ex = f["expression"]
    assert list(ex["probabilities"]) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert ex["label"] == max(ex["probabilities"], key=ex["probabilities"].get)
    assert sum(ex["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_analyze_text_and_exit_codes(stub_detector, images, capsys) -> None:
    assert main(["analyze", str(images["face"]), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "1 face(s)" in text and "box=(40,30,120,110)" in text
    assert main(["analyze", str(images["small"]), "--no-progress"]) == 1
    capsys.readouterr()
    assert main(["analyze", str(images["face"]), str(images["bad"]), "--json", "--no-progress"]) == 2
    ok, bad = json.loads(capsys.readouterr().out)["results"]
    assert len(ok["faces"]) == 1 and bad["error"]["code"] == "invalid_image"


def test_analyze_bad_image_reported(stub_detector, images, capsys) -> None:
    rc = main(["analyze", str(images["bad"]), "--json", "--no-progress"])
    assert rc == 2
    (r,) = json.loads(capsys.readouterr().out)["results"]
    assert r["error"]["code"] == "invalid_image"


def test_eval_fer_cli(tmp_path: Path, capsys) -> None:
    root = tmp_path / "val"
    rng = np.random.default_rng(1)
    for folder in ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]:
        (root / folder).mkdir(parents=True)
        cv2.imwrite(str(root / folder / "0.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    rc = main(["eval", "fer", "--root", str(root), "--json", "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert 0.0 <= rep["accuracy"] <= 1.0 and rep["num_images"] == 7
    assert sum(map(sum, rep["confusion_matrix"])) == 7
    assert (tmp_path / "out" / "confusion.png").stat().st_size > 1000
    assert json.loads((tmp_path / "out" / "report.json").read_text())["num_images"] == 7
    assert main(["eval", "fer", "--root", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert main(["eval", "fer", "--root", str(root), "--map", "oops", "--no-progress"]) == 2
    assert main(["eval"]) == 2
