"""A small HTTP load generator (stdlib only): each request on a new connection, at a fixed
rate (open loop) or as fast as `workers` connections allow (closed loop), to 127.0.0.1.

`Load` runs in this process's threads; `ProcessLoad` splits the same load over several
processes, for when one Python process cannot keep the rate on a busy machine (its GIL, not
the network, is then the limit: `LoadResult.late` counts the requests sent behind schedule).

Used by `lb_bench.py`, `deploy_bench.py` and tests/integration/test_load_balancer.py (scale
under load).
"""

from __future__ import annotations

import contextlib
import http.client
import multiprocessing
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

# A request sent this much after its due time (open loop) counts as late: the generator, not
# the server, was behind.
LATE = 0.05
# Failures kept with their time (enough to place every failure of a bench run in time).
MAX_FAILURES_KEPT = 10_000


@dataclass
class LoadResult:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of the successful requests, s
    errors: dict[str, int] = field(default_factory=dict)  # what failed, by kind
    bodies: dict[str, int] = field(default_factory=dict)  # successful bodies' first line
    # (time.monotonic() when the request was sent, kind) of the first MAX_FAILURES_KEPT
    # failures; monotonic time is one clock for every process of the machine.
    failures: list[tuple[float, str]] = field(default_factory=list)
    # Requests sent in each whole second of time.monotonic().
    per_second: dict[int, int] = field(default_factory=dict)
    late: int = 0  # requests sent more than LATE s behind schedule (open loop)
    max_lag: float = 0.0  # the most any request was behind schedule, s

    def quantile(self, q: float) -> float:
        """A latency quantile in milliseconds (0 with no successful request)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def min_rate(self) -> int:
        """The fewest requests sent in one whole second (the first and last, partial
        seconds left out); 0 for a run shorter than three seconds."""
        secs = sorted(self.per_second)
        inner = [self.per_second.get(s, 0) for s in range(secs[0] + 1, secs[-1])] \
            if len(secs) > 2 else []
        return min(inner) if inner else 0

    def failed_between(self, start: float, end: float) -> int:
        """Failures sent within [start, end) (time.monotonic() values)."""
        return sum(1 for t, _ in self.failures if start <= t < end)

    def merge(self, other: LoadResult) -> None:
        """Add another generator's counts (run at the same time) to these."""
        self.sent += other.sent
        self.failed += other.failed
        self.latencies.extend(other.latencies)
        for mine, theirs in ((self.errors, other.errors), (self.bodies, other.bodies),
                             (self.per_second, other.per_second)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        self.failures = sorted(self.failures + other.failures)[:MAX_FAILURES_KEPT]
        self.late += other.late
        self.max_lag = max(self.max_lag, other.max_lag)

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

    def _one(self, lag: float) -> None:
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
            second = int(start)
            r.per_second[second] = r.per_second.get(second, 0) + 1
            if lag > LATE:
                r.late += 1
            r.max_lag = max(r.max_lag, lag)
            if kind is None:
                r.latencies.append(elapsed)
                if self.keep_bodies:
                    r.bodies[body] = r.bodies.get(body, 0) + 1
            else:
                r.failed += 1
                r.errors[kind] = r.errors.get(kind, 0) + 1
                if len(r.failures) < MAX_FAILURES_KEPT:
                    r.failures.append((start, kind))

    def _run(self, index: int) -> None:
        interval = self.workers / self.rps if self.rps else 0.0
        due = self._started + index * interval / self.workers
        while not self._stop.is_set():
            lag = 0.0
            if interval:
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                lag = max(0.0, -delay)
                due += interval
            self._one(lag)

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
            t.join(self.timeout + 5)  # a request in flight ends by its own timeout
        self.result.seconds = time.monotonic() - self._started
        return self.result

    def run_for(self, seconds: float) -> LoadResult:
        self.start()
        time.sleep(seconds)
        return self.stop()


def _child(conn: Any, url: str, rps: float | None, workers: int, timeout: float,
           limit: float) -> None:
    """One process of a ProcessLoad: a Load started on "go", stopped on "stop", when the
    parent goes away (the pipe closes) or after `limit` seconds, whichever comes first."""
    # Ctrl-C reaches the whole process group; the parent decides when the load stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    load = Load(url, rps, workers, timeout)
    conn.send("ready")
    if not conn.poll(60):
        return
    with contextlib.suppress(EOFError):
        conn.recv()
    load.start()
    try:
        conn.poll(limit)
    finally:
        result = load.stop()
    with contextlib.suppress(OSError):
        conn.send(asdict(result))


class ProcessLoad:
    """The load of `Load(url, rps, workers)` split over `processes` processes (each sends
    rps / processes requests a second from workers / processes threads); the same
    start/stop interface, one merged LoadResult. Every process stops after `limit` seconds
    even if never told to (the parent killed)."""

    def __init__(self, url: str, rps: float | None = 300, workers: int = 24,
                 processes: int = 2, timeout: float = 10.0, limit: float = 3600.0) -> None:
        self.url, self.rps, self.timeout, self.limit = url, rps, timeout, limit
        self.processes = max(1, processes)
        self.workers = max(1, workers // self.processes)
        self._procs: list[tuple[Any, Any]] = []  # (process, parent end of its pipe)
        self._started = 0.0

    def start(self) -> ProcessLoad:
        # Spawned, not forked: the parent has threads (Docker's event stream, a client pool).
        ctx = multiprocessing.get_context("spawn")
        share = self.rps / self.processes if self.rps else None
        try:
            for _ in range(self.processes):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_child, daemon=True, args=(
                    child, self.url, share, self.workers, self.timeout, self.limit))
                proc.start()
                child.close()
                self._procs.append((proc, parent))
            for _, parent in self._procs:
                if not parent.poll(60):
                    raise RuntimeError("a load generator process did not start in 60 s")
                parent.recv()
        except BaseException:
            self._kill()
            raise
        self._started = time.monotonic()
        for _, parent in self._procs:
            parent.send("go")
        return self

    def stop(self) -> LoadResult:
        seconds = time.monotonic() - self._started
        for _, parent in self._procs:
            with contextlib.suppress(OSError):
                parent.send("stop")
        out = LoadResult()
        try:
            for _, parent in self._procs:
                if parent.poll(self.timeout + 30):
                    data = parent.recv()
                    data["failures"] = [tuple(x) for x in data["failures"]]
                    data["per_second"] = {int(k): v for k, v in data["per_second"].items()}
                    out.merge(LoadResult(**data))
        finally:
            self._kill()
        out.seconds = seconds
        return out

    def _kill(self) -> None:
        for proc, parent in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            parent.close()
        self._procs = []
