"""The heap trimmer: when it trims and what moves its floor."""

from __future__ import annotations

import pytest

from faceprint.service import memory

MB = 1 << 20


class _Heap:
    def __init__(self) -> None:
        self.rss = 200 * MB
        self.held = 0  # memory freed by Python but kept by the allocator until a trim
        self.trims = 0

    def trim(self, _: int) -> int:
        self.rss -= self.held
        self.held = 0
        self.trims += 1
        return 1


@pytest.fixture
def heap(monkeypatch: pytest.MonkeyPatch) -> _Heap:
    h = _Heap()
    monkeypatch.setattr(memory, "_rss", lambda: h.rss)
    monkeypatch.setattr(memory, "_load_trim", lambda: h.trim)
    return h


def test_small_growth_is_not_trimmed(heap: _Heap) -> None:
    t = memory.MemoryTrimmer(threshold=256 * MB)
    heap.rss += 100 * MB
    heap.held = 100 * MB
    t.after_job()
    assert heap.trims == 0 and t.trims == 0


def test_the_last_of_concurrent_large_jobs_still_gives_memory_back(heap: _Heap) -> None:
    t = memory.MemoryTrimmer(threshold=256 * MB)
    heap.rss += 800 * MB  # two big jobs hold 400 MB each
    heap.held = 400 * MB  # the first one finished: its memory is free but not returned
    t.after_job(idle=False)
    assert heap.trims == 1 and heap.rss == 600 * MB  # the second still holds its 400 MB
    heap.held = 400 * MB  # the second finished
    t.after_job(idle=True)
    assert heap.trims == 2 and heap.rss == 200 * MB  # back to where it started
    heap.rss += 10 * MB
    t.after_job(idle=True)
    assert heap.trims == 2  # the floor is the idle RSS again: small growth costs nothing


def test_an_idle_trim_moves_the_floor(heap: _Heap) -> None:
    t = memory.MemoryTrimmer(threshold=256 * MB)
    heap.rss += 300 * MB  # models loaded on first use: not freeable
    t.after_job(idle=True)
    assert heap.trims == 1 and heap.rss == 500 * MB
    t.after_job(idle=True)
    assert heap.trims == 1  # the models are the new floor: no trim after every job


def test_no_trim_function_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_load_trim", lambda: None)
    t = memory.MemoryTrimmer()
    t.after_job()
    assert t.trims == 0
