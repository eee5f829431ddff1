"""`faceprint index` options: the default pool, and what `auto` then picks."""

from __future__ import annotations

import pytest

from faceprint.cli.main import build_parser


def test_the_default_pool_is_auto() -> None:
    args = build_parser().parse_args(["index", "photos"])
    assert args.pool == "auto"
    assert build_parser().parse_args(["index", "photos", "--pool", "threads"]).pool == "threads"


def test_auto_uses_threads_for_few_photos_and_processes_for_many(monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.library import workers

    monkeypatch.setattr(workers, "available_mb", lambda: 64_000.0)
    assert workers.choose_pool("auto", 2, 10) == "threads"
    assert workers.choose_pool("auto", 2, 10_000) == "processes"
    assert workers.choose_pool("auto", 2, None) == "processes"  # unknown count: decided on memory alone
    monkeypatch.setattr(workers, "available_mb", lambda: workers.WORKER_MB * 1.5)
    assert workers.choose_pool("auto", 2, 10_000) == "threads"  # not enough memory for two workers
