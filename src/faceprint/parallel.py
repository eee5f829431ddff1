"""Running a function over many items on a few threads, results in input order.

Shared by the CLI (images processed at once: ``--jobs``) and the library's indexer, so neither
imports the other's internals. Importing this module loads nothing heavy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["map_ordered", "map_ordered_on"]


def map_ordered(fn: Callable[[T], R], items: Iterable[T], jobs: int, window: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` on ``jobs`` threads, results in input order; at most ``window`` (default
    ``2 * jobs``: decoded images stay bounded) items are in flight. ``jobs == 1`` runs in this thread."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="faceprint-job") as pool:
        yield from map_ordered_on(pool, fn, items, window or 2 * jobs)


def map_ordered_on(executor: Executor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """``map(fn, items)`` on ``executor`` (threads or processes), results in input order, at most
    ``window`` items submitted and not yet yielded."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
