"""Fixtures for the gallery tests: the fake pipeline's module on sys.path, and a real PostgreSQL
server (with pgvector) started from the ``pgserver`` wheel in a temporary directory, once per
session; tests that need it skip with the reason when it cannot start."""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    import warnings

    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import
            warnings.simplefilter("ignore")
            import pgserver  # noqa: PLC0415
        import psycopg  # noqa: F401, PLC0415
    except ImportError as e:
        pytest.skip(f"PostgreSQL backend not testable: {e} (pip install -r requirements/test.txt)")
    # Not under pytest's base temp dir: every new pytest session (a colleague's, say) makes that
    # private (0700) again, and the server runs as another system user when started by root.
    base = Path(tempfile.mkdtemp(prefix="faceprint-pg-"))
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
        try:
            srv.cleanup()
        except Exception:  # noqa: BLE001
            pass
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory of stores of one backend; calling it again with the same ``key`` reopens the
    same gallery (a second "process" view)."""
    made: list[Any] = []
    if request.param == "sqlite":
        from faceprint.matching.store.sqlite import SqliteStore

        def factory(key: str = "g") -> Any:
            s = SqliteStore(tmp_path / f"{key}.sqlite")
            made.append(s)
            return s
    else:
        url = request.getfixturevalue("pg_url")
        from faceprint.matching.store.postgres import PostgresStore

        prefix = "t" + uuid.uuid4().hex[:10]

        def factory(key: str = "g") -> Any:
            s = PostgresStore(url, schema=f"{prefix}_{key}")
            made.append(s)
            return s

    factory.backend = request.param  # type: ignore[attr-defined]
    yield factory
    for s in made:
        s.close()
