"""Fixtures of the library's unit tests (the fake pipeline is in library_fakes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from library_fakes import FakePipeline, write_photo


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """3 red, 2 green, 2 blue photos in nested folders."""
    root = tmp_path / "photos"
    for k in range(3):
        write_photo(root / "a" / f"red{k}.png", "red", k)
    for k in range(2):
        write_photo(root / "b" / "c" / f"green{k}.png", "green", 10 + k)
        write_photo(root / f"blue{k}.png", "blue", 20 + k)
    return root


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL + pgvector server (pgserver) for the session, or skip."""
    from pg_helpers import pgserver_url

    yield from pgserver_url("faceprint-libpg-")


@pytest.fixture
def pg_db(pg_server: str) -> str:
    """The URL of a fresh, empty database."""
    from pg_helpers import fresh_database

    return fresh_database(pg_server)
