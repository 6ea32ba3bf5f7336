"""RunTask on a Docker Swarm: a one-off task run as a Swarm job (`fgform run-task` on a
cluster whose engine is "swarm").

The task definition's container becomes a Swarm service of `count` tasks, each run once
(restart condition "none"; see MODE for why not Swarm's `replicated-job` mode on this
engine) on the cluster's attachable overlay network, labelled like every
fgform object (lineage, address, kind "run-task"), with the task's cpu/memory as Swarm
reservations and limits and no restart (ECS never retries a RunTask task; a Swarm job
would, by default, on failure). Swarm places the tasks on its nodes and pulls the image on
each (by digest: fgform's registry is reachable as 127.0.0.1:PORT on every node).

The logs come from the manager's service logs (they reach tasks on any node), streamed to
`on_log` while the job runs, then completed from one last read once it has finished. The
return value is the exit code of the job's tasks (each task's
Status.ContainerStatus.ExitCode; the highest, so any failure shows), as the local backend
returns the essential container's. The job service is removed afterwards, on success, error,
timeout and Ctrl-C alike.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types import (
    ContainerSpec,
    Placement,
    Resources,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
)

from fgform.errors import FgformError
from fgform.fleet.capacity import InsufficientCapacityError
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.launch import container_config
from fgform.fleet.docker.live_tasks import KIND_RUN_TASK
from fgform.fleet.docker.task_definition import definition_of
from fgform.fleet.driver import FleetContext
from fgform.fleet.swarm.naming import swarm_service_name
from fgform.fleet.swarm.placement import swarm_placement
from fgform.fleet.swarm.removal import remove_service
from fgform.placement_rules import constraints_of

LogCallback = Callable[[str], None]

# The Swarm mode a one-off task runs in. Swarm's own job mode ("replicated-job") is what the
# task is, but on Engine 20.10 removing a job service leaves its tasks in the swarm's store
# and their containers on the worker nodes, running ones included (moby/moby#42789, #44312;
# seen here: a timed-out job's container still ran a minute after `service rm`). A
# "replicated" service with restart condition "none" runs each task exactly once, as ECS
# RunTask does, and its removal takes its tasks and containers away on every node. Set to
# "replicated-job" on an engine that cleans jobs up: the rest of this module handles both.
MODE = "replicated"

# Task states after which a Swarm task never runs again.
FINISHED = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})
# How often the job's tasks are listed while it runs (one API call each time).
POLL = 0.3
# The removal's wait for the job's tasks to settle (fgform/fleet/swarm/removal.py): short,
# since it runs on Ctrl-C too.
REMOVE_WAIT = 10.0
# Swarm's scheduler error for a task no node can take (resources or constraints).
_NO_NODE = "no suitable node"


def run_swarm_task(client: docker.DockerClient, ctx: FleetContext,
                   cluster_attrs: dict[str, Any], taskdef_attrs: dict[str, Any],
                   count: int = 1, override_command: list[str] | None = None,
                   env: dict[str, str] | None = None, on_log: LogCallback | None = None,
                   timeout: float | None = None,
                   constraints: Sequence[str] | None = None) -> int:
    """Run `count` tasks of `taskdef_attrs` as one Swarm job on the cluster's overlay
    network (`cluster_attrs["network_name"]`); returns the exit code.

    As the local `run_task`: log lines go to `on_log` (prefixed with the Swarm task id when
    count > 1), `timeout` (seconds) removes the job and raises FgformError. The task
    definition's `placement_constraints` apply as to its services on Swarm
    (fleet/swarm/placement.py: memberOf as node constraints, distinctInstance as one task
    per node; one Swarm cannot express is refused before anything starts); `constraints`
    are more Swarm constraints (`node.role==worker`), added to those. A task no node can take, or one Swarm rejects (an image it cannot pull), is
    an error, not a wait without end.
    """
    if count < 1:
        raise FgformError("run-task needs a count of at least 1")
    taskdef = definition_of(taskdef_attrs)
    specs = list(taskdef.get("container") or [])
    if len(specs) != 1:
        # A Swarm task is one container: the containers of an ECS task share a network
        # namespace, which a Swarm service cannot express.
        raise FgformError(
            f"run-task on a Swarm cluster runs task definitions with exactly one container; "
            f"{taskdef.get('arn') or taskdef.get('family')} has {len(specs)}",
            hint="Split the task definition, or run it on a cluster with engine = \"docker\".")
    network = cluster_attrs.get("network_name")
    if not network:
        raise FgformError(f"the cluster {cluster_attrs.get('id') or cluster_attrs.get('name')} "
                          "has no network_name in state", hint="Apply the fg_cluster first.")
    arn = str(taskdef.get("arn") or taskdef.get("family"))
    family = str(taskdef.get("family") or "task")
    emit = _serialised(on_log or (lambda _line: None))
    template, labels = job_template(ctx, cluster_attrs, taskdef, override_command, env,
                                    constraints)
    name = swarm_service_name(ctx.lineage, f"run-{family}-{secrets.token_hex(3)}")
    service_id: str | None = None
    follower: _LogFollower | None = None
    try:
        service_id = str(client.api.create_service(template, name=name, labels=labels,
                                                   mode=job_mode(count))["ID"])
        deadline = None if timeout is None else time.monotonic() + timeout
        ours = _first_tasks(client, service_id, count, deadline, timeout)
        follower = _LogFollower(client, service_id, ours, count > 1, emit)
        follower.start()
        tasks = _wait(client, service_id, ours, deadline, timeout, arn)
        follower.finish()
        return max(_exit_code(t) for t in tasks)
    finally:
        # Runs on success, on errors and on Ctrl-C alike: a one-off task never lingers.
        if follower is not None:
            follower.stop()
        if service_id is not None:
            remove_service(client, service_id, time.monotonic() + REMOVE_WAIT)


def job_mode(count: int) -> ServiceMode:
    """`count` tasks, all at once, each run once (see MODE)."""
    if MODE == "replicated-job":
        return ServiceMode("replicated-job", replicas=count, concurrency=count)
    return ServiceMode("replicated", replicas=count)


def job_template(ctx: FleetContext, cluster_attrs: dict[str, Any], taskdef: dict[str, Any],
                 override_command: list[str] | None = None, env: dict[str, str] | None = None,
                 constraints: Sequence[str] | None = None
                 ) -> tuple[TaskTemplate, dict[str, str]]:
    """The job's task template and service labels, from the task definition's only
    container as the local backend reads it (`container_config`: override command, extra
    environment, cpu units and MiB)."""
    spec = taskdef["container"][0]
    cfg = container_config(taskdef, 0, spec, override_command, env, KIND_RUN_TASK)
    cluster = str(cluster_attrs.get("id") or cluster_attrs.get("name"))
    arn = str(taskdef.get("arn") or taskdef.get("family"))
    labels = L.base_labels(ctx, f"run-task:{arn}", kind=KIND_RUN_TASK,
                           **{L.CLUSTER: cluster, L.TASK_DEFINITION: arn})
    cpu_units, mem_mib = int(taskdef.get("cpu") or 0), int(taskdef.get("memory") or 0)
    container = ContainerSpec(
        cfg["image"],
        # Swarm's Command is the entrypoint and Args the command, as `docker run` has them.
        command=cfg["entry_point"],
        args=cfg["command"],
        env=[f"{k}={v}" for k, v in sorted(cfg["environment"].items())] or None,
        workdir=cfg["working_directory"],
        user=cfg["user"],
        labels=labels,
        stop_grace_period=int(cfg["stop_timeout"]) * 1_000_000_000,
        init=True,  # as the local task containers: PID 1 forwards SIGTERM and reaps
    )
    # The task definition's placement constraints, in Swarm's terms (as its services'):
    # memberOf as node constraints, distinctInstance as at most one task per node.
    placement = swarm_placement(constraints_of(taskdef))
    node_constraints = [*placement.constraints, *(constraints or ())]
    resources = Resources(
        # The container's own size when it has one, else the task's: the limit.
        cpu_limit=cfg["nano_cpus"], mem_limit=cfg["memory_bytes"],
        # The task's size: what Swarm's scheduler reserves on the node (ECS's placement).
        cpu_reservation=cpu_units * 1_000_000_000 // 1024 if cpu_units else None,
        mem_reservation=mem_mib * 1024 * 1024 if mem_mib else None,
    )
    template = TaskTemplate(
        container, resources=resources,
        restart_policy=RestartPolicy(condition="none"),
        networks=[str(cluster_attrs["network_name"])],
        placement=Placement(constraints=node_constraints or None,
                            maxreplicas=placement.max_replicas or None),
    )
    return template, labels


def _first_tasks(client: docker.DockerClient, service_id: str, count: int,
                 deadline: float | None, timeout: float | None) -> set[str]:
    """The ids of the job's `count` tasks: the first ones Swarm made.

    In job mode, Swarm replaces a failed task until it has its completions, whatever the
    restart policy; ECS runs a task once. So the job's result is that of its first `count` tasks,
    and a replacement (removed with the job) is ignored."""
    while True:
        tasks = client.api.tasks(filters={"service": service_id})
        if len(tasks) >= count:
            tasks.sort(key=lambda t: (str(t.get("CreatedAt") or ""), str(t.get("ID"))))
            return {str(t["ID"]) for t in tasks[:count]}
        _check_deadline(deadline, timeout)
        time.sleep(POLL / 3)


def _check_deadline(deadline: float | None, timeout: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise FgformError(f"run-task: the task(s) ran longer than {timeout:g} s and "
                          "were stopped")


def _wait(client: docker.DockerClient, service_id: str, ours: set[str],
          deadline: float | None, timeout: float | None, arn: str) -> list[dict[str, Any]]:
    """Poll the job's tasks until each of `ours` has finished; returns those tasks."""
    while True:
        tasks = [t for t in client.api.tasks(filters={"service": service_id})
                 if str(t.get("ID")) in ours]
        for t in tasks:
            status = t.get("Status") or {}
            err = str(status.get("Err") or "")
            if status.get("State") == "rejected":
                raise FgformError(f"run-task: Swarm rejected the task of {arn}: {err}",
                                  hint="Is the image pushed to a registry every node can "
                                       "pull from (fg_image with an fg_registry)?")
            if status.get("State") == "pending" and _NO_NODE in err:
                raise InsufficientCapacityError(
                    f"Unable to place a task of {arn}: {err}", unplaced=len(ours), free={},
                    hint="Lower the task's cpu/memory, or add nodes to the swarm.")
        done = [t for t in tasks if (t.get("Status") or {}).get("State") in FINISHED]
        if len(done) >= len(ours):
            return done
        _check_deadline(deadline, timeout)
        time.sleep(POLL)


