import pytest

from faceprint.errors import InvalidInput
from faceprint.train import miners
from faceprint.train.losses import TripletLoss

from ._helpers import tensor, torch

# On a line (no normalisation): class 0 at 0, 1, 3; class 1 at 2.5, 6
X = tensor([[0.0], [1.0], [3.0], [2.5], [6.0]])
Y = torch.tensor([0, 0, 0, 1, 1])


def test_batch_hard_closed_form():
    loss = TripletLoss(margin=0.5, miner="batch_hard", squared=False, normalize=False)
    # anchor: hardest positive, closest negative → [d_ap − d_an + α]₊
    want = [
        max(0, 3.0 - 2.5 + 0.5),  # a=0: p=3 (d 3), n=2.5
        max(0, 2.0 - 1.5 + 0.5),  # a=1: p=3 (d 2), n=2.5 (d 1.5)
        max(0, 3.0 - 0.5 + 0.5),  # a=3.0: p=0 (d 3), n=2.5 (d .5)
        max(0, 3.5 - 0.5 + 0.5),  # a=2.5: p=6 (d 3.5), n=3 (d .5)
        max(0, 3.5 - 3.0 + 0.5),  # a=6: p=2.5, n=3 (d 3)
    ]
    assert float(loss(X, Y)) == pytest.approx(sum(want) / 5)
    assert loss.last_num_triplets == 5


def test_semi_hard_picks_the_closest_negative_beyond_the_positive():
    d = miners.pairwise_distances(X, squared=False)
    a, p, n = miners.semi_hard_triplets(d, Y)
    got = {(int(i), int(j)): int(k) for i, j, k in zip(a, p, n, strict=True)}
    assert got[(0, 1)] == 3  # d_ap = 1; negatives at 2.5 (idx 3), 6 (idx 4): closest beyond → 3
    assert got[(2, 0)] == 4  # d_ap = 3; negatives at 0.5, 3: none beyond 3 strictly → farthest (idx 4)
    assert got[(3, 4)] == 0  # anchor 2.5, p=6 (d 3.5): negatives at d 2.5, 1.5, 0.5 → none beyond → farthest (idx 0)
    assert len(got) == 3 * 2 + 2  # every ordered positive pair


def test_batch_all_counts_every_valid_triplet_and_averages_the_active_ones():
    a, p, n = miners.batch_all_triplets(Y)
    assert len(a) == 3 * 2 * 2 + 2 * 1 * 3
    loss = TripletLoss(margin=0.1, miner="batch_all", squared=False, normalize=False)
    d = miners.pairwise_distances(X, squared=False)
    vals = torch.relu(d[a, p] - d[a, n] + 0.1)
    assert float(loss(X, Y)) == pytest.approx(float(vals[vals > 0].mean()))


def test_well_separated_classes_give_zero_loss():
    x = tensor([[0.0], [0.1], [10.0], [10.1]])
    for miner in ("batch_all", "batch_hard", "semi_hard"):
        assert float(TripletLoss(0.2, miner, normalize=False)(x, torch.tensor([0, 0, 1, 1]))) == 0.0


def test_gradcheck_each_miner():
    torch.manual_seed(0)
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    for miner in ("batch_all", "batch_hard", "semi_hard"):
        loss = TripletLoss(margin=1.0, miner=miner)
        assert torch.autograd.gradcheck(lambda a, loss=loss: loss(a, y), (x,), eps=1e-6, atol=1e-6), miner


def test_squared_distances_are_the_facenet_default():
    d = miners.pairwise_distances(X)
    assert float(d[0, 2]) == pytest.approx(9.0)
    assert float(d[1, 1]) == 0.0


def test_unknown_miner():
    with pytest.raises(InvalidInput):
        TripletLoss(miner="hardest")
