"""Deployments and recovery under load (issue 9), on the real engine through the real CLI.

One fleet, made and destroyed through the CLI: a cluster, a service of TASKS busybox httpd
tasks (container health check every HC_INTERVAL s), a target group (check every TG_INTERVAL
s, `deregistration_delay` DEREG s) and an HAProxy load balancer listening on 127.0.0.1. All
the while the parts run, `lb_load` sends RPS requests a second to the listener, each on a new
connection (open loop, split over PROCESSES processes: one Python process alone falls behind
on a busy 2-core machine).

1. deploy: DEPLOYMENTS rolling deployments in a row through `fgform apply`, each a real new
   revision (the task's environment changes). Requests sent and failed, p50/p99 latency, the
   achieved rate; each deployment's wall time against its floor, and where its time went.
2. bad: a revision whose health check fails (circuit breaker with rollback, as
   examples/bad-deploy): failed requests, and the time from apply start until the service runs
   TASKS healthy tasks of the old revision again, all registered, with no new task left.
3. recover: with `fgform reconcile -watch` running, kill 1, then 3 of the TASKS task
   containers: time until the service is back at full health (TASKS healthy tasks, each one
   registered and UP in the proxy, nothing else registered) and the requests failed meanwhile,
   each against its target; and what brought each task back (Docker restarting the same task,
   or reconcile starting a new one). `--kill docker` is `docker kill`, which Docker counts as
   a stop by hand (its restart policy never restarts such a container); `--kill crash` kills
   the task's process from the host, a crash, which a restart policy does restart.

    python bench/deploy_bench.py [--parts deploy,bad,recover] [--rps 300] [--processes 2]
        [--deployments 5] [--tasks 4] [--kill docker,crash] [--min-healthy 100]
        [--max-percent 200] [--dereg 4] [--hc-interval 1] [--tg-interval 1]

How the figures are taken: Docker's event stream for the fleet's containers (create, start,
health_status, kill, destroy, with the engine's nanosecond times) places each task's steps in
time; the proxy's access log (one line per request, naming the target that served it) says
when a new task first served a request; for part 2 and 3 a sampler reads the service's
containers (one list call) and the proxy's servers (`show stat` on its runtime API, what
`fgform lb status` reads) every SAMPLE s.

Everything is made in a fresh directory and destroyed at the end, then whatever carries the
fleet's lineage or cluster label is removed (also after a failure, Ctrl-C or SIGTERM), and
the script says whether anything was left. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from fleet_common import (  # noqa: E402
    API_VERSION,
    FGFORM,
    HTTPD_START,
    attrs,
    client,
    ensure_image,
    free_subnet,
    machine,
    state,
)
from lb_load import LoadResult, ProcessLoad  # noqa: E402

from fgform.deployment import Counts, next_step  # noqa: E402
from fgform.fleet.docker.lb_status import target_state  # noqa: E402
from fgform.fleet.docker.proxy import parse_stat, runtime  # noqa: E402
from fgform.fleet.haproxy import backend_name, server_name  # noqa: E402

# @NAME@-style placeholders: the HCL has ${...} of its own.
CONFIG = """
variable "app_version" {
  type    = string
  default = "0"
}

variable "health_path" {
  type    = string
  default = "/health"
}

resource "fg_cluster" "main" {
  name       = "@NAME@"
  cidr_block = "@CIDR@"
  capacity {
    instance_count  = 2
    instance_cpu    = 4096
    instance_memory = 2048
  }
}

resource "fg_task_definition" "web" {
  family = "@NAME@-web"
  cpu    = 128
  memory = 64
  container "web" {
    image        = "@IMAGE@"
    command      = ["sh", "-c", "echo @START@ | busybox base64 -d > /s.sh && exec sh /s.sh"]
    stop_timeout = 1
    environment = {
      VERSION = var.app_version
    }
    port_mapping {
      container_port = 8080
    }
    health_check {
      command  = ["CMD-SHELL", "busybox wget -q -O /dev/null http://127.0.0.1:8080${var.health_path} || exit 1"]
      interval = @HC_INTERVAL@
      retries  = 3
    }
  }
}

resource "fg_target_group" "web" {
  port                 = 8080
  deregistration_delay = @DEREG@
  health_check {
    path     = "/health"
    interval = @TG_INTERVAL@
  }
}