def _exit_code(task: dict[str, Any]) -> int:
    """A finished task's exit code; 137 (what a kill reports) when it never had one."""
    status = task.get("Status") or {}
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    if code is None:
        return 0 if status.get("State") == "complete" else 137
    return int(code)


def _serialised(fn: LogCallback) -> LogCallback:
    """One line at a time, from the streaming thread and the final read."""
    lock = threading.Lock()

    def call(line: str) -> None:
        with lock:
            fn(line)

    return call


class _LogFollower:
    """The job's log lines, streamed while it runs, then completed once it has finished.

    The manager's service log stream carries each line with its task id (`details`); a
    line streamed is counted per task, so the final (non-follow) read only emits what the
    stream had not delivered yet: every line once, in each task's order."""

    def __init__(self, client: docker.DockerClient, service_id: str, ours: set[str],
                 prefix: bool, emit: LogCallback) -> None:
        self._client = client
        self._service = service_id
        self._ours = ours  # lines of other tasks (a job's replacements) are left out
        self._prefix = prefix
        self._emit = emit
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}  # task id -> lines emitted
        self._stopped = False
        self._stream: Any = None
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _lines(self, follow: bool) -> Any:
        return self._client.api.service_logs(self._service, details=True, follow=follow,
                                             stdout=True, stderr=True)

    def _follow(self) -> None:
        try:
            self._stream = self._lines(follow=True)
            buf = b""
            for chunk in self._stream:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    with self._lock:
                        if self._stopped:
                            return
                        self._take(raw, streamed=True)
        except (APIError, NotFound, OSError, ValueError, AttributeError):
            pass  # closed by stop(), or the job removed under us

    def _take(self, raw: bytes, *, streamed: bool, index: dict[str, int] | None = None
              ) -> None:
        task, line = _split_details(raw.decode("utf-8", "replace"))
        if task not in self._ours:
            return
        if streamed:
            self._seen[task] = self._seen.get(task, 0) + 1
        else:
            assert index is not None
            index[task] = index.get(task, 0) + 1
            if index[task] <= self._seen.get(task, 0):
                return  # streamed already
            self._seen[task] = index[task]
        self._emit((f"{task[:12]} | " if self._prefix else "") + line)

    def finish(self) -> None:
        """After the job: stop the stream, then emit the lines it had not delivered."""
        self.stop()
        with self._lock:
            index: dict[str, int] = {}
            data = b"".join(self._lines(follow=False))
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            for raw in lines:
                self._take(raw, streamed=False, index=index)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a dead stream: nothing to do
                pass
        self._thread.join(timeout=2)


def _split_details(text: str) -> tuple[str, str]:
    """(task id, line) of a service log line read with `details`: Docker puts the task's
    attributes first (`com.docker.swarm.node.id=...,com.docker.swarm.task.id=... line`)."""
    head, sep, rest = text.partition(" ")
    if sep and "com.docker.swarm.task.id=" in head:
        for pair in head.split(","):
            key, _, value = pair.partition("=")
            if key == "com.docker.swarm.task.id":
                return value, rest
    return "", text
