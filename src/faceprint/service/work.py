"""CPU work off the event loop: a bounded thread pool with a queue limit and a time limit.

Detection and embedding release the GIL in onnxruntime/dlib, so threads run them in parallel. At
most ``workers`` jobs run at once and at most ``max_queue`` wait; beyond that a request is answered
``503 busy`` at once (with ``Retry-After``) instead of piling up memory. A job that exceeds the
request time limit is answered ``504 timeout`` and its :class:`~faceprint.cancel.CancelToken` is
cancelled: the job stops at its next checkpoint (between images) and frees its thread, and it never
writes after the 504. A job already past its commit point when the limit passes is waited for
(a single transaction) and answered normally, so ``504`` always means nothing was written.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from faceprint.cancel import CancelToken, running_under
from faceprint.service.errors import ServiceError
from faceprint.service.memory import MemoryTrimmer

T = TypeVar("T")


class WorkPool:
    def __init__(self, workers: int, max_queue: int, timeout_s: float) -> None:
        self.workers = workers
        self.timeout_s = timeout_s
        self.trimmer = MemoryTrimmer()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="faceprint-work")
        self._slots = threading.BoundedSemaphore(workers + max_queue)
        self._lock = threading.Lock()
        self.pending = 0  # submitted and not finished (running + queued)
        self.rejected = 0
        self.timeouts = 0
        self.closed = False

    def _done(self, _: Any) -> None:
        with self._lock:
            self.pending -= 1
        self._slots.release()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.rejected += 1
            raise ServiceError(503, "busy", "the server is at capacity; retry shortly", {"Retry-After": "1"})
        with self._lock:
            self.pending += 1
        token = CancelToken()

        def job() -> T:
            try:
                with running_under(token):
                    return fn(*args, **kwargs)
            finally:
                with self._lock:
                    idle = self.pending <= 1  # this job is still counted
                self.trimmer.after_job(idle)  # give a large request's memory back to the system

        try:
            fut = self._executor.submit(job)
        except BaseException:
            self._done(None)
            raise
        fut.add_done_callback(self._done)
        wrapped = asyncio.wrap_future(fut)
        try:
            return await asyncio.wait_for(asyncio.shield(wrapped), self.timeout_s)
        except TimeoutError:
            if not token.cancel():  # the job is committing: its answer is the truth, wait for it
                return await wrapped
            wrapped.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warning
            with self._lock:
                self.timeouts += 1
            raise ServiceError(504, "timeout", f"the request took longer than {self.timeout_s:g} s") from None

    def shutdown(self) -> None:
        """Finish queued and running jobs, then stop the threads."""
        self.closed = True
        self._executor.shutdown(wait=True)
