"""The Ray engine's wiring, without Ray: nothing imports Ray until a Ray job runs, options are
checked, a missing Ray is a clear error (the engine itself is tested in
tests/integration/test_library_ray.py)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from faceprint.errors import EngineError, InvalidInput
from faceprint.library.engine import make_engine
from faceprint.library.local import LocalEngine
from faceprint.library.ray_engine import RayEngine, RayOptions, RayRunner, import_ray
from faceprint.library.store import LibraryStore

REPO = Path(__file__).resolve().parents[3]


def test_importing_faceprint_and_the_engine_does_not_import_ray() -> None:
    code = ("import sys, faceprint, faceprint.library, faceprint.library.ray_engine, faceprint.library.api, "
            "faceprint.cli.main, faceprint.library.engine as e; e.make_engine('ray', store=None); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"


def test_make_engine_chooses_and_checks_options(tmp_path: Path) -> None:
    with LibraryStore(tmp_path / "lib.sqlite") as store:
        ray = make_engine("ray", store=store, pipeline=None, jobs=3, threshold=None, home=None, pool="threads",
                          address="auto", workers=None)
        assert isinstance(ray, RayEngine) and ray.options == RayOptions(address="auto", workers=3)
        local = make_engine("local", store=store, jobs=None, workers=2)
        assert isinstance(local, LocalEngine) and local.jobs == 2
        with pytest.raises(InvalidInput, match="--address is for --engine ray"):
            make_engine("local", store=store, address="auto")
        with pytest.raises(InvalidInput):
            make_engine("spark", store=store)
    with pytest.raises(InvalidInput):
        RayOptions(workers=0)
    with pytest.raises(InvalidInput):
        RayOptions(max_attempts=0)


def test_a_missing_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineError, match=r"faceprint\[ray\]"):
        import_ray()


def test_an_unchanged_library_never_starts_ray(tmp_path: Path, collection: Path, pipeline, monkeypatch) -> None:
    from faceprint.library.indexer import index

    with LibraryStore(tmp_path / "lib.sqlite") as store:
        index([str(collection)], store, pipeline, threshold=0.99)
        monkeypatch.setitem(sys.modules, "ray", None)  # any attempt to use Ray would fail
        r = RayEngine(store, pipeline, threshold=0.99).index([str(collection)])
        assert (r.unchanged, r.indexed) == (7, 0)


class _Rows:
    def __init__(self, rows, fail: bool) -> None:
        self.rows, self.fail = rows, fail

    def iter_rows(self):
        yield from self.rows
        if self.fail:
            raise RuntimeError("an actor died and its retries ran out")


class _Session:
    @staticmethod
    def cpus() -> int:
        return 2


class ScriptedRunner(RayRunner):
    """RayRunner with Ray Data replaced by a script: run k yields the first ``take`` files' rows
    (the first one twice) and then fails or not."""

    def __init__(self, script: list[tuple[int, bool]], max_attempts: int = 3) -> None:
        self.session = _Session()  # type: ignore[assignment]
        self.options = RayOptions(max_attempts=max_attempts)
        self.attempts = 0
        self.last_error = None
        self.script = script
        self.asked: list[list[str]] = []

    def _dataset(self, files, workers):
        self.asked.append(sorted(f.path for f in files))
        take, fail = self.script[len(self.asked) - 1]
        rows = [{"path": f.path, "result": pickle.dumps(f.path)} for f in files[:take]]
        return _Rows(rows + rows[:1], fail)


def _files(n: int):
    from faceprint.library.walk import FoundFile

    return [FoundFile(f"/p/{k}.jpg", 1, 1) for k in range(n)]


def test_runner_drops_duplicates_and_resubmits_files_without_a_result() -> None:
    runner = ScriptedRunner([(2, True), (3, False)])
    got = list(runner.run(_files(5)))
    assert sorted(got) == [f"/p/{k}.jpg" for k in range(5)]  # each once: no duplicate, no gap
    assert runner.attempts == 2 and runner.asked[1] == ["/p/2.jpg", "/p/3.jpg", "/p/4.jpg"]


def test_runner_gives_up_after_max_attempts_with_the_cause() -> None:
    runner = ScriptedRunner([(1, True), (1, True)], max_attempts=2)
    got: list[str] = []
    with pytest.raises(EngineError, match=r"3 file\(s\) still without a result after 2 Ray run\(s\).*retries ran out"):
        for r in runner.run(_files(5)):
            got.append(r)
    assert len(got) == 2
