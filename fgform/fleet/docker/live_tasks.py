"""The live view of tasks: groups of containers that share one network namespace, as ECS
awsvpc tasks do, read back from the engine.

Everything about a task lives in its containers' labels, so one label-filtered list call
tells what runs where, how much capacity it holds, and whether it is healthy (Docker's list
reports health in `Status`). The labels below are the ones only task containers carry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docker

from fgform.fleet.docker import labels as L
from fgform.fleet.driver import FleetContext
from fgform.fleet.shared_calls import SharedCalls

# Labels only task containers carry (the shared ones live in labels.py).
CONTAINER = "fgform.container"
CONTAINER_INDEX = "fgform.container-index"
CPU = "fgform.cpu"
MEMORY = "fgform.memory"
ESSENTIAL = "fgform.essential"
CREATED = "fgform.created"
STOP_TIMEOUT = "fgform.stop-timeout"
RESTART_POLICY = "fgform.restart-policy"  # the policy `arm` gives it (`restart_policy`)

KIND_SERVICE = "task"
KIND_RUN_TASK = "run-task"

# Docker restart policies of task containers (`restart_policy`).
RESTART_ALWAYS = "unless-stopped"
RESTART_ON_FAILURE = "on-failure"
RESTART_NEVER = "no"

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
# "Restarting (7) 2 seconds ago": Docker waits out its restart delay after an exit with 7.
_EXIT = re.compile(r"(?:Exited|Restarting) \((-?\d+)\)")
# Docker's human duration (go-units HumanDuration) after "Up ": "Less than a second",
# "1 second", "N seconds", "About a minute", "N minutes", "About an hour", "N hours", ...
_UP = re.compile(r"^Up (?:(Less than a second)|(?:About an? |(\d+) )(second|minute|hour|day|"
                 r"week|month|year)s?)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800,
                 "month": 2592000, "year": 31536000}


def uptime(status: str) -> float | None:
    """Seconds a container has been up, at least, from the list call's `Status` (computed by
    the engine from its `State.StartedAt`); None when it is not up."""
    m = _UP.match(status or "")
    if m is None:
        return None
    if m.group(1):
        return 0.0
    return float(int(m.group(2) or 1) * _UNIT_SECONDS[m.group(3)])


@dataclass(slots=True)
class LiveContainer:
    """One container of a task, as Docker's list call reports it."""

    id: str
    name: str
    container: str  # the task definition's container name
    index: int
    essential: bool
    state: str  # created, running, exited, ...
    status: str  # Docker's human status: "Up 3 seconds (healthy)"
    health: str | None  # None (no check), "starting", "healthy", "unhealthy"
    exit_code: int | None
    ip: str | None
    ports: list[str]
    stop_timeout: int
    config_hash: str | None = None  # its `fgform.config-hash` label (None: launched without)
    # Times its restart policy restarted it: only an inspect tells (`inspect_restarts`);
    # None when not inspected.
    restart_count: int | None = None
    restart_policy: str = RESTART_NEVER  # the policy `arm` gives it (its label)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def restarting(self) -> bool:
        """It exited and Docker's restart policy is about to start it again."""
        return self.state == "restarting"

    @property
    def uptime(self) -> float | None:
        """Seconds up by the engine's clock (whole seconds, rounded down); None: not up."""
        return uptime(self.status) if self.running else None


