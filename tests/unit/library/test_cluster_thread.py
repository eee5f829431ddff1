"""The background clustering thread and the clustering step's optimistic write."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import StorageError
from faceprint.library import clustering
from faceprint.library.cluster_thread import ClusterThread
from faceprint.library.clustering import IncrementalClusterer
from faceprint.library.records import FaceData, PhotoResult
from faceprint.library.store import LibraryStore
from faceprint.types import Box


class CountingClusterer:
    def __init__(self, fail_on: int | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self.threads: set[str] = set()

    def step(self) -> int:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        if self.fail_on is not None and self.calls >= self.fail_on:
            raise StorageError("disk full")
        return 0


def wait_for(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def test_steps_run_on_their_own_thread_every_n_photos() -> None:
    c = CountingClusterer()
    with ClusterThread(c, every_photos=3, every_s=60) as bg:
        for _ in range(2):
            bg.committed()
        time.sleep(0.05)
        assert c.calls == 0  # 2 < 3 photos, and the interval is long
        bg.committed()
        wait_for(lambda: c.calls == 1)
    assert c.threads == {"faceprint-cluster"}


def test_a_step_is_due_after_the_interval_when_photos_were_committed() -> None:
    c = CountingClusterer()
    with ClusterThread(c, every_photos=1000, every_s=0.05) as bg:
        time.sleep(0.15)
        assert c.calls == 0  # nothing committed: nothing to do
        bg.committed()
        wait_for(lambda: c.calls == 1)
        time.sleep(0.15)
        assert c.calls == 1  # nothing new since


def test_a_failing_step_is_raised_in_the_committing_thread() -> None:
    c = CountingClusterer(fail_on=1)
    bg = ClusterThread(c, every_photos=1, every_s=60)
    bg.committed()
    wait_for(lambda: c.calls == 1)
    time.sleep(0.02)
    with pytest.raises(StorageError, match="disk full"):
        bg.committed()
    bg.close()  # the error was handed over once


def test_close_raises_a_pending_error_and_an_error_in_the_body_is_not_masked() -> None:
    c = CountingClusterer(fail_on=1)
    bg = ClusterThread(c, every_photos=1, every_s=60)
    bg.committed()
    wait_for(lambda: c.calls == 1)
    with pytest.raises(StorageError):
        bg.close()
    c2 = CountingClusterer(fail_on=1)
    with pytest.raises(KeyError), ClusterThread(c2, every_photos=1, every_s=60) as bg2:
        bg2.committed()
        wait_for(lambda: c2.calls == 1)
        raise KeyError("the body's own error")


# ---------------------------------------------------------------- optimistic write of a step


def _library(tmp_path: Path, n_people: int = 3, per: int = 4) -> tuple[LibraryStore, list[int]]:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(n_people, 16))
    store = LibraryStore(tmp_path / "lib.sqlite")
    ids: list[int] = []
    k = 0
    for p in range(n_people):
        for _ in range(per):
            v = centres[p] + 0.1 * rng.normal(size=16)
            v = (v / np.linalg.norm(v)).astype(np.float32)
            face = FaceData(Box(0, 0, 10, 10), 1.0, None, v, "m", 1.0, 10.0, 50.0, None)
            ids += store.commit_photo(PhotoResult(f"/p{k}.jpg", 1, k, "indexed", sha256=f"{k:064x}", width=10,
                                                  height=10, faces=(face,)))
            k += 1
    return store, ids


def _clusters(store: LibraryStore) -> dict[int, int]:
    return {int(i): c for i, c in store.q("SELECT id, cluster_id FROM faces ORDER BY id")}


def test_a_step_clusters_without_holding_the_write_lock_while_it_computes(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = _library(tmp_path)
    cl = IncrementalClusterer(store, "m", threshold=0.8)
    real = cl._compute
    committed_meanwhile: list[int] = []

    def compute(snap):
        other = LibraryStore(tmp_path / "lib.sqlite")  # another writer commits while the step computes
        with other.write() as w:
            w.execute("INSERT OR REPLACE INTO library_meta(key, value) VALUES ('probe', '1')")
        committed_meanwhile.append(1)
        other.close()
        return real(snap)

    monkeypatch.setattr(cl, "_compute", compute)
    cl.step()
    assert committed_meanwhile == [1]
    got = _clusters(store)
    assert all(c is not None for c in got.values())
    assert len(set(got.values())) == 3  # three people, three clusters
    store.close()


def test_a_name_made_while_a_step_computes_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = _library(tmp_path)
    cl = IncrementalClusterer(store, "m", threshold=0.8)
    cl.step()
    before = _clusters(store)
    # the user moves face 0 into its own named cluster while the next (full) step computes
    real = cl._compute
    calls = []

    def compute(snap):
        calls.append(1)
        if len(calls) == 1:
            with store.write() as w:
                cid = int(w.execute("INSERT INTO clusters(name, created) VALUES ('Ann', 0)").lastrowid)
                w.execute("UPDATE faces SET cluster_id = ?, pinned = 1 WHERE id = ?", (cid, ids[0]))
        return real(snap)

    monkeypatch.setattr(cl, "_compute", compute)
    cl.step(full=True)
    assert len(calls) == 2  # the first result was thrown away, the step computed again
    after = _clusters(store)
    named = store.q("SELECT id FROM clusters WHERE name = 'Ann'")[0][0]
    assert after[ids[0]] == named
    assert len({after[i] for i in ids[1:4]}) == 1  # the rest of that person stays together
    assert before[ids[0]] != named
    store.close()


def test_after_repeated_races_a_step_runs_inside_the_write_transaction(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = _library(tmp_path)
    cl = IncrementalClusterer(store, "m", threshold=0.8)
    real = cl._compute
    calls = []

    def compute(snap):  # every unlocked try sees a concurrent change; the locked one cannot
        calls.append(1)
        if len(calls) <= clustering.OPTIMISTIC_TRIES:
            with store.write() as w:
                w.execute("UPDATE faces SET pinned = 1 - pinned WHERE id = ?", (ids[-1],))
        return real(snap)

    monkeypatch.setattr(cl, "_compute", compute)
    cl.step()
    assert len(calls) == clustering.OPTIMISTIC_TRIES + 1
    got = _clusters(store)
    assert got[ids[-1]] is None  # pinned (an odd number of toggles) while unclustered: a pinned face never moves
    assert all(got[i] is not None for i in ids[:-1])
    store.close()


# ---------------------------------------------------------------- speed-only indexes


def test_the_clustering_read_is_served_by_the_covering_index(tmp_path: Path) -> None:
    store, _ = _library(tmp_path, n_people=1, per=2)
    plan = " ".join(str(r) for r in store.q(
        "EXPLAIN QUERY PLAN SELECT id, cluster_id, pinned FROM faces WHERE model = ? ORDER BY id", ("m",)))
    assert "COVERING INDEX faces_labels" in plan
    store.close()


def test_a_library_without_the_index_gets_it_on_open_and_keeps_its_schema_version(tmp_path: Path) -> None:
    store, _ = _library(tmp_path, n_people=1, per=2)
    with store.write() as w:
        w.execute("DROP INDEX faces_labels")
    store.close()
    again = LibraryStore(tmp_path / "lib.sqlite")
    names = {r[0] for r in again.q("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "faces_labels" in names
    assert again.q("SELECT version FROM schema_version") == [(1,)]
    again.close()


def test_a_library_that_cannot_be_written_opens_without_the_index(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = _library(tmp_path, n_people=1, per=2)
    with store.write() as w:
        w.execute("DROP INDEX faces_labels")
    store.close()

    def refuse(self: LibraryStore):
        raise StorageError("cannot write the library: the file or its folder is read-only")

    monkeypatch.setattr(LibraryStore, "write", refuse)
    again = LibraryStore(tmp_path / "lib.sqlite")  # opens and reads: the index is only a speed-up
    assert len(_clusters(again)) == 2
    assert "faces_labels" not in {r[0] for r in again.q("SELECT name FROM sqlite_master WHERE type = 'index'")}
    again.close()
