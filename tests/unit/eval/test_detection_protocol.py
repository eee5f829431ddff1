"""Detection protocol: imglab XML parsing and greedy IoU matching on hand-made boxes."""

from __future__ import annotations

import pytest

from faceprint.errors import InvalidInput
from faceprint.eval.protocols.detection import evaluate_detector, match_detections, parse_imglab_xml
from faceprint.types import Box, Detection

XML = """<?xml version='1.0' encoding='ISO-8859-1'?>
<dataset>
<name>t</name>
<images>
  <image file='a.png' width='100' height='80'>
    <box top='10' left='20' width='30' height='40'/>
    <box top='0' left='60' width='20' height='20' ignore='1'/>
  </image>
  <image file='sub/b.png'>
  </image>
</images>
</dataset>
"""


def det(x1, y1, x2, y2, score=1.0):
    return Detection(Box(x1, y1, x2, y2), score)


def test_parse_imglab_xml(tmp_path):
    p = tmp_path / "gt.xml"
    p.write_text(XML)
    images = parse_imglab_xml(p)
    assert [im.path for im in images] == [tmp_path / "a.png", tmp_path / "sub" / "b.png"]
    a, b = images
    # top/left/width/height -> Box(left, top, left + width, top + height)
    assert a.boxes == (Box(20, 10, 50, 50),)
    assert a.ignore == (Box(60, 0, 80, 20),)
    assert (a.width, a.height) == (100, 80)
    assert b.boxes == () and b.ignore == () and b.width is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("<dataset></dataset>", "no <images>"),
        ("<dataset><images><image><box top='1' left='1' width='2' height='2'/></image></images></dataset>", "file"),
        ("<dataset><images><image file='x'><box top='1' width='2' height='2'/></image></images></dataset>", "left"),
        ("<dataset><images><image file='x'><box top='1' left='1' width='0' height='2'/></image></images></dataset>", "size"),
        ("<dataset><images", "cannot read"),
    ],
)
def test_parse_rejects_bad_xml(tmp_path, text, match):
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(InvalidInput, match=match):
        parse_imglab_xml(p)


def test_perfect_and_shifted_matches():
    gt = [Box(0, 0, 10, 10), Box(100, 100, 120, 120)]
    r = match_detections(gt, [det(0, 0, 10, 10), det(100, 100, 120, 120)])
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)
    # shifted by 5 px on a 10-px box: IoU = 50 / 150 = 1/3 < 0.5 -> a miss and a false positive
    r = match_detections(gt[:1], [det(5, 0, 15, 10)])
    assert (r.tp, r.fp, r.fn) == (0, 1, 1)
    r = match_detections(gt[:1], [det(5, 0, 15, 10)], iou_threshold=0.3)
    assert (r.tp, r.fp, r.fn) == (1, 0, 0)
    assert r.matches[0][2] == pytest.approx(1 / 3)


def test_iou_exactly_at_threshold_matches():
    # 10x10 gt, detection 10x20 covering it: IoU = 100 / 200 = 0.5
    r = match_detections([Box(0, 0, 10, 10)], [det(0, 0, 10, 20)], iou_threshold=0.5)
    assert r.tp == 1


def test_greedy_by_score_and_one_to_one():
    gt = [Box(0, 0, 10, 10)]
    # two detections on the same face: the higher-scored one is the match, the other a false positive
    low, high = det(0, 0, 10, 11, score=0.2), det(1, 0, 11, 10, score=0.9)
    r = match_detections(gt, [low, high])
    assert (r.tp, r.fp, r.fn) == (1, 1, 0)
    assert r.matches[0][0] == 1  # index of `high` in the input
    # with Box inputs and explicit scores the same ordering applies
    r = match_detections(gt, [low.box, high.box], scores=[0.2, 0.9])
    assert r.matches[0][0] == 1


def test_detection_takes_best_overlapping_gt():
    gt = [Box(0, 0, 10, 10), Box(4, 0, 14, 10)]
    r = match_detections(gt, [det(4, 0, 14, 10, 0.9), det(0, 0, 10, 10, 0.8)])
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)
    assert sorted((d, g) for d, g, _ in r.matches) == [(0, 1), (1, 0)]


def test_ignored_boxes_are_dont_care():
    gt = [Box(0, 0, 10, 10)]
    ignore = [Box(50, 50, 70, 70)]
    # a detection on an ignored face: neither true nor false positive
    r = match_detections(gt, [det(0, 0, 10, 10), det(51, 50, 71, 70)], ignore=ignore)
    assert (r.tp, r.fp, r.fn, r.ignored_detections) == (1, 0, 0, 1)
    # missing the ignored face costs nothing; missing the real one is a miss
    r = match_detections(gt, [], ignore=ignore)
    assert (r.tp, r.fp, r.fn, r.ignored_detections) == (0, 0, 1, 0)
    # a detection far from any box is a false positive even with ignore boxes around
    r = match_detections(gt, [det(200, 200, 210, 210)], ignore=ignore)
    assert (r.fp, r.ignored_detections) == (1, 0)


def test_ignore_box_cannot_steal_a_real_match():
    gt = [Box(0, 0, 10, 10)]
    ignore = [Box(0, 0, 10, 10)]
    r = match_detections(gt, [det(0, 0, 10, 10)], ignore=ignore)
    assert (r.tp, r.ignored_detections) == (1, 0)


def test_match_rejects_bad_arguments():
    with pytest.raises(InvalidInput):
        match_detections([Box(0, 0, 1, 1)], [(0, 0, 1, 1)])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        match_detections([], [], iou_threshold=0.0)
    with pytest.raises(InvalidInput):
        match_detections([], [Box(0, 0, 1, 1)], scores=[1.0, 2.0])


class _FakeDetector:
    """Returns fixed detections per image size, to test evaluate_detector's bookkeeping."""

    def __init__(self, by_width):
        self.by_width = by_width

    def detect(self, image):
        return self.by_width[image.shape[1]]


def test_evaluate_detector_counts(tmp_path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((80, 100, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(tmp_path / "sub" / "b.png")
    (tmp_path / "gt.xml").write_text(XML)
    fake = _FakeDetector({100: [det(20, 10, 50, 50), det(60, 0, 80, 20)], 60: [det(0, 0, 5, 5, 0.3)]})
    r = evaluate_detector(fake, tmp_path / "gt.xml")
    assert (r["images"], r["ground_truth"], r["detections"]) == (2, 1, 3)
    assert (r["tp"], r["fp"], r["fn"], r["ignored_detections"]) == (1, 1, 0, 1)
    assert r["recall"] == 1.0 and r["precision"] == 0.5
    assert [p["file"] for p in r["per_image"]] == ["a.png", "b.png"]
    assert r["per_image"][0]["mean_iou"] == 1.0 and r["per_image"][1]["fp"] == 1
