"""Bounded load test of the REST service on loopback.

Starts ``faceprint serve`` as a child process (fresh temporary FACEPRINT_HOME, 127.0.0.1, default
settings), enrolls a few people from face_recognition's example photos and from LFW, then runs
``--clients`` concurrent clients (threads with their own httpx connection, in this process, so
they do not share the server's GIL) for ``--duration`` seconds, sending a mix of ``/v1/verify``
(two photos) and ``/v1/identify`` (one photo) with real, small photos. A warm-up of the same load
comes first; the server's resident memory is read after it and at the end.

Pass criteria (exit status 1 when one fails): no 5xx at all (503 busy included: with the default
queue of 64 and 16 clients there is no reason to shed load), no transport error, every identify
answer under load the same as that photo's answer without load (no cross-talk between requests),
the server's RSS growing at most 10 % over the run (the peak of the last third of the 5 s samples
against the peak of the first third: the heap is trimmed after large requests, so single samples
swing), and a clean exit on SIGTERM. Answers wrong by
the ground truth (the model's own errors) are counted and reported, not judged.

    .venv/bin/python benchmarks/service_load.py [--duration 60] [--clients 16]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from _common import SHARED, write_result

EXAMPLES = SHARED / "face_recognition_examples" / "examples"
LFW = SHARED / "lfw" / "images"


def server_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    a = np.asarray(xs) * 1000
    return {
        "n": len(xs),
        "mean_ms": round(float(a.mean()), 1),
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "p99_ms": round(float(np.percentile(a, 99)), 1),
        "max_ms": round(float(a.max()), 1),
    }


def data_set(n_lfw: int) -> tuple[dict[str, list[Path]], list[tuple[Path, str, str | None]]]:
    """People to enroll (name -> photos) and probe photos: (path, who it is, the expected identify
    answer: the enrolled name, or None for someone never enrolled)."""
    if not EXAMPLES.is_dir():
        sys.exit(f"benchmark needs {EXAMPLES} (../shared/data beside the repo)")
    train = EXAMPLES / "knn_examples" / "train"
    enroll = {
        "obama": [EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg"],
        "biden": [EXAMPLES / "biden.jpg"],
        "alex_lacamoire": [EXAMPLES / "alex-lacamoire.png"],
        "lin_manuel_miranda": [EXAMPLES / "lin-manuel-miranda.png"],
        "kit_harington": [train / "kit_harington" / "john1.jpeg"],
        "rose_leslie": [train / "rose_leslie" / "img1.jpg"],
    }
    probes: list[tuple[Path, str, str | None]] = [
        (EXAMPLES / "obama_small.jpg", "obama", "obama"),
        (EXAMPLES / "obama-240p.jpg", "obama", "obama"),
        (EXAMPLES / "obama-480p.jpg", "obama", "obama"),
        (train / "kit_harington" / "john2.jpeg", "kit_harington", "kit_harington"),
        (train / "rose_leslie" / "img2.jpg", "rose_leslie", "rose_leslie"),
    ]
    if LFW.is_dir() and n_lfw > 0:
        people = sorted(d for d in LFW.iterdir() if d.is_dir())
        pairs = [d for d in people if len(list(d.glob("*.jpg"))) >= 2][:: 97][: n_lfw // 2]
        singles = [d for d in people if len(list(d.glob("*.jpg"))) == 1][:: 211][: n_lfw - len(pairs)]
        for d in pairs:  # enrolled from one photo, probed with another
            imgs = sorted(d.glob("*.jpg"))
            enroll[d.name] = [imgs[0]]
            probes.append((imgs[1], d.name, d.name))
        probes += [(next(d.glob("*.jpg")), d.name, None) for d in singles]  # never enrolled
    return enroll, probes


class Server:
    def __init__(self, home: Path, extra: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home.parent / "server.log"
        env = {**os.environ, "FACEPRINT_HOME": str(home)}
        cmd = [sys.executable, "-m", "faceprint.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port), *extra]
        with open(self.log_path, "wb") as log:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 120.0) -> float:
        import httpx

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                sys.exit(f"server exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        sys.exit(f"server not ready after {timeout} s")

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


class Load:
    """``clients`` threads, each with its own keep-alive connection, sending until a deadline."""

    def __init__(self, url: str, probes: list[tuple[bytes, str, str, str | None]], verify_share: float, seed: int) -> None:
        self.url = url
        self.probes = probes
        self.reference: dict[str, str | None] = {}  # identify answer per probe, asked one at a time, before the load
        self.verify_share = verify_share
        self.seed = seed
        self.lock = threading.Lock()

    @staticmethod
    def _identity(d: dict) -> str | None:
        """The identify answer for the largest face."""
        best = max(d["faces"], key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]), default=None)
        return None if best is None else best["identity"]

    def take_reference(self) -> None:
        import httpx

        with httpx.Client(timeout=120.0) as c:
            for data, fname, _, _ in self.probes:
                r = c.post(self.url + "/v1/identify", files=[("image", (fname, data, "application/octet-stream"))])
                r.raise_for_status()
                self.reference[fname] = self._identity(r.json())

    def _one(self, client, rng: random.Random) -> tuple[str, int | str, float, bool | None, bool | None]:
        """(route, status or transport error, seconds, correct by ground truth, same as the reference)."""
        import httpx

        if rng.random() < self.verify_share:
            (a, fa, pa, _), (b, fb, pb, _) = rng.sample(self.probes, 2)
            route = "/v1/verify"
            files = [("image_a", (fa, a, "application/octet-stream")), ("image_b", (fb, b, "application/octet-stream"))]
        else:
            data, fname, _, expect = rng.choice(self.probes)
            route = "/v1/identify"
            files = [("image", (fname, data, "application/octet-stream"))]
        t0 = time.perf_counter()
        try:
            r = client.post(self.url + route, files=files)
        except httpx.HTTPError as e:
            return route, type(e).__name__, time.perf_counter() - t0, None, None
        dt = time.perf_counter() - t0
        if r.status_code != 200:
            return route, r.status_code, dt, None, None
        d = r.json()
        if route == "/v1/verify":
            return route, 200, dt, d["is_match"] == (pa == pb), None
        got = self._identity(d)
        return route, 200, dt, got == expect, got == self.reference[fname]

    def run(self, clients: int, seconds: float) -> tuple[list[tuple[str, int | str, float, bool | None, bool | None]], float]:
        import httpx

        out: list[tuple[str, int | str, float, bool | None, bool | None]] = []
        go = threading.Barrier(clients + 1)
        deadline = [0.0]

        def worker(i: int) -> None:
            rng = random.Random(self.seed * 1000 + i)
            mine = []
            with httpx.Client(timeout=120.0) as c:
                go.wait()
                while time.perf_counter() < deadline[0]:
                    mine.append(self._one(c, rng))
            with self.lock:
                out.extend(mine)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        deadline[0] = t0 + seconds
        go.wait()
        for t in threads:
            t.join()
        return out, time.perf_counter() - t0


def metric(url: str, name: str) -> float | None:
    import httpx

    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds of load")
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds of the same load before the measurement")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--verify-share", type=float, default=0.5, help="fraction of requests that are /v1/verify")
    ap.add_argument("--lfw", type=int, default=24, help="LFW photos among the probes (half of them enrolled people)")
    ap.add_argument("--max-growth-pct", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--server-arg", action="append", default=[], help="extra `faceprint serve` argument (repeatable)")
    args = ap.parse_args()
    import httpx

    enroll, probe_paths = data_set(args.lfw)
    probes = [(p.read_bytes(), p.name, person, who) for p, person, who in probe_paths]
    with tempfile.TemporaryDirectory(prefix="faceprint-load-") as tmp:
        server = Server(Path(tmp) / "home", args.server_arg)
        try:
            ready_s = server.wait_ready()
            rss_ready = server_rss_mb(server.proc.pid)
            with httpx.Client(timeout=120.0) as c:
                for name, paths in enroll.items():
                    files = [("images", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
                    r = c.post(server.url + "/v1/enroll", files=files, data={"name": name, "select": "largest"})
                    if r.status_code != 201:
                        sys.exit(f"enrolling {name} failed: {r.status_code} {r.text}")
                n_ids = len(c.get(server.url + "/v1/identities").json()["identities"])
            print(f"server ready in {ready_s:.1f} s (RSS {rss_ready:.0f} MB); enrolled {n_ids} people; "
                  f"{len(probes)} probe photos; {args.clients} clients, {args.verify_share:.0%} verify", flush=True)

            load = Load(server.url, probes, args.verify_share, args.seed)
            load.take_reference()
            warm, _ = load.run(args.clients, args.warmup)
            rss_start = server_rss_mb(server.proc.pid)
            print(f"warm-up: {len(warm)} requests; server RSS {rss_start:.1f} MB", flush=True)

            timeline: list[dict[str, float]] = []
            stop_sampling = threading.Event()

            def sample() -> None:
                t0 = time.perf_counter()
                while not stop_sampling.wait(5.0):
                    timeline.append(
                        {"t_s": round(time.perf_counter() - t0, 1), "rss_mb": round(server_rss_mb(server.proc.pid), 1)}
                    )

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            records, elapsed = load.run(args.clients, args.duration)
            stop_sampling.set()
            sampler.join()
            rss_end = server_rss_mb(server.proc.pid)
            rss_gauge = metric(server.url, "faceprint_process_resident_memory_bytes")
            rejected = metric(server.url, "faceprint_work_rejected_total")
            timeouts = metric(server.url, "faceprint_work_timeouts_total")
        finally:
            rc = server.stop()
        log_tail = server.log_path.read_text(errors="replace")[-2000:]

    by_route: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    wrong: Counter = Counter()  # against the ground truth (the model's errors, reported)
    inconsistent = 0  # identify answers that differ from the same photo's answer without load (service errors)
    for route, status, dt, ok, same in records:
        statuses[route][str(status)] += 1
        statuses["all"][str(status)] += 1
        if status == 200:
            by_route[route].append(dt)
            by_route["all"].append(dt)
            wrong[route] += not ok
            inconsistent += same is False
    n = len(records)
    n_5xx = sum(v for k, v in statuses["all"].items() if k.isdigit() and int(k) >= 500)
    n_transport = sum(v for k, v in statuses["all"].items() if not k.isdigit())
    growth_end = 100.0 * (rss_end - rss_start) / rss_start
    # The leak check compares peaks, not instants: the service trims its heap after large requests
    # (service/memory.py), so one sample swings by a quarter either way under load, and with the SFace default the
    # resident set reaches its plateau some seconds into the load. A leak grows from one third to the next.
    third = max(1, len(timeline) // 3)
    first_peak = max((x["rss_mb"] for x in timeline[:third]), default=rss_start)
    last_peak = max((x["rss_mb"] for x in timeline[-third:]), default=rss_end)
    growth = 100.0 * (last_peak - first_peak) / first_peak
    latency = {route: percentiles(xs) for route, xs in sorted(by_route.items())}
    checks = {
        "zero_5xx": n_5xx == 0,
        "zero_transport_errors": n_transport == 0,
        "answers_same_as_without_load": inconsistent == 0,
        f"rss_growth_le_{args.max_growth_pct:g}pct": growth <= args.max_growth_pct,
        "server_exit_0": rc == 0,
    }

    print(f"\n{n} requests in {elapsed:.1f} s: {n / elapsed:.2f} req/s ({args.clients} clients)")
    print(f"{'route':<14}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}   statuses")
    for route in ("/v1/identify", "/v1/verify", "all"):
        lat = latency.get(route, {})
        print(f"{route:<14}{lat.get('n', 0):>7}{lat.get('p50_ms', float('nan')):>10.0f}{lat.get('p95_ms', float('nan')):>10.0f}"
              f"{lat.get('p99_ms', float('nan')):>10.0f}{lat.get('max_ms', float('nan')):>10.0f}   {dict(statuses[route])}")
    print(f"answers wrong by the ground truth (model errors): {dict(wrong)}; identify answers differing from "
          f"the unloaded answer: {inconsistent}; work pool rejected {rejected:.0f}, timed out {timeouts:.0f}")
    print(f"server RSS: {rss_ready:.1f} MB ready, {rss_start:.1f} MB after warm-up, {rss_end:.1f} MB at the end "
          f"({growth_end:+.2f} %); peak of the first third of the run {first_peak:.1f} MB, of the last third "
          f"{last_peak:.1f} MB ({growth:+.2f} %); gauge {rss_gauge / 2**20 if rss_gauge else float('nan'):.1f} MB; "
          f"exit status {rc}")
    for k, v in checks.items():
        print(f"  {'PASS' if v else 'FAIL'}  {k}")
    if not all(checks.values()):
        print(log_tail, file=sys.stderr)

    write_result(
        "service_load",
        {
            "settings": {
                "clients": args.clients,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "verify_share": args.verify_share,
                "server_args": args.server_arg,
                "server": "faceprint serve, default settings (2 workers, max_queue 64), loopback",
            },
            "gallery": {"identities": n_ids, "probe_photos": len(probes)},
            "requests": n,
            "elapsed_s": round(elapsed, 2),
            "throughput_rps": round(n / elapsed, 2),
            "latency": latency,
            "statuses": {k: dict(v) for k, v in statuses.items()},
            "wrong_by_ground_truth": dict(wrong),
            "identify_answers_differing_from_unloaded": inconsistent,
            "work_pool": {"rejected": rejected, "timeouts": timeouts},
            "rss_mb": {
                "ready": round(rss_ready, 1),
                "after_warmup": round(rss_start, 1),
                "end": round(rss_end, 1),
                "growth_end_vs_after_warmup_pct": round(growth_end, 2),
                "peak_first_third": round(first_peak, 1),
                "peak_last_third": round(last_peak, 1),
                "growth_pct": round(growth, 2),
                "growth_rule": "peak RSS of the last third of the 5 s samples against the peak of the first third",
                "timeline": timeline,
            },
            "server_exit_status": rc,
            "checks": checks,
            "passed": all(checks.values()),
        },
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
