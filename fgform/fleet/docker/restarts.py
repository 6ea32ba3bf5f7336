"""Restarts of task containers: the Docker restart policy each container gets, arming it
once the task was seen healthy, and telling an isolated crash (mended in place) from a crash
loop (the scheduler's to replace under its backoff).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.fleet.docker.live_tasks import (
    KIND_SERVICE,
    RESTART_ALWAYS,
    RESTART_NEVER,
    RESTART_ON_FAILURE,
    LiveTask,
)

# The restart policy mends an isolated crash; a task whose essential container Docker has
# restarted this often, the latest less than CRASH_LOOP_WINDOW s ago, is crash-looping and
# becomes the scheduler's (replaced under its backoff), as ECS stops restarting a container
# in place that cannot stay up for its restart attempt period.
CRASH_LOOP_RESTARTS = 2
CRASH_LOOP_WINDOW = 60.0


def restart_policy(td: dict[str, Any], index: int, kind: str = KIND_SERVICE) -> str:
    """The Docker restart policy of container `index` of a task of `td` launched as `kind`.

    A service's essential container comes back whatever its exit code (an ECS task stops
    when an essential container exits, even with 0, and its service starts another; Docker
    does it in place, in a fraction of a second, scheduler or not). A non-essential one comes
    back only after a failure: one that exits 0 has finished its job (a set-up step). A
    one-off task (`run-task`, ECS RunTask) runs to completion: nothing restarts. Nor does the
    first container of a task of several: it holds the task's network namespace, and Docker
    restarts it into a new one, leaving the others cut off in the old; it stops the task
    instead, and the scheduler replaces the whole task.
    """
    if kind != KIND_SERVICE:
        return RESTART_NEVER
    specs = td.get("container") or []
    if index == 0 and len(specs) > 1:
        return RESTART_NEVER
    essential = bool(specs[index].get("essential", True)) if index < len(specs) else True
    return RESTART_ALWAYS if essential else RESTART_ON_FAILURE


def crash_looping(restarts: int | None, up: float | None) -> bool:
    """Whether a container its restart policy restarted `restarts` times, up `up` seconds
    since its latest start (None: not up, e.g. waiting out Docker's restart delay), is in a
    crash loop: restarted CRASH_LOOP_RESTARTS times, the latest within CRASH_LOOP_WINDOW s."""
    return (restarts or 0) >= CRASH_LOOP_RESTARTS and (up is None or up < CRASH_LOOP_WINDOW)


def restarted_since(restarts: int | None, started_at: str | None, since: float | None) -> bool:
    """Whether a container's restart policy restarted it at `since` (epoch seconds) or later:
    it has restarts, and its latest start (inspect's `State.StartedAt`) is not older. With
    no `since`, any restart counts."""
    if not restarts:
        return False
    if since is None:
        return True
    try:
        started = datetime.fromisoformat(str(started_at)).timestamp()
    except ValueError:
        return True  # unreadable: count it rather than let a crash pass
    return started >= since


def may_have_restarted(task: LiveTask) -> bool:
    """From the list call alone: might a restart policy have restarted one of the task's
    containers within CRASH_LOOP_WINDOW s? (It waits out a restart delay, or has been up for
    less than that: started or restarted since.) Only these need an inspect to count
    restarts. (The engine's whole-second uptime against the launch time would tell a
    restart only with a slack of over a second plus the start's latency.)"""
    return any(c.restarting or (c.uptime is not None and c.uptime < CRASH_LOOP_WINDOW)
               for c in task.containers)


def inspect_restarts(client: docker.DockerClient, tasks: Iterable[LiveTask]) -> None:
    """Fill in `restart_count` of every container of `tasks` (one inspect each; the list
    call does not report it). A container gone meanwhile keeps None."""
    for task in tasks:
        for c in task.containers:
            try:
                c.restart_count = int(client.api.inspect_container(c.id).get("RestartCount")
                                      or 0)
            except NotFound:
                c.restart_count = None


# Containers this process armed (ids are never reused): each is updated once.
_armed: set[str] = set()
_armed_lock = threading.Lock()


def arm(client: docker.DockerClient, tasks: Iterable[LiveTask]) -> None:
    """Give the containers of `tasks` their restart policy (`docker update --restart`; the
    `fgform.restart-policy` label names it): a task is launched without one and armed once
    its deployment saw it healthy, or at the next converge that sees it healthy (a task left
    by an interrupted apply). A `docker stop` or `docker kill` is never undone by it."""
    todo = []
    with _armed_lock:
        for task in tasks:
            for c in task.containers:
                if c.restart_policy != RESTART_NEVER and c.id not in _armed:
                    _armed.add(c.id)
                    todo.append(c)
    for c in todo:
        try:
            client.api.update_container(c.id, restart_policy={"Name": c.restart_policy})
        except (NotFound, APIError):
            pass  # removed meanwhile: nothing to restart


def is_crash_looping(task: LiveTask) -> bool:
    """An essential container of the task (restart counts inspected) is in a crash loop."""
    return any(crash_looping(c.restart_count, None if c.restarting else c.uptime)
               for c in task.essentials if c.running or c.restarting)


def restart_note(task: LiveTask) -> str:
    """`its container app was restarted 3 times by its restart policy (last exit code 7)`,
    for the containers of `task` (restart counts inspected) that were restarted."""
    parts = []
    for c in task.containers:
        if not c.restart_count:
            continue
        code = f" (last exit code {c.exit_code})" if c.exit_code is not None else ""
        parts.append(f"its container {c.container} was restarted {c.restart_count} "
                     f"time{'s' if c.restart_count != 1 else ''} by its restart policy{code}")
    return "; ".join(parts)
