"""Pipeline composition with stand-in stages (no model weights needed)."""

import numpy as np
import pytest

from faceprint.errors import InvalidInput, ModelUnavailable, NoFaceFound
from faceprint.models.card import ModelCard, WeightSource
from faceprint.pipeline import Pipeline, central_box, select_face
from faceprint.types import Box, Detection, Face, Landmarks


def card(task, **kw):
    return ModelCard(name=f"fake_{task}", task=task, version="1", source=WeightSource(None, ""), license="MIT", **kw)


def five_points(box):
    """eyes_nose_mouth5 points placed proportionally inside a box."""
    rel = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
    return Landmarks([box.x1, box.y1] + rel * [box.width, box.height], "eyes_nose_mouth5")


class FakeDetector:
    card = card("detector")

    def __init__(self, boxes_per_image, with_landmarks=True):
        self.boxes = boxes_per_image
        self.with_landmarks = with_landmarks
        self.calls = 0

    def detect(self, image):
        boxes = self.boxes[int(image[0, 0, 0])]
        self.calls += 1
        dets = [Detection(b, 0.9, five_points(b) if self.with_landmarks else None, "fake") for b in boxes]
        return sorted(dets, key=lambda d: -d.box.area)

    def detect_batch(self, images):
        return [self.detect(i) for i in images]


class FakeEmbedder:
    card = card("embedder", input_size=(112, 112), template="arcface_112", embedding_dim=3)

    def __init__(self):
        self.batches = []

    def embed_chips(self, chips):
        self.batches.append(len(chips))
        m = chips.reshape(len(chips), -1, 3).astype(np.float32).mean(axis=1)
        return m + 1.0


def image(idx, value=100):
    img = np.full((200, 200, 3), value, np.uint8)
    img[0, 0, 0] = idx
    img[50:150, 50:150] = (idx * 40) % 255
    return img


BOXES = {0: [Box(40, 40, 160, 160)], 1: [], 2: [Box(10, 10, 60, 60), Box(80, 80, 190, 190)]}


def test_process_embeds_every_face_most_prominent_first():
    emb = FakeEmbedder()
    p = Pipeline(FakeDetector(BOXES), emb)
    faces = p.process(image(2))
    assert len(faces) == 2 and faces[0].box.area > faces[1].box.area
    for f in faces:
        assert f.aligned.chip.shape == (112, 112, 3)
        assert f.embedding.model == "fake_embedder@1"
        assert np.linalg.norm(f.embedding.vector) == pytest.approx(1, abs=1e-6)
        assert f.embedding.norm > 1


def test_process_many_batches_across_images_and_keeps_order():
    emb = FakeEmbedder()
    p = Pipeline(FakeDetector(BOXES), emb, batch_size=2)
    imgs = [image(0), image(1), image(2), image(0)]
    out = list(p.process_many(imgs))
    assert [len(f) for f in out] == [1, 0, 2, 1]
    assert sum(emb.batches) == 4 and max(emb.batches) <= 3
    # same image, same embedding, whichever batch it fell in
    np.testing.assert_allclose(out[0][0].embedding.vector, out[3][0].embedding.vector)
    single = p.process(image(2))
    np.testing.assert_allclose(single[1].embedding.vector, out[2][1].embedding.vector)


def test_given_boxes_skip_detection_and_need_a_landmarker():
    det = FakeDetector(BOXES, with_landmarks=False)
    p = Pipeline(det, FakeEmbedder())
    with pytest.raises(ModelUnavailable, match="landmarker"):
        p.process(image(0))

    class FakeLandmarker:
        card = card("landmarker")

        def landmarks(self, image, boxes):
            return [five_points(b) for b in boxes]

    p = Pipeline(det, FakeEmbedder(), FakeLandmarker())
    det.calls = 0
    faces = p.process(image(1), boxes=[Box(20, 20, 120, 120)])
    assert det.calls == 0 and len(faces) == 1 and faces[0].detection.detector == "given"


def test_no_embed_mode():
    faces = Pipeline(FakeDetector(BOXES), FakeEmbedder()).process(image(0), embed=False)
    assert faces[0].embedding is None and faces[0].aligned is not None


def test_select_face():
    def d(b, s):
        return Face(Detection(b, s))

    small, big, mid = d(Box(0, 0, 10, 10), 0.99), d(Box(100, 100, 200, 200), 0.5), d(Box(40, 40, 70, 70), 0.7)
    faces = [big, mid, small]
    assert select_face(faces) is big
    assert select_face(faces, "score") is small
    assert select_face(faces, "center", (110, 110, 3)) is mid
    assert select_face(faces, 2) is small
    with pytest.raises(InvalidInput):
        select_face(faces, 5)
    with pytest.raises(InvalidInput):
        select_face(faces, "tallest")
    with pytest.raises(NoFaceFound):
        select_face([])


def test_central_box():
    b = central_box((250, 250, 3))
    assert b.center == (125, 125) and b.width == pytest.approx(0.45 * 250)
    b = central_box((100, 300, 3), fraction=0.5)
    assert b.width == 50 and b.center == (150, 50)


def test_batch_size_validated():
    with pytest.raises(InvalidInput):
        Pipeline(FakeDetector(BOXES), FakeEmbedder(), batch_size=0)


# ------------------------------------------------------------------ flip averaging and the defaults


