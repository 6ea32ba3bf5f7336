"""Removing a Swarm service without crashing the engine that manages the swarm.

Engine 20.10 (Debian 12's `docker.io`) removes a service in two steps: it lists the
service's tasks, then marks each one REMOVE in a second transaction, without checking that
the task still exists (swarmkit's `SetServiceTasksRemove`; later swarmkit checks for nil).
When the task reaper deletes one of those tasks in between, which it does while tasks are
still being stopped, replaced or trimmed to the task history limit, dockerd dies with a nil
pointer dereference and takes every container on the host with it. CI saw exactly that on
2026-12-02, removing a service right after a rolled-back deployment.

So a service is removed only once its task list has settled: the same tasks for `SETTLE`
seconds, so that nothing is deleting them when the engine lists them. A service with no
tasks left is removed at once.
"""

from __future__ import annotations

import time
from typing import Any

import docker
from docker.errors import NotFound

# The reaper works in batches a fraction of a second apart (swarmkit's taskreaper); a
# second without a change means it has nothing left to do for this service.
SETTLE = 1.0
POLL = 0.25


def task_ids(client: docker.DockerClient, service_id: str) -> frozenset[str] | None:
    """The ids of the service's tasks, or None when the service is gone."""
    try:
        tasks: list[dict[str, Any]] = client.api.tasks(filters={"service": service_id})
    except NotFound:  # "service ... not found"
        return None
    return frozenset(str(t["ID"]) for t in tasks)


def wait_settled(client: docker.DockerClient, service_id: str, deadline: float) -> None:
    """Wait (until `deadline`, a time.monotonic() value) for the service's task list to
    stay the same for SETTLE seconds, or to be empty."""
    seen = task_ids(client, service_id)
    since = time.monotonic()
    while seen and time.monotonic() < deadline:
        time.sleep(POLL)
        now = task_ids(client, service_id)
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE:
            return


def remove_service(client: docker.DockerClient, service_id: str, deadline: float) -> None:
    """Remove a Swarm service once its tasks have settled (see the module's docstring).
    Past `deadline` it is removed however its tasks stand: the caller's wait is bounded."""
    wait_settled(client, service_id, deadline)
    try:
        client.api.remove_service(service_id)
    except NotFound:
        pass
