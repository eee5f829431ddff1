"""Fixtures for the gallery tests: the fake pipeline's module on sys.path, and a real PostgreSQL
server (with pgvector) started from the ``pgserver`` wheel in a temporary directory, once per
session; tests that need it skip with the reason when it cannot start."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gallery_fakes import pgserver_url  # noqa: E402

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    yield from pgserver_url("faceprint-pg-")


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
