"""The function API on real photos with the default pipeline."""

import numpy as np
import pytest

import faceprint
from faceprint.errors import InvalidImage, NoFaceFound
from faceprint.pipeline import Pipeline, PipelineConfig, preset_config


@pytest.fixture(scope="module")
def ex(fr_examples):
    return fr_examples / "examples"


def test_same_person_matches(ex):
    r = faceprint.verify(ex / "obama.jpg", ex / "obama2.jpg")
    assert r.is_match and r.score > r.threshold
    assert r.model == f"{PipelineConfig().embedder}@1" == "sface_int8@1"
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


def test_default_pipeline_score_floor_on_obama(ex):
    """obama.jpg holds one face; MTCNN at its own O-net threshold (0.7) also reports a chair back
    (p ≈ 0.815): the default pipeline's floor of 0.9 is what removes it."""
    from faceprint.models import registry

    img = faceprint.load_image(ex / "obama.jpg")
    faces = faceprint.faces(img)
    assert len(faces) == 1 and faces[0].detection.score > 0.99 and faces[0].detection.detector == "mtcnn"
    loose = registry.create("mtcnn", box_style="dlib").detect(img)
    assert len(loose) == 2 and 0.7 < loose[1].score < 0.9
    assert faces[0].box == loose[0].box
    assert len(faceprint.detect(ex / "two_people.jpg")) == 2


def test_dlib_pipeline_gives_dlib_style_boxes_to_the_landmarker(ex):
    """The dlib pipeline's (preset fast) boxes are dlib-style (they match dlib's HOG box of the same face at IoU ≥ 0.5,
    dlib's detection criterion; MTCNN's own boxes are taller), and the 5-point predictor runs in
    exactly the box the user sees."""
    from faceprint.models import registry

    hog, raw_mtcnn, shape5 = registry.create("dlib_hog", upsample=1), registry.create("mtcnn"), registry.create("dlib_shape5")
    fast = Pipeline.from_config(preset_config("fast"))
    for name in ("obama.jpg", "two_people.jpg", "biden.jpg"):
        img = faceprint.load_image(ex / name)
        faces = fast.process(img, embed=False)
        ref = hog.detect(img)
        raw = [d for d in raw_mtcnn.detect(img) if d.score >= 0.9]
        assert len(faces) == len(ref) == len(raw)
        for f, r in zip(faces, raw, strict=True):
            assert max(f.box.iou(h.box) for h in ref) >= 0.5
            assert f.box.height < r.box.height  # not MTCNN's forehead-to-chin box
            assert f.landmarks.scheme == "dlib5"
            np.testing.assert_array_equal(f.landmarks.points, shape5.landmarks(img, [f.box])[0].points)
