"""Tasks: groups of containers that share one network namespace, as ECS awsvpc tasks do.

The first container of a task is attached to the cluster network (its own IP in the cluster
subnet); the others join its namespace with `network_mode="container:<first>"`, so the
containers of one task reach each other on localhost. Everything about a task lives in its
containers' labels, so one label-filtered list call tells what runs where, how much capacity
it holds, and whether it is healthy (Docker's list reports health in `Status`).

Services (service.py) and one-off tasks (runtask.py) both launch through `launch_tasks`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from fgform.errors import FgformError
from fgform.fleet import capacity
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.cluster import instance_address, instances
from fgform.fleet.driver import FleetContext

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
# The restart policy mends an isolated crash; a task whose essential container Docker has
# restarted this often, the latest less than CRASH_LOOP_WINDOW s ago, is crash-looping and
# becomes the scheduler's (replaced under its backoff), as ECS stops restarting a container
# in place that cannot stay up for its restart attempt period.
CRASH_LOOP_RESTARTS = 2
CRASH_LOOP_WINDOW = 60.0

# Start and stop are I/O bound (the engine does the work): 16 threads cut a 40-task scale-out
# from 22 s (4 threads) to 16 s here; the engine serialises much of the network set-up.
WORKERS = 16
POLL_SECONDS = 0.25
# A task counts as steady only once its essential containers have been up this long by the
# engine's own clock (the list call's "Up N seconds"), no `die` event was seen for it, and an
# inspect of each essential container confirms it still runs. A container that exits at once
# must not pass for healthy: under load the list call's view lags the container's real state
# by more than a second ("Up 1 second" for a process that exited before its start returned),
# so neither two polls nor the creation time can tell.
MIN_STABLE_SECONDS = 1.0

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


# -- live view -------------------------------------------------------------------------------
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


# -- restarts -----------------------------------------------------------------------------------
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
    """All task containers of this lineage matching `extra` labels: ONE list call."""
    rows = client.api.containers(all=True, filters=L.label_filter(ctx, **extra))
    return group_tasks(rows)


# -- cluster and capacity ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What launching needs from a cluster's attributes."""

    name: str
    network: str
    strategy: str
    instances: tuple[capacity.Instance, ...]


def cluster_info(client: docker.DockerClient, cluster_attrs: dict[str, Any]) -> ClusterInfo:
    """Name, network, strategy and fleet of a cluster (fleet from cluster.instances)."""
    insts = [capacity.Instance(str(inst["id"]), int(inst["cpu"]), int(inst["memory"]))
             for inst in instances(client, cluster_attrs)]
    name = cluster_attrs.get("id") or cluster_attrs.get("name")
    return ClusterInfo(
        name=str(name),
        network=str(cluster_attrs.get("network_name") or f"fgform-{name}"),
        strategy=str(cluster_attrs.get("placement_strategy") or "spread"),
        instances=tuple(insts),
    )


def cluster_usage(ctx: FleetContext, client: docker.DockerClient, cluster: str
                  ) -> dict[str, capacity.Usage]:
    """Reserved cpu/memory and task count per instance, from the labels of every running
    task in the cluster (services and one-off tasks alike): ONE list call."""
    usage: dict[str, capacity.Usage] = {}
    for task in list_live_tasks(ctx, client, **{L.CLUSTER: cluster}):
        if not any(c.running or c.state == "created" for c in task.containers):
            continue  # a finished task holds nothing
        u = usage.get(task.instance, capacity.Usage())
        usage[task.instance] = capacity.Usage(u.cpu + task.cpu, u.memory + task.memory,
                                              u.tasks + 1)
    return usage


def task_size(taskdef: dict[str, Any]) -> tuple[int, int]:
    """(cpu units, MiB) a task of this definition reserves on its instance."""
    return int(taskdef.get("cpu") or 0), int(taskdef.get("memory") or 0)


def place_tasks(ctx: FleetContext, client: docker.DockerClient, cluster: ClusterInfo,
                taskdef: dict[str, Any], count: int,
                usage: dict[str, capacity.Usage] | None = None) -> list[str]:
    """Instances for `count` new tasks, or InsufficientCapacityError before any start.

    Host ports the task definition publishes are a per-instance resource: see
    `placement_usage` (which `usage`, when given, must come from)."""
    if count <= 0:
        return []
    if usage is None:
        usage = placement_usage(ctx, client, cluster, taskdef)
    what = str(taskdef.get("arn") or "task")
    placed = capacity.place([task_size(taskdef)] * count, cluster.instances, usage,
                            cluster.strategy, what=what, ports=host_ports(taskdef))
    check_addresses(client, cluster, count, what)
    return placed


