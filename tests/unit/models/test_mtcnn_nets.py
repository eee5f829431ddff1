"""MTCNN's ONNX rebuild against a torch re-implementation of facenet-pytorch's P/R/O-nets.

The torch modules below restate facenet-pytorch 2.6.0's ``PNet``/``RNet``/``ONet`` (layer for
layer, including ``ceil_mode`` max-pools and the ``permute(0, 3, 2, 1)`` before the first dense
layer) so the check does not need facenet_pytorch importable. Skipped when torch or the
facenet-pytorch weight files are absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import ModelUnavailable

torch = pytest.importorskip("torch")
nn = torch.nn


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


def _weights(name: str) -> dict[str, np.ndarray]:
    from faceprint.models.convert.torch_pickle import load_state_dict
    from faceprint.models.sources import package_file

    try:
        return load_state_dict(package_file("facenet_pytorch", f"data/{name}.pt"))
    except ModelUnavailable:
        pytest.skip("facenet-pytorch weights not installed (pip install --no-deps facenet-pytorch==2.6.0)")


def _pair(name: str, cls):
    from faceprint.models.convert import mtcnn_onnx
    from faceprint.models.runtime.onnx import create_session

    sd = _weights(name)
    net = cls()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    net.eval()
    sess = create_session(mtcnn_onnx.BUILDERS[name](sd).SerializeToString(), threads=1)
    return net, sess


def _torch_input(x: np.ndarray):
    # facenet-pytorch normalises outside the nets; the ONNX graphs take raw pixels
    return (torch.from_numpy(x) - 127.5) * 0.0078125


@pytest.mark.parametrize("shape", [(1, 12, 12), (2, 37, 51), (3, 64, 64), (1, 13, 200)])
def test_pnet_matches_torch(shape):
    net, sess = _pair("pnet", PNet)
    n, h, w = shape
    x = np.random.default_rng(h * w).uniform(0, 255, (n, 3, h, w)).astype(np.float32)
    reg, prob = sess.run(None, {"input": x})
    with torch.no_grad():
        ref_reg, ref_prob = net(_torch_input(x))
    assert reg.shape == tuple(ref_reg.shape)
    assert prob.shape == (n, *ref_prob.shape[2:])
    np.testing.assert_allclose(reg, ref_reg.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(prob, ref_prob[:, 1].numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("batch", [1, 17])
def test_rnet_matches_torch(batch):
    net, sess = _pair("rnet", RNet)
    x = np.random.default_rng(batch).uniform(0, 255, (batch, 3, 24, 24)).astype(np.float32)
    reg, prob = sess.run(None, {"input": x})
    with torch.no_grad():
        ref_reg, ref_prob = net(_torch_input(x))
    np.testing.assert_allclose(reg, ref_reg.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(prob, ref_prob[:, 1].numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("batch", [1, 9])
def test_onet_matches_torch(batch):
    net, sess = _pair("onet", ONet)
    x = np.random.default_rng(batch + 100).uniform(0, 255, (batch, 3, 48, 48)).astype(np.float32)
    reg, pts, prob = sess.run(None, {"input": x})
    with torch.no_grad():
        ref_reg, ref_pts, ref_prob = net(_torch_input(x))
    np.testing.assert_allclose(reg, ref_reg.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(pts, ref_pts.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(prob, ref_prob[:, 1].numpy(), atol=1e-4, rtol=0)


def test_onet_matches_torch_on_smooth_inputs():
    """Uniform noise is one input distribution; smooth ramps are another."""
    net, sess = _pair("onet", ONet)
    x = np.random.default_rng(5).uniform(0, 255, (64, 3, 48, 48)).astype(np.float32)
    x[:32] = np.linspace(0, 255, 48, dtype=np.float32)[None, None, None, :]  # smooth ramps
    _, _, prob = sess.run(None, {"input": x})
    with torch.no_grad():
        ref = net(_torch_input(x))[2][:, 1].numpy()
    np.testing.assert_allclose(prob, ref, atol=1e-4, rtol=0)
    assert np.all((prob >= 0) & (prob <= 1))


# ---- resampling and box helpers of the cascade, against torch's definitions


@pytest.mark.parametrize("size", [(100, 80, 61, 49), (37, 50, 37, 50), (250, 250, 151, 151), (30, 20, 45, 33)])
def test_area_resize_matches_torch_interpolate(size):
    from faceprint.models.detectors.mtcnn import _integral, _resize_area

    h, w, ho, wo = size
    img = np.random.default_rng(h + w).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    got = _resize_area(_integral(img), ho, wo)
    ref = torch.nn.functional.interpolate(torch.from_numpy(img).permute(0, 3, 1, 2).float(), size=(ho, wo), mode="area")
    assert got.shape == (2, 3, ho, wo) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-4, rtol=0)


def test_crop_resize_matches_torch_interpolate():
    from faceprint.models.detectors.mtcnn import _crop_resize_area, _integral

    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (2, 90, 70, 3), dtype=np.uint8)
    ii = _integral(imgs)
    idx = np.array([0, 1, 1, 0])
    x0, y0 = np.array([0, 5, 30, 69]), np.array([0, 10, 2, 89])
    x1, y1 = np.array([70, 40, 36, 70]), np.array([90, 50, 80, 90])  # incl. 1-pixel and thin crops
    got = _crop_resize_area(ii, idx, x0, y0, x1, y1, 24)
    for k in range(len(idx)):
        crop = torch.from_numpy(imgs[idx[k], y0[k] : y1[k], x0[k] : x1[k]]).permute(2, 0, 1)[None].float()
        ref = torch.nn.functional.interpolate(crop, size=(24, 24), mode="area")[0]
        np.testing.assert_allclose(got[k], ref.numpy(), atol=1e-4, rtol=0)


def _reference_nms(boxes, scores, thr):
    """torchvision.ops.nms semantics, written out."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep, dead = [], np.zeros(len(boxes), bool)
    for i in order:
        if dead[i]:
            continue
        keep.append(i)
        for j in order:
            if j == i or dead[j]:
                continue
            iw = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            ih = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = iw * ih
            if inter / (area[i] + area[j] - inter) > thr:
                dead[j] = True
    return np.array(keep)


