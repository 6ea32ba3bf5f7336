"""ECS's task actions on the local fleet: RunTask, StopTask, DescribeTasks, ListTasks.

One-off tasks are fleet objects (labelled containers), not state resources: RunTask reads
the state (clusters, task definitions), starts the tasks through the fleet's capacity manager
and answers once they are started, not when they exit. An exited one-off task's containers
stay, stopped, so DescribeTasks shows it STOPPED with its exit code, as ECS shows stopped
tasks for about an hour; they are removed `RETENTION` seconds after they stop, lazily on a
later RunTask or ListTasks, and with their cluster by `fgform destroy`.

Like `fgform run-task`, RunTask takes no state lock and no fleet lock: it changes nothing an
apply owns. Placement is serialised with the apply's own placements by the per-cluster
placement lock inside the fleet, so the two never place into the same free space.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from fgform.api.actions import ApiContext, Target, action
from fgform.api.arns import Identity, cluster_in_arn, cluster_param, name_of
from fgform.api.ecs_clusters import DEFAULT, cluster_named
from fgform.api.ecs_service_shapes import find_service
from fgform.api.ecs_services import resolve_taskdef
from fgform.api.errors import ApiError, client_error, invalid_parameter
from fgform.api.pagination import paginate
from fgform.api.transact import read_state
from fgform.errors import DockerUnavailableError, FgformError
from fgform.fleet.driver import FleetContext
from fgform.fleet.fleet import TaskRecord
from fgform.state.model import StateFile

# Seconds a stopped one-off task stays visible (ECS keeps them for about an hour). The server
# may set `task_retention` on its ApiContext to change it.
RETENTION = 3600.0
MAX_COUNT = 10  # RunTask's count: 1..10, as ECS
MAX_DESCRIBE = 100  # DescribeTasks takes at most 100 tasks
MAX_RESULTS = 100  # ListTasks pages: at most 100 ARNs

# StopTask's reasons, by (lineage, task id): Docker labels cannot change once a container is
# made, so the reason lives here, for as long as the task is retained (a server restart
# forgets it: the task then shows as exited, with its exit code).
_REASONS: dict[tuple[str, str], tuple[str, float]] = {}
_REASONS_LOCK = threading.Lock()
SWEEP_EVERY = 60.0
_SWEPT: dict[str, float] = {}  # lineage -> when RunTask last swept (monotonic)


# -- reading the state ------------------------------------------------------------------------
def _cluster(st: StateFile, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The request's cluster (`cluster`: a name or ARN, "default" when absent): its name as
    its tasks' labels carry it, and its state attributes; ClusterNotFoundException when the
    state has none of that name."""
    found = cluster_named(st, cluster_param(params))
    if found is None:
        raise ApiError("ClusterNotFoundException", "Cluster not found.")
    attrs = found.attributes
    return str(attrs.get("id") or found.name), attrs


def _taskdef(st: StateFile, ref: Any) -> dict[str, Any]:
    """The task definition `ref` names ("family": its latest ACTIVE revision,
    "family:revision" or its ARN), as ecs_taskdefs resolves it; only an ACTIVE revision
    runs ("TaskDefinition is inactive"), and one state lacks is "TaskDefinition not
    found." (RunTask's wording in ECS, as CreateService's)."""
    return dict(resolve_taskdef(st, ref)[1])


def _fleet_ctx(ctx: ApiContext, st: StateFile) -> FleetContext:
    from fgform import workflow

    return workflow.fleet_context(ctx.dir, st, log=ctx.log)