def placement_usage(ctx: FleetContext, client: docker.DockerClient, cluster: ClusterInfo,
                    taskdef: dict[str, Any]) -> dict[str, capacity.Usage]:
    """`cluster_usage`, with the host ports of `taskdef` that are taken on each instance's
    address (by any container of the engine, or by another process of this machine)."""
    usage = cluster_usage(ctx, client, cluster.name)
    ports = host_ports(taskdef)
    if not ports:
        return usage
    held = host_ports_held(client, {i.id: instance_address(i.id) for i in cluster.instances},
                           ports)
    return {iid: dataclasses.replace(usage.get(iid, capacity.Usage()), ports=held.get(iid, {}))
            for iid in set(usage) | set(held)}


def check_addresses(client: docker.DockerClient, cluster: ClusterInfo, count: int,
                    what: str) -> None:
    """Each task takes one address of the cluster subnet (awsvpc): refuse early, as ECS does
    for an exhausted subnet, rather than fail half-way through starting."""
    try:
        net = client.api.inspect_network(cluster.network)
    except NotFound as exc:
        raise FgformError(f"the network {cluster.network} of cluster {cluster.name} does not "
                          "exist", hint="Apply the fg_cluster first (or refresh).") from exc
    subnets = [c.get("Subnet") for c in (net.get("IPAM") or {}).get("Config") or []
               if c.get("Subnet")]
    if not subnets:
        return
    size = ipaddress.ip_network(subnets[0], strict=False).num_addresses
    usable = max(size - 3, 0)  # network, broadcast and the bridge's gateway address
    in_use = len(net.get("Containers") or {})
    if in_use + count > usable:
        raise capacity.InsufficientCapacityError(
            f"Unable to place {count} task(s) of {what}: the cluster subnet {subnets[0]} has "
            f"{max(usable - in_use, 0)} free address(es) ({in_use} of {usable} in use); every "
            "task takes one",
            unplaced=count, free={},
            hint="Give the cluster a larger cidr_block (it forces a new cluster), or run "
                 "fewer tasks.")


_cluster_locks: dict[str, threading.Lock] = {}
_cluster_locks_guard = threading.Lock()


def cluster_lock(cluster: str) -> threading.Lock:
    """Held from placement until the containers exist: usage is read from container labels,
    so two services of one cluster applied in parallel must not both place into the same
    free space before either has created its containers."""
    with _cluster_locks_guard:
        return _cluster_locks.setdefault(cluster, threading.Lock())


# Host ports are shared by every cluster (instance K of each publishes on one address).
_host_ports_lock = threading.Lock()


@contextlib.contextmanager
def placement_lock(cluster: ClusterInfo, taskdef: dict[str, Any]) -> Iterator[None]:
    """`cluster_lock`, and for a task definition that publishes host ports the lock of the
    host's ports too (always taken first, so two placements cannot deadlock): services of
    different clusters applied in parallel must not both take one port."""
    with contextlib.ExitStack() as stack:
        if host_ports(taskdef):
            stack.enter_context(_host_ports_lock)
        stack.enter_context(cluster_lock(cluster.name))
        yield


# -- launching ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Launch:
    """Everything needed to start one task."""

    address: str
    kind: str
    cluster: ClusterInfo
    service: str  # service name ("" for a one-off task)
    taskdef: dict[str, Any]
    instance: str
    task_id: str = field(default_factory=lambda: secrets.token_hex(4))
    command: list[str] | None = None  # override of the first essential container's command
    environment: dict[str, str] | None = None  # added to every container's environment
    container_ids: list[str] = field(default_factory=list)  # filled in by launch_task


_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]+")


def container_name(cluster: str, service: str, task_id: str, container: str) -> str:
    """`<cluster>-<service>-<task-id>-<container>`, with characters Docker refuses replaced."""
    raw = "-".join(p for p in (cluster, service, task_id, container) if p)
    return _NAME_BAD.sub("_", raw).lstrip("_.-") or task_id