@dataclass(slots=True)
class LiveTask:
    """A task: its containers grouped by `fgform.task-id`."""

    task_id: str
    address: str
    kind: str
    cluster: str
    service: str
    task_definition: str  # family:revision
    instance: str
    cpu: int
    memory: int
    created: str  # ISO-8601 UTC, from the label written at launch
    containers: list[LiveContainer] = field(default_factory=list)

    @property
    def revision(self) -> int | None:
        tail = self.task_definition.rpartition(":")[2]
        return int(tail) if tail.isdigit() else None

    @property
    def essentials(self) -> list[LiveContainer]:
        return [c for c in self.containers if c.essential] or self.containers

    @property
    def running(self) -> bool:
        """Every essential container runs (the task counts toward running_count)."""
        return bool(self.containers) and all(c.running for c in self.essentials)

    @property
    def stopped(self) -> bool:
        """An essential container has stopped: the task is over and must be cleaned up."""
        return any(c.state in ("exited", "dead") for c in self.essentials)

    @property
    def restarting(self) -> bool:
        """An essential container crashed and its restart policy is restarting it."""
        return any(c.restarting for c in self.essentials)

    @property
    def restarts(self) -> int | None:
        """Restarts of its containers by their restart policies; None when not inspected."""
        counts = [c.restart_count for c in self.containers if c.restart_count is not None]
        return sum(counts) if counts else None

    @property
    def healthy(self) -> bool:
        """Running, and every container with a health check reports healthy."""
        return self.running and all(c.health in (None, "healthy") for c in self.containers)

    @property
    def unhealthy(self) -> bool:
        return any(c.health == "unhealthy" for c in self.containers)

    def matches(self, expected: dict[str, str]) -> bool:
        """Whether each container carries the config-hash of its container in `expected`
        (`definition_hashes` of the revision the task's label names). A container replaced by
        hand with the same labels but another command or environment does not; a container
        with no config-hash label at all (launched before fgform wrote one) is not judged."""
        return all(c.config_hash is None or expected.get(c.container) == c.config_hash
                   for c in self.containers)

    @property
    def health(self) -> str:
        """One word for the task: HEALTHY, UNHEALTHY, STARTING or UNKNOWN (no check)."""
        states = [c.health for c in self.containers if c.health is not None]
        if not states:
            return "UNKNOWN"
        if "unhealthy" in states:
            return "UNHEALTHY"
        if all(s == "healthy" for s in states):
            return "HEALTHY"
        return "STARTING"

    def age(self) -> float:
        """Seconds since the task was launched (0 when its label is unreadable)."""
        try:
            return (datetime.now(UTC) - datetime.fromisoformat(self.created)).total_seconds()
        except ValueError:
            return 0.0

    @property
    def ip(self) -> str | None:
        return next((c.ip for c in sorted(self.containers, key=lambda c: c.index) if c.ip),
                    None)

    @property
    def exit_code(self) -> int | None:
        """The highest exit code of the essential containers that stopped."""
        codes = [c.exit_code for c in self.essentials if c.exit_code is not None]
        return max(codes) if codes else None

    def to_attr(self) -> dict[str, Any]:
        """The task as the service's `tasks` attribute lists it (stable, no live health)."""
        return {
            "id": self.task_id,
            "instance": self.instance,
            "address": self.ip,
            "revision": self.revision,
            "task_definition": self.task_definition,
            "containers": [c.name for c in sorted(self.containers, key=lambda c: c.index)],
            "started_at": self.created,
        }


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _container_from_row(row: dict[str, Any]) -> LiveContainer:
    labels = row.get("Labels") or {}
    status = row.get("Status") or ""
    health_match = _HEALTH.search(status)
    health = None
    if health_match:
        health = health_match.group(1).replace("health: ", "")
    exit_match = _EXIT.search(status)
    networks = ((row.get("NetworkSettings") or {}).get("Networks") or {})
    ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
    ports = []
    for p in row.get("Ports") or []:
        if p.get("PublicPort"):
            ports.append(f"{p.get('IP', '')}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}")
    return LiveContainer(
        id=row["Id"],
        name=(row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/"),
        container=labels.get(CONTAINER, ""),
        index=_int(labels.get(CONTAINER_INDEX)),
        essential=labels.get(ESSENTIAL, "true") == "true",
        state=row.get("State") or "",
        status=status,
        health=health,
        exit_code=int(exit_match.group(1)) if exit_match else None,
        ip=ip,
        ports=sorted(set(ports)),
        stop_timeout=_int(labels.get(STOP_TIMEOUT), 10),
        config_hash=labels.get(L.CONFIG_HASH),
        restart_policy=labels.get(RESTART_POLICY, RESTART_NEVER),
    )


def group_tasks(rows: Iterable[dict[str, Any]]) -> list[LiveTask]:
    """Container rows of a list call -> tasks, sorted by creation time then id."""
    tasks: dict[str, LiveTask] = {}
    for row in rows:
        labels = row.get("Labels") or {}
        tid = labels.get(L.TASK_ID)
        if not tid:
            continue
        task = tasks.get(tid)
        if task is None:
            task = tasks[tid] = LiveTask(
                task_id=tid,
                address=labels.get(L.ADDRESS, ""),
                kind=labels.get(L.KIND, ""),
                cluster=labels.get(L.CLUSTER, ""),
                service=labels.get(L.SERVICE, ""),
                task_definition=labels.get(L.TASK_DEFINITION, ""),
                instance=labels.get(L.INSTANCE, ""),
                cpu=_int(labels.get(CPU)),
                memory=_int(labels.get(MEMORY)),
                created=labels.get(CREATED, ""),
            )
        task.containers.append(_container_from_row(row))
    for task in tasks.values():
        task.containers.sort(key=lambda c: c.index)
    return sorted(tasks.values(), key=lambda t: (t.created, t.task_id))


def list_live_tasks(ctx: FleetContext, client: docker.DockerClient, **extra: str
                    ) -> list[LiveTask]:
    """All task containers of this lineage matching `extra` labels: ONE list call, shared
    with identical ones made meanwhile (`SharedCalls`: never a result older than the call;
    the engine serialises list calls, so 50 API clients describing services would otherwise
    queue behind each other). Each caller groups the rows into its own objects."""
    filters = L.label_filter(ctx, **extra)
    rows = _SHARED.get((id(client), json.dumps(filters, sort_keys=True)),
                       lambda: client.api.containers(all=True, filters=filters))
    return group_tasks(rows)


_SHARED = SharedCalls()
