"""What runs where: the data behind `fgform tasks` and `fgform logs`.

Plain data out (rows, lines); rendering them is the CLI's job.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import docker
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet.docker.live_tasks import LiveTask, list_live_tasks
from fgform.fleet.docker.restarts import inspect_restarts
from fgform.fleet.driver import FleetContext


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task in the `fgform tasks` table."""

    task_id: str
    service: str  # service name; "run-<family>" for a one-off task
    revision: str  # family:revision
    instance: str
    status: str  # RUNNING, PENDING, RESTARTING (exit N), STOPPED (exit N)
    health: str  # HEALTHY, UNHEALTHY, STARTING, UNKNOWN (no health check)
    address: str  # the task's IP in the cluster network ("" when none)
    ports: str  # published host ports, comma separated ("" when none)
    uptime: float | None  # seconds since the task started; None when not running
    restarts: int = 0  # restarts of its containers by their restart policies


def _status(task: LiveTask) -> str:
    if task.running:
        return "RUNNING"
    if task.restarting:
        code = task.exit_code
        return f"RESTARTING (exit {code})" if code is not None else "RESTARTING"
    if task.stopped:
        code = task.exit_code
        return f"STOPPED (exit {code})" if code is not None else "STOPPED"
    return "PENDING"


def _matches(ctx: FleetContext, task: LiveTask, service: str | None) -> bool:
    """Whether `task` belongs to `service` (a name, or an address: a moved service's tasks
    are labelled with the address in state's `labelled_as`)."""
    return service is None or service == task.service or \
        ctx.labels.get(service, service) == task.address


def list_tasks(client: docker.DockerClient, ctx: FleetContext, service: str | None = None
               ) -> list[TaskRow]:
    """Every task of this state (services and one-off tasks), or one service's (by name or
    address): ONE list call. Sorted by service, then start time, then id."""
    rows = []
    tasks = [t for t in list_live_tasks(ctx, client) if _matches(ctx, t, service)]
    # The list call does not count restarts: one inspect per container.
    inspect_restarts(client, tasks)
    for task in tasks:
        rows.append(TaskRow(
            task_id=task.task_id,
            service=task.service,
            revision=task.task_definition,
            instance=task.instance,
            status=_status(task),
            health=task.health,
            address=task.ip or "",
            ports=", ".join(p for c in task.containers for p in c.ports),
            uptime=task.age() if task.running else None,
            restarts=task.restarts or 0,
        ))
    # Live tasks come in start order; a stable sort by service keeps it within a service.
    return sorted(rows, key=lambda r: r.service)


def _prefixes(tasks: list[LiveTask]) -> dict[str, str]:
    """container id -> "<task-id> | " or "<task-id>/<container> | ", padded to one width
    (as `docker compose logs` aligns its service names)."""
    raw: dict[str, str] = {}
    for task in tasks:
        multi = len(task.containers) > 1
        for c in task.containers:
            raw[c.id] = f"{task.task_id}/{c.container}" if multi else task.task_id
    width = max((len(p) for p in raw.values()), default=0)
    return {cid: f"{p.ljust(width)} | " for cid, p in raw.items()}


def _split_ts(line: str) -> tuple[str, str]:
    """Docker's `timestamps=True` line -> (RFC 3339 timestamp, text)."""
    ts, _, text = line.partition(" ")
    return ts, text


def stream_logs(client: docker.DockerClient, ctx: FleetContext, service: str,
                follow: bool = False, tail: int | None = None) -> Iterator[str]:
    """The service's log lines (by name or address), each prefixed with its task id,
    interleaved by timestamp. `follow` keeps streaming until the containers stop (or the
    caller stops iterating); `tail` limits each container to its last lines."""
    tasks = [t for t in list_live_tasks(ctx, client) if _matches(ctx, t, service)]
    if not tasks:
        raise FgformError(f"no tasks found for service {service!r}",
                          hint="`fgform tasks` lists what runs.")
    prefix = _prefixes(tasks)
    tail_arg: int | str = "all" if tail is None else tail
    if not follow:
        streams = []
        for cid in prefix:
            try:
                raw = client.api.logs(cid, timestamps=True, tail=tail_arg)
            except (NotFound, APIError):
                continue
            lines = raw.decode("utf-8", "replace").splitlines()
            streams.append([(*_split_ts(line), cid) for line in lines])
        # Each stream is already in time order; merge them (Docker's RFC 3339 nanosecond
        # timestamps in UTC compare correctly as strings).
        for _ts, text, cid in heapq.merge(*streams, key=lambda x: x[0]):
            yield prefix[cid] + text
        return
    yield from _follow(client, prefix, tail_arg)


def _follow(client: docker.DockerClient, prefix: dict[str, str], tail_arg: int | str
            ) -> Iterator[str]:
    """Merge live streams in arrival order: with follow, arrival is the timestamp order."""
    out: queue.Queue[str | None] = queue.Queue(maxsize=10_000)

    def pump(cid: str) -> None:
        buf = b""
        try:
            for chunk in client.api.logs(cid, stream=True, follow=True, tail=tail_arg):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    out.put(prefix[cid] + line.decode("utf-8", "replace"))
        except (NotFound, APIError, OSError):
            pass
        finally:
            if buf:
                out.put(prefix[cid] + buf.decode("utf-8", "replace"))
            out.put(None)  # this stream ended

    for cid in prefix:
        threading.Thread(target=pump, args=(cid,), daemon=True).start()
    open_streams = len(prefix)
    while open_streams:
        item = out.get()
        if item is None:
            open_streams -= 1
            continue
        yield item