def _fleet_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A fleet call, its errors as ECS's: an unreachable engine is the server's fault
    (ServerException), anything else the fleet refuses a ClientException."""
    try:
        return fn(*args, **kwargs)
    except DockerUnavailableError as exc:
        raise ApiError("ServerException", exc.message) from exc
    except FgformError as exc:
        raise client_error(exc.message) from exc


# -- the shapes ---------------------------------------------------------------------------------
def _family_rev(task_definition: str) -> tuple[str, str]:
    family, _, rev = task_definition.rpartition(":")
    return (family, rev) if family else (task_definition, "")


def task_shape(rec: TaskRecord, ident: Identity, reason: str | None = None) -> dict[str, Any]:
    """A task in ECS's DescribeTasks shape (`reason`: StopTask's, for a task stopped by it)."""
    arn = ident.task(rec.cluster, rec.task_id)
    family, rev = _family_rev(rec.task_definition)
    shape: dict[str, Any] = {
        "taskArn": arn,
        "clusterArn": ident.cluster(rec.cluster),
        "taskDefinitionArn": ident.task_definition(family, rev),
        "group": f"service:{rec.service}" if rec.service else f"family:{family}",
        "lastStatus": rec.status,
        "desiredStatus": rec.desired,
        "healthStatus": rec.health,
        "cpu": str(rec.cpu),
        "memory": str(rec.memory),
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
        "availabilityZone": f"{ident.region}a",
        "containers": [_container_shape(c, rec, ident, arn) for c in rec.containers],
        "overrides": {"containerOverrides": [{"name": c.name} for c in rec.containers]},
        "attachments": [],
        "tags": [],
        "version": 2 if rec.status == "STOPPED" else 1,
    }
    if rec.started_by:
        shape["startedBy"] = rec.started_by
    for key, value in (("createdAt", rec.created_at), ("startedAt", rec.started_at),
                       ("stoppedAt", rec.stopped_at)):
        if value is not None:
            shape[key] = value
    if rec.status == "STOPPED":
        if reason is not None:
            shape["stopCode"] = "UserInitiated"
            shape["stoppedReason"] = reason
        elif rec.stop_code == "UserInitiated":
            shape["stopCode"] = "UserInitiated"
            shape["stoppedReason"] = "Task stopped by user"
        else:
            shape["stopCode"] = "EssentialContainerExited"
            shape["stoppedReason"] = "Essential container in task exited"
        if rec.stopped_at is not None:
            shape["stoppingAt"] = rec.stopped_at
    return shape


def _container_shape(c: Any, rec: TaskRecord, ident: Identity, task_arn: str
                     ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "containerArn": f"{ident.prefix}container/{rec.cluster}/{rec.task_id}/{c.name}",
        "taskArn": task_arn,
        "name": c.name,
        "lastStatus": c.status,
        "healthStatus": c.health,
        "networkBindings": [{"bindIP": ip, "containerPort": cport, "hostPort": hport,
                             "protocol": proto}
                            for ip, hport, cport, proto in c.bindings],
        "networkInterfaces": [],
    }
    if c.exit_code is not None and c.status == "STOPPED":
        out["exitCode"] = c.exit_code
    return out


def _reason(lineage: str, task_id: str) -> str | None:
    with _REASONS_LOCK:
        got = _REASONS.get((lineage, task_id))
    return got[0] if got else None


def _remember(lineage: str, task_id: str, reason: str, retention: float) -> None:
    now = time.time()
    with _REASONS_LOCK:
        _REASONS[(lineage, task_id)] = (reason, now)
        # Forget what outlived any retained task.
        for key in [k for k, (_r, at) in _REASONS.items() if now - at > retention + 60]:
            del _REASONS[key]


def _sweep_due(lineage: str) -> bool:
    """Whether RunTask should sweep first: at most once every `SWEEP_EVERY` seconds per
    state (a sweep is one more list call on the way to starting a task)."""
    now = time.monotonic()
    with _REASONS_LOCK:
        last = _SWEPT.get(lineage)
        if last is not None and now - last < SWEEP_EVERY:
            return False
        _SWEPT[lineage] = now
        return True


def _retention(ctx: ApiContext) -> float:
    return float(getattr(ctx, "task_retention", RETENTION))


def _needs_sweep(records: list[TaskRecord], retention: float) -> bool:
    """Whether a one-off task is due for removal, or stopped with containers still running
    (known from the list call already made: no extra call in the common case)."""
    for r in records:
        if r.one_off and r.status == "STOPPED":
            if r.stopped_for is not None and r.stopped_for >= retention:
                return True
            if any(c.status == "RUNNING" for c in r.containers):
                return True
    return False


# -- parameters ---------------------------------------------------------------------------------
def _task_id(value: Any, cluster: str) -> str | None:
    """The task id of `value` (an id or a task ARN); None for an ARN of another cluster."""
    if not isinstance(value, str) or not value:
        raise invalid_parameter("Task identifiers must be non-empty strings.")
    in_arn = cluster_in_arn(value)
    if in_arn is not None and in_arn != cluster:
        return None
    return name_of(value, "task")


def _overridden(taskdef: dict[str, Any], overrides: Any) -> dict[str, Any]:
    """The task definition with RunTask's `overrides` applied: each containerOverrides
    entry's command and environment (added to the container's), the task's cpu/memory."""
    if overrides is None:
        return taskdef
    if not isinstance(overrides, dict):
        raise invalid_parameter("overrides must be an object.")
    td = dict(taskdef)
    specs = [dict(c) for c in td.get("container") or []]
    names = {c.get("name"): c for c in specs}
    for ov in overrides.get("containerOverrides") or []:
        if not isinstance(ov, dict):
            raise invalid_parameter("containerOverrides entries must be objects.")
        spec = names.get(ov.get("name"))
        if spec is None:
            raise invalid_parameter(f"Override for container named {ov.get('name')} is not a "
                                    "container in the TaskDefinition.")
        if ov.get("command") is not None:
            cmd = ov["command"]
            if not isinstance(cmd, list) or not all(isinstance(x, str) for x in cmd):
                raise invalid_parameter("containerOverrides.command must be a list of strings.")
            spec["command"] = list(cmd)
        if ov.get("environment") is not None:
            env = dict(spec.get("environment") or {})
            for kv in ov["environment"]:
                if not isinstance(kv, dict) or not isinstance(kv.get("name"), str):
                    raise invalid_parameter("containerOverrides.environment entries need a "
                                            "name.")
                env[kv["name"]] = str(kv.get("value") or "")
            spec["environment"] = env
    td["container"] = specs
    for key in ("cpu", "memory"):
        if overrides.get(key) is not None:
            try:
                td[key] = int(str(overrides[key]))
            except ValueError:
                raise invalid_parameter(f"overrides.{key} must be a number.") from None
    return td


