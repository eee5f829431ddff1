"""A deterministic fake pipeline for gallery tests (no model): an image's pixel (0, 0) encodes
``(person, variant, n_faces)``; face j of an image is person ``(person + j) % 256``; embeddings are
a per-person centre plus a small per-(variant, face) perturbation, so faces of one person score
~0.95 and of different people ~0."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from faceprint.types import Box, Detection, Embedding, Face

DIM = 32
MODEL = "fake@1"


def centre(person: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(10_000 + person).standard_normal(dim)
    return v / np.linalg.norm(v)


def vector(person: int, variant: int, face: int = 0, dim: int = DIM, spread: float = 0.2) -> np.ndarray:
    noise = np.random.default_rng(1_000_000 + 1000 * variant + face).standard_normal(dim) / np.sqrt(dim)
    v = centre(person, dim) + spread * noise
    return (v / np.linalg.norm(v)).astype(np.float32)


def make_image(person: int, variant: int = 0, n_faces: int = 1) -> np.ndarray:
    img = np.full((16, 16 + 10 * max(n_faces, 1), 3), 128, np.uint8)
    img[0, 0] = (person, variant, n_faces)
    img[1, 1] = (variant * 7 % 256, person * 3 % 256, 1)  # makes (person, variant) images distinct
    return img


def save_png(path: Path, person: int, variant: int = 0, n_faces: int = 1) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(make_image(person, variant, n_faces)).save(path)
    return path


class FakePipeline:
    def __init__(self, model_tag: str = MODEL, dim: int = DIM) -> None:
        self.model_tag = model_tag
        self.dim = dim
        self.calls = 0

    def process(self, image: np.ndarray, *, boxes: Sequence[Box] | None = None, embed: bool = True) -> list[Face]:
        return next(self.process_many([image], boxes=[boxes] if boxes is not None else None, embed=embed))

    def process_many(self, images: Iterable[np.ndarray], *, boxes=None, embed: bool = True) -> Iterator[list[Face]]:
        for k, image in enumerate(images):
            self.calls += 1
            person, variant, n = (int(x) for x in image[0, 0])
            faces = []
            for j in range(n):
                box = Box(10 * j, 0, 10 * j + 8 + (n - j), 8 + (n - j))  # face 0 is the largest
                if boxes is not None and boxes[k] is not None:
                    box = boxes[k][0]
                emb = Embedding(vector((person + j) % 256, variant, j, self.dim), model=self.model_tag)
                faces.append(
                    Face(detection=Detection(box, score=0.9 - 0.1 * j, detector="fake"), embedding=emb if embed else None)
                )
            yield faces


def open_store(spec: tuple[str, str, str | None]):
    """A store from a picklable spec ``(backend, location, schema)`` (for child processes)."""
    backend, location, schema = spec
    if backend == "sqlite":
        from faceprint.matching.store.sqlite import SqliteStore

        return SqliteStore(location)
    from faceprint.matching.store.postgres import PostgresStore

    return PostgresStore(location, schema=schema or "faceprint")


def enroll_worker(spec: tuple[str, str, str | None], worker: int, n: int) -> list[int]:
    """Child process body: enroll ``n`` images, alternating between a name shared by all workers
    and the worker's own name, through a Gallery; returns the face ids it was told were stored."""
    from faceprint.matching.gallery import Gallery

    store = open_store(spec)
    g = Gallery(home=None, pipeline=FakePipeline(), store=store, threshold=0.7, persist_index=False)
    ids = []
    for i in range(n):
        name = "shared" if i % 2 == 0 else f"worker{worker}"
        person = 200 if name == "shared" else worker
        r = g.enroll(name, Embedding(vector(person, worker * 100 + i), model=MODEL))
        ids.extend(r.face_ids)
    store.close()
    return ids


