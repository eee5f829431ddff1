"""Running a function over many items on a few threads, results in input order.

Shared by the CLI (images processed at once: ``--jobs``) and the library's indexer, so neither
imports the other's internals. Importing this module loads nothing heavy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["map_ordered"]


def map_ordered(fn: Callable[[T], R], items: Iterable[T], jobs: int) -> Iterator[R]:
    """``map(fn, items)`` on ``jobs`` threads, results in input order; at most ``2 * jobs``
    items are in flight (decoded images stay bounded). ``jobs == 1`` runs in this thread."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="faceprint-job") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
