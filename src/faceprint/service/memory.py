"""Giving memory back after large requests. glibc keeps freed heap memory in its arenas (one per
worker thread), so after a few 40-MP uploads the process stayed at several GB though nothing
referenced it; ``malloc_trim(0)`` returns the free pages to the system. It costs a few ms and is
run only when the process has grown by ``threshold`` bytes since the last trim."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_PAGE = 4096


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


class MemoryTrimmer:
    """``after_job()`` trims the heap when RSS is more than ``threshold`` bytes above the floor: the RSS
    after the last trim made while no other job ran. A trim made while other jobs still hold memory
    does not move the floor, so the job that finishes last still gives that memory back."""

    def __init__(self, threshold: int = 256 << 20) -> None:
        self.threshold = threshold
        self._trim = _load_trim()
        self._lock = threading.Lock()
        self._floor = _rss()
        self.trims = 0

    def after_job(self, idle: bool = True) -> None:
        """``idle``: no other job is running or queued."""
        if self._trim is None:
            return
        if _rss() - self._floor < self.threshold:
            return
        with self._lock:
            self._trim(0)
            self.trims += 1
            if idle:
                self._floor = _rss()
