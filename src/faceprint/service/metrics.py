"""Prometheus text exposition (format 0.0.4) of the service's counters, without a client library:
request counts and latency histograms by route template and status, requests in flight, work
queue, gallery size and process memory. Labels never carry request data (no names, no images)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

#: methods counted under their own label; any other (made-up) method is counted as "other", so a
#: client cannot grow the exposition without bound
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.in_flight = 0
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.hist: dict[tuple[str, str], list[int]] = {}
        self.hist_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.gauges: dict[str, Callable[[], float | None]] = {}

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        with self._lock:
            self.in_flight -= 1
            self.requests[(method, route, status)] += 1
            key = (method, route)
            h = self.hist.get(key)
            if h is None:
                h = self.hist[key] = [0] * (len(BUCKETS) + 1)
            i = next((j for j, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
            h[i] += 1
            self.hist_sum[key] += seconds

    def gauge(self, name: str, fn: Callable[[], float | None]) -> None:
        self.gauges[name] = fn

    def render(self) -> str:
        out: list[str] = []
        def esc(s: str) -> str:
            return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

        with self._lock:
            out += [
                "# HELP faceprint_http_requests_total HTTP requests by route and status.",
                "# TYPE faceprint_http_requests_total counter",
            ]
            for (m, r, s), n in sorted(self.requests.items()):
                out.append(f'faceprint_http_requests_total{{method="{m}",route="{esc(r)}",status="{s}"}} {n}')
            out += [
                "# HELP faceprint_http_request_duration_seconds Request latency.",
                "# TYPE faceprint_http_request_duration_seconds histogram",
            ]
            for (m, r), h in sorted(self.hist.items()):
                lab = f'method="{m}",route="{esc(r)}"'
                cum = 0
                for b, c in zip(BUCKETS, h[:-1], strict=True):
                    cum += c
                    out.append(f'faceprint_http_request_duration_seconds_bucket{{{lab},le="{b}"}} {cum}')
                cum += h[-1]
                out.append(f'faceprint_http_request_duration_seconds_bucket{{{lab},le="+Inf"}} {cum}')
                out.append(f"faceprint_http_request_duration_seconds_sum{{{lab}}} {self.hist_sum[(m, r)]:.6f}")
                out.append(f"faceprint_http_request_duration_seconds_count{{{lab}}} {cum}")
            out += [
                "# HELP faceprint_http_requests_in_flight Requests being handled.",
                "# TYPE faceprint_http_requests_in_flight gauge",
                f"faceprint_http_requests_in_flight {self.in_flight}",
            ]
        gauges: dict[str, Any] = {
            "faceprint_process_resident_memory_bytes": _rss_bytes,
            "faceprint_uptime_seconds": lambda: time.time() - self.started,
            **self.gauges,
        }
        for name, fn in gauges.items():
            try:
                v = fn()
            except Exception:  # a gauge must never break the scrape
                v = None
            if v is not None:
                out += [f"# TYPE {name} gauge", f"{name} {float(v):.6g}" if isinstance(v, float) else f"{name} {v}"]
        return "\n".join(out) + "\n"
