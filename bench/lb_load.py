"""A small HTTP load generator (stdlib only): each request on a new connection, at a fixed
rate (open loop) or as fast as `workers` connections allow (closed loop), to 127.0.0.1.

Used by `lb_bench.py` and by tests/integration/test_load_balancer.py (scale under load).
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of the successful requests, s
    errors: dict[str, int] = field(default_factory=dict)  # what failed, by kind
    bodies: dict[str, int] = field(default_factory=dict)  # successful bodies' first line

    def quantile(self, q: float) -> float:
        """A latency quantile in milliseconds (0 with no successful request)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.sent} sent, {self.failed} failed, {self.rate:.0f} req/s, "
                f"p50 {self.quantile(0.5):.1f} ms, p99 {self.quantile(0.99):.1f} ms")


class Load:
    """Requests to `url` from `workers` threads until `stop()`: `rps` requests a second in
    all (open loop: a late request is sent at once, not skipped), or as fast as possible
    when `rps` is None."""

    def __init__(self, url: str, rps: float | None = 300, workers: int = 16,
                 timeout: float = 10.0, keep_bodies: bool = False) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.rps, self.workers, self.timeout = rps, workers, timeout
        self.keep_bodies = keep_bodies
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.result = LoadResult()
        self._started = 0.0

    def _one(self) -> None:
        start = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        kind, body = None, ""
        try:
            conn.request("GET", self.path, headers={"Connection": "close"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                kind = f"HTTP {resp.status}"
            elif self.keep_bodies:
                body = data.decode(errors="replace").strip().splitlines()[-1:][0] \
                    if data.strip() else ""
        except (OSError, http.client.HTTPException) as exc:
            kind = type(exc).__name__
        finally:
            conn.close()
        elapsed = time.monotonic() - start
        with self._lock:
            r = self.result
            r.sent += 1
            if kind is None:
                r.latencies.append(elapsed)
                if self.keep_bodies:
                    r.bodies[body] = r.bodies.get(body, 0) + 1
            else:
                r.failed += 1
                r.errors[kind] = r.errors.get(kind, 0) + 1

    def _run(self, index: int) -> None:
        interval = self.workers / self.rps if self.rps else 0.0
        due = self._started + index * interval / self.workers
        while not self._stop.is_set():
            if interval:
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                due += interval
            self._one()

    def start(self) -> Load:
        self._started = time.monotonic()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        for t in self._threads:
            t.join()
        self.result.seconds = time.monotonic() - self._started
        return self.result

    def run_for(self, seconds: float) -> LoadResult:
        self.start()
        time.sleep(seconds)
        return self.stop()