def enroll_many_worker(
    spec: tuple[str, str, str | None], worker: int, n_shared: int, n_own: int
) -> list[tuple[str, int, str, int | None]]:
    """Child process body: bulk-enroll (``Gallery.enroll_many``) ``n_shared`` photos that every
    worker enrolls too (worker 2 in reverse order, so the workers meet in the middle) interleaved
    with ``n_own`` photos of its own; returns ``(name, variant, status, face_id)`` per photo."""
    from faceprint.matching.gallery import Gallery

    shared = [(f"s{i % 30}", 100 + i % 30, i // 30) for i in range(n_shared)]
    if worker % 2 == 0:
        shared.reverse()
    own = [(f"own{worker}_{j % 10}", 150 + 20 * worker + j % 10, 10 + j // 10) for j in range(n_own)]
    plan: list[tuple[str, int, int]] = []
    for k in range(max(len(shared), len(own))):
        plan += shared[k : k + 1] + own[k : k + 1]
    store = open_store(spec)
    g = Gallery(home=None, pipeline=FakePipeline(), store=store, threshold=0.7, persist_index=False)
    out = []
    for (name, _, variant), o in zip(plan, g.enroll_many(((n, make_image(p, v)) for n, p, v in plan), batch=4), strict=True):
        out.append((name, variant, o.status, o.face_id))
    store.close()
    return out


def fake_open_set_calibration():
    """An open-set calibration of the fake pipeline's model, fitted on its own vectors (60 people
    x 6 photos), with clustering constants; save it to ``<home>/calibration/fake.open_set.json``."""
    from faceprint.matching.open_set import OpenSetCalibration

    x = np.stack([vector(p, v) for p in range(60) for v in range(6)])
    y = np.repeat(np.arange(60), 6)
    return OpenSetCalibration.fit(
        x, y, model=MODEL, source="fake people", source_short="fake tail",
        clustering={"chinese_whispers": {"false_links_per_face": 0.05}, "dbscan": {"false_links_per_face": 0.02}},
    )


# ------------------------------------------------------------------ fault-test helpers


def kill_child_mid_enrolment(script: str, *, at_least: int = 300, timeout_s: float = 60.0) -> list[tuple[str, int]]:
    """Run ``script`` (a child that prints ``enrolled NAME FACE_ID`` per stored face) in a new
    Python process, SIGKILL it once ``at_least`` faces were reported, and return what it reported."""
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reported: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout_s
    try:
        assert proc.stdout is not None
        while len(reported) < at_least and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            status, name, fid = line.split()
            assert status == "enrolled"
            reported.append((name, int(fid)))
        os.kill(proc.pid, signal.SIGKILL)  # mid-run: the child is enrolling as fast as it can
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert len(reported) >= at_least, "the child did not get far enough before the deadline"
    return reported


def pgserver_url(prefix: str):  # -> Iterator[str], a generator for fixtures
    """Start a PostgreSQL + pgvector server from the pgserver wheel (or skip), yield its URL,
    stop and remove it afterwards. Its data lives outside pytest's base temp dir: a concurrent
    pytest session makes that private (0700) again, and the server runs as another system user
    when started by root."""
    import shutil
    import tempfile
    import warnings
    from pathlib import Path

    import pytest

    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import
            warnings.simplefilter("ignore")
            import pgserver  # noqa: PLC0415
        import psycopg  # noqa: F401, PLC0415
    except ImportError as e:
        pytest.skip(f"PostgreSQL backend not testable: {e} (pip install -r requirements/test.txt)")
    base = Path(tempfile.mkdtemp(prefix=prefix))
    d = base / "pg"
    d.mkdir()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            srv = pgserver.get_server(str(d), cleanup_mode="stop")
        srv.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as e:  # noqa: BLE001 - any failure to start means skip
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server from pgserver: {e}")
    try:
        yield srv.get_uri()
    finally:
        with contextlib.suppress(Exception):
            srv.cleanup()
        shutil.rmtree(base, ignore_errors=True)