def healthcheck(hc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The task definition's health check (seconds) as Docker's (nanoseconds)."""
    if not hc or not hc.get("command"):
        return None
    test = list(hc["command"])
    if test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        # A bare command line is what users mean when they leave the prefix out.
        test = ["CMD-SHELL", " ".join(test)] if len(test) == 1 else ["CMD", *test]
    ns = 1_000_000_000
    return {
        "test": test,
        "interval": int((hc.get("interval") or 30) * ns),
        "timeout": int((hc.get("timeout") or 5) * ns),
        "retries": int(hc.get("retries") or 3),
        "start_period": int((hc.get("start_period") or 0) * ns),
    }


_pull_lock = threading.Lock()


def ensure_images(client: docker.DockerClient, images: Iterable[str],
                  log: Callable[[str], None] = lambda _m: None) -> None:
    """Pull each image by its reference when it is not present locally (once each)."""
    with _pull_lock:  # two services sharing an image must not pull it twice at once
        for image in sorted(set(images)):
            try:
                client.api.inspect_image(image)
                continue
            except ImageNotFound:
                pass
            log(f"pulling {image}")
            try:
                repo, sep, digest = image.partition("@")
                if sep:
                    client.api.pull(repo, tag=digest)
                else:
                    client.images.pull(image)
                client.api.inspect_image(image)
            except (APIError, ImageNotFound) as exc:
                raise FgformError(f"cannot pull image {image!r}: {_explain(exc)}",
                                  hint="Check the image name, and that its registry "
                                  "(fg_registry) is running.") from exc


def _explain(exc: Exception) -> str:
    return getattr(exc, "explanation", None) or str(exc)


def container_config(td: dict[str, Any], index: int, spec: dict[str, Any],
                     command: list[str] | None = None,
                     environment: dict[str, str] | None = None,
                     kind: str = KIND_SERVICE) -> dict[str, Any]:
    """The effective definition of container `index` (`spec`) of a task of `td`: what
    `_create_container` hands Docker, after the launch's overrides (`command` for the first
    essential container, `environment` added to every container's), the task's cpu/memory
    and the restart policy of a task launched as `kind`.

    Its `config_hash` is the container's `fgform.config-hash` label. Only what reaches Docker
    is in it, normalised (256 and 256.0 alike, seconds as Docker's nanoseconds), so the hash of
    a revision does not change when the revision is only re-recorded (an INACTIVE revision's
    `status`, another key order, a schema default added to state later).
    """
    cpu = spec.get("cpu") or td.get("cpu") or 0
    mem = spec.get("memory") or td.get("memory") or 0
    env = dict(spec.get("environment") or {})
    env.update(environment or {})
    cmd = spec.get("command")
    if command is not None and index == _first_essential(td):
        cmd = command
    return {
        "name": spec["name"],
        "image": spec["image"],
        "command": list(cmd) if cmd is not None else None,
        "entry_point": (list(spec["entry_point"]) if spec.get("entry_point") is not None
                        else None),
        "environment": env,
        "working_directory": spec.get("working_directory"),
        "user": spec.get("user"),
        "health_check": healthcheck(spec.get("health_check")),
        "stop_timeout": int(spec.get("stop_timeout") or 10),
        "essential": bool(spec.get("essential", True)),
        "nano_cpus": int(cpu * 1_000_000_000 / 1024) if cpu else None,
        "memory_bytes": int(mem) * 1024 * 1024 if mem else None,
        # The task-level reservation (cpu/memory labels) and, on the namespace owner, the
        # host ports of the whole task.
        "task_cpu": int(td.get("cpu") or 0),
        "task_memory": int(td.get("memory") or 0),
        "publish": _publish(td) if index == 0 else {},
        "restart_policy": restart_policy(td, index, kind),
    }


def definition_hashes(td: dict[str, Any], command: list[str] | None = None,
                      environment: dict[str, str] | None = None) -> dict[str, str]:
    """Container name -> the `fgform.config-hash` its container in a task of `td` carries."""
    return {spec["name"]: L.config_hash(container_config(td, i, spec, command, environment))
            for i, spec in enumerate(td.get("container") or [])}


def _create_container(client: docker.DockerClient, ctx: FleetContext, launch: Launch,
                      index: int, spec: dict[str, Any], first_name: str | None) -> str:
    """Create one container of the task; returns its id."""
    td = launch.taskdef
    cfg = container_config(td, index, spec, launch.command, launch.environment, launch.kind)
    name = container_name(launch.cluster.name, launch.service, launch.task_id, spec["name"])
    labels = L.base_labels(
        ctx, launch.address, attrs=cfg, kind=launch.kind,
        **{
            L.CLUSTER: launch.cluster.name,
            L.SERVICE: launch.service,
            L.TASK_DEFINITION: str(td.get("arn") or ""),
            L.TASK_ID: launch.task_id,
            L.INSTANCE: launch.instance,
            CONTAINER: spec["name"],
            CONTAINER_INDEX: str(index),
            # Task-level reservation on every container: usage is summed once per task id.
            CPU: str(cfg["task_cpu"]),
            MEMORY: str(cfg["task_memory"]),
            ESSENTIAL: "true" if cfg["essential"] else "false",
            CREATED: datetime.now(UTC).isoformat(timespec="microseconds"),
            STOP_TIMEOUT: str(cfg["stop_timeout"]),
            RESTART_POLICY: cfg["restart_policy"],
        },
    )
    # The config hash names the ports only; the address is the instance's (placement).
    publish = _bind_to(cfg["publish"], instance_address(launch.instance))
    host_kwargs: dict[str, Any] = {
        "init": True,  # PID 1 forwards SIGTERM and reaps: stop takes 0.1 s, not the timeout
        "nano_cpus": cfg["nano_cpus"],
        "mem_limit": cfg["memory_bytes"],
        "memswap_limit": cfg["memory_bytes"],  # equal to the limit: no swap, as on Fargate
        # None until `arm`: a crash before its deployment saw it healthy is a failed task,
        # as ECS counts it, not a restart the engine would be busy with while it is removed.
        "restart_policy": {"Name": RESTART_NEVER},
    }
    if first_name is None:
        host_kwargs["network_mode"] = launch.cluster.network
        if publish:
            host_kwargs["port_bindings"] = publish
        networking = client.api.create_networking_config(
            {launch.cluster.network: client.api.create_endpoint_config(
                aliases=[launch.task_id])})
    else:
        host_kwargs["network_mode"] = f"container:{first_name}"
        networking = None
    host_config = client.api.create_host_config(
        **{k: v for k, v in host_kwargs.items() if v is not None})
    resp = client.api.create_container(
        cfg["image"],
        command=cfg["command"],
        entrypoint=cfg["entry_point"],
        name=name,
        hostname=launch.task_id if first_name is None else None,
        labels=labels,
        environment=cfg["environment"] or None,
        working_dir=cfg["working_directory"],
        user=cfg["user"],
        healthcheck=cfg["health_check"],
        stop_timeout=cfg["stop_timeout"],
        # (port, protocol) pairs: docker-py appends "/tcp" to a plain "8080/tcp" string.
        ports=_exposed(publish) if first_name is None and publish else None,
        host_config=host_config,
        networking_config=networking,
        detach=True,
    )
    return str(resp["Id"])


def _first_essential(td: dict[str, Any]) -> int:
    specs = td.get("container") or []
    return next((i for i, c in enumerate(specs) if c.get("essential", True)), 0)


def _exposed(publish: dict[str, Any]) -> list[tuple[int, str]]:
    """The `ports=` of create_container for `_publish`'s keys ("8080/tcp" -> (8080, "tcp"))."""
    out = []
    for key in publish:
        port, _, proto = str(key).partition("/")
        out.append((int(port), proto or "tcp"))
    return out


def _publish(td: dict[str, Any], bind: str = "127.0.0.1") -> dict[str, Any]:
    """Host ports of every container: all published on the first container, which owns the
    task's network namespace."""
    out: dict[str, Any] = {}
    for spec in td.get("container") or []:
        for pm in spec.get("port_mapping") or []:
            if pm.get("host_port"):
                key = f"{pm['container_port']}/{pm.get('protocol') or 'tcp'}"
                out[key] = (bind, int(pm["host_port"]))
    return out


def port_label(port: int, protocol: str | None = "tcp") -> str:
    """A host port as the capacity manager and the messages name it: "8080" (TCP, what
    nearly every task publishes) or "53/udp"."""
    proto = (protocol or "tcp").lower()
    return str(port) if proto == "tcp" else f"{port}/{proto}"


def host_ports(td: dict[str, Any]) -> list[str]:
    """The host ports a task of this definition publishes, as `port_label`s, in order."""
    labels = {port_label(port, key.partition("/")[2])
              for key, (_bind, port) in _publish(td).items()}
    return sorted(labels, key=lambda p: (int(p.partition("/")[0]), p))


# Published on every address of the host: such a port is taken on every instance.
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def host_ports_held(client: docker.DockerClient, instances: dict[str, str],
                    ports: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each instance (id -> its address), which of `ports` are taken there, and by whom.

    Every container of the engine counts, not only this cluster's or this state's tasks:
    instances of different clusters share addresses, and a registry or a load balancer
    listener publishes on them too. A running container's ports come from the list call; a
    container that is created (about to start) or restarting holds none yet, so its
    configured bindings are read. A port held by a process outside Docker is found by
    trying to bind it (when the engine runs on this machine).
    """
    held: dict[str, dict[str, str]] = {iid: {} for iid in instances}
    if not ports:
        return held
    wanted = set(ports)
    by_address: dict[str, list[str]] = {}
    for iid, address in instances.items():
        by_address.setdefault(address, []).append(iid)

    def take(ip: str, label: str, holder: str) -> None:
        if label not in wanted:
            return
        targets = list(instances) if ip in _ANY_ADDRESS else by_address.get(ip, [])
        for iid in targets:
            held[iid].setdefault(label, holder)

    rows = client.api.containers(all=True, filters={
        "status": ["running", "created", "restarting", "paused"]})
    for row in sorted(rows, key=lambda r: (r.get("Created") or 0, r["Id"])):
        holder = _holder(row)
        if row.get("State") in ("running", "paused"):
            for p in row.get("Ports") or []:
                if p.get("PublicPort"):
                    take(str(p.get("IP") or ""), port_label(int(p["PublicPort"]), p.get("Type")),
                         holder)
            continue
        try:
            bindings = (client.api.inspect_container(row["Id"]).get("HostConfig") or {}) \
                .get("PortBindings") or {}
        except (NotFound, APIError):
            continue  # removed meanwhile: it holds nothing
        for key, binds in bindings.items():
            proto = str(key).partition("/")[2]
            for b in binds or []:
                if str(b.get("HostPort") or "").isdigit():
                    take(str(b.get("HostIp") or ""), port_label(int(b["HostPort"]), proto),
                         holder)
    if _engine_is_local(client):
        for address, iids in by_address.items():
            for label in ports:
                if not all(label in held[iid] for iid in iids) and _bound(address, label):
                    for iid in iids:
                        held[iid].setdefault(label, "a process outside Docker")
    return held


def _holder(row: dict[str, Any]) -> str:
    """Who a container publishing a port is, for a message: a task by its service (or
    one-off task definition) and id, another fgform object by its resource address."""
    labels = row.get("Labels") or {}
    name = (row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/")
    tid = labels.get(L.TASK_ID)
    if tid:
        if labels.get(L.KIND) == KIND_RUN_TASK:
            return f"run-task {labels.get(L.TASK_DEFINITION, '?')} (task {tid})"
        return f"service {labels.get(L.SERVICE) or '?'} (task {tid})"
    if labels.get(L.ADDRESS):
        return f"{labels[L.ADDRESS]} (container {name})"
    return f"container {name}"


def _engine_is_local(client: docker.DockerClient) -> bool:
    """Whether the engine publishes on this machine's addresses (a Unix socket)."""
    return str(getattr(client.api, "base_url", "")).startswith("http+docker://")


def _bound(address: str, label: str) -> bool:
    """Whether something already listens on `address`:port (TCP; other protocols are left
    to Docker, which reports a clash when it starts the task)."""
    number, _, proto = label.partition("/")
    if proto not in ("", "tcp"):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As a listener would: a port left in TIME_WAIT by a stopped task is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, int(number)))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _bind_to(publish: dict[str, Any], address: str) -> dict[str, Any]:
    """`_publish`'s bindings moved to the address of the instance the task is placed on."""
    return {key: (address, port) for key, (_bind, port) in publish.items()}


def launch_task(client: docker.DockerClient, ctx: FleetContext, launch: Launch) -> list[str]:
    """Create and start every container of one task; returns container ids in order.

    On failure the task's containers are removed, so a half-started task never lingers.
    """
    specs = list(launch.taskdef.get("container") or [])
    if not specs:
        raise FgformError(f"task definition {launch.taskdef.get('arn')} has no containers")
    ids: list[str] = []
    first_name: str | None = None
    try:
        for index, spec in enumerate(specs):
            cid = _create_container(client, ctx, launch, index, spec, first_name)
            ids.append(cid)
            if index == 0:
                first_name = container_name(launch.cluster.name, launch.service,
                                            launch.task_id, spec["name"])
                # The others join this namespace, which exists only once it runs.
                client.api.start(cid)
        for cid in ids[1:]:
            client.api.start(cid)
    except APIError as exc:
        remove_containers(client, [(cid, 0) for cid in ids])
        raise FgformError(
            f"cannot start task {launch.task_id} of {launch.taskdef.get('arn')}: "
            f"{_explain(exc)}") from exc
    launch.container_ids = ids
    ctx.log(f"{launch.address}: started task {launch.task_id} "
            f"({launch.taskdef.get('arn')}) on {launch.instance}")
    return ids


def launch_tasks(client: docker.DockerClient, ctx: FleetContext, launches: Sequence[Launch]
                 ) -> tuple[list[Launch], list[FgformError]]:
    """Start several tasks in parallel; returns those started and the errors of the rest."""
    if not launches:
        return [], []
    images = {c["image"] for ln in launches for c in ln.taskdef.get("container") or []}
    ensure_images(client, images, ctx.log)
    ok: list[Launch] = []
    errors: list[FgformError] = []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(launches))) as pool:
        futures = [(ln, pool.submit(launch_task, client, ctx, ln)) for ln in launches]
        for ln, fut in futures:
            try:
                fut.result()
                ok.append(ln)
            except FgformError as exc:
                errors.append(exc)
    return ok, errors