def _count(params: dict[str, Any]) -> int:
    count = params.get("count", 1)
    if count is None:
        return 1
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise invalid_parameter(f"count must be between 1 and {MAX_COUNT}.")
    return count


# -- targets ------------------------------------------------------------------------------------
def _run_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    ident = ctx.identity
    cluster_arn = ident.cluster(_safe_cluster(params))
    ref = params.get("taskDefinition")
    if not isinstance(ref, str) or not ref:
        return [Target(f"{ident.prefix}task-definition/*", cluster_arn)]
    try:
        td = _taskdef(read_state(ctx), ref)
        family, rev = str(td.get("family")), str(td.get("revision"))
        return [Target(ident.task_definition(family, rev), cluster_arn)]
    except ApiError:
        # Unknown: authorized on what was asked for; the handler then says it is not found.
        return [Target(f"{ident.prefix}task-definition/{name_of(ref, 'task-definition')}",
                       cluster_arn)]


def _safe_cluster(params: dict[str, Any]) -> str:
    try:
        return cluster_param(params)
    except ApiError:
        return DEFAULT


def _task_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    cluster = _safe_cluster(params)
    cluster_arn = ctx.identity.cluster(cluster)
    given = params.get("tasks") if "tasks" in params else [params.get("task")]
    if not isinstance(given, list):
        given = []
    out = []
    for value in given:
        if isinstance(value, str) and value:
            tid = name_of(value, "task")
            out.append(Target(ctx.identity.task(cluster_in_arn(value) or cluster, tid),
                              cluster_arn))
    return out or [Target(ctx.identity.task(cluster, "*"), cluster_arn)]


def _list_targets(ctx: ApiContext, params: dict[str, Any]) -> list[Target]:
    return [Target("*", ctx.identity.cluster(_safe_cluster(params)))]


