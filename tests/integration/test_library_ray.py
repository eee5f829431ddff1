"""The Ray engine on a local Ray (2 CPUs) and a pgserver PostgreSQL, on real photos
(face_recognition's knn examples): the faces and embeddings equal a local run's; an actor killed
mid-job (SIGKILL of its process) leaves no duplicate and no gap; the CLI's ``--engine ray``.
Skipped when Ray, pgserver or ../shared/data is absent."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='the Ray engine is not testable: pip install "faceprint[ray]"')

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "library"))

from pg_helpers import fresh_database, pgserver_url  # noqa: E402

from faceprint.library.indexer import index  # noqa: E402
from faceprint.library.pg_store import PgLibraryStore  # noqa: E402
from faceprint.library.ray_engine import RayEngine, RayOptions  # noqa: E402
from faceprint.library.store import LibraryStore  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
ACTOR = "MapWorker(MapBatches(IndexActor))"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """A local Ray with 2 CPUs, workers importing this checkout's faceprint."""
    from faceprint.library.ray_engine import start_local_ray

    paths = [str(REPO / "src"), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    yield start_local_ray(2)
    ray.shutdown()


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    yield from pgserver_url("faceprint-libray-")


@pytest.fixture(scope="module")
def pipe() -> Any:
    from faceprint.defaults import default_pipeline

    return default_pipeline()


@pytest.fixture(scope="module")
def photos(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = shared_data / "face_recognition_examples" / "examples" / "knn_examples"
    if not src.is_dir():
        pytest.skip(f"real data not available: {src} is absent")
    coll = tmp_path_factory.mktemp("ray") / "photos"
    coll.mkdir()
    (coll / "knn").symlink_to(src.resolve())
    return coll


@pytest.fixture(scope="module")
def local_run(photos: Path, pipe: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with LibraryStore(tmp_path_factory.mktemp("local") / "lib.sqlite") as store:
        index([str(photos)], store, pipe, jobs=1)
        return faces_by_path(store)


def faces_by_path(store: Any) -> dict[str, Any]:
    """path -> (sha256, [(box, vector)] in face order); also checks there is no duplicate."""
    rows = store.q("SELECT p.path, ph.sha256, f.id, f.idx, f.x1, f.y1, f.x2, f.y2 FROM paths p "
                   "JOIN photos ph ON ph.id = p.photo_id LEFT JOIN faces f ON f.photo_id = ph.id ORDER BY p.path, f.idx")
    vecs = store.vectors([r[2] for r in rows if r[2] is not None])
    out: dict[str, Any] = {}
    for path, sha, fid, idx, *box in rows:
        entry = out.setdefault(path, (sha, []))
        if fid is not None:
            assert idx == len(entry[1])  # faces 0..n-1, none twice
            entry[1].append((np.array(box, float), vecs[int(fid)]))
    assert store.count("photos") == len({sha for sha, _ in out.values()})
    assert store.count("faces") == sum(len(f) for _, f in out.values())
    return out


def assert_equal_runs(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert sorted(got) == sorted(want)  # every photo, no other
    for path, (sha, faces) in want.items():
        g_sha, g_faces = got[path]
        assert g_sha == sha and len(g_faces) == len(faces), path
        for (b1, v1), (b2, v2) in zip(g_faces, faces, strict=True):
            assert np.abs(b1 - b2).max() <= 0.5, path
            assert float(v1 @ v2) >= 0.9999, path


def test_ray_run_into_postgres_equals_a_local_run(local_ray: Any, pg_server: str, photos: Path, pipe: Any,
                                                  local_run: dict[str, Any]) -> None:
    with PgLibraryStore(fresh_database(pg_server)) as pg:
        report = RayEngine(pg, pipe, workers=2).index([str(photos)])
        assert report.indexed == len(local_run) and report.errors == 0
        assert_equal_runs(faces_by_path(pg), local_run)
        again = RayEngine(pg, pipe, workers=2).index([str(photos)])  # unchanged: Ray is not even asked
        assert again.indexed == 0 and again.unchanged == len(local_run)


def test_an_actor_killed_mid_job_leaves_no_duplicate_and_no_gap(local_ray: Any, pg_server: str, photos: Path,
                                                                pipe: Any, local_run: dict[str, Any]) -> None:
    import psutil

    killed: list[int] = []
    done: list[str] = []

    def kill_an_actor(path: str, result: Any) -> None:
        done.append(path)
        if killed or result is None:
            return
        actors = [p for p in psutil.Process().children(recursive=True) if ACTOR in " ".join(_cmdline(p))]
        assert actors, "no actor process found"
        os.kill(actors[0].pid, signal.SIGKILL)
        killed.append(actors[0].pid)

    with PgLibraryStore(fresh_database(pg_server)) as pg:
        engine = RayEngine(pg, pipe, options=RayOptions(workers=2, files_per_block=1))
        report = engine.index([str(photos)], on_progress=kill_an_actor)
        assert len(killed) == 1 and len(done) == len(local_run)  # killed after the first of 14 results
        assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
        assert report.indexed + report.known == len(local_run) and report.errors == 0
        assert_equal_runs(faces_by_path(pg), local_run)


def test_cli_engine_ray_into_the_sqlite_file(local_ray: Any, photos: Path, tmp_path: Path, local_run: dict[str, Any],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from faceprint.cli.main import main

    lib = tmp_path / "lib.sqlite"
    assert main(["index", str(photos), "--engine", "ray", "--workers", "2", "--library", str(lib), "--json",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["indexed"] == len(local_run)
    with LibraryStore(lib) as store:
        assert_equal_runs(faces_by_path(store), local_run)


def test_cli_starts_and_stops_its_own_local_ray_into_postgres(photos: Path, pg_server: str, local_run: dict[str, Any],
                                                               tmp_path: Path) -> None:
    """A real `faceprint index --engine ray --store URL` process: it starts a local Ray, indexes,
    and stops it (no Ray process of its own is left)."""
    import subprocess

    import psutil

    def ray_daemons() -> set[int]:
        return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in ("raylet", "gcs_server")}

    before = ray_daemons()
    url = fresh_database(pg_server)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "FACEPRINT_HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "faceprint.cli.main", "index", str(photos / "knn" / "train"),
                             "--engine", "ray", "--workers", "1", "--store", url, "--json", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    report = json.loads(out)
    train = {p: v for p, v in local_run.items() if "/knn/train/" in p}
    assert report["indexed"] == len(train) == 9 and report["errors"] == 0
    with PgLibraryStore(url, create=False) as pg:
        assert_equal_runs(faces_by_path(pg), train)
    for _ in range(50):  # its raylet and GCS server end with it
        if ray_daemons() <= before:
            break
        time.sleep(0.2)
    assert ray_daemons() <= before


def _cmdline(p: Any) -> list[str]:
    try:
        return list(p.cmdline())
    except Exception:  # noqa: BLE001 - a process that ended meanwhile
        return []
