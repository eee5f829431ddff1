"""The CLI end to end on real photos (exit codes: 0 ok, 1 no face / no match, 2 bad input)."""

import json
import subprocess
import sys

import pytest

from faceprint.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def ex(fr_examples):
    return fr_examples / "examples"


def test_detect_json_and_draw(capsys, ex, tmp_path):
    code, out, _ = run(capsys, "detect", str(ex / "two_people.jpg"), "--json", "--draw", str(tmp_path / "drawn.jpg"))
    assert code == 0
    res = json.loads(out)["results"][0]
    assert len(res["faces"]) == 2
    areas = [(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]) for f in res["faces"]]
    assert areas == sorted(areas, reverse=True)  # most prominent first
    assert (tmp_path / "drawn.jpg").stat().st_size > 1000


def test_detect_no_face_exit_1(capsys, detection_dlib):
    code, out, _ = run(capsys, "detect", str(detection_dlib / "dogs.jpg"))
    assert code == 1 and "0 face(s)" in out


def test_detect_corrupt_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code, out, _ = run(capsys, "detect", str(bad), "--json")
    assert code == 2
    err = json.loads(out)["results"][0]["error"]
    assert err["code"] == "invalid_image" and "bad.jpg" in err["message"]


def test_verify_same_and_different(capsys, ex):
    code, out, _ = run(capsys, "verify", str(ex / "obama.jpg"), str(ex / "obama2.jpg"), "--json")
    res = json.loads(out)
    assert code == 0 and res["is_match"] and "model card default" in res["threshold_source"]
    code, out, _ = run(capsys, "verify", str(ex / "obama.jpg"), str(ex / "biden.jpg"))
    assert code == 1 and "DIFFERENT" in out


def test_verify_missing_file_exit_2(capsys, ex, tmp_path):
    code, _, err = run(capsys, "verify", str(ex / "obama.jpg"), str(tmp_path / "nope.jpg"))
    assert code == 2 and "nope.jpg" in err


def test_embed_npz(capsys, ex, tmp_path):
    import numpy as np

    code, out, _ = run(capsys, "embed", str(ex / "obama.jpg"), str(ex / "biden.jpg"), "--out", str(tmp_path / "e.npz"),
                       "--no-progress")
    assert code == 0
    z = np.load(tmp_path / "e.npz")
    assert z["embeddings"].shape == (2, 128)
    np.testing.assert_allclose(np.linalg.norm(z["embeddings"], axis=1), 1, atol=1e-5)


def test_models_lists_cards(capsys):
    code, out, _ = run(capsys, "models", "--json")
    names = {m["name"]: m for m in json.loads(out)["models"]}
    assert code == 0 and names["dlib_resnet_v1"]["installed"]
    assert names["dlib_resnet_v1"]["default_threshold"] is not None


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "detect" in out.stdout and "verify" in out.stdout


def test_analyze_with_identify_in_one_pass(capsys, ex, tmp_path) -> None:
    home = str(tmp_path / "home")
    code, _, err = run(capsys, "enroll", "obama", str(ex / "obama.jpg"), "--home", home)
    assert code == 0, err
    code, out, err = run(capsys, "analyze", str(ex / "two_people.jpg"), str(ex / "obama2.jpg"), "--identify", "--home", home,
                         "--json", "--no-progress")
    assert code == 0, err
    res = json.loads(out)["results"]
    two, single = res[0]["faces"], res[1]["faces"]
    assert len(two) == 2 and len(single) == 1
    assert all(f["expression"]["label"] in f["expression"]["probabilities"] for f in two + single)
    assert single[0]["identity"]["identity"] == "obama"
    assert sorted(str(f["identity"]["identity"]) for f in two) == ["None", "obama"]  # Obama and Biden; Biden not enrolled
    # the expression is the same with and without identification (same boxes, same model)
    code, out, _ = run(capsys, "analyze", str(ex / "obama2.jpg"), "--json", "--no-progress")
    alone = json.loads(out)["results"][0]["faces"][0]
    assert alone["expression"] == single[0]["expression"] and "identity" not in alone


def test_pipeline_options_follow_the_detector(capsys, ex):
    # --detector dlib_hog gets the pipeline's measured HOG options (upsample 1), not MTCNN's
    # (HOG gives no points: it needs the dlib preset's landmarker)
    code, out, _ = run(capsys, "detect", str(ex / "two_people.jpg"), "--preset", "fast", "--detector", "dlib_hog", "--json",
                       "--no-progress")
    faces = json.loads(out)["results"][0]["faces"]
    assert code == 0 and len(faces) == 2 and all(f["detector"] == "dlib_hog" for f in faces)
    # --upsample is a dlib option: with the default detector (mtcnn) it is bad input, not a crash
    code, _, err = run(capsys, "detect", str(ex / "obama.jpg"), "--upsample", "1")
    assert code == 2 and "--upsample" in err


def test_gallery_holds_a_second_real_model(capsys, ex, tmp_path):
    """Enrol with the default (SFace int8), add the `fast` preset's dlib ResNet with `gallery reembed
    --add-model`, identify with either: each search uses its own model's embeddings and threshold."""
    home = str(tmp_path / "home")
    for name, photo in (("obama", "obama.jpg"), ("biden", "biden.jpg")):
        assert run(capsys, "enroll", name, str(ex / photo), "--home", home)[0] == 0
    code, out, _ = run(capsys, "gallery", "reembed", "--add-model", "--preset", "fast", "--home", home, "--json")
    rep = json.loads(out)
    assert code == 0 and rep["reembedded"] == 2 and rep["missing"] == 0 and rep["model_to"] == "dlib_resnet_v1@1"
    info = json.loads(run(capsys, "gallery", "info", "--home", home, "--json")[1])
    assert [(m["model"], m["faces"], m["primary"]) for m in info["models"]] == [
        ("sface_int8@1", 2, True), ("dlib_resnet_v1@1", 2, False)]
    thresholds = {m["model"]: m["threshold"] for m in info["models"]}
    assert thresholds["sface_int8@1"] != thresholds["dlib_resnet_v1@1"]  # each model's own calibration
    probe = str(ex / "obama2.jpg")
    for preset, model in (("default", "sface_int8@1"), ("fast", "dlib_resnet_v1@1")):
        code, out, _ = run(capsys, "identify", probe, "--preset", preset, "--home", home, "--json")
        face = json.loads(out)["results"][0]["faces"][0]
        assert code == 0 and face["identity"] == "obama", (preset, face)
        assert face["threshold"] == pytest.approx(thresholds[model], abs=1e-6)
