"""Indexing with worker processes (``pool='processes'``) stores the same faces as threads, on real
photos (face_recognition's examples; skipped when ../shared/data is absent)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from faceprint.library.store import blob_vec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PHOTOS = ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg", "lin-manuel-miranda.png", "obama-240p.jpg")


def _faces(lib: Path) -> dict[str, list[tuple[int, tuple[float, ...], np.ndarray, float]]]:
    """sha256 -> [(idx, box, embedding, blur)] per photo."""
    c = sqlite3.connect(lib)
    out: dict[str, list[tuple[int, tuple[float, ...], np.ndarray, float]]] = {}
    try:
        for sha, idx, x1, y1, x2, y2, emb, blur in c.execute(
            "SELECT p.sha256, f.idx, f.x1, f.y1, f.x2, f.y2, f.embedding, f.blur FROM faces f "
            "JOIN photos p ON p.id = f.photo_id ORDER BY p.sha256, f.idx"
        ):
            out.setdefault(sha, []).append((idx, (x1, y1, x2, y2), blob_vec(emb), blur))
    finally:
        c.close()
    return out


def test_processes_store_the_same_faces_as_threads(fr_examples: Path, tmp_path: Path) -> None:
    from faceprint import library
    from faceprint.pipeline import Pipeline, PipelineConfig

    coll = tmp_path / "photos"
    coll.mkdir()
    for name in PHOTOS:
        (coll / name).symlink_to((fr_examples / "examples" / name).resolve())
    pipe = Pipeline.from_config(PipelineConfig())
    threads = library.index([coll], library=tmp_path / "threads.sqlite", pipeline=pipe, jobs=2, pool="threads")
    procs = library.index([coll], library=tmp_path / "procs.sqlite", pipeline=pipe, jobs=2, pool="processes")
    assert procs.indexed == threads.indexed == len(PHOTOS) and procs.errors == threads.errors == 0
    assert procs.faces == threads.faces >= len(PHOTOS)
    a, b = _faces(tmp_path / "threads.sqlite"), _faces(tmp_path / "procs.sqlite")
    assert a.keys() == b.keys()
    for sha in a:
        assert [f[0] for f in a[sha]] == [f[0] for f in b[sha]]
        for (_, box_a, emb_a, blur_a), (_, box_b, emb_b, blur_b) in zip(a[sha], b[sha], strict=True):
            assert np.allclose(box_a, box_b, atol=0.05), (box_a, box_b)
            assert float(emb_a @ emb_b) > 0.9999, float(emb_a @ emb_b)
            assert abs(blur_a - blur_b) <= 1e-3 * max(1.0, blur_a)
    # and the same people: identical clusterings up to the ids
    def groups(lib: Path) -> set[frozenset[tuple[str, int]]]:
        c = sqlite3.connect(lib)
        rows = c.execute("SELECT f.cluster_id, p.sha256, f.idx FROM faces f JOIN photos p ON p.id = f.photo_id").fetchall()
        c.close()
        g: dict[int, set[tuple[str, int]]] = {}
        for cid, sha, idx in rows:
            g.setdefault(cid, set()).add((sha, idx))
        return {frozenset(v) for v in g.values()}

    assert groups(tmp_path / "threads.sqlite") == groups(tmp_path / "procs.sqlite")


def _unsendable_pipeline() -> object:
    """A pipeline of a local class: neither a config nor picklable (its class cannot be found by name)."""

    class Local:
        config = None
        model_tag = "fake@1"

        def process(self, image: object) -> list[object]:
            return []

    return Local()


def _one_photo(tmp_path: Path, fr_examples: Path) -> Path:
    coll = tmp_path / "photos"
    coll.mkdir()
    (coll / "obama.jpg").symlink_to((fr_examples / "examples" / "obama.jpg").resolve())
    return coll


def test_a_pipeline_that_cannot_be_sent_is_refused(tmp_path: Path, fr_examples: Path) -> None:
    from faceprint import library
    from faceprint.errors import InvalidInput

    coll = _one_photo(tmp_path, fr_examples)
    with pytest.raises(InvalidInput, match="pool='threads'"):
        library.index([coll], library=tmp_path / "l.sqlite", pipeline=_unsendable_pipeline(), jobs=2, pool="processes")


def test_cli_index_pool_processes(fr_examples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from faceprint.cli.main import main

    coll = tmp_path / "photos"
    coll.mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        (coll / name).symlink_to((fr_examples / "examples" / name).resolve())
    lib = str(tmp_path / "lib.sqlite")
    assert main(["index", str(coll), "--library", lib, "--pool", "processes", "--jobs", "2", "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["indexed"] == 2 and report["faces"] == 2 and report["clusters"] == 2, report


def test_auto_pool_chooses_processes_when_memory_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.library import workers

    monkeypatch.setattr(workers, "available_mb", lambda: 64_000.0)
    assert workers.choose_pool("auto", 2) == "processes"
    assert workers.choose_pool("auto", 1) == "threads"
    assert workers.choose_pool("threads", 8) == "threads"
    assert workers.choose_pool("auto", 2, workers.AUTO_MIN_PHOTOS) == "processes"
    assert workers.choose_pool("auto", 2, workers.AUTO_MIN_PHOTOS - 1) == "threads"  # too few to start workers for
    assert workers.choose_pool("processes", 2, 1) == "processes"
    monkeypatch.setattr(workers, "available_mb", lambda: 2 * workers.WORKER_MB - 1.0)
    assert workers.choose_pool("auto", 2) == "threads"
    assert workers.choose_pool("processes", 2) == "processes"  # asked for: kept


def test_auto_pool_falls_back_to_threads_for_a_pipeline_it_cannot_send(tmp_path: Path, fr_examples: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint import library
    from faceprint.library import workers

    monkeypatch.setattr(workers, "AUTO_MIN_PHOTOS", 0)  # one photo: auto would pick threads before looking
    monkeypatch.setattr(workers, "available_mb", lambda: 64_000.0)
    coll = _one_photo(tmp_path, fr_examples)
    report = library.index([coll], library=tmp_path / "l.sqlite", pipeline=_unsendable_pipeline(), jobs=2, pool="auto")
    assert report.indexed == 1 and report.faces == 0


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_workers_exit_when_the_indexing_process_is_killed(lfw_root: Path, tmp_path: Path) -> None:
    """``kill -9`` of ``faceprint index --pool processes``: its workers notice and exit (no orphan
    keeps its models in memory)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    coll = tmp_path / "photos"
    coll.mkdir()
    for d in sorted((lfw_root / "images").iterdir())[500:560]:
        (coll / d.name).symlink_to(d.resolve())
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    cmd = [sys.executable, "-m", "faceprint.cli.main", "index", str(coll), "--library", str(tmp_path / "l.sqlite"),
           "--no-progress", "--jobs", "2", "--pool", "processes"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2 and proc.poll() is None, "the workers did not start"
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.2)
        alive = [w for w in workers if Path(f"/proc/{w}").exists()]
        for w in alive:  # do not leave them behind when the test fails
            os.kill(w, signal.SIGKILL)
        assert not alive, f"workers {alive} outlived the killed indexer"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
