"""The photo library on real photos: face_recognition's examples and an LFW subset (skipped when
../shared/data is absent). Includes a real ``kill -9`` of an indexing subprocess mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faceprint.cli.main import main
from faceprint.library import people_ops as ppl
from faceprint.library.store import LibraryStore, blob_vec

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def lfw_subset(lfw_root: Path, dest: Path, people: int = 30, skip: int = 370) -> Path:
    """A collection of symlinked LFW folders (no data copied)."""
    dest.mkdir()
    for d in sorted((lfw_root / "images").iterdir())[skip:skip + people]:
        (dest / d.name).symlink_to(d.resolve())
    return dest


def test_index_examples_name_and_find(fr_examples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coll = tmp_path / "photos"
    coll.mkdir()
    (coll / "examples").symlink_to((fr_examples / "examples").resolve())
    (coll / "broken.jpg").write_bytes((fr_examples / "examples" / "obama.jpg").read_bytes()[:2000])
    (coll / "readme.png").write_text("not a photo")
    lib = ["--library", str(tmp_path / "lib.sqlite")]
    assert main(["index", str(coll), *lib, "--json", "--no-progress", "--jobs", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 2 and {Path(e["path"]).name for e in report["error_list"]} == {"broken.jpg", "readme.png"}
    assert report["indexed"] == report["files"] - 2 - report["known"] and report["faces"] >= report["indexed"]
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        row = store.q("SELECT scheme, length(landmarks), model, dim, length(thumb), cluster_id FROM faces LIMIT 1")[0]
        assert row[0] == "eyes_nose_mouth5" and row[1] == 40 and row[2].startswith("sface_int8") and row[3] == 128
        assert row[4] > 500 and row[5] is not None
        obama = int(store.q("SELECT f.cluster_id FROM faces f JOIN paths p ON p.photo_id = f.photo_id "
                            "WHERE p.path LIKE '%examples/obama.jpg'")[0][0])
    assert main(["name", str(obama), "Barack Obama", *lib]) == 0
    capsys.readouterr()
    assert main(["find", "Barack Obama", *lib]) == 0
    found = {Path(p).name for p in capsys.readouterr().out.split()}
    assert {"obama.jpg", "obama2.jpg", "obama-240p.jpg", "obama-720p.jpg", "obama_small.jpg"} <= found
    assert not {"biden.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png"} & found
    assert main(["index", str(coll), *lib, "--json", "--no-progress"]) == 0  # nothing to do the second time
    again = json.loads(capsys.readouterr().out)
    assert again["indexed"] == 0 and again["unchanged"] == report["files"]


def faces_by_sha(path: Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    c = sqlite3.connect(path)
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    for sha, idx, emb in c.execute("SELECT p.sha256, f.idx, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id "
                                   "ORDER BY p.sha256, f.idx"):
        out.setdefault(sha, []).append((idx, blob_vec(emb)))
    c.close()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["threads", "processes"])
def test_kill_9_mid_run_then_resume_leaves_no_duplicate_and_no_gap(lfw_root: Path, tmp_path: Path, pool: str) -> None:
    coll = lfw_subset(lfw_root, tmp_path / "photos")
    n_files = sum(1 for _ in coll.glob("*/*.jpg"))
    lib = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "faceprint.cli.main", "index", str(coll), "--library", str(lib), "--no-progress", "--jobs", "2",
           "--pool", pool]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed = 0
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                c = sqlite3.connect(lib, timeout=5)
                committed = c.execute("SELECT COUNT(*) FROM paths").fetchone()[0]
                c.close()
            except sqlite3.Error:
                continue
            if committed >= 8:
                break
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with LibraryStore(lib) as store:
        partial = store.count("paths")
        assert 8 <= partial < n_files
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(done.stdout)
    assert report["unchanged"] >= partial and report["unchanged"] + report["indexed"] == n_files
    ref = tmp_path / "clean.sqlite"
    subprocess.run([*cmd[:6], str(ref), *cmd[7:]], env=env, capture_output=True, timeout=300, check=True)
    with LibraryStore(lib) as store:
        assert store.count("paths") == n_files
        assert store.q("SELECT COUNT(*) FROM faces WHERE cluster_id IS NULL")[0][0] == 0
        assert sum(c.faces for c in ppl.list_clusters(store)) == store.count("faces")
    got, want = faces_by_sha(lib), faces_by_sha(ref)
    assert sorted(got) == sorted(want)  # every photo once
    for sha, faces in want.items():
        assert [i for i, _ in got[sha]] == [i for i, _ in faces]  # the same faces, none twice
        for (_, a), (_, b) in zip(got[sha], faces, strict=True):
            assert float(a @ b) > 0.999