def test_nms_union_matches_reference():
    from faceprint.models.detectors.mtcnn import _nms

    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 100, (60, 2))
    wh = rng.uniform(5, 40, (60, 2))
    boxes = np.hstack([xy, xy + wh])
    scores = rng.permutation(60).astype(np.float64)
    for thr in (0.3, 0.5, 0.7):
        assert _nms(boxes, scores, thr).tolist() == _reference_nms(boxes, scores, thr).tolist()
    # zero and negative scores (OpenCV's NMSBoxes drops scores <= 0 unless shifted)
    shifted = scores - 30.0
    assert _nms(boxes, shifted, 0.5).tolist() == _reference_nms(boxes, shifted, 0.5).tolist()
    # float32 candidate boxes on a pixel grid, as the P-net stage produces
    grid = np.floor(boxes).astype(np.float32)
    probs = rng.uniform(0.6, 1.0, 60).astype(np.float32)
    assert _nms(grid, probs, 0.5).tolist() == _reference_nms(grid.astype(np.float64), probs.astype(np.float64), 0.5).tolist()


def test_nms_min_closed_form():
    from faceprint.models.detectors.mtcnn import _nms

    # a small box inside a big one: intersection/min-area = 1 -> suppressed with "min", IoU small
    boxes = np.array([[0, 0, 99, 99], [10, 10, 19, 19], [200, 200, 209, 209]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7])
    assert _nms(boxes, scores, 0.7, "min").tolist() == [0, 2]
    assert sorted(_nms(boxes, scores, 0.7, "union").tolist()) == [0, 1, 2]


def test_graphs_are_cached(tmp_path, monkeypatch):
    from faceprint.models.convert import mtcnn_onnx
    from faceprint.models.detectors import mtcnn

    _weights("pnet")
    monkeypatch.setenv("FACEPRINT_CACHE", str(tmp_path))
    data = mtcnn._onnx_bytes("pnet")
    files = list((tmp_path / "models").glob("mtcnn_pnet-*.onnx"))
    assert len(files) == 1 and files[0].read_bytes() == data
    assert f"-c{mtcnn_onnx.CONVERTER_VERSION}" in files[0].name
    # a second call reads the cache instead of converting
    monkeypatch.setattr(mtcnn_onnx, "build_pnet", lambda sd: pytest.fail("converted again"))
    monkeypatch.setitem(mtcnn_onnx.BUILDERS, "pnet", lambda sd: pytest.fail("converted again"))
    assert mtcnn._onnx_bytes("pnet") == data


def test_dlib_style_box_closed_form():
    from faceprint.models.detectors.mtcnn import DLIB_BOX_IN_MTCNN_UNITS, dlib_style_box
    from faceprint.types import Box

    ax1, ay1, ax2, ay2 = DLIB_BOX_IN_MTCNN_UNITS
    b = dlib_style_box(Box(100, 50, 200, 170))  # 100 x 120
    assert b.as_tuple() == pytest.approx((100 + 100 * ax1, 50 + 120 * ay1, 100 + 100 * ax2, 50 + 120 * ay2))
    # dlib's boxes drop the forehead: shorter, about as wide, and lower
    assert b.height < 120 and abs(b.width - 100) < 10 and b.y1 > 50
