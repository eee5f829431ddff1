import pytest

torch = pytest.importorskip("torch")

from faceprint.train import miners  # noqa: E402


def test_pairwise_distances_match_cdist():
    torch.manual_seed(0)
    x = torch.randn(6, 4, dtype=torch.float64)
    assert torch.allclose(miners.pairwise_distances(x, squared=False), torch.cdist(x, x), atol=1e-9)
    assert torch.allclose(miners.pairwise_distances(x), torch.cdist(x, x) ** 2, atol=1e-9)


def test_miners_only_return_valid_triplets():
    torch.manual_seed(1)
    x = torch.randn(12, 3)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 5])  # 4 and 5 have no positive
    d = miners.pairwise_distances(x)
    for a, p, n in (miners.batch_all_triplets(y), miners.batch_hard_triplets(d, y), miners.semi_hard_triplets(d, y)):
        assert len(a) > 0
        assert bool((y[a] == y[p]).all() and (a != p).all() and (y[a] != y[n]).all())
        assert not set(a.tolist()) & {10, 11}
    a, p, n = miners.batch_hard_triplets(d, y)
    for i, j, k in zip(a, p, n, strict=True):
        assert d[i, j] == d[i][(y == y[i]) & (torch.arange(12) != i)].max()
        assert d[i, k] == d[i][y != y[i]].min()
