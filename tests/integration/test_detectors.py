"""Detectors and landmarkers on real photos (../shared/data).

Face counts were checked by eye: obama.jpg holds one face, two_people.jpg two, dogs.jpg four dogs
and no person, bald_guys.jpg is a collage of 24 faces (the data README's "no faces" is wrong for it).
Recall floors on dlib's testing.xml (25 faces of 37–53 px) are the measured values minus a margin:
dlib_hog upsample=1 25/25, upsample=0 5/25 (it needs faces of ~60 px and up), mtcnn 25/25,
dlib_mmod upsample=0 5/25.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import ModelUnavailable
from faceprint.eval.protocols.detection import evaluate_detector
from faceprint.io.decode import load_image
from faceprint.models import registry
from faceprint.types import Box, Detection

pytestmark = pytest.mark.integration

pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def photos(fr_examples: Path, detection_dlib: Path) -> dict[str, np.ndarray]:
    return {
        "obama": load_image(fr_examples / "examples" / "obama.jpg"),
        "two_people": load_image(fr_examples / "examples" / "two_people.jpg"),
        "dogs": load_image(detection_dlib / "dogs.jpg"),
        "bald_guys": load_image(detection_dlib / "bald_guys.jpg"),
    }


def _half(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


def _mtcnn(**kw):
    try:
        return registry.create("mtcnn", **kw).load()
    except ModelUnavailable as e:
        pytest.skip(f"MTCNN weights not installed: {e}")


_CACHE: dict = {}


def _detector(name: str, **kw):
    key = (name, tuple(sorted(kw.items())))
    if key not in _CACHE:
        _CACHE[key] = _mtcnn(**kw) if name == "mtcnn" else registry.create(name, **kw).load()
    return _CACHE[key]


FAST = [("dlib_hog", {"upsample": 0}), ("dlib_hog", {"upsample": 1}), ("mtcnn", {})]
FAST_IDS = ["hog0", "hog1", "mtcnn"]


def _check_sorted_and_inside(dets: list[Detection], img: np.ndarray) -> None:
    h, w = img.shape[:2]
    for d in dets:
        assert 0 <= d.box.x1 < d.box.x2 <= w and 0 <= d.box.y1 < d.box.y2 <= h
    areas = [d.box.area for d in dets]
    assert areas == sorted(areas, reverse=True)


@pytest.mark.parametrize("name, kw", FAST, ids=FAST_IDS)
def test_face_counts(photos, name, kw):
    det = _detector(name, **kw)
    obama = det.detect(photos["obama"])
    if name == "mtcnn":
        # MTCNN (facenet-pytorch gives the same) also fires on a chair back at p=0.815; the face
        # is the largest, near-certain detection and the only one above 0.9.
        assert obama[0].score > 0.99 and obama[0].box.width > 200
        assert sum(d.score >= 0.9 for d in obama) == 1
    else:
        assert len(obama) == 1
    two = det.detect(photos["two_people"])
    assert len(two) == 2
    assert {d.box.center[0] < photos["two_people"].shape[1] / 2 for d in two} == {True, False}
    assert det.detect(photos["dogs"]) == []
    bald = det.detect(photos["bald_guys"])
    assert len(bald) == 24
    for img, dets in ((photos["obama"], obama), (photos["two_people"], two), (photos["bald_guys"], bald)):
        _check_sorted_and_inside(dets, img)
        assert all(d.detector == det.card.name for d in dets)


def test_hog_and_mtcnn_agree_on_bald_guys(photos):
    hog = _detector("dlib_hog", upsample=0).detect(photos["bald_guys"])
    mt = _detector("mtcnn").detect(photos["bald_guys"])
    # every HOG face centre lies in exactly one MTCNN box
    for d in hog:
        cx, cy = d.box.center
        assert sum(m.box.x1 <= cx <= m.box.x2 and m.box.y1 <= cy <= m.box.y2 for m in mt) == 1


@pytest.mark.slow
def test_mmod_face_counts(photos):
    det = _detector("dlib_mmod")  # upsample 0; half-size photos keep this test to a few seconds
    assert len(det.detect(_half(photos["obama"]))) == 1
    assert len(det.detect(_half(photos["two_people"]))) == 2
    assert det.detect(_half(photos["dogs"])) == []


def test_hog_options(photos):
    img = photos["bald_guys"]
    base = _detector("dlib_hog", upsample=0).detect(img)
    assert all(d.landmarks is None for d in base)
    sizes = [min(d.box.width, d.box.height) for d in base]
    assert min(sizes) < 150 < max(sizes)
    # min_size drops exactly the smaller faces
    kept = registry.create("dlib_hog", upsample=0, min_size=150).detect(img)
    assert [d.box for d in kept] == [d.box for d, s in zip(base, sizes, strict=True) if s >= 150]
    # a threshold above every score keeps nothing; scores are dlib's SVM margins (> 0)
    assert all(d.score > 0 for d in base)
    top = max(d.score for d in base)
    assert registry.create("dlib_hog", upsample=0, score_threshold=top + 0.01).detect(img) == []
    # a negative threshold finds at least as many
    assert len(registry.create("dlib_hog", upsample=0, score_threshold=-0.5).detect(img)) >= len(base)


def test_hog_boxes_match_dlib_rectangles(photos):
    import dlib

    img = photos["two_people"]
    rects, scores, _ = dlib.get_frontal_face_detector().run(img, 0, 0.0)
    want = sorted((r.left(), r.top(), r.right() + 1, r.bottom() + 1) for r in rects)
    got = sorted(tuple(int(v) for v in d.box.as_tuple()) for d in _detector("dlib_hog", upsample=0).detect(img))
    assert got == want
    assert sorted(scores) == pytest.approx(sorted(d.score for d in _detector("dlib_hog", upsample=0).detect(img)))


@pytest.mark.parametrize(
    "name, kw, floor",
    [
        ("dlib_hog", {"upsample": 1}, 0.92),  # measured 25/25
        ("dlib_hog", {"upsample": 0}, 0.12),  # measured 5/25
        ("mtcnn", {}, 0.92),  # measured 25/25
    ],
    ids=["hog1", "hog0", "mtcnn"],
)
def test_recall_on_dlib_testing_xml(detection_dlib, name, kw, floor):
    r = evaluate_detector(_detector(name, **kw), detection_dlib / "testing.xml", iou_threshold=0.5)
    assert r["ground_truth"] == 25 and r["images"] == 5
    assert r["recall"] >= floor
    assert r["precision"] >= 0.9


@pytest.mark.slow
def test_mmod_recall_on_dlib_testing_xml(detection_dlib):
    r = evaluate_detector(_detector("dlib_mmod"), detection_dlib / "testing.xml", iou_threshold=0.5)
    assert r["recall"] >= 0.12 and r["precision"] >= 0.9  # measured 5/25 at upsample 0 (faces < 80 px)


def test_mtcnn_landmarks(photos):
    for key in ("obama", "two_people", "bald_guys"):
        for d in _detector("mtcnn").detect(photos[key]):
            lm = d.landmarks
            assert lm is not None and lm.scheme == "eyes_nose_mouth5"
            p = lm.points
            b = d.box
            assert np.all((p[:, 0] >= b.x1) & (p[:, 0] <= b.x2) & (p[:, 1] >= b.y1) & (p[:, 1] <= b.y2))
            eye_l, eye_r, nose, mouth_l, mouth_r = p
            # image-left before image-right; eyes above the nose, the nose above the mouth
            assert eye_l[0] < eye_r[0] and mouth_l[0] < mouth_r[0]
            assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1])
    # obama faces the camera: the nose lies between the eyes
    p = _detector("mtcnn").detect(photos["obama"])[0].landmarks.points
    assert p[0, 0] < p[2, 0] < p[1, 0]


def test_mtcnn_batch_equals_single(lfw_root: Path):
    det = _detector("mtcnn")
    paths = sorted((lfw_root / "images").glob("*/*.jpg"))[:12]
    imgs = [load_image(p) for p in paths]
    imgs.insert(5, _half(imgs[0]))  # a second image size in the batch
    batch = det.detect_batch(imgs)
    assert len(batch) == len(imgs)
    for img, got in zip(imgs, batch, strict=True):
        want = det.detect(img)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g.box.as_tuple(), w.box.as_tuple(), atol=1e-2)
            np.testing.assert_allclose(g.landmarks.points, w.landmarks.points, atol=1e-2)
            assert g.score == pytest.approx(w.score, abs=1e-4)


@pytest.mark.parametrize("name, kw", [("dlib_hog", {"upsample": 0}), ("mtcnn", {})], ids=["hog0", "mtcnn"])
def test_concurrent_first_use(photos, name, kw):
    """Lazy loading and detection from several threads at once give the sequential results."""
    img = photos["two_people"]
    want = _detector(name, **kw).detect(img)
    det = registry.create(name, **kw)  # a fresh instance: nothing loaded yet
    results: list = [None] * 6
    errors: list = []

    def work(i: int) -> None:
        try:
            results[i] = det.detect(img)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        assert [d.box for d in r] == [d.box for d in want]


def test_dlib_shape5_points(photos):
    img = photos["two_people"]
    faces = _detector("dlib_hog", upsample=0).detect(img)
    lms = _detector("dlib_shape5").landmarks(img, [d.box for d in faces])
    assert len(lms) == 2
    for d, lm in zip(faces, lms, strict=True):
        assert lm.scheme == "dlib5" and lm.points.shape == (5, 2)
        p = lm.points
        b = d.box
        assert np.all((p[:, 0] >= b.x1) & (p[:, 0] <= b.x2) & (p[:, 1] >= b.y1) & (p[:, 1] <= b.y2))
        # 2,3 = subject's right eye (image left), 0,1 = subject's left eye (image right); 4 = nose base
        assert p[2, 0] < p[3, 0] < p[1, 0] < p[0, 0]
        assert p[4, 1] > p[:4, 1].max()
        assert p[3, 0] < p[4, 0] < p[1, 0]


def test_dlib_shape68_points(photos):
    img = photos["obama"]
    face = _detector("dlib_hog", upsample=0).detect(img)[0]
    (lm,) = _detector("dlib_shape68").landmarks(img, [face.box])
    assert lm.scheme == "ibug68" and lm.points.shape == (68, 2)
    b = face.box
    p = lm.points
    # nose, eyes and mouth (27-67) lie inside dlib's tight box; the jaw line and brows may leave it
    # (the chin sits below the box's bottom edge), but not by more than 20% of its size
    inner = p[27:]
    assert np.all((inner[:, 0] >= b.x1) & (inner[:, 0] <= b.x2) & (inner[:, 1] >= b.y1) & (inner[:, 1] <= b.y2))
    mx, my = 0.2 * b.width, 0.2 * b.height
    assert np.all((p[:, 0] >= b.x1 - mx) & (p[:, 0] <= b.x2 + mx) & (p[:, 1] >= b.y1 - my) & (p[:, 1] <= b.y2 + my))
    # eyes (36-41 image left, 42-47 image right) above the nose tip (30) above the mouth (48-67)
    assert p[36:42, 0].mean() < p[30, 0] < p[42:48, 0].mean()
    assert p[36:48, 1].max() < p[30, 1] < p[48:68, 1].min()
    # the 5-point conversion used by the aligners agrees with MTCNN's points on this face
    five = lm.to_eyes_nose_mouth5().points
    mt = _detector("mtcnn").detect(img)[0].landmarks.points
    assert np.abs(five - mt).max() < 0.1 * b.width


def test_landmarks_follow_box_round_trip(photos):
    """Box -> dlib.rectangle -> Box is exact, so landmarks from our boxes equal dlib's own."""
    import dlib

    from faceprint.models.sources import package_file

    img = photos["obama"]
    rect = dlib.get_frontal_face_detector()(img, 0)[0]
    sp = dlib.shape_predictor(str(package_file("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat")))
    want = np.array([(p.x, p.y) for p in sp(img, rect).parts()], dtype=np.float32)
    box = Box(rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
    (got,) = _detector("dlib_shape5").landmarks(img, [box])
    assert np.array_equal(got.points, want)


# ---- MTCNN against facenet-pytorch's own cascade ------------------------------------------


def _facenet_reference(monkeypatch):
    """facenet-pytorch 2.6.0's ``detect_face`` function, loaded from its file with a stand-in for
    the two torchvision functions it imports (torchvision does not import beside torch 2.13), and
    its P/R/O-nets restated in torch (tests/unit/models/test_mtcnn_nets.py)."""
    torch = pytest.importorskip("torch")
    try:
        from faceprint.models.sources import package_file

        pnet_file = package_file("facenet_pytorch", "data/pnet.pt")
    except ModelUnavailable:
        pytest.skip("facenet-pytorch not installed")
    src = pnet_file.parent.parent / "models" / "utils" / "detect_face.py"
    if not src.is_file():
        pytest.skip("facenet-pytorch's detect_face.py not found")

    def nms(boxes, scores, thr):
        x1, y1, x2, y2 = boxes.unbind(1)
        area = (x2 - x1) * (y2 - y1)
        dead = torch.zeros(len(boxes), dtype=torch.bool)
        keep = []
        for i in torch.argsort(scores, descending=True).tolist():
            if dead[i]:
                continue
            keep.append(i)
            iw = (torch.minimum(x2[i], x2) - torch.maximum(x1[i], x1)).clamp(min=0)
            ih = (torch.minimum(y2[i], y2) - torch.maximum(y1[i], y1)).clamp(min=0)
            inter = iw * ih
            dead |= inter / (area[i] + area - inter) > thr
        return torch.tensor(keep, dtype=torch.long)

    def batched_nms(boxes, scores, idxs, thr):
        if boxes.numel() == 0:
            return torch.empty((0,), dtype=torch.long)
        offsets = idxs.to(boxes) * (boxes.max() + 1)
        return nms(boxes + offsets[:, None], scores, thr)

    names = [
        "torchvision",
        "torchvision.transforms",
        "torchvision.transforms.functional",
        "torchvision.ops",
        "torchvision.ops.boxes",
    ]
    mods = {n: types.ModuleType(n) for n in names}
    mods["torchvision.ops.boxes"].batched_nms = batched_nms
    for n, m in mods.items():
        monkeypatch.setitem(sys.modules, n, m)
    spec = importlib.util.spec_from_file_location("_facenet_detect_face_reference", src)
    df = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(df)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "models"))
    try:
        import test_mtcnn_nets as ref_nets
    finally:
        sys.path.pop(0)
    from faceprint.models.convert.torch_pickle import load_state_dict

    nets = []
    for cls, name in ((ref_nets.PNet, "pnet"), (ref_nets.RNet, "rnet"), (ref_nets.ONet, "onet")):
        net = cls()
        sd = load_state_dict(pnet_file.parent / f"{name}.pt")
        net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        net.eval()
        nets.append(net)

    def detect(img):
        with torch.no_grad():
            boxes, points = df.detect_face(img, 20, nets[0], nets[1], nets[2], [0.6, 0.7, 0.7], 0.709, "cpu")
        return np.asarray(boxes[0], dtype=np.float64).reshape(-1, 5), np.asarray(points[0], dtype=np.float64).reshape(-1, 5, 2)

    return detect