# -- stopping ----------------------------------------------------------------------------------
def remove_containers(client: docker.DockerClient, items: Sequence[tuple[str, int]]) -> None:
    """Stop (SIGTERM, then SIGKILL after its timeout) and remove containers; gone is fine."""
    for cid, timeout in items:
        try:
            client.api.stop(cid, timeout=timeout)
        except NotFound:
            continue
        except APIError:
            pass  # already stopping/stopped: removal below settles it
        try:
            client.api.remove_container(cid, force=True)
        except NotFound:
            pass
        except APIError as exc:
            # "removal already in progress" from a concurrent delete is fine
            if "already in progress" not in _explain(exc):
                raise


def stop_task(client: docker.DockerClient, task: LiveTask, keep_stopped: bool = False) -> None:
    """Stop and remove a task's containers; joined containers first, the namespace owner
    last. `keep_stopped` leaves exited essential containers for their logs."""
    items = [(c.id, c.stop_timeout) for c in sorted(task.containers, key=lambda c: -c.index)
             if not (keep_stopped and c.essential and c.state in ("exited", "dead"))]
    remove_containers(client, items)


def stop_tasks(client: docker.DockerClient, tasks: Sequence[LiveTask],
               keep_stopped: bool = False) -> None:
    """Stop several tasks in parallel."""
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(tasks))) as pool:
        for fut in [pool.submit(stop_task, client, t, keep_stopped) for t in tasks]:
            fut.result()