# -- the actions --------------------------------------------------------------------------------
@action("RunTask", _run_targets, writes=True)
def run_task(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """Start `count` tasks of a task definition; answer once they are started."""
    st = read_state(ctx)
    cluster, cluster_attrs = _cluster(st, params)
    td = _overridden(_taskdef(st, params.get("taskDefinition")), params.get("overrides"))
    count = _count(params)
    started_by = params.get("startedBy") or ""
    if not isinstance(started_by, str) or len(started_by) > 128:
        raise invalid_parameter("startedBy must be a string of up to 128 characters.")
    if cluster_attrs.get("engine") == "swarm":
        raise client_error(f"RunTask is not supported on cluster {cluster}: it runs on a Docker "
                           "Swarm (engine = \"swarm\"); use `fgform run-task` there.")
    fctx = _fleet_ctx(ctx, st)
    if _sweep_due(fctx.lineage):
        _fleet_call(ctx.fleet.sweep_tasks, fctx, _retention(ctx))
    started = _fleet_call(ctx.fleet.start_tasks, fctx, cluster_attrs, td, count=count,
                          started_by=started_by)
    recs = {r.task_id: r for r in _fleet_call(ctx.fleet.task_records, fctx, cluster=cluster,
                                                 task_ids=started.task_ids)}
    ident = ctx.identity
    return {
        "tasks": [task_shape(recs[t], ident) for t in started.task_ids if t in recs],
        "failures": [{"arn": ident.cluster(cluster), "reason": reason, "detail": detail}
                     for reason, detail in started.failures],
    }


@action("StopTask", _task_targets, writes=True)
def stop_task(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """Stop a one-off task (kept, STOPPED) or a service task (its scheduler replaces it)."""
    st = read_state(ctx)
    cluster, _attrs = _cluster(st, params)
    reason = params.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise invalid_parameter("reason must be a string of up to 255 characters.")
    tid = _task_id(params.get("task"), cluster)
    fctx = _fleet_ctx(ctx, st)
    found = [r for r in _fleet_call(ctx.fleet.task_records, fctx, cluster=cluster,
                                    task_ids=[tid])] if tid else []
    if not found:
        raise invalid_parameter("The referenced task was not found.")
    if found[0].status == "STOPPED":
        # Already stopped: it keeps the reason it stopped for (as ECS answers it).
        rec = found[0]
        return {"task": task_shape(rec, ctx.identity, _reason(fctx.lineage, rec.task_id))}
    text = reason or "Task stopped by user"
    _remember(fctx.lineage, found[0].task_id, text, _retention(ctx))
    after = _fleet_call(ctx.fleet.stop_task, fctx, found[0].task_id)
    if after is None:  # gone meanwhile (its service's scheduler removed it): stopped all the same
        after = found[0]
    after = dataclasses.replace(after, desired="STOPPED")
    return {"task": task_shape(after, ctx.identity, text)}


@action("DescribeTasks", _task_targets)
def describe_tasks(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """The tasks asked for, in order; `failures` names those not found (MISSING)."""
    given = params.get("tasks")
    if not isinstance(given, list) or not given:
        raise invalid_parameter("Tasks cannot be empty.")
    if len(given) > MAX_DESCRIBE:
        raise invalid_parameter(f"Tasks cannot have more than {MAX_DESCRIBE} entries.")
    st = read_state(ctx)
    cluster, _attrs = _cluster(st, params)
    ids = [(v, _task_id(v, cluster)) for v in given]
    fctx = _fleet_ctx(ctx, st)
    recs = {r.task_id: r for r in _fleet_call(
        ctx.fleet.task_records, fctx, cluster=cluster,
        task_ids={t for _v, t in ids if t}, times=True)}
    if _needs_sweep(list(recs.values()), _retention(ctx)):
        # A one-off task stopped with a container still running (a sidecar): stop it now,
        # as ECS stops the whole task when its essential container exits.
        _fleet_call(ctx.fleet.sweep_tasks, fctx, _retention(ctx))
    tasks, failures, seen = [], [], set()
    for value, tid in ids:
        rec = recs.get(tid) if tid else None
        if rec is None:
            arn = value if value.startswith("arn:") else ctx.identity.task(cluster, value)
            failures.append({"arn": arn, "reason": "MISSING"})
        elif tid not in seen:
            seen.add(tid)
            tasks.append(task_shape(rec, ctx.identity, _reason(fctx.lineage, rec.task_id)))
    return {"tasks": tasks, "failures": failures}


@action("ListTasks", _list_targets)
def list_tasks(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """Task ARNs of a cluster, filtered as ECS filters them, sorted, one page at a time.
    ONE list call to the engine (plus a clean-up only when a stopped task is due)."""
    st = read_state(ctx)
    cluster, _attrs = _cluster(st, params)
    desired = params.get("desiredStatus") or "RUNNING"
    if desired not in ("RUNNING", "STOPPED", "PENDING"):
        raise invalid_parameter("desiredStatus must be RUNNING, PENDING or STOPPED.")
    service = _str_param(params, "serviceName")
    family = _str_param(params, "family")
    started_by = _str_param(params, "startedBy")
    if service is not None:
        service = name_of(service, "service")
        if find_service(st, cluster, service) is None:
            raise ApiError("ServiceNotFoundException", "Service not found.")
    if family is not None:
        family = name_of(family, "task-definition").partition(":")[0]
    fctx = _fleet_ctx(ctx, st)
    records = _fleet_call(ctx.fleet.task_records, fctx, cluster=cluster)
    retention = _retention(ctx)
    if _needs_sweep(records, retention):
        _fleet_call(ctx.fleet.sweep_tasks, fctx, retention)
    want_stopped = desired == "STOPPED"
    arns = sorted(
        ctx.identity.task(r.cluster, r.task_id) for r in records
        if (r.desired == "STOPPED") == want_stopped
        and not (want_stopped and r.one_off and r.stopped_for is not None
                 and r.stopped_for >= retention)
        and (service is None or r.service == service)
        and (family is None or _family_rev(r.task_definition)[0] == family)
        and (started_by is None or r.started_by == started_by))
    page, token = paginate(arns, params, action="ListTasks", key=lambda a: [a],
                           limit=MAX_RESULTS)
    out: dict[str, Any] = {"taskArns": page}
    if token is not None:
        out["nextToken"] = token
    return out


def _str_param(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid_parameter(f"{key} must be a string.")
    return value
