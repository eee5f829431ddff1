"""FER data module: label order, the include filter, normalisation and the augmentation's
closed-form cases (identity warp, mirror, erasing) and determinism."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.models.analyzers.expression import LABELS  # noqa: E402
from faceprint.train.fer_data import FerAugment, FerFolderData, augment_batch  # noqa: E402

from ._fer_tree import make_fer_tree  # noqa: E402


@pytest.fixture
def tree(tmp_path):
    return make_fer_tree(tmp_path / "fer", per_class=3, extra_names=True)


def test_labels_follow_the_analyzer_order_and_include_filters(tree):
    every = FerFolderData(tree)
    assert every.class_names == list(LABELS) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert len(every) == 42  # 7 classes × (3 originals + 3 copies)
    own = FerFolderData(tree, include=r"Training_\d+\.png")
    assert len(own) == 21 and all(p.name.count(".") == 1 for p in own.paths)
    assert own.class_counts() == {name: 3 for name in LABELS}
    # the folder "neutral" (FER2013's 5th folder) is label 6, "sad" label 4, "surprise" label 5
    by_folder = {p.parent.name: int(t) for p, t in zip(own.paths, own.labels, strict=True)}
    assert by_folder == {name: LABELS.index(name) for name in by_folder}
    with pytest.raises(InvalidInput):
        FerFolderData(tree, include=r"nothing_matches")


def test_plain_batch_is_normalised_and_mirrored(tree):
    data = FerFolderData(tree, include=r"Training_\d+\.png", max_per_class=1)
    assert len(data) == 7
    raw = cv2.imread(str(data.paths[2]), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    x, y = data.batch([2, 5])
    assert x.shape == (2, 1, 48, 48) and x.dtype == torch.float32 and x.is_contiguous()
    np.testing.assert_allclose(x[0, 0].numpy(), (raw - 127.5) / 127.5, atol=1e-6)
    assert y.tolist() == [int(data.labels[2]), int(data.labels[5])]
    xf, _ = data.batch([2, 5], np.array([True, False]))
    np.testing.assert_array_equal(xf[0].numpy(), x[0].numpy()[:, :, ::-1])
    np.testing.assert_array_equal(xf[1].numpy(), x[1].numpy())


def test_identity_warp_is_exact_and_flip_mirrors():
    x = torch.randn(4, 1, 48, 48)
    ident = FerAugment.none(48)
    out = augment_batch(x, None, np.random.default_rng(0), ident)
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)
    flip = np.array([True, False, True, False])
    out = augment_batch(x, flip, np.random.default_rng(0), ident)
    torch.testing.assert_close(out[0], x[0].flip(-1), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1], x[1], atol=1e-4, rtol=0)


def test_centred_crop_window_when_there_is_no_translation_range():
    # crop 40 of 48 with every random term off except the crop position: the window is a 40×40
    # region, so a pixel-aligned draw (0) gives exactly the centre
    x = torch.arange(48 * 48, dtype=torch.float32).view(1, 1, 48, 48).repeat(2, 1, 1, 1)
    aug = FerAugment(crop=40, rotation=0, scale=(1, 1), brightness=0, contrast=0, erase_p=0)

    class Zero:  # a generator whose uniform draws are the interval's midpoint
        def uniform(self, lo, hi, n):
            return np.full(n, (lo + hi) / 2.0)

        def random(self, n):
            return np.full(n, 0.5)

    out = augment_batch(x, None, Zero(), aug)
    assert out.shape == (2, 1, 40, 40)
    torch.testing.assert_close(out, x[:, :, 4:44, 4:44], atol=1e-3, rtol=0)


def test_random_erasing_blanks_one_rectangle():
    x = torch.ones(64, 1, 40, 40)
    aug = FerAugment(crop=40, rotation=0, scale=(1, 1), brightness=0, contrast=0, erase_p=1.0, erase_area=(0.05, 0.1))
    out = augment_batch(x, None, np.random.default_rng(1), aug)
    zero = (out == 0).squeeze(1).numpy()
    frac = zero.reshape(64, -1).mean(1)
    assert np.all(frac > 0.02) and np.all(frac < 0.16)
    for m in zero:  # one axis-aligned rectangle: its bounding box is full
        rows, cols = np.where(m.any(1))[0], np.where(m.any(0))[0]
        assert m[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()


def test_augmentation_is_a_function_of_the_generator(tree):
    data = FerFolderData(tree, augment={"crop": 40, "erase_p": 0.5})
    idx, flip = np.arange(10), np.arange(10) % 2 == 0
    a, ya = data.batch(idx, flip, rng=np.random.default_rng([0, 3, 2, 7]))
    b, yb = data.batch(idx, flip, rng=np.random.default_rng([0, 3, 2, 7]))
    c, _ = data.batch(idx, flip, rng=np.random.default_rng([0, 3, 2, 8]))
    assert a.shape == (10, 1, 40, 40)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.equal(a, c)
    assert torch.equal(ya, yb)


@pytest.mark.parametrize(
    "options",
    [{"crop": 50}, {"crop": 4}, {"scale": (1.2, 1.1)}, {"erase_area": (0.1, 1.0)}, {"rotation": -1}, {"erase_p": 2}, {"nope": 1}],
)
def test_bad_augment_options(options):
    with pytest.raises(InvalidInput):
        FerAugment.from_dict(options)
