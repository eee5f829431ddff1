from collections import Counter

import numpy as np
import pytest

pytest.importorskip("torch")

from faceprint.errors import InvalidInput  # noqa: E402
from faceprint.train.samplers import PKSampler, RandomBatchSampler  # noqa: E402


def test_pk_batches_hold_p_identities_times_k_images():
    labels = np.repeat(np.arange(10), [5, 5, 5, 5, 2, 3, 8, 1, 4, 6])  # identity 7 has one image
    s = PKSampler(labels, p=3, k=4, seed=1)
    assert len(s) == 9 // 3
    seen = set()
    for batch in s:
        assert len(batch) == 12
        counts = Counter(labels[batch].tolist())
        assert len(counts) == 3 and set(counts.values()) == {4}
        seen |= set(counts)
    assert 7 not in seen and len(seen) == 9  # every eligible identity once per epoch


def test_pk_is_deterministic_per_seed_and_epoch():
    labels = np.repeat(np.arange(8), 4)
    a, b = PKSampler(labels, 2, 2, seed=5), PKSampler(labels, 2, 2, seed=5)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)
    assert a.batches(1) == list(b)
    assert list(PKSampler(labels, 2, 2, seed=6)) != list(a)


def test_pk_needs_enough_identities():
    with pytest.raises(InvalidInput):
        PKSampler(np.array([0, 0, 1]), p=2, k=2)


def test_random_batches_partition_the_data():
    s = RandomBatchSampler(10, 3, seed=0)
    batches = list(s)
    assert len(batches) == 3 and all(len(b) == 3 for b in batches)
    assert len(set(sum(batches, []))) == 9
    assert list(RandomBatchSampler(10, 3, seed=0, drop_last=False))[-1].__len__() == 1
    assert list(RandomBatchSampler(2, 8)) == [list(RandomBatchSampler(2, 8))[0]] and len(list(RandomBatchSampler(2, 8))[0]) == 2
