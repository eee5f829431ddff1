"""The Ray engine's wiring, without Ray: nothing imports Ray until a Ray job runs, options are
checked, a missing Ray is a clear error (the engine itself is tested in
tests/integration/test_library_ray.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from faceprint.errors import EngineError, InvalidInput
from faceprint.library.engine import make_engine
from faceprint.library.local import LocalEngine
from faceprint.library.ray_engine import RayEngine, RayOptions, import_ray
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