# -- waiting and diagnosing ------------------------------------------------------------------
@dataclass(slots=True)
class WaitResult:
    healthy: list[LiveTask]
    failed: dict[str, str]  # task id -> why (exit code, health output, last log lines)
    live: list[LiveTask]  # the last list call's view of every task of the filter
    # Failed tasks known to have stopped, though the (lagging) list view may still show them
    # running: a `die` event or an inspect said so.
    stopped: set[str] = field(default_factory=set)


class _Wakeup:
    """Wakes `wait_healthy` as soon as Docker reports that a watched container started, died
    or changed health, instead of letting it sleep out the poll interval (a task is seen
    healthy ~0.1 s sooner on average, up to POLL_SECONDS). One `GET /events` stream, filtered
    by the same labels as the list call; exec events of the health checks are not asked for.

    It also remembers every `die` of an essential container, by task id (`died`): the engine
    reports the die before its list view catches up, so a task that died is failed even while
    the list call still shows it "Up". With `since` (epoch seconds, taken before the tasks were
    launched) the engine replays the events from then on, so a container that died before
    the stream was opened is not missed.

    Apart from `died`, only a wake-up: every decision still comes from the list call (and an
    inspect), and the loop still polls every POLL_SECONDS, so a stream that fails (or is never
    opened) changes nothing else.
    """

    # Events within this long after a list call are answered by the next one, not by one
    # list call each (ten tasks turn healthy within a few hundred milliseconds).
    MIN_GAP = 0.05

    def __init__(self, client: docker.DockerClient, filters: dict[str, list[str]],
                 since: float | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._died: dict[str, str] = {}  # task id -> exit code (as the event gives it)
        self._stream: Any = None
        try:
            self._stream = client.api.events(
                decode=True,
                # Whole seconds (rounded down): earlier events only cost a few more lines.
                since=int(since) if since is not None else None,
                filters={
                    **filters, "type": ["container"],
                    # health_status matches "health_status: healthy" etc. by prefix.
                    "event": ["health_status", "start", "die", "destroy"]})
        except (APIError, OSError, docker.errors.DockerException):
            return
        threading.Thread(target=self._pump, name="fgform-events", daemon=True).start()

    def _pump(self) -> None:
        try:
            for ev in self._stream:
                self._note(ev)
                self._event.set()
        except Exception:  # noqa: BLE001 - closed by close(), or the engine went away
            pass

    def _note(self, ev: Any) -> None:
        if not isinstance(ev, dict) or (ev.get("Action") or ev.get("status")) != "die":
            return
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        tid = attrs.get(L.TASK_ID)
        if tid and attrs.get(ESSENTIAL, "true") == "true":
            with self._lock:
                self._died.setdefault(tid, str(attrs.get("exitCode", "?")))

    def died(self, task_id: str) -> str | None:
        """The exit code of the first essential container of `task_id` seen to die."""
        with self._lock:
            return self._died.get(task_id)

    def wait(self, seconds: float, listed_at: float) -> None:
        """Sleep until an event arrives or `seconds` pass; `listed_at` is when (monotonic)
        the last list call was made."""
        if self._event.wait(seconds):
            since = time.monotonic() - listed_at
            if since < self.MIN_GAP:
                time.sleep(self.MIN_GAP - since)
        self._event.clear()

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - best effort
                pass


def watch_changes(ctx: FleetContext, client: docker.DockerClient) -> _Wakeup:
    """A wake-up on the engine's events for this lineage's service task containers (start,
    die, destroy, health changes): `reconcile -watch` sleeps on it instead of a bare timer.
    `close()` it when done."""
    return _Wakeup(client, L.label_filter(ctx, kind=KIND_SERVICE))


def wait_healthy(ctx: FleetContext, client: docker.DockerClient, task_ids: Iterable[str],
                 timeout: float, log_lines: int = 10, grace: float = 0.0,
                 since: float | None = None, **extra: str) -> WaitResult:
    """Wait (one list call per round) until every task in `task_ids` runs and is healthy.

    A round starts when Docker reports a change of one of the tasks' containers (an event
    stream), or after POLL_SECONDS at the latest. A task fails at once when an essential
    container stops (in the list call, or by a `die` event), when its restart policy restarts
    one (it crashed: a restart must not hide it), or when a health check turns
    unhealthy after the first `grace` seconds (the service's health_check_grace_period); the
    others are waited for until `timeout`. A task passes only when steady (`_steady`).
    `since` (epoch seconds, before the tasks were launched) lets the event stream replay the
    dies that came before it was opened. Failures carry diagnostics.
    """
    wakeup = _Wakeup(client, L.label_filter(ctx, **extra), since)
    try:
        return _wait_healthy(ctx, client, task_ids, timeout, log_lines, grace, wakeup, extra,
                             since)
    finally:
        wakeup.close()


def _steady(client: docker.DockerClient, task: LiveTask, since: float | None = None) -> str:
    """Whether a task the list call shows running and healthy may pass: "steady", "wait"
    (not up long enough yet) or "stopped" (an inspect shows it is not running after all, or
    that its restart policy restarted it at `since` or later: it crashed).

    Every essential container must be up MIN_STABLE_SECONDS by the engine's clock (a task
    with a health check has proven itself by passing it, so only that it runs is checked);
    then an inspect of each confirms it: unlike the list view, an inspect waits for the
    engine to finish handling an exit it has received.
    """
    if task.health == "UNKNOWN":
        ups = [c.uptime for c in task.essentials]
        if any(u is None or u < MIN_STABLE_SECONDS for u in ups):
            return "wait"
    for c in task.essentials:
        try:
            info = client.api.inspect_container(c.id)
        except NotFound:
            return "stopped"
        state = info.get("State") or {}
        if not state.get("Running") or state.get("Restarting") or state.get("Dead"):
            return "stopped"
        if restarted_since(info.get("RestartCount"), state.get("StartedAt"), since):
            return "stopped"
    return "steady"


def _wait_healthy(ctx: FleetContext, client: docker.DockerClient, task_ids: Iterable[str],
                  timeout: float, log_lines: int, grace: float, wakeup: _Wakeup,
                  extra: dict[str, str], since: float | None = None) -> WaitResult:
    pending = set(task_ids)
    started = time.monotonic()
    deadline = started + timeout
    failed: dict[str, str] = {}
    healthy: dict[str, LiveTask] = {}
    stopped: set[str] = set()
    live: list[LiveTask] = []
    while True:
        listed_at = time.monotonic()
        live = list_live_tasks(ctx, client, **extra)
        by_id = {t.task_id: t for t in live}
        for tid in sorted(pending):
            task = by_id.get(tid)
            if task is None:
                failed[tid] = "its containers disappeared (removed by someone else?)"
            elif task.stopped or task.restarting or wakeup.died(tid) is not None:
                # A `die` also when the restart policy brings the container back at once.
                failed[tid] = describe_failure(client, task, "stopped", log_lines,
                                               died=wakeup.died(tid))
                stopped.add(tid)
            elif task.unhealthy and time.monotonic() - started >= grace:
                failed[tid] = describe_failure(client, task, "unhealthy", log_lines)
            elif task.healthy:
                verdict = _steady(client, task, since)
                if verdict == "wait":
                    continue
                if verdict == "stopped":
                    failed[tid] = describe_failure(client, task, "stopped", log_lines,
                                                   died=wakeup.died(tid))
                    stopped.add(tid)
                else:
                    healthy[tid] = task
            else:
                continue
            pending.discard(tid)
        if not pending:
            break
        if time.monotonic() >= deadline:
            for tid in sorted(pending):
                task = by_id.get(tid)
                failed[tid] = (describe_failure(client, task, f"not healthy after {timeout:g} s",
                                                log_lines) if task else "gone")
            break
        wakeup.wait(POLL_SECONDS, listed_at)
    return WaitResult(list(healthy.values()), failed, live, stopped)


def describe_failure(client: docker.DockerClient, task: LiveTask, what: str,
                     log_lines: int = 10, died: str | None = None) -> str:
    """Why a task failed: exit codes, the last health-check output, the last log lines.

    `died`: the exit code a `die` event reported, shown when no inspect shows it (yet): a
    container its restart policy restarted runs again, with exit code 0 in inspect."""
    parts = [f"task {task.task_id} ({task.task_definition} on {task.instance}) {what}"]
    exited = False
    for c in task.containers:
        head = f"  container {c.container}: {c.status or c.state}"
        try:
            info = client.api.inspect_container(c.id)
        except NotFound:
            parts.append(head + " (gone)")
            continue
        state = info.get("State") or {}
        if state.get("Status") and state.get("Status") != c.state:
            # The list view lagged behind: say what the container really is.
            head = f"  container {c.container}: {state['Status']}"
        restarts = int(info.get("RestartCount") or 0)
        # A restarting container still shows the exit code it restarts after.
        if state.get("Status") in ("exited", "restarting"):
            exited = True
            head += f" exit code {state.get('ExitCode')}"
            if state.get("OOMKilled"):
                head += " (out of memory: raise the task's memory)"
            if state.get("Error"):
                head += f" error: {state['Error']}"
        if restarts:
            policy = ((info.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name")
            head += (f"; restarted {restarts} time{'s' if restarts != 1 else ''} by its "
                     f"restart policy ({policy})")
        parts.append(head)
        hlog = ((state.get("Health") or {}).get("Log") or [])
        if hlog:
            last = hlog[-1]
            out = (last.get("Output") or "").strip()
            parts.append(f"    last health check: exit {last.get('ExitCode')}"
                         + (f": {out[-300:]}" if out else " (no output)"))
        try:
            raw = client.api.logs(c.id, tail=log_lines)
        except APIError:
            raw = b""
        text = raw.decode("utf-8", "replace").rstrip("\n") if isinstance(raw, bytes) else ""
        if text:
            parts.append("    last log lines:")
            parts.extend(f"      {line}" for line in text.splitlines()[-log_lines:])
        else:
            parts.append("    (no log output)")
    if died is not None and not exited:
        parts.append(f"  the engine reported an essential container died: exit code {died}")
    return "\n".join(parts)