@pytest.mark.slow
def test_mtcnn_matches_facenet_pytorch(monkeypatch, photos, detection_dlib):
    reference = _facenet_reference(monkeypatch)
    det = _detector("mtcnn")
    imgs = [photos["obama"], photos["two_people"], load_image(detection_dlib / "2008_004176.jpg")]
    for img in imgs:
        ref_boxes, ref_points = reference(img)
        ours = det.detect(img)
        assert len(ours) == len(ref_boxes) > 0
        # facenet-pytorch boxes are 1-based inclusive: ours = (x1 - 1, y1 - 1, x2, y2)
        got = np.array([[d.box.x1 + 1, d.box.y1 + 1, d.box.x2, d.box.y2, d.score] for d in ours])
        for k in range(len(ref_boxes)):
            j = int(np.abs(got[:, :4] - ref_boxes[k, :4]).max(axis=1).argmin())
            np.testing.assert_allclose(got[j], ref_boxes[k], atol=2e-3)
            np.testing.assert_allclose(ours[j].landmarks.points, ref_points[k], atol=2e-3)


def test_dlib_style_box_helps_the_shape_predictor(photos, lfw_root: Path):
    from faceprint.models.detectors.mtcnn import dlib_style_box

    hog, mt, sp = _detector("dlib_hog", upsample=0), _detector("mtcnn"), _detector("dlib_shape5")
    raw_err, mapped_err = [], []
    imgs = [photos["obama"], photos["two_people"]] + [
        load_image(p) for p in sorted((lfw_root / "images").glob("*/*.jpg"))[1:40:2]
    ]
    for img in imgs:
        for h in hog.detect(img):
            cx, cy = h.box.center
            m = [d for d in mt.detect(img) if d.box.x1 <= cx <= d.box.x2 and d.box.y1 <= cy <= d.box.y2]
            if not m:
                continue
            ref, raw, mapped = (sp.landmarks(img, [b])[0].points for b in (h.box, m[0].box, dlib_style_box(m[0].box)))
            iod = np.linalg.norm((ref[0] + ref[1]) / 2 - (ref[2] + ref[3]) / 2)
            raw_err.append(np.linalg.norm(ref - raw, axis=1).mean() / iod)
            mapped_err.append(np.linalg.norm(ref - mapped, axis=1).mean() / iod)
    assert len(raw_err) >= 20
    assert np.mean(mapped_err) < 0.7 * np.mean(raw_err)
    assert np.mean(mapped_err) < 0.02
