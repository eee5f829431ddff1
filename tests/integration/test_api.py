"""The function API on real photos with the default pipeline."""

import numpy as np
import pytest

import faceprint
from faceprint.errors import InvalidImage, NoFaceFound


@pytest.fixture(scope="module")
def ex(fr_examples):
    return fr_examples / "examples"


def test_same_person_matches(ex):
    r = faceprint.verify(ex / "obama.jpg", ex / "obama2.jpg")
    assert r.is_match and r.score > r.threshold
    assert r.model == "dlib_resnet_v1@1"
    assert "model card default" in r.threshold_source
    assert r.far_estimate is not None and r.far_estimate < 0.01


def test_different_people_do_not_match(ex):
    r = faceprint.verify(ex / "obama.jpg", ex / "biden.jpg")
    assert not r.is_match and r.score < r.threshold
    assert r.far_estimate > 0.0001


def test_resolutions_of_one_photo_agree(ex):
    e = [faceprint.embed_face(ex / f"obama-{r}.jpg") for r in ("480p", "720p", "1080p")]
    for x in e[1:]:
        assert faceprint.verify(e[0], x).is_match


def test_detect_and_embed_every_face(ex):
    img = faceprint.load_image(ex / "two_people.jpg")
    dets = faceprint.detect(img)
    assert len(dets) == 2 and dets[0].box.area >= dets[1].box.area
    embs = faceprint.embed(img)
    assert len(embs) == 2
    for e in embs:
        assert e.dim == 128 and abs(float(np.linalg.norm(e.vector)) - 1) < 1e-5
    assert not faceprint.verify(embs[0], embs[1]).is_match


def test_verify_select_overrides(ex):
    a = faceprint.verify(ex / "two_people.jpg", ex / "two_people.jpg", select=(0, 1))
    b = faceprint.verify(ex / "two_people.jpg", ex / "two_people.jpg", select=(0, 0))
    assert b.score == pytest.approx(1.0, abs=1e-5) and a.score < b.score


def test_explicit_threshold(ex):
    r = faceprint.verify(ex / "obama.jpg", ex / "biden.jpg", threshold=-1.0)
    assert r.is_match and r.threshold_source == "argument"


def test_inputs_as_bytes_file_and_array(ex):
    path = ex / "obama.jpg"
    ref = faceprint.embed_face(path)
    with open(path, "rb") as fh:
        assert faceprint.verify(faceprint.embed_face(fh), ref).score == pytest.approx(1, abs=1e-5)
    assert faceprint.verify(faceprint.embed_face(path.read_bytes()), ref).score == pytest.approx(1, abs=1e-5)
    assert faceprint.verify(faceprint.embed_face(faceprint.load_image(path)), ref).score == pytest.approx(1, abs=1e-5)


def test_no_face_and_bad_input(detection_dlib, tmp_path):
    with pytest.raises(NoFaceFound):
        faceprint.verify(detection_dlib / "dogs.jpg", detection_dlib / "dogs.jpg")
    assert faceprint.embed(detection_dlib / "dogs.jpg") == []
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(InvalidImage, match="x.jpg"):
        faceprint.embed(tmp_path / "x.jpg")