class SidedEmbedder:
    """A descriptor that tells left from right: (mean of the chip's left half, of its right half) + 1."""

    card = card("embedder", input_size=(112, 112), template="arcface_112", embedding_dim=2)

    def __init__(self):
        self.batches = []

    def embed_chips(self, chips):
        self.batches.append(len(chips))
        c = chips.astype(np.float64)
        half = c.shape[2] // 2
        return np.stack([c[:, :, :half].mean(axis=(1, 2, 3)), c[:, :, half:].mean(axis=(1, 2, 3))], axis=1) + 1.0


def ramp_image(idx):
    """A left-to-right ramp (so a chip and its mirror differ), tagged like image()."""
    img = np.tile(np.linspace(0, 250, 200).astype(np.uint8)[None, :, None], (200, 1, 3))
    img[0, 0, 0] = idx
    return img


def test_flip_average_is_the_mean_of_chip_and_mirror_descriptors():
    plain_emb, flip_emb = SidedEmbedder(), SidedEmbedder()
    plain = Pipeline(FakeDetector(BOXES), plain_emb).process(ramp_image(2))
    flip = Pipeline(FakeDetector(BOXES), flip_emb, flip_average=True).process(ramp_image(2))
    assert len(flip) == len(plain) == 2
    for p, f in zip(plain, flip, strict=True):
        chip = f.aligned.chip
        left, right = chip[:, :56].mean() + 1.0, chip[:, 56:].mean() + 1.0
        assert left != pytest.approx(right)  # the mirror really changes the descriptor
        np.testing.assert_allclose(p.embedding.vector * p.embedding.norm, [left, right], rtol=1e-6)
        # mirror: (right half mirrored, left half mirrored) -> mean of both = ((l + r) / 2, (l + r) / 2)
        expected = np.array([(left + right) / 2, (left + right) / 2])
        assert f.embedding.norm == pytest.approx(np.linalg.norm(expected), rel=1e-6)
        np.testing.assert_allclose(f.embedding.vector, expected / np.linalg.norm(expected), rtol=1e-6)
    # one embedder call: the two chips and their two mirrors together
    assert plain_emb.batches == [2] and flip_emb.batches == [4]


def test_flip_average_keeps_batches_and_order():
    emb = SidedEmbedder()
    p = Pipeline(FakeDetector(BOXES), emb, batch_size=2, flip_average=True)
    out = list(p.process_many([ramp_image(0), ramp_image(1), ramp_image(2), ramp_image(0)]))
    assert [len(f) for f in out] == [1, 0, 2, 1]
    assert sum(emb.batches) == 8 and max(emb.batches) <= 2 * 2  # each batch of chips goes with its mirrors
    np.testing.assert_allclose(out[0][0].embedding.vector, out[3][0].embedding.vector)


def test_default_config_is_the_measured_pipeline():
    from faceprint.models import registry
    from faceprint.pipeline import PipelineConfig

    cfg = PipelineConfig()
    # issue 12's View 1 pick: MTCNN's own five points -> SFace int8, one pass per chip
    assert (cfg.detector, cfg.landmarker, cfg.embedder, cfg.flip_average) == ("mtcnn", None, "sface_int8", False)
    # O-net score floor 0.9 (and dlib-style boxes, which the dlib preset's shape predictor needs)
    assert cfg.detector_options == {"thresholds": (0.6, 0.7, 0.9), "box_style": "dlib"}
    assert cfg.detector_options == dict(registry.get_card("mtcnn").extra["pipeline_options"])
    assert cfg.signature() == "det=mtcnn@1[box_style=dlib,thresholds=(0.6, 0.7, 0.9)];lm=-;emb=sface_int8@1[];align=2"
    assert PipelineConfig(flip_average=True).signature() == cfg.signature() + ";flip"


def test_detector_options_follow_the_detector():
    from faceprint.pipeline import PipelineConfig, detector_defaults

    assert PipelineConfig(detector="dlib_hog").detector_options == {"upsample": 1}
    assert PipelineConfig(detector="dlib_mmod").detector_options == {}
    assert PipelineConfig(detector="mtcnn", detector_options={}).detector_options == {}  # explicit wins
    d = detector_defaults("mtcnn")
    d["box_style"] = "mtcnn"  # a copy: the defaults are not changed
    assert detector_defaults("mtcnn")["box_style"] == "dlib"


def test_from_config_builds_the_default_and_resets_options_with_the_detector():
    p = Pipeline.from_config()
    assert not p.flip_average and p.landmarker is None and p.detector.card.name == "mtcnn"
    assert p.detector.box_style == "dlib" and p.detector.thresholds == (0.6, 0.7, 0.9)
    assert p.detector._nets is None  # nothing loaded yet
    hog = Pipeline.from_config(detector="dlib_hog")  # mtcnn's options are not carried over
    assert hog.config.detector_options == {"upsample": 1} and hog.detector.card.name == "dlib_hog"
    assert Pipeline.from_config(flip_average=True).flip_average
    # keeping the detector keeps its options
    assert Pipeline.from_config(detector="mtcnn").config.detector_options == {"thresholds": (0.6, 0.7, 0.9), "box_style": "dlib"}


def test_shipped_threshold_was_calibrated_with_the_default_pipeline():
    """The model card's threshold depends on the alignment: the shipped calibration must name the
    default pipeline it was made with (re-run `faceprint calibrate pairsDevTrain.txt --max-accuracy`
    whenever PipelineConfig's defaults change)."""
    from faceprint.matching.thresholds import shipped_calibration
    from faceprint.pipeline import PipelineConfig

    cfg = PipelineConfig()
    cal = shipped_calibration(cfg.embedder)
    assert cal is not None and cfg.signature() in cal.source_
