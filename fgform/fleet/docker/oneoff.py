"""One-off tasks as the ECS API runs them (RunTask, DescribeTasks, ListTasks, StopTask):
started without waiting for them to exit, and read back later from their containers.

`fgform run-task` (runtask.py) blocks until its tasks exit and removes them; RunTask returns
once the containers are started, and an exited task's containers stay, stopped (holding no
capacity, no address and no port), so DescribeTasks shows its exit code as ECS shows a
stopped task for about an hour. `sweep` removes them after the retention; destroying the
cluster removes them with it (cluster.py). Everything about a task is in its container
labels and the list call's `State`/`Status`, so the views are ONE list call.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Collection
from datetime import datetime
from typing import Any

import docker
from docker.errors import APIError, NotFound

from fgform.errors import FgformError
from fgform.fleet import capacity
from fgform.fleet.docker import labels as L
from fgform.fleet.docker.launch import Launch, launch_tasks, remove_containers, stop_task
from fgform.fleet.docker.live_tasks import (
    _UNIT_SECONDS,
    KIND_RUN_TASK,
    KIND_SERVICE,
    LiveContainer,
    LiveTask,
    group_tasks,
    list_live_tasks,
)
from fgform.fleet.docker.placement import (
    cluster_info,
    place_tasks,
    placement_lock,
    placement_usage,
)
from fgform.fleet.docker.task_definition import definition_of
from fgform.fleet.driver import FleetContext
from fgform.fleet.fleet import StartedTasks, TaskContainer, TaskRecord
from fgform.fleet.shared_calls import SharedCalls

# Who started a one-off task (RunTask's `startedBy`): a label, as everything else about it.
STARTED_BY = "fgform.started-by"

# "Exited (3) 5 seconds ago", "Exited (0) About an hour ago": how long ago it stopped.
_EXITED = re.compile(r"^Exited \(-?\d+\) (?:(Less than a second)|(?:About an? |(\d+) )"
                     r"(second|minute|hour|day|week|month|year)s?) ago")


_SHARED = SharedCalls()


def new_task_id() -> str:
    """An ECS-like task id: 32 hex characters."""
    return secrets.token_hex(16)


def start(client: docker.DockerClient, ctx: FleetContext, cluster_attrs: dict[str, Any],
          taskdef_attrs: dict[str, Any], count: int = 1, started_by: str = "") -> StartedTasks:
    """Place and start `count` one-off tasks; return at once (see the module docstring).

    Placed by the capacity manager as `fgform run-task` places them: as many as fit start,
    the rest are failures named by the resource that ran out (ECS's RESOURCE:MEMORY...)."""
    cluster = cluster_info(client, cluster_attrs)
    taskdef = definition_of(taskdef_attrs)
    arn = str(taskdef.get("arn") or taskdef.get("family"))
    family = str(taskdef.get("family") or "task")
    result = StartedTasks()
    with placement_lock(cluster, taskdef):
        usage = placement_usage(ctx, client, cluster, taskdef)
        fit = count
        instances: list[str] = []
        while fit > 0:
            try:
                instances = place_tasks(ctx, client, cluster, taskdef, fit, usage=usage)
                break
            except capacity.InsufficientCapacityError as exc:
                # One failure per task left out, as ECS reports them.
                # (No resource named: the cluster subnet is out of addresses, which is what
                # ECS calls running out of network interfaces.)
                result.failures = [(exc.resource or "RESOURCE:ENI", exc.message)] * \
                    (count - fit + 1)
                fit -= 1
        launches = [Launch(f"run-task:{arn}", KIND_RUN_TASK, cluster, f"run-{family}", taskdef,
                           inst, task_id=new_task_id(), labels={STARTED_BY: started_by})
                    for inst in instances]
        ok, errors = launch_tasks(client, ctx, launches)
    if errors and not ok:
        raise FgformError("run-task: " + "; ".join(e.message for e in errors))
    result.task_ids = [ln.task_id for ln in ok]
    result.failures += [("TaskFailedToStart", e.message) for e in errors]
    return result


def stopped_for(status: str) -> float | None:
    """Seconds since a container exited, at least, from the list call's `Status`; None when
    it has not exited."""
    m = _EXITED.match(status or "")
    if m is None:
        return None
    if m.group(1):
        return 0.0
    return float(int(m.group(2) or 1) * _UNIT_SECONDS[m.group(3)])


def _epoch(iso: str | None) -> float | None:
    """Docker's and the labels' ISO-8601 times as epoch seconds (None: unset or unreadable).
    Docker gives nanoseconds ("...T10:00:00.123456789Z"): cut to microseconds."""
    if not iso or iso.startswith("0001-"):
        return None
    text = iso.replace("Z", "+00:00")
    m = re.match(r"^(.*\.\d{6})\d*(.*)$", text)
    if m:
        text = m.group(1) + m.group(2)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _container_status(c: LiveContainer) -> str:
    if c.state == "running":
        return "RUNNING"
    if c.state in ("exited", "dead"):
        return "STOPPED"
    return "PENDING"  # created, restarting, paused


def _bindings(c: LiveContainer) -> tuple[tuple[str, int, int, str], ...]:
    out = []
    for p in c.ports:  # "IP:PUBLIC->PRIVATE/PROTO"
        m = re.match(r"^(.*):(\d+)->(\d+)/(\w+)$", p)
        if m:
            out.append((m.group(1) or "0.0.0.0", int(m.group(2)), int(m.group(3)), m.group(4)))
    return tuple(out)


def record(task: LiveTask, labels: dict[str, str] | None = None,
           times: dict[str, tuple[float | None, float | None]] | None = None) -> TaskRecord:
    """A live task as plain data (`TaskRecord`); `times`: container id -> (started, finished)
    epoch seconds read by an inspect."""
    times = times or {}
    stopped = task.stopped
    if stopped:
        status = "STOPPED"
    elif task.running:
        status = "RUNNING"
    else:
        status = "PENDING"
    created = _epoch(task.created)
    ess = task.essentials
    started = next((times[c.id][0] for c in ess if c.id in times), None) or created
    finished = [times[c.id][1] for c in ess if c.id in times and times[c.id][1]]
    ago = [s for c in ess if (s := stopped_for(c.status)) is not None]
    containers = tuple(TaskContainer(
        name=c.container or c.name, status=_container_status(c), exit_code=c.exit_code,
        health={"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}.get(c.health or "", "UNKNOWN"),
        essential=c.essential, bindings=_bindings(c)) for c in task.containers)
    health = task.health if task.health in ("HEALTHY", "UNHEALTHY") else "UNKNOWN"
    return TaskRecord(
        task_id=task.task_id, cluster=task.cluster,
        service=task.service if task.kind == KIND_SERVICE else "",
        task_definition=task.task_definition, status=status,
        desired="STOPPED" if stopped else "RUNNING", health=health, cpu=task.cpu,
        memory=task.memory, started_by=(labels or {}).get(STARTED_BY, ""),
        created_at=created, started_at=started if status != "PENDING" else None,
        # Docker stamps StartedAt after its runtime reports the start, so a process that
        # exits at once can show a FinishedAt a fraction of a millisecond before it (seen in
        # CI: 0.5 ms). A task never stops before it starts: ECS's order holds.
        stopped_at=max(*finished, started or 0.0) if stopped and finished else None,
        stopped_for=min(ago) if stopped and ago else None,
        stop_code="EssentialContainerExited" if stopped else "",
        instance=task.instance, containers=containers)


def records(client: docker.DockerClient, ctx: FleetContext, *, cluster: str | None = None,
            task_ids: Collection[str] | None = None, times: bool = False) -> list[TaskRecord]:
    """The tasks of this state (services' and one-off ones): ONE list call (shared with the
    identical requests made meanwhile, `SharedCalls`), plus with `times` one inspect per
    stopped task asked for (its exact start and stop times)."""
    extra = {L.CLUSTER: cluster} if cluster else {}
    filters = L.label_filter(ctx, **extra)
    listed = _SHARED.get((id(client), json.dumps(filters, sort_keys=True)),
                         lambda: _listed(client, filters))
    if task_ids is not None:
        wanted = set(task_ids)
        listed = [(r, t) for r, t in listed if r.task_id in wanted]
    if not times:
        return [r for r, _t in listed]
    out = []
    for rec, task in listed:
        inspected: dict[str, tuple[float | None, float | None]] = {}
        if task.stopped:
            for c in task.essentials:
                try:
                    state = client.api.inspect_container(c.id).get("State") or {}
                except (NotFound, APIError):
                    continue
                inspected[c.id] = (_epoch(state.get("StartedAt")),
                                   _epoch(state.get("FinishedAt")))
        out.append(record(task, {STARTED_BY: rec.started_by}, inspected) if inspected
                   else rec)
    return out


def _listed(client: docker.DockerClient, filters: dict[str, list[str]]
            ) -> list[tuple[TaskRecord, LiveTask]]:
    """One list call's tasks, as records (with the live task, for `times`)."""
    rows = client.api.containers(all=True, filters=filters)
    labels: dict[str, dict[str, str]] = {}
    for row in rows:
        lab = row.get("Labels") or {}
        labels.setdefault(lab.get(L.TASK_ID, ""), lab)
    return [(record(t, labels.get(t.task_id)), t) for t in group_tasks(rows)
            if t.kind in (KIND_SERVICE, KIND_RUN_TASK)]


def stop(client: docker.DockerClient, ctx: FleetContext, task_id: str) -> TaskRecord | None:
    """Stop a task: a one-off task's containers are stopped and kept (DescribeTasks shows it
    STOPPED); a service task's are removed, as the scheduler removes a stopped task (it starts
    a replacement on its next pass). None when there is no such task."""
    found = list_live_tasks(ctx, client, task_id=task_id)
    if not found:
        return None
    task = found[0]
    if task.kind == KIND_RUN_TASK:
        for c in sorted(task.containers, key=lambda c: -c.index):  # the namespace owner last
            try:
                client.api.stop(c.id, timeout=c.stop_timeout)
            except (NotFound, APIError):
                pass  # gone or already stopped
        after = records(client, ctx, task_ids=[task_id], times=True)
        return after[0] if after else None
    before = record(task)
    stop_task(client, task)
    return dataclasses.replace(before, status="STOPPED", desired="STOPPED",
                               stop_code="UserInitiated")


def sweep(client: docker.DockerClient, ctx: FleetContext, retention: float) -> list[str]:
    """Remove the one-off tasks that stopped more than `retention` seconds ago (by the list
    call's "Exited (N) 2 hours ago"), and stop the containers still running in a one-off task
    whose essential container exited (ECS stops the task with it); the ids removed."""
    removed = []
    for task in list_live_tasks(ctx, client, kind=KIND_RUN_TASK):
        if not task.stopped:
            continue
        ago = [s for c in task.essentials if (s := stopped_for(c.status)) is not None]
        order = sorted(task.containers, key=lambda c: -c.index)
        if ago and min(ago) >= retention:
            remove_containers(client, [(c.id, 1) for c in order])
            removed.append(task.task_id)
            continue
        for c in order:
            if c.running:
                try:
                    client.api.stop(c.id, timeout=c.stop_timeout)
                except (NotFound, APIError):
                    pass
    return removed
