"""Cooperative cancellation of work running on a thread: a :class:`CancelToken` installed for the
current thread (:func:`running_under`), :func:`checkpoint` between steps, :func:`commit_point`
right before a write that must not happen once the caller has given up.

The service's work pool (``service/work.py``) gives every job a token; when a request times out it
cancels the token, so the job stops at its next checkpoint (freeing the worker) and never commits
after its client was answered ``504``. The token decides the race atomically: once a job has passed
its commit point, cancelling fails and the pool waits for the (short) write instead of answering
504 — so a 504 always means "nothing was written". Library code without a token runs unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from faceprint.errors import FaceprintError

__all__ = ["CancelToken", "Cancelled", "checkpoint", "commit_point", "running_under"]


class Cancelled(FaceprintError):
    """The work was cancelled (its caller gave up); nothing after the last checkpoint was done."""

    code = "cancelled"


class CancelToken:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._committing = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> bool:
        """Cancel, unless the work has already passed its commit point (then False: let it finish)."""
        with self._lock:
            if self._committing:
                return False
            self._cancelled = True
            return True

    def check(self) -> None:
        if self._cancelled:
            raise Cancelled("cancelled: the request's time limit passed")

    def begin_commit(self) -> None:
        with self._lock:
            self.check()
            self._committing = True


_local = threading.local()


@contextmanager
def running_under(token: CancelToken) -> Iterator[CancelToken]:
    """Install ``token`` for the current thread while the block runs."""
    previous = getattr(_local, "token", None)
    _local.token = token
    try:
        yield token
    finally:
        _local.token = previous


def checkpoint() -> None:
    """Raise :class:`Cancelled` when the current thread's work was cancelled."""
    token: CancelToken | None = getattr(_local, "token", None)
    if token is not None:
        token.check()


def commit_point() -> None:
    """Checkpoint, then forbid cancellation: the caller is about to write."""
    token: CancelToken | None = getattr(_local, "token", None)
    if token is not None:
        token.begin_commit()