resource "fg_load_balancer" "front" {
  cluster = fg_cluster.main.id
  listener {
    port                 = @PORT@
    default_target_group = fg_target_group.web.id
  }
}

resource "fg_service" "web" {
  name                 = "web"
  cluster              = fg_cluster.main.id
  task_definition      = fg_task_definition.web.arn
  desired_count        = @TASKS@
  steady_state_timeout = 120
  load_balancer {
    target_group   = fg_target_group.web.id
    container_name = "web"
    container_port = 8080
  }
  deployment {
    minimum_healthy_percent = @LO@
    maximum_percent         = @HI@
    circuit_breaker {
      enable   = true
      rollback = true
    }
  }
}
"""

SERVICE = "fg_service.web"
SAMPLE = 0.25  # seconds between two samples of the service's health (parts 2 and 3)
SETTLE = 2.0  # seconds of load before and after each measured operation


# -- running fgform ------------------------------------------------------------------------------
@dataclasses.dataclass
class Run:
    rc: int
    out: str
    wall: float
    start: float  # epoch seconds, when the process was started


def fgform_env() -> dict[str, str]:
    env = {**os.environ, "DOCKER_API_VERSION": API_VERSION}
    # As an installed fgform runs: with its bytecode cached (see README.md).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def fg(d: Path, *args: str, check: bool = True, timeout: float = 600) -> Run:
    """One fgform command in a fresh process. Ctrl-C (or a timeout) here interrupts it as a
    user's Ctrl-C does (SIGINT: it stops cleanly and saves state), then waits for it."""
    start, t0 = time.time(), time.monotonic()
    proc = subprocess.Popen([*FGFORM, f"-chdir={d}", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            env=fgform_env(), start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        stop_process(proc, 120)
        raise
    run = Run(proc.returncode, out, time.monotonic() - t0, start)
    if check and run.rc != 0:
        raise RuntimeError(f"fgform {' '.join(args)} exited {run.rc}:\n{out[-4000:]}")
    return run


def stop_process(proc: subprocess.Popen, wait: float) -> None:
    """SIGINT, then up to `wait` seconds for a clean exit, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=30)


class Watcher:
    """`fgform reconcile -watch` in the background, its output lines kept with their times."""

    def __init__(self, d: Path) -> None:
        self.lines: list[tuple[float, str]] = []  # (epoch seconds, line)
        self.proc = subprocess.Popen(
            [*FGFORM, f"-chdir={d}", "reconcile", "-watch"], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=fgform_env(),
            start_new_session=True)
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time(), line.rstrip()))
            if SERVICE in line:
                self._first.set()

    def ready(self, timeout: float = 60) -> bool:
        """Whether its first pass is done (it printed a line about the service)."""
        return self._first.wait(timeout)

    def since(self, t: float) -> list[tuple[float, str]]:
        return [(at, line) for at, line in list(self.lines) if at >= t]

    def stop(self) -> None:
        # Ctrl-C, as a user stops it: it finishes the pass in progress and releases the lock.
        stop_process(self.proc, 30)
        self._thread.join(5)


# -- the fleet as Docker and the proxy see it ------------------------------------------------------
@dataclasses.dataclass
class Event:
    t: float  # epoch seconds (the engine's clock, the same machine's)
    action: str  # create, start, health_status: healthy, kill, die, destroy...
    cid: str
    task: str  # fgform.task-id
    revision: str  # fgform.task-definition


class Events:
    """Docker's events for the task containers of one lineage, kept for the whole run."""

    ACTIONS = ["create", "start", "health_status", "kill", "die", "stop", "destroy", "restart"]

    def __init__(self, c: Any, lineage: str) -> None:
        self.rows: list[Event] = []
        self._lock = threading.Lock()
        self._stream = c.api.events(decode=True, filters={
            "type": ["container"], "event": self.ACTIONS,
            "label": [f"fgform.lineage={lineage}", f"fgform.address={SERVICE}"]})
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        with contextlib.suppress(Exception):  # closed at the end
            for ev in self._stream:
                attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                row = Event(ev.get("timeNano", 0) / 1e9, ev.get("Action") or ev.get("status"),
                            ev.get("id") or "", attrs.get("fgform.task-id", ""),
                            attrs.get("fgform.task-definition", ""))
                with self._lock:
                    self.rows.append(row)

    def between(self, t0: float, t1: float) -> list[Event]:
        with self._lock:
            return [e for e in self.rows if t0 <= e.t <= t1]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


def first(events: list[Event], action: str, task: str) -> float | None:
    return next((e.t for e in events if e.task == task and e.action == action), None)


def last_time(events: list[Event], action: str, tasks: set[str]) -> float | None:
    ts = [e.t for e in events if e.task in tasks and e.action == action]
    return max(ts) if ts else None


def docker_time(stamp: str) -> float:
    """Epoch seconds of Docker's RFC 3339 nano timestamp."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    base = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def first_served(c: Any, proxy_id: str, since: float) -> dict[str, float]:
    """Server name -> when (epoch seconds) it first received a request, from the proxy's
    access log ("%tr %ci %HM %HU %ST %b/%s %Ta").

    The time is HAProxy's own `%tr` (request received, ms): Docker's timestamp on a log line
    is when the engine read it, seconds late under load. `%tr` is in the proxy's time zone,
    so the offset to UTC is taken (in quarter hours) from the engine's timestamp."""
    out: dict[str, float] = {}
    raw = c.api.logs(proxy_id, stdout=True, stderr=True, timestamps=True, since=int(since))
    offset = None
    for line in raw.decode(errors="replace").splitlines():
        f = line.split()
        if len(f) < 8 or "/" not in f[6] or not f[5].isdigit():
            continue
        try:
            got = dt.datetime.strptime(f[1], "%d/%b/%Y:%H:%M:%S.%f").replace(
                tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
        if offset is None:
            offset = round((docker_time(f[0]) - got) / 900) * 900
        name = f[6].split("/", 1)[1]
        if name not in out:
            out[name] = got + offset
    return out


@dataclasses.dataclass
class Health:
    t: float  # epoch seconds, when the sample was complete
    healthy: dict[str, str]  # task id -> address, running tasks Docker reports healthy
    revisions: dict[str, str]  # task id -> revision, every running task of the service
    servers: dict[str, tuple[str, str]]  # the backend's servers: name -> (address, state)

    def full(self, tasks: int, revision: str | None = None) -> bool:
        """`tasks` healthy tasks, each registered (under its own name: a new task may get a
        dead one's address) and UP, nothing else registered; with `revision`, no task of
        another revision running."""
        want = {server_name(t): (ip, "healthy") for t, ip in self.healthy.items()}
        ok = len(self.healthy) == tasks and self.servers == want
        return ok and (revision is None or set(self.revisions.values()) == {revision})


def sample(c: Any, lineage: str, proxy: Any, backend: str) -> Health:
    rows = c.api.containers(filters={"label": [f"fgform.lineage={lineage}",
                                               f"fgform.address={SERVICE}"]})
    healthy, revisions = {}, {}
    for r in rows:
        labels = r.get("Labels") or {}
        task = labels.get("fgform.task-id", "")
        revisions[task] = labels.get("fgform.task-definition", "")
        if "(healthy)" in (r.get("Status") or ""):
            for net in ((r.get("NetworkSettings") or {}).get("Networks") or {}).values():
                if net.get("IPAddress"):
                    healthy[task] = net["IPAddress"]
    stats = parse_stat(runtime(proxy, "show stat -1 4 -1"))
    servers = {sv: (row.get("addr", "").rsplit(":", 1)[0], target_state(row.get("status", "")))
               for (px, sv), row in stats.items()
               if px == backend and sv not in ("BACKEND", "FRONTEND")}
    return Health(time.time(), healthy, revisions, servers)


class Sampler:
    """`sample` every SAMPLE seconds in a thread, the samples kept."""

    def __init__(self, c: Any, lineage: str, proxy: Any, backend: str) -> None:
        self.args = (c, lineage, proxy, backend)
        self.samples: list[Health] = []
        self.costs: list[float] = []  # seconds each sample took
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            with contextlib.suppress(Exception):  # a sample lost to a busy engine
                self.samples.append(sample(*self.args))
                self.costs.append(time.monotonic() - t0)
            self._stop.wait(SAMPLE)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def wait(self, test: Any, timeout: float, after: float = 0.0) -> Health | None:
        """The first sample taken after `after` (epoch seconds) that passes `test`, waiting
        up to `timeout` s for it; None if there is none by then."""
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            samples = list(self.samples)
            for s in samples[seen:]:
                if s.t > after and test(s):
                    return s
            seen = len(samples)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def resolution(self) -> float:
        return SAMPLE + (statistics.median(self.costs) if self.costs else 0.0)


# -- helpers --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(url: str, hosts: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = set()
        with contextlib.suppress(OSError):
            for _ in range(4 * hosts):
                with urllib.request.urlopen(url, timeout=2) as r:
                    seen.add(r.read().decode().strip())
        if len(seen) == hosts:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer from {hosts} tasks in {timeout} s")


def steps(desired: int, lo: float, hi: float) -> tuple[int, int]:
    """(batches, drains) of a deployment of `desired` tasks within (lo, hi) percent, every new
    task healthy at once: the service driver's loop (a step that stops drains those tasks,
    then asks again; a step that starts waits for that batch to be healthy)."""
    counts = Counts(desired, old_healthy=desired)
    batches = drains = 0
    for _ in range(4 * desired + 4):
        step = next_step(counts, lo, hi)
        if step.done:
            return batches, drains
        if step.stop:
            drains += 1
            counts = dataclasses.replace(counts, old_healthy=counts.old_healthy - step.stop)
        elif step.start:
            batches += 1
            counts = dataclasses.replace(counts, new_healthy=counts.new_healthy + step.start)
        else:
            break
    raise SystemExit(f"limits {lo:g}/{hi:g} allow no deployment of {desired} tasks")


def failure_times(res: LoadResult, since: float) -> str:
    """Each kind of failure: how many, and when they were sent (s after `since`, a
    time.monotonic() value)."""
    kinds: dict[str, list[float]] = {}
    for t, kind in res.failures:
        kinds.setdefault(kind, []).append(t - since)
    return "; ".join(f"{k} x{len(v)} sent at +{min(v):.1f}..+{max(v):.1f} s"
                     for k, v in sorted(kinds.items()))


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def load_line(res: LoadResult, rps: float) -> str:
    line = (f"{res.sent} sent, {res.failed} failed, {res.rate:.0f} req/s (lowest second "
            f"{res.min_rate()}; {res.late} sent > 50 ms late, worst {res.max_lag * 1000:.0f} "
            f"ms), p50 {res.quantile(0.5):.1f} ms, p99 {res.quantile(0.99):.1f} ms")
    if res.errors:
        line += f"; failures: {res.errors}"
    if res.rate < rps * 0.99:
        line += f"\n   WARNING: the generator did not hold {rps:.0f} req/s"
    return line


# -- the bench ------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.c = client()
        self.d = Path(tempfile.mkdtemp(prefix="deploy-bench-"))
        self.name = f"dpb{uuid.uuid4().hex[:6]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.lineage: str | None = None
        self.events: Events | None = None
        self.watcher: Watcher | None = None
        self.loads: list[ProcessLoad] = []
        self.proxy: Any = None
        self.backend = ""
        self.revision = ""  # what the service runs
        self.start_times: list[float] = []  # create -> healthy of tasks seen in part 1

    # The load, stopped by cleanup if a part fails half-way.
    def load(self) -> ProcessLoad:
        ld = ProcessLoad(self.url, rps=self.args.rps, workers=self.args.workers,
                         processes=self.args.processes, limit=1800).start()
        self.loads.append(ld)
        return ld

    def unload(self, ld: ProcessLoad) -> LoadResult:
        self.loads.remove(ld)
        return ld.stop()

    def setup(self) -> None:
        a = self.args
        image = ensure_image(self.c)
        text = CONFIG
        for k, v in {"NAME": self.name, "CIDR": free_subnet(self.c, 24), "IMAGE": image,
                     "START": base64.b64encode(HTTPD_START.encode()).decode(), "PORT": self.port,
                     "TASKS": a.tasks, "LO": a.min_healthy, "HI": a.max_percent,
                     "DEREG": a.dereg, "HC_INTERVAL": a.hc_interval,
                     "TG_INTERVAL": a.tg_interval}.items():
            text = text.replace(f"@{k}@", str(v))
        (self.d / "main.tf").write_text(text)
        run = fg(self.d, "apply", "-auto-approve")
        self.lineage = state(self.d)["lineage"]
        self.events = Events(self.c, self.lineage)
        self.proxy = self.c.containers.get(attrs(self.d, "fg_load_balancer")["id"])
        self.backend = backend_name(attrs(self.d, "fg_target_group")["id"])
        self.revision = attrs(self.d, "fg_service")["task_definition"]
        wait_serving(self.url, a.tasks)
        print(f"fleet up in {run.wall:.1f} s: {a.tasks} tasks of {self.revision} behind "
              f"{self.url} (limits {a.min_healthy}/{a.max_percent}, container check every "
              f"{a.hc_interval} s, target group check every {a.tg_interval} s, "
              f"deregistration_delay {a.dereg} s)")
        # What the generator can send at most, here and now (closed loop, 16 connections at
        # a time): the open-loop rate below is only meaningful well under it.
        for procs in sorted({1, a.processes}):
            cap = ProcessLoad(self.url, rps=None, workers=16, processes=procs).start()
            time.sleep(3)
            res = cap.stop()
            print(f"generator capacity, {procs} process(es), closed loop: {res.rate:.0f} "
                  f"req/s, {res.failed} failed")

    # -- 1 ------------------------------------------------------------------------------------
    def part_deploy(self) -> None:
        a = self.args
        assert self.events is not None
        batches, drains = steps(a.tasks, a.min_healthy, a.max_percent)
        print(f"\n1. {a.deployments} deployments of {a.tasks} tasks in a row at {a.rps:.0f} "
              f"req/s ({batches} batch(es) and {drains} drain(s) each, from "
              f"{a.min_healthy}/{a.max_percent})")
        ld = self.load()
        time.sleep(SETTLE)
        runs = []
        try:
            for i in range(1, a.deployments + 1):
                t0 = time.monotonic()
                runs.append((fg(self.d, "apply", "-auto-approve", "-var", f"app_version={i}",
                                timeout=300), t0, time.monotonic()))
            time.sleep(SETTLE)
        finally:
            res = self.unload(ld)
        total = floor_total = 0.0
        for i, (run, m0, m1) in enumerate(runs, 1):
            end = run.start + run.wall
            evs = self.events.between(run.start, end + 1)
            created = {e.task: e.revision for e in evs if e.action == "create"}
            new = set(created)
            revision = next(iter(created.values()), "?")
            old = {e.task for e in evs if e.action == "kill" and e.task not in new}
            ready = []
            for t in sorted(new):
                c0, h = first(evs, "create", t), first(evs, "health_status: healthy", t)
                if c0 is not None and h is not None:
                    ready.append(h - c0)
            self.start_times += ready
            served = first_served(self.c, self.proxy.id, run.start)
            t_create = min((e.t for e in evs if e.action == "create"), default=None)
            t_healthy = last_time(evs, "health_status: healthy", new)
            serve_ts = [served[server_name(t)] for t in new if server_name(t) in served]
            t_served = max(serve_ts) if len(serve_ts) == len(new) and serve_ts else None
            kills = [e.t for e in evs if e.action == "kill" and e.task in old]
            t_kill = min(kills) if kills else None
            t_gone = last_time(evs, "destroy", old)
            floor = batches * median(ready) + drains * a.dereg
            total += run.wall
            floor_total += floor
            # (phase ending at the mark, the mark itself): phases when the deployment is one
            # batch then one drain (the default limits), else each mark's time from start.
            marks = [("startup", "first new task created", t_create),
                     ("launch -> healthy", "last new task healthy", t_healthy),
                     ("healthy -> serving", "last new task serving", t_served),
                     ("drain", "first old task stopped", t_kill),
                     ("stop + remove", "last old task removed", t_gone),
                     ("exit", "exit", end)]
            times = [t for _, _, t in marks]
            parts, prev = [], run.start
            in_order = None not in times and times == sorted(times)  # type: ignore[type-var]
            for phase, mark, t in marks:
                if t is None:
                    parts.append(f"{mark} ?")
                elif in_order:
                    parts.append(f"{phase} {t - prev:.1f}")
                    prev = t
                else:
                    parts.append(f"{mark} at +{t - run.start:.1f}")
            print(f"   deployment {i} ({revision}): {run.wall:.1f} s, floor {floor:.1f} s "
                  f"({batches} x {median(ready):.1f} s to healthy + {drains} x {a.dereg} s "
                  f"drain); failed {res.failed_between(m0, m1)}; "
                  f"{'phases' if in_order else 'events'}: {', '.join(parts)} s")
            print(f"      new tasks create -> healthy: "
                  f"{', '.join(f'{x:.2f}' for x in ready)} s")
        self.revision = attrs(self.d, "fg_service")["task_definition"]
        print(f"   all {len(runs)}: {total:.1f} s against a floor of {floor_total:.1f} s "
              f"({total / floor_total:.2f}x)")
        print(f"   load: {load_line(res, a.rps)}")

    # -- 2 ------------------------------------------------------------------------------------
    def part_bad(self) -> None:
        a = self.args
        assert self.events is not None and self.lineage is not None
        print(f"\n2. a revision whose health check fails, at {a.rps:.0f} req/s (circuit "
              "breaker with rollback)")
        old = self.revision
        sampler = Sampler(self.c, self.lineage, self.proxy, self.backend).start()
        ld = self.load()
        try:
            time.sleep(SETTLE)
            m0 = time.monotonic()
            run = fg(self.d, "apply", "-auto-approve", "-var", "app_version=bad",
                     "-var", "health_path=/missing", check=False, timeout=300)
            m1 = time.monotonic()
            back = sampler.wait(lambda s: s.full(a.tasks, old), 60, after=run.start)
            time.sleep(SETTLE)
        finally:
            res = self.unload(ld)
            sampler.stop()
        end = run.start + run.wall
        evs = self.events.between(run.start, end + 1)
        bad = {e.task for e in evs if e.action == "create"}
        t_bad = min((e.t for e in evs if e.action == "create"), default=None)
        unhealthy = [e.t for e in evs if e.action == "health_status: unhealthy"
                     and e.task in bad]
        t_removed = last_time(evs, "destroy", bad)
        # Steady on the old revision: the first sample after the bad tasks appeared that
        # shows every task of the old revision healthy, registered and UP, no other task.
        seen_bad = next((s.t for s in sampler.samples
                         if set(s.revisions.values()) - {old}), None)
        steady = next((s.t for s in sampler.samples if seen_bad and s.t > seen_bad
                       and s.full(a.tasks, old)), None)
        lines = run.out.splitlines()
        msg = next((ln for ln in lines if ln.startswith("Error:")), "(no error line)")
        print(f"   apply exited {run.rc} after {run.wall:.1f} s: {msg[:160]}")
        if t_bad is not None:
            print(f"   {len(bad)} new task(s) created at +{t_bad - run.start:.1f} s; "
                  + (f"first unhealthy at +{min(unhealthy) - run.start:.1f} s, "
                     if unhealthy else "")
                  + (f"last removed at +{t_removed - run.start:.1f} s"
                     if t_removed else "not removed?"))
        if steady is not None:
            print(f"   back at steady state on {old} ({a.tasks} healthy, registered, no "
                  f"new task) {steady - run.start:.1f} s after apply start (sampled every "
                  f"~{sampler.resolution():.2f} s)")
        else:
            print(f"   NOT back at steady state on {old} within 60 s of apply's exit "
                  f"(last sample: {sampler.samples[-1] if sampler.samples else None})")
        print(f"   failed during the apply: {res.failed_between(m0, m1)}; "
              f"load: {load_line(res, a.rps)}")
        if back is None:
            raise RuntimeError("the service did not come back after the bad revision")

    # -- 3 ------------------------------------------------------------------------------------
    def tasks_now(self) -> dict[str, dict[str, Any]]:
        """Running task containers of the service: task id -> {cid, pid, restarts}."""
        out = {}
        for r in self.c.api.containers(filters={"label": [
                f"fgform.lineage={self.lineage}", f"fgform.address={SERVICE}"]}):
            info = self.c.api.inspect_container(r["Id"])
            out[r["Labels"]["fgform.task-id"]] = {
                "cid": r["Id"], "pid": info["State"]["Pid"],
                "restarts": info.get("RestartCount", 0)}
        return out

    def part_recover(self) -> None:
        a = self.args
        interval = max(a.hc_interval, a.tg_interval)
        print(f"\n3. recovery with `fgform reconcile -watch` at {a.rps:.0f} req/s (target: "
              f"back within 2 x {interval} s health-check interval + one task's start, 0 "
              "failed while a healthy task remains)")
        for mode in a.kill:
            for n in (1, a.tasks - 1):
                self.recover(n, mode, interval)

    def recover(self, n: int, mode: str, interval: float) -> None:
        a = self.args
        assert self.events is not None and self.lineage is not None
        self.watcher = Watcher(self.d)
        if not self.watcher.ready(60):
            print("   (reconcile -watch printed no first pass within 60 s; going on)")
        sampler = Sampler(self.c, self.lineage, self.proxy, self.backend).start()
        if sampler.wait(lambda s: s.full(a.tasks), 60) is None:
            raise RuntimeError("the service is not at full health before the kill")
        ld = self.load()
        try:
            time.sleep(SETTLE)
            before = self.tasks_now()
            victims = sorted(before)[:n]
            m_kill, t_kill = time.monotonic(), time.time()
            threads = [threading.Thread(target=self.kill, args=(before[v], mode))
                       for v in victims]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            # Full again only after a sample showed the kill (the engine and the proxy
            # take a moment to see it).
            down = sampler.wait(lambda s: not s.full(a.tasks), 30, after=t_kill)
            back = sampler.wait(lambda s: s.full(a.tasks), 180, after=down.t) \
                if down else None
            m_back = time.monotonic()
            time.sleep(SETTLE)
        finally:
            res = self.unload(ld)
            sampler.stop()
            self.watcher.stop()
            lines = self.watcher.since(0)
            self.watcher = None
        after = self.tasks_now()
        evs = self.events.between(t_kill, time.time())
        # Same task id, same container: Docker restarted it (a restart policy); a task id
        # that was not there before: a new task, which only reconcile starts here.
        how, starts = [], []
        for v in victims:
            if v in after and after[v]["cid"] == before[v]["cid"]:
                how.append(f"task {v[:8]} restarted by Docker (restart count "
                           f"{before[v]['restarts']} -> {after[v]['restarts']})")
                s0 = first(evs, "start", v)
                h = first([e for e in evs if s0 and e.t >= s0], "health_status: healthy", v)
                if s0 and h:
                    starts.append(h - s0)
            elif v in after:
                how.append(f"task {v[:8]} runs in another container (?)")
        for t in sorted(set(after) - set(before)):
            c0, h = first(evs, "create", t), first(evs, "health_status: healthy", t)
            how.append(f"new task {t[:8]} (reconcile)"
                       + (f", created +{c0 - t_kill:.1f} s after the kill" if c0 else ""))
            if c0 and h:
                starts.append(h - c0)
        start = median(starts) if starts else median(self.start_times)
        target = 2 * interval + start
        took = back.t - t_kill if back else None
        said = [f"+{at - t_kill:.1f} s {line}" for at, line in lines if at >= t_kill
                and line.strip()]
        # Where the time went: the first replacement (a new task's create, or the killed
        # one's restart), the last one healthy, then registered and UP (the sample).
        back_tasks = {v for v in victims if v in after} | (set(after) - set(before))
        t_first = min((e.t for e in evs if e.task in back_tasks
                       and e.action in ("create", "start")), default=None)
        t_ready = last_time(evs, "health_status: healthy", back_tasks)
        what = "docker kill" if mode == "docker" else "kill -9 of its process (a crash)"
        print(f"   {what} of {n} of {a.tasks}: "
              + (f"back at full health after {took:.1f} s (target {target:.1f} s = 2 x "
                 f"{interval} s + {start:.1f} s to start a task; sampled every "
                 f"~{sampler.resolution():.2f} s)" if took is not None else
                 "NOT back at full health within 180 s")
              + f"; failed {res.failed_between(m_kill, m_back)} (target 0)")
        print(f"      brought back by: {'; '.join(how) or '?'}")
        if t_first is not None and t_ready is not None and back is not None:
            print(f"      kill -> first replacement starting {t_first - t_kill:.1f} s, -> "
                  f"all healthy {t_ready - t_first:.1f} s, -> registered and UP (seen) "
                  f"{back.t - t_ready:.1f} s")
        if said:
            print(f"      reconcile said: {' | '.join(said[:6])}")
        print(f"      load: {load_line(res, a.rps)}")
        if res.failures:
            print(f"      failures after the kill: {failure_times(res, m_kill)}")
        # What the proxy saw: its servers going DOWN or UP (and why), by Docker's timestamp.
        seen = self.proxy.logs(since=int(t_kill), timestamps=True).decode(errors="replace")
        for line in seen.splitlines():
            stamp, _, text = line.partition(" ")
            if "Server " not in text or not (" is DOWN" in text or " is UP" in text):
                continue
            with contextlib.suppress(ValueError):
                at = dt.datetime.fromisoformat(stamp[:26]).replace(
                    tzinfo=dt.UTC).timestamp() - t_kill
                print(f"      proxy +{at:.1f} s: {text.split(': ', 1)[-1][:150]}")
        if back is None:
            raise RuntimeError("the service did not come back to full health")

    def kill(self, task: dict[str, Any], mode: str) -> None:
        if mode == "docker":
            self.c.api.kill(task["cid"])
        else:
            os.kill(task["pid"], signal.SIGKILL)

    # -- clean-up -------------------------------------------------------------------------------
    def cleanup(self) -> None:
        for ld in list(self.loads):
            with contextlib.suppress(Exception):
                ld.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.events is not None:
            self.events.close()
        try:
            fg(self.d, "destroy", "-auto-approve", "-lock-timeout=60s", timeout=300)
        except Exception as exc:  # noqa: BLE001 - the label clean-up below still runs
            print(f"destroy failed ({exc}); removing by label", file=sys.stderr)
        with contextlib.suppress(Exception):
            self.lineage = self.lineage or state(self.d)["lineage"]
        left = self.remove_leftovers()
        print(f"\nclean-up: {'nothing left' if not left else 'removed leftovers: ' + left}")
        shutil.rmtree(self.d, ignore_errors=True)

    def remove_leftovers(self) -> str:
        api = self.c.api
        flts = [{"label": [f"fgform.cluster={self.name}"]}]
        if self.lineage:
            flts.insert(0, {"label": [f"fgform.lineage={self.lineage}"]})
        found: list[str] = []
        for flt in flts:
            for row in api.containers(all=True, filters=flt):
                found.append(row["Names"][0])
                with contextlib.suppress(Exception):
                    api.remove_container(row["Id"], force=True, v=True)
        nets = [n for flt in flts for n in api.networks(filters=flt)]
        nets += api.networks(names=[f"fgform-{self.name}"])
        for net in {n["Id"]: n for n in nets}.values():
            found.append(net["Name"])
            for _ in range(20):
                try:
                    api.remove_network(net["Id"])
                    break
                except Exception:  # noqa: BLE001 - endpoints linger a moment
                    time.sleep(0.5)
        for flt in flts:
            for vol in (api.volumes(filters=flt) or {}).get("Volumes") or []:
                found.append(vol["Name"])
                with contextlib.suppress(Exception):
                    api.remove_volume(vol["Name"], force=True)
        return ", ".join(sorted(set(found)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="deploy,bad,recover")
    ap.add_argument("--rps", type=float, default=300)
    ap.add_argument("--processes", type=int, default=2)
    # Open loop: a request that hangs (a connect to a killed task waits for HAProxy's 5 s
    # `timeout connect`) holds its thread, so the rate holds only with threads to spare.
    ap.add_argument("--workers", type=int, default=256, help="threads, over all processes")
    ap.add_argument("--deployments", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--min-healthy", type=int, default=100)
    ap.add_argument("--max-percent", type=int, default=200)
    ap.add_argument("--dereg", type=int, default=4)
    ap.add_argument("--hc-interval", type=int, default=1)
    ap.add_argument("--tg-interval", type=int, default=1)
    ap.add_argument("--kill", default="docker,crash",
                    help="docker (docker kill), crash (SIGKILL to the task's process)")
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    args.kill = [k for k in args.kill.split(",") if k]
    if set(parts) - {"deploy", "bad", "recover"} or set(args.kill) - {"docker", "crash"}:
        ap.error("--parts: deploy, bad, recover; --kill: docker, crash")

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    bench = Bench(args)
    print(f"machine: {machine()}")
    code = 0
    try:
        bench.setup()
        for part in parts:
            getattr(bench, f"part_{part}")()
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001 - reported; the fleet is still cleaned up
        print(f"\nfailed: {exc}", file=sys.stderr)
        code = 1
    finally:
        # Nothing may stop the clean-up half-way (each of its waits is bounded).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
