"""YuNet's numpy post-processing: prior decoding and NMS, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.models.detectors import yunet


def _outputs(pad_w, pad_h):
    out = {}
    for s in yunet.STRIDES:
        n = (pad_w // s) * (pad_h // s)
        out[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        out[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        out[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    return out


def test_padded_size():
    assert yunet.padded_size(250, 250) == (256, 256)
    assert yunet.padded_size(640, 480) == (640, 480)
    assert yunet.padded_size(1, 33) == (32, 64)


def test_decode_one_prior_by_hand():
    out = _outputs(64, 32)  # stride 16: 4 columns x 2 rows
    i, j, s = 1, 2, 16
    k = i * 4 + j
    out["cls_16"][0, k, 0] = 0.81
    out["obj_16"][0, k, 0] = 1.5  # clipped to 1
    out["bbox_16"][0, k] = [0.5, 0.25, np.log(2.0), 0.0]
    out["kps_16"][0, k] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    scores, boxes, kps = yunet.decode(out, 64, 32)
    assert scores.shape == (8 * 4 + 4 * 2 + 2 * 1,)
    idx = int(np.argmax(scores))
    assert scores[idx] == pytest.approx(0.9)
    cx, cy, w, h = (j + 0.5) * s, (i + 0.25) * s, 2 * s, s
    assert boxes[idx] == pytest.approx([cx - w / 2, cy - h / 2, w, h])
    assert kps[idx, 0] == pytest.approx([(j + 0.1) * s, (i + 0.2) * s])
    assert kps[idx, 4] == pytest.approx([(j + 0.9) * s, (i + 1.0) * s])
    assert np.count_nonzero(scores) == 1


def test_nms_keeps_best_of_overlapping_and_disjoint():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10], [0.9, 0.9, 10.2, 10.2]], np.float32)
    scores = np.array([0.8, 0.95, 0.7, 0.9], np.float32)
    # IoU(box1, box0) = 81/119 > 0.3: suppressed; box3 truncates to (0,0,10,10): overlaps box1 the same
    assert yunet.nms(boxes, scores, 0.3, 100) == [1, 2]
    # box3 truncates to box0 exactly (IoU 1): suppressed even at 0.99
    assert yunet.nms(boxes, scores, 0.99, 100) == [1, 3, 2]
    assert yunet.nms(boxes, scores, 0.99, 2) == [1, 3]
    assert yunet.nms(boxes, scores, 1.0, 100) == [1, 3, 0, 2]
